"""`vggt4d eval --dataset`: every sequence of a tiny benchmark copy reconstructed through
`vggt4d batch` (a real local Ray cluster, 1 CPU) with the tiny test weights, scored, and tabled
beside the paper's figures."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.backend.eval.benchmark_layouts import make_davis, make_tum, orbit
from vggt4d.eval.benchmark import PAPER, average, paper_table

SCRIPT = Path(sys.executable).parent / "vggt4d"
SHAPE = (56, 296)  # the model input stays 518x98, so the tiny model takes seconds


@pytest.fixture(scope="module")
def ray_folder() -> Iterator[str]:
    """A short private Ray temp folder (Ray's socket paths must stay under ~100 bytes)."""
    folder = tempfile.mkdtemp(prefix="v4d-ray-")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def run_eval(ray_folder: str, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SCRIPT), "eval", *arguments, "--device", "cpu", "--gpus-per-shot", "0",
         "--local-cpus", "1", "--no-refine"],
        capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "RAY_TMPDIR": ray_folder},
    )  # fmt: skip


@pytest.mark.slow
def test_davis_benchmark_run(tmp_path: Path, tiny_weights: Path, ray_folder: str) -> None:
    root = tmp_path / "DAVIS"
    make_davis(root, "bear", frames=3, shape=SHAPE)
    output = tmp_path / "out"
    arguments = ("--dataset", "davis", "--root", str(root), "--weights", str(tiny_weights))
    done = run_eval(ray_folder, *arguments, "-o", str(output))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["sequence", "J", "mean"]
    assert lines[-1].split()[2:] == ["62.1200", "76.8000", "56.0400", "67.4900"]
    assert lines[-2].startswith("ours (mean)") and lines[2].startswith("bear")
    summary = json.loads((output / "summary.json").read_text())
    bear = summary["sequences"]["bear"]
    assert bear["mask_frames"] == 3 and 0 <= bear["mask_J_mean"] <= 1
    assert bear["ate_rmse"] is None  # DAVIS has no cameras
    assert (output / "bear/masks.png").is_file()
    # A second run finds the finished bundle and only scores it again.
    bundle_time = (output / "bundles/bear.vggt4d/manifest.json").stat().st_mtime
    again = run_eval(ray_folder, *arguments, "-o", str(output))
    assert again.returncode == 0 and again.stdout == done.stdout
    assert (output / "bundles/bear.vggt4d/manifest.json").stat().st_mtime == bundle_time


@pytest.mark.slow
def test_tum_benchmark_run_scores_cameras_and_skips_broken_sequences(
    tmp_path: Path, tiny_weights: Path, ray_folder: str
) -> None:
    depth = np.random.default_rng(2).uniform(1, 3, (5, *SHAPE))
    make_tum(tmp_path / "rgbd_dataset_freiburg3_walking_xyz", orbit(5), depth)
    broken = tmp_path / "rgbd_dataset_freiburg3_sitting_xyz"
    broken.mkdir()
    (broken / "groundtruth.txt").write_text("1 0 0 0 0 0 0 1\n")  # no rgb.txt
    output = tmp_path / "out"
    done = run_eval(
        ray_folder,
        "--dataset",
        "tum",
        "--root",
        str(tmp_path),
        "--weights",
        str(tiny_weights),
        "-o",
        str(output),
    )
    assert done.returncode == 0, done.stderr
    assert "warning: rgbd_dataset_freiburg3_sitting_xyz: " in done.stderr
    summary = json.loads((output / "summary.json").read_text())
    walking = summary["sequences"]["rgbd_dataset_freiburg3_walking_xyz"]
    assert walking["camera_frames"] == 4 and walking["ate_rmse"] >= 0
    assert walking["depth_frames"] == 5 and walking["depth_abs_rel"] >= 0
    assert summary["average"]["ate_rmse"] == walking["ate_rmse"]
    assert "failed" in done.stdout and "0.0160" in done.stdout.splitlines()[-1]


def test_paper_table_puts_masks_in_percent() -> None:
    results = {
        "a": {"mask_J_mean": 0.5, "mask_J_recall": 1.0},
        "b": {"mask_J_mean": 0.7, "mask_J_recall": None},
    }
    means = average(results.values())
    assert means["mask_J_mean"] == pytest.approx(0.6) and means["mask_J_recall"] == 1.0
    assert means["ate_rmse"] is None
    table = paper_table("davis", results, means).splitlines()
    assert table[-2].split()[2:4] == ["60.0000", "100.0000"]
    assert table[-1].split()[2] == f"{PAPER['davis']['mask_J_mean']:.4f}"
