"""The job server validates every request before any work, never dies on a line and answers
every request (a real `python -m vggt4d.server` subprocess)."""

from pathlib import Path

import pytest

from tests.backend.test_server import ServerProcess, reconstruct_request


@pytest.fixture(scope="module")
def server():
    process = ServerProcess()
    yield process
    process.close()


def _send_raw(server: ServerProcess, data: bytes) -> None:
    server.process.stdin.buffer.write(data)
    server.process.stdin.flush()


@pytest.mark.parametrize(
    "line",
    [
        b'{"type":"hello","id":NaN}',
        b'{"type":"hello","id":Infinity}',
        b'{"type":"reconstruct","id":-Infinity,"input":"a","output":"b"}',
        b'{"type":"hello","id":1e400}',
        b'{"type":"hello","id":' + b"9" * 5000 + b"}",
        b"[" * 50_000 + b"]" * 50_000,
        b'{"type":"hello","id":"\xff\xfe"}',
        b'{"type":"reconstruct","id":"x","input":"a","output":"b","options":{"max_frames":NaN}}',
    ],
    ids=["nan", "infinity", "minus-infinity", "overflow", "huge-int", "nested", "bad-utf8", "nan2"],
)
def test_any_line_is_answered_and_the_server_lives_on(server: ServerProcess, line: bytes) -> None:
    _send_raw(server, line + b"\n")
    answer = server.next_event()
    if answer["type"] == "error":
        assert answer["code"] in ("bad_request", "bad_input")
        assert answer["id"] in (None, "x")
    else:  # the stray bytes became U+FFFD: a valid hello
        assert answer["type"] == "hello"
    server.send({"type": "hello", "id": "alive"})
    assert server.next_event()["id"] == "alive"


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"frames": 5}, "frames must be a string or null"),
        ({"reconstruct": {"seed": "abc"}}, "seed must be a whole number"),
        ({"reconstruct": {"refine": "yes"}}, "refine must be true or false"),
        ({"max_frames": True}, "max_frames must be a whole number"),
        ({"point_budget": 1.5}, "point_budget must be a whole number"),
        ({"confidence_percentile": "25"}, "confidence_percentile must be a number"),
        ({"reconstruct": {"window_offsets": [2, "4"]}}, "window_offsets must be a list"),
        ({"reconstruct": []}, "VGGT4D options must be a JSON object"),
        ("fast", "job options must be a JSON object"),
        ({"frames": "a:b"}, "START:END:STRIDE"),
        ({"colour": 1}, "Unknown job options ['colour']"),
    ],
)
def test_options_are_checked_before_any_work(
    server: ServerProcess, test_clip: Path, tiny_weights: Path, tmp_path: Path, options, words
) -> None:
    request = reconstruct_request(test_clip, tmp_path / "out.vggt4d", tiny_weights)
    request["options"] = options
    server.send(request)
    answer = server.next_event()  # the very first event: no progress, nothing ran
    assert (answer["type"], answer["code"], answer["id"]) == ("error", "bad_input", "job-1")
    assert words in answer["message"]
    assert not (tmp_path / "out.vggt4d").exists()


def test_a_finished_job_frees_the_server_at_once_and_eta_waits_for_the_model(
    server: ServerProcess, test_clip: Path, tiny_weights: Path, tmp_path: Path
) -> None:
    for attempt in range(2):
        output = tmp_path / f"shot{attempt}.vggt4d"
        request = reconstruct_request(test_clip, output, tiny_weights, max_frames=2)
        request["id"] = f"job-{attempt}"
        server.send(request)
        events = server.events_until({"result", "error"})
        assert events[-1]["type"] == "result", events[-1]
        server.send({"type": "hello", "id": f"after-{attempt}"})  # right after the result
        assert server.next_event()["busy"] is False
    progress = [event for event in events if event["type"] == "progress"]
    first_timed = next(index for index, event in enumerate(progress) if event["eta_s"] is not None)
    assert progress[first_timed]["stage"] not in ("ingest", "preprocess", "load_model")
    assert all(event["eta_s"] is None for event in progress[:first_timed])


def test_bye_answers_shutdown_or_nobody(tmp_path: Path) -> None:
    for closing in ("shutdown", "end of input"):
        process = ServerProcess()
        try:
            process.send({"type": "hello", "id": "earlier"})
            assert process.next_event()["id"] == "earlier"
            if closing == "shutdown":
                process.send({"type": "shutdown", "id": "end"})
                assert process.next_event() == {"type": "bye", "id": "end"}
            else:
                process.process.stdin.close()
                assert process.next_event() == {"type": "bye", "id": None}
            assert process.process.wait(10) == 0
        finally:
            process.close()
