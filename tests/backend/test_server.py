"""The job server as the add-on runs it: a real subprocess speaking JSON lines."""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from vggt4d.errors import BundleError
from vggt4d.io.bundle import validate_bundle


class ServerProcess:
    """`python -m vggt4d.server` with a reader thread, so every wait has a timeout."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "vggt4d.server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._pump, args=(self.process.stdout, self.lines.put)).start()
        threading.Thread(target=self._pump, args=(self.process.stderr, self.stderr.append)).start()

    @staticmethod
    def _pump(stream, sink) -> None:
        for line in stream:
            sink(line)

    def send(self, request: dict[str, Any]) -> None:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()

    def next_event(self, timeout: float = 60.0) -> dict[str, Any]:
        """The next stdout line; every stdout line must be a JSON object."""
        return json.loads(self.lines.get(timeout=timeout))

    def events_until(self, kinds: set[str], timeout: float = 120.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        events = []
        while not events or events[-1]["type"] not in kinds:
            events.append(self.next_event(max(deadline - time.monotonic(), 0.1)))
        return events

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


@pytest.fixture(scope="module")
def server():
    """One server for the tests that leave it running (starting one imports torch: seconds);
    the last of them shuts it down."""
    process = ServerProcess()
    yield process
    process.close()


@pytest.fixture
def own_server():
    """A server for a test that ends it."""
    process = ServerProcess()
    yield process
    process.close()


def reconstruct_request(clip: Path, output: Path, weights: Path, **options) -> dict[str, Any]:
    return {
        "type": "reconstruct",
        "id": "job-1",
        "input": str(clip),
        "output": str(output),
        "options": {"weights": str(weights), **options},
    }


def test_hello_reports_versions_device_and_weights(server: ServerProcess, tiny_weights) -> None:
    server.send({"type": "hello", "id": 1, "weights": str(tiny_weights)})
    hello = server.next_event()
    assert hello["type"] == "hello" and hello["id"] == 1
    assert hello["protocol"] == 1
    assert hello["device"] in ("cpu", "cuda")
    assert isinstance(hello["cuda_available"], bool)
    assert hello["torch"] and hello["version"]
    assert hello["weights_cached"] is True
    assert hello["busy"] is False
    server.send({"type": "hello", "id": 2, "device": "no-such-device"})
    hello = server.next_event()
    assert hello["device"] is None and "no-such-device" in hello["device_error"]


def test_bad_requests_get_errors_and_the_server_keeps_going(server: ServerProcess) -> None:
    server.send({"type": "dance", "id": 7})
    error = server.next_event()
    assert (error["type"], error["id"], error["code"]) == ("error", 7, "bad_request")
    server.process.stdin.write("not json\n")
    server.process.stdin.flush()
    assert server.next_event()["code"] == "bad_request"
    server.send({"type": "reconstruct", "id": 8})
    error = server.next_event()
    assert (error["code"], error["id"]) == ("bad_input", 8)
    assert "input" in error["message"]
    server.send({"type": "cancel", "id": 9})
    assert server.next_event()["code"] == "no_job"


def test_reconstruct_streams_progress_then_a_valid_bundle(
    server: ServerProcess, test_clip: Path, tiny_weights: Path, tmp_path: Path
) -> None:
    output = tmp_path / "shot.vggt4d"
    server.send(reconstruct_request(test_clip, output, tiny_weights, max_frames=3))
    events = server.events_until({"result", "error"})
    assert events[-1] == {"type": "result", "id": "job-1", "bundle": str(output)}
    assert all(event["id"] == "job-1" for event in events)
    progress = [event for event in events if event["type"] == "progress"]
    fractions = [event["fraction"] for event in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert {"ingest", "pass1", "pass2", "bundle"} <= {event["stage"] for event in progress}
    warnings = [event["message"] for event in events if event["type"] == "warning"]
    assert any("untrained test weights" in message for message in warnings)
    assert validate_bundle(output)["counts"]["frames"] == 3


def test_cancel_mid_job_stops_quickly_and_leaves_no_bundle(
    server: ServerProcess, test_clip: Path, tiny_weights: Path, tmp_path: Path
) -> None:
    output = tmp_path / "shot.vggt4d"
    server.send(reconstruct_request(test_clip, output, tiny_weights))
    while (event := server.next_event())["type"] != "progress" or event["stage"] != "pass1":
        assert event["type"] in ("progress", "log", "warning")
    server.send({"type": "hello", "id": "during"})  # the reader answers while the job runs
    sent = time.monotonic()
    server.send({"type": "cancel", "id": "job-1"})
    events = server.events_until({"cancelled", "result", "error"}, timeout=30)
    assert events[-1] == {"type": "cancelled", "id": "job-1"}
    assert any(event["type"] == "hello" and event["busy"] for event in events)
    # one pass-1 chunk on two shared CPU cores takes about a second; allow a margin
    assert time.monotonic() - sent < 5.0
    assert list(tmp_path.iterdir()) == []


def test_shutdown_says_bye_and_nothing_else(server: ServerProcess) -> None:
    server.send({"type": "shutdown", "id": "end"})
    assert server.next_event() == {"type": "bye", "id": "end"}
    assert server.process.wait(10) == 0
    time.sleep(0.2)  # let the reader thread drain the closed pipe
    assert server.lines.empty()


def test_end_of_input_shuts_down(own_server: ServerProcess) -> None:
    own_server.process.stdin.close()  # Blender went away
    assert own_server.next_event() == {"type": "bye", "id": None}
    assert own_server.process.wait(10) == 0


def test_killed_server_leaves_nothing_that_looks_complete(
    own_server: ServerProcess, test_clip: Path, tiny_weights: Path, tmp_path: Path
) -> None:
    output = tmp_path / "shot.vggt4d"
    own_server.send(reconstruct_request(test_clip, output, tiny_weights, max_frames=3))
    while (event := own_server.next_event())["type"] != "progress" or event["stage"] != "pass1":
        assert event["type"] in ("progress", "log", "warning")
    os.kill(own_server.process.pid, signal.SIGKILL)
    own_server.process.wait(10)
    assert not output.exists()
    for leftover in tmp_path.iterdir():
        with pytest.raises(BundleError):
            validate_bundle(leftover)
