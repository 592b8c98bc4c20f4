"""batch.json round trip, the --status text, and the one-batch-per-folder lock."""

import json
from pathlib import Path

import pytest

from vggt4d.batch.record import (
    BatchRecord,
    ShotRecord,
    batch_lock,
    describe,
    is_locked,
    load_record,
)
from vggt4d.errors import InputError


def _record(folder: Path) -> BatchRecord:
    shots = [
        ShotRecord("sh010", "/f/sh010.mp4", str(folder / "sh010.vggt4d"), "done", 1, 61.5, 1.0),
        ShotRecord("sh020", "/f/sh020.mp4", str(folder / "sh020.vggt4d"), "failed", 3, 2.0),
    ]
    shots[1].error, shots[1].code = "Footage not found: /f/sh020.mp4", "bad_input"
    return BatchRecord(folder, shots, cluster="10.0.0.5:6379", state="finished")


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    record = _record(tmp_path)
    path = record.save()
    data = json.loads(path.read_text())
    assert data["format"] == "vggt4d-batch" and data["version"] == 1
    assert data["counts"]["done"] == 1 and data["counts"]["failed"] == 1
    loaded = load_record(tmp_path)
    assert loaded.shots == record.shots
    assert (loaded.state, loaded.cluster) == ("finished", "10.0.0.5:6379")
    assert abs(loaded.started - record.started) < 1.0
    assert not loaded.all_finished()
    assert [p.name for p in tmp_path.iterdir()] == ["batch.json"]  # no temporary left


def test_status_text_has_a_line_per_shot_and_the_error(tmp_path: Path) -> None:
    text = describe(_record(tmp_path), live=False)
    lines = text.splitlines()
    assert "finished" in lines[0] and "10.0.0.5:6379" in lines[0]
    assert lines[1].split()[:4] == ["sh010", "done", "61.5", "s"]
    assert "failed" in lines[2] and "3 tries" in lines[2]
    assert "bad_input: Footage not found: /f/sh020.mp4" in lines[2]
    assert lines[-1] == "2 shots: 1 done, 1 failed"


def test_a_running_record_without_a_live_batch_reads_as_interrupted(tmp_path: Path) -> None:
    record = _record(tmp_path)
    record.state = "running"
    assert "interrupted" in describe(record, live=False)
    assert "interrupted" not in describe(record, live=True)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "no batch was run"),
        ("{", "cannot read"),
        ('{"format": "x"}', "not a version 1"),
        ('{"format": "vggt4d-batch", "version": 1, "shots": [{"name": "../x"}]}', "damaged"),
    ],
)
def test_load_errors(tmp_path: Path, content: str | None, words: str) -> None:
    if content is not None:
        (tmp_path / "batch.json").write_text(content)
    with pytest.raises(InputError, match=words):
        load_record(tmp_path)


def test_lock_refuses_a_second_batch_on_the_same_folder(tmp_path: Path) -> None:
    assert not is_locked(tmp_path)
    with batch_lock(tmp_path):
        assert is_locked(tmp_path)
        with pytest.raises(InputError, match="Another vggt4d batch"), batch_lock(tmp_path):
            pass
    assert not is_locked(tmp_path)
