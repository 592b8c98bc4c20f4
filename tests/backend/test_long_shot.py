"""Long shots end to end on the tiny weights: chunks, seams in the manifest, progress per
chunk, cancel between chunks, and a killed run resumed to the same result."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.backend.conftest import write_test_clip
from vggt4d.errors import CancelledError
from vggt4d.io.bundle import read_bundle, validate_bundle
from vggt4d.job import JobOptions, ProgressUpdate, run_job
from vggt4d.long_shot import resume_directory

# A 592x32 plate becomes a 518x28 model input (2x37 patches): a chunk takes seconds.
PLATE = (592, 32)


def test_cancel_between_chunks_keeps_them_and_the_rerun_resumes(
    tiny_weights: Path, tmp_path: Path
) -> None:
    clip = write_test_clip(tmp_path / "shot.mp4", frames=28, size=PLATE)
    output = tmp_path / "shot.vggt4d"
    options = JobOptions(weights=str(tiny_weights), chunk_size=16, overlap=4)
    logs: list[str] = []
    with pytest.raises(CancelledError, match="resume"):
        run_job(
            clip,
            output,
            options,
            log=lambda _, message: logs.append(message),
            should_cancel=lambda: any(message.startswith("Chunk 2 of 2") for message in logs),
        )
    assert not output.exists()
    state = json.loads((resume_directory(output) / "state.json").read_text())
    assert len(state["finished"]) == 1

    updates: list[ProgressUpdate] = []
    logs.clear()
    bundle = run_job(clip, output, options, updates.append, log=lambda _, m: logs.append(m))

    assert any(message.startswith("Resuming after chunk 1 of 2") for message in logs)
    # The global solve ran over the stitched shot (or said in words why the plate is untrackable).
    solved = any(message.startswith("Camera solve:") for message in logs)
    assert solved or any(message.startswith("Camera solve skipped") for message in logs)
    assert not any(message.startswith("Chunk 1 of 2") for message in logs)
    assert not resume_directory(output).exists()
    chunk_updates = [update for update in updates if update.stage == "chunks"]
    assert {update.chunk for update in chunk_updates} == {2}
    assert all(update.chunks == 2 for update in chunk_updates)
    fractions = [update.fraction for update in updates]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert any(update.eta_s is not None for update in chunk_updates)

    manifest = validate_bundle(bundle)
    assert ("solve" in manifest) == solved
    chunking = manifest["chunking"]
    assert (chunking["chunk_size"], chunking["overlap"]) == (16, 4)
    assert [(c["first_frame"], c["last_frame"]) for c in chunking["chunks"]] == [(1, 16), (13, 28)]
    assert [(c["owned_first_frame"], c["owned_last_frame"]) for c in chunking["chunks"]] == [
        (1, 14),
        (15, 28),
    ]
    (seam,) = chunking["seams"]
    assert seam["frame"] == 15 and seam["points"] >= 64 and 0 < seam["inlier_fraction"] <= 1
    info = subprocess.run(
        [sys.executable, "-m", "vggt4d", "info", str(bundle)], capture_output=True, text=True
    )
    assert "chunks:   2 of 16 frames, overlap 4; worst seam at frame 15" in info.stdout
    data = read_bundle(bundle)
    assert data.frames == list(range(1, 29)) and np.isfinite(data.extrinsics).all()
    assert (data.depth > 0).all() and len(data.static_points) > 0


def _reconstruct_command(clip: Path, output: Path, weights: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "vggt4d",
        "reconstruct",
        str(clip),
        "-o",
        str(output),
        "--weights",
        str(weights),
        "--chunk-size",
        "16",
        "--overlap",
        "4",
        "--no-refine",  # refinement is per frame and chunk-local; it doubles the run time
        "--no-solve",  # the solve runs once on the published bundle, after the chunks
    ]


def _finished_chunks(output: Path) -> int:
    try:
        state = json.loads((resume_directory(output) / "state.json").read_text())
    except (OSError, ValueError):
        return 0
    return len(state["finished"])


@pytest.mark.slow
def test_a_killed_300_frame_run_resumes_to_the_uninterrupted_result(
    tiny_weights: Path, tmp_path: Path
) -> None:
    clip = write_test_clip(tmp_path / "long.mp4", frames=300, size=PLATE)
    reference = tmp_path / "reference.vggt4d"
    resumed = tmp_path / "resumed.vggt4d"
    # One thread in every run: the same reduction order (bit-identical results need it), and
    # no OpenMP spinning against other processes on a small shared machine.
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.Popen(
        _reconstruct_command(clip, resumed, tiny_weights),
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        while _finished_chunks(resumed) < 9 and run.poll() is None:
            time.sleep(0.2)
        assert run.poll() is None, run.stderr.read().decode()
        run.send_signal(signal.SIGKILL)  # no chance to clean up: as a crash or a power-off job
    finally:
        run.wait()
    killed_at = _finished_chunks(resumed)
    assert 9 <= killed_at < 25 and not resumed.exists()

    finished = subprocess.run(
        _reconstruct_command(clip, resumed, tiny_weights), env=environment, capture_output=True
    )
    assert finished.returncode == 0, finished.stderr.decode()
    progress = finished.stderr.decode()
    assert f"chunk {killed_at + 1}/25" in progress and "chunk 1/25" not in progress
    subprocess.run(_reconstruct_command(clip, reference, tiny_weights), env=environment, check=True)

    expected, actual = read_bundle(reference), read_bundle(resumed)
    assert actual.frames == expected.frames == list(range(1, 301))
    np.testing.assert_array_equal(actual.extrinsics, expected.extrinsics)
    np.testing.assert_array_equal(actual.intrinsics, expected.intrinsics)
    np.testing.assert_array_equal(actual.depth, expected.depth)
    np.testing.assert_array_equal(actual.depth_conf, expected.depth_conf)
    np.testing.assert_array_equal(actual.refined_masks, expected.refined_masks)
    np.testing.assert_array_equal(actual.static_points, expected.static_points)
    np.testing.assert_array_equal(actual.dynamic_points, expected.dynamic_points)
    assert validate_bundle(resumed)["chunking"] == validate_bundle(reference)["chunking"]
    assert len(validate_bundle(resumed)["chunking"]["seams"]) == 24
