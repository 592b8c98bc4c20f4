"""The `vggt4d` console script end to end: reconstruct, info, export, and its error lines."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vggt4d.io.bundle import read_bundle
from vggt4d.io.bundle_format import read_ply

SCRIPT = Path(sys.executable).parent / "vggt4d"


def run_cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SCRIPT), *arguments], capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def bundle(test_clip: Path, tiny_weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("cli") / "shot.vggt4d"
    done = run_cli(
        "reconstruct", str(test_clip), "-o", str(output), "--weights", str(tiny_weights),
        "--frames", "2:5", "--max-frames", "3", "--device", "cpu", "--no-refine",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(output)
    assert "warning: The weights" in done.stderr and "VGGT-1B" in done.stderr
    assert "Traceback" not in done.stderr
    return output


def test_reconstruct_writes_the_requested_frames(bundle: Path) -> None:
    data = read_bundle(bundle)
    assert data.frames == [2, 4, 5]
    assert data.options["reconstruct"]["refine"] is False
    np.testing.assert_array_equal(data.coarse_masks, data.refined_masks)


def test_info_validates_and_summarises(bundle: Path) -> None:
    done = run_cli("info", str(bundle))
    assert done.returncode == 0, done.stderr
    assert "(valid, version 1)" in done.stdout
    assert "frames:   3 (2..5)" in done.stdout
    assert "UNTRAINED TEST WEIGHTS" in done.stdout


def test_info_into_a_closed_pipe_prints_no_traceback(bundle: Path) -> None:
    """`vggt4d info BUNDLE | head`: the reader may leave before the summary is written."""
    reader, writer = os.pipe()
    os.close(reader)
    with open(writer, "wb") as closed:
        done = subprocess.run(
            [str(SCRIPT), "info", str(bundle)], stdout=closed, stderr=subprocess.PIPE, timeout=300
        )
    assert done.returncode == 141 and b"Traceback" not in done.stderr, done.stderr


def test_export_writes_files_that_read_back(bundle: Path, tmp_path: Path) -> None:
    done = run_cli(
        "export", str(bundle), "--colmap", str(tmp_path / "colmap"),
        "--tum", str(tmp_path / "poses.txt"), "--ply", str(tmp_path / "cloud.ply"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = read_bundle(bundle)
    poses = np.loadtxt(tmp_path / "poses.txt")
    # A video's TUM timestamps are its frames' real presentation times (source.timestamps).
    np.testing.assert_allclose(poses[:, 0], data.source["timestamps"], atol=1e-6)
    cameras = np.loadtxt(tmp_path / "colmap" / "cameras.txt", dtype=str)
    assert len(cameras) == len(data.frames)
    positions, _, _ = read_ply(tmp_path / "cloud.ply")
    np.testing.assert_array_equal(positions, data.static_points)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("reconstruct", "/nonexistent/shot.mp4", "-o", "/tmp/never.vggt4d"), "shot.mp4"),
        (("info", "/nonexistent/bundle.vggt4d"), "manifest.json is missing"),
        (("export", "/nonexistent/bundle.vggt4d", "--tum", "/tmp/never.txt"), "is not a bundle"),
    ],
)
def test_errors_are_one_line_with_status_2(arguments: tuple[str, ...], message: str) -> None:
    done = run_cli(*arguments)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors == lines[-1:]  # progress lines may come first, the error is one last line
    assert message in errors[0]
    assert "Traceback" not in done.stderr
