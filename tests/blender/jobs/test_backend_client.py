"""The protocol client against real subprocesses: a broken interpreter and the real server."""

import sys
import time

import pytest

from tests.blender.jobs.conftest import run_to_end
from vggt4d_blender.jobs.backend_client import BackendClient, BackendError
from vggt4d_blender.jobs.job import ReconstructJob


def test_missing_interpreter_is_a_backend_error(tmp_path):
    client = BackendClient(tmp_path / "no-python")
    with pytest.raises(BackendError, match="Backend Python not found") as caught:
        client.start()
    assert caught.value.code == "backend_missing"


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_a_backend_that_dies_at_start_fails_the_job_with_its_last_log_line(tmp_path):
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'ModuleNotFoundError: No module named torch' >&2\nexit 1\n")
    broken.chmod(0o755)
    job = ReconstructJob(BackendClient(broken), {"footage": "x.mp4"})
    run_to_end(job, 10)
    assert job.status.state == "failed"
    assert job.status.error_code == "backend_died"
    assert "No module named torch" in job.status.message
    with pytest.raises(BackendError):
        job.client.send({"type": "hello"})


def test_poll_is_bounded_in_events_and_time(tmp_path):
    """A stand-in interpreter that floods stdout: only the client's queueing is under test."""
    chatty = tmp_path / "python"
    chatty.write_text(
        f"#!{sys.executable}\nimport json\n"
        "for i in range(500):\n    print(json.dumps({'type': 'log', 'message': str(i)}))\n"
        "print('not json')\n"
    )
    chatty.chmod(0o755)
    client = BackendClient(chatty)
    client.start()
    deadline = time.monotonic() + 10
    while client._events.qsize() < 502 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client.poll(max_events=50, budget_s=0.0) == []
    first = client.poll(max_events=50)
    assert [event["message"] for event in first] == [str(i) for i in range(50)]
    rest = client.poll(max_events=1000, budget_s=1.0)
    assert rest[-2] == {"type": "log", "message": "not json"}
    assert rest[-1]["type"] == "exit" and rest[-1]["returncode"] == 0
    client.close()


def test_real_server_says_hello_reports_bad_input_and_says_bye(
    backend_python, tiny_weights, tmp_path
):
    client = BackendClient(backend_python)
    client.start()
    try:
        client.send({"type": "hello", "id": "h1", "weights": str(tiny_weights)})
        hello = client.wait_for({"hello"}, timeout_s=120)
        assert hello["id"] == "h1" and hello["protocol"] == 1
        assert hello["weights_cached"] is True and hello["device"] == "cpu"
        missing = tmp_path / "nope.mp4"
        client.send({"type": "reconstruct", "id": "r1", "input": str(missing), "output": "x"})
        error = client.wait_for({"error"}, timeout_s=60)
        assert error["id"] == "r1" and error["code"] == "bad_input"
        assert "nope.mp4" in error["message"]
        client.send({"type": "shutdown", "id": "s1"})
        assert client.wait_for({"bye"}, timeout_s=30)["type"] == "bye"
        assert client.wait_for(set(), timeout_s=10) == {
            "type": "exit",
            "returncode": 0,
            "stderr_tail": client.stderr_tail,
        }
    finally:
        client.close()


def test_cancelling_twice_stops_a_backend_that_does_not_answer(tmp_path):
    """A stand-in interpreter that ignores its requests, like a backend deep in a long chunk."""
    stuck = tmp_path / "python"
    stuck.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(600)\n")
    stuck.chmod(0o755)
    job = ReconstructJob(BackendClient(stuck), {"input": "x.mp4", "output": "x.vggt4d"})
    job.start()
    job.cancel()
    assert job.tick().state == "cancelling"
    started = time.monotonic()
    job.cancel()
    assert job.status.state == "cancelled" and not job.client.running
    assert time.monotonic() - started < 5
