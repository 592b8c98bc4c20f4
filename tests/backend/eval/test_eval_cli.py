"""`vggt4d eval` end to end: a bundle written from exactly known ground truth, with known
perturbations, scored through the console script, gives the known ATE, J and depth errors."""

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.backend.conftest import make_bundle_data
from tests.backend.eval.benchmark_layouts import orbit, perturbed_in_another_world, write_image
from tests.importers.bundle_factory import with_solve
from vggt4d.io.bundle import read_bundle, write_bundle
from vggt4d.io.exports import export_tum

SCRIPT = Path(sys.executable).parent / "vggt4d"
FRAMES = list(range(1001, 1013))
WIDTH, HEIGHT = 64, 48


def run_cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SCRIPT), *arguments], capture_output=True, text=True, timeout=300, check=False
    )


def truth_masks() -> np.ndarray:
    masks = np.zeros((len(FRAMES), HEIGHT, WIDTH), dtype=bool)
    for index in range(len(FRAMES)):
        masks[index, 10:30, 4 + 3 * index : 20 + 3 * index] = True
    return masks


def truth_depth() -> np.ndarray:
    rows, columns = np.mgrid[0:HEIGHT, 0:WIDTH]
    return np.stack([2.0 + 0.02 * columns + 0.01 * rows + 0.1 * i for i in range(len(FRAMES))])


@pytest.fixture(scope="module")
def shot(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A generic-layout ground truth and a bundle of it with known errors."""
    root = tmp_path_factory.mktemp("eval_cli")
    truth_poses = orbit(len(FRAMES))
    base = replace(make_bundle_data(frames=len(FRAMES), plate=(WIDTH, HEIGHT)), frames=FRAMES)
    truth_bundle = replace(base, extrinsics=np.linalg.inv(truth_poses)[:, :3])
    folder = root / "truth"
    folder.mkdir()
    export_tum(truth_bundle, folder / "trajectory.txt")
    for frame, mask, depth in zip(FRAMES, truth_masks(), truth_depth(), strict=True):
        write_image(
            folder / "masks" / f"actor_matte.{frame}.png", np.where(mask, 255, 0).astype(np.uint8)
        )
        write_image(
            folder / "depth" / f"depth.{frame}.png", np.round(depth * 1000).astype(np.uint16)
        )

    extrinsics, ate = perturbed_in_another_world(truth_poses, rms=0.08, seed=3)
    masks = truth_masks()
    masks[:, 10:30, :] |= np.roll(masks[:, 10:30, :], 4, axis=2)  # 4 columns too wide
    bundle = replace(
        base,
        extrinsics=extrinsics,
        model_width=WIDTH,
        model_height=HEIGHT,
        plate_to_model={"scale_x": 1.0, "scale_y": 1.0, "offset_x": 0.0, "offset_y": 0.0},
        depth=(truth_depth() * 0.3).astype(np.float16),
        depth_conf=np.ones((len(FRAMES), HEIGHT, WIDTH), np.float16),
        coarse_masks=masks,
        refined_masks=masks,
    )
    return {
        "truth": folder,
        "bundle": write_bundle(root / "shot.vggt4d", bundle),
        "ate": ate,
        "j": 16 * 20 / (20 * 20),  # each true box is 16 wide, each prediction 20
    }


def test_eval_gives_the_known_errors(shot: dict, tmp_path: Path) -> None:
    done = run_cli("eval", str(shot["bundle"]), "--gt", str(shot["truth"]), "-o", str(tmp_path))
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["ate_rmse"] == pytest.approx(shot["ate"], rel=1e-6)
    assert report["rpe_rot_deg"] == pytest.approx(0, abs=1e-5)
    assert report["rpe_trans"] > 0
    assert report["mask_J_mean"] == pytest.approx(shot["j"])
    assert report["mask_J_recall"] == 1.0
    assert 0 < report["mask_F_mean"] < 1
    assert report["depth_abs_rel"] < 1e-3 and report["depth_delta_1_25"] == 1.0
    assert report["depth_scale"] == pytest.approx(1 / 0.3, rel=1e-3)
    assert report["camera_frames"] == report["mask_frames"] == report["depth_frames"] == 12
    assert f"{shot['ate']:.4f}" in done.stdout and "J mean" in done.stdout
    for name in ("report.png", "masks.png"):
        assert (tmp_path / name).stat().st_size > 1000
    page = (tmp_path / "report.html").read_text()
    assert '<img src="report.png"' in page and '<img src="masks.png"' in page


def test_missing_parts_are_null(shot: dict, tmp_path: Path) -> None:
    """A ground truth with masks only: every camera and depth key is null, not absent."""
    truth = tmp_path / "masks_only"
    (truth / "masks").mkdir(parents=True)
    for path in (shot["truth"] / "masks").iterdir():
        (truth / "masks" / path.name).write_bytes(path.read_bytes())
    done = run_cli("eval", str(shot["bundle"]), "--gt", str(truth), "--layout", "generic")
    assert done.returncode == 0, done.stderr
    report = json.loads((shot["bundle"].parent / "shot.vggt4d-eval" / "report.json").read_text())
    for key in ("ate_rmse", "rpe_trans", "rpe_rot_deg", "depth_abs_rel", "depth_delta_1_25"):
        assert key in report and report[key] is None
    assert report["mask_J_mean"] == pytest.approx(shot["j"])


def test_unusable_input_is_one_line(shot: dict, tmp_path: Path) -> None:
    done = run_cli("eval", str(shot["bundle"]), "--gt", str(tmp_path))
    assert done.returncode == 2 and "Cannot tell the layout" in done.stderr
    assert "Traceback" not in done.stderr
    done = run_cli("eval", str(shot["bundle"]))
    assert done.returncode == 2 and "--gt" in done.stderr
    done = run_cli("eval", str(tmp_path), "--gt", str(shot["truth"]))
    assert done.returncode == 2 and "not a bundle" in done.stderr
    other_view = tmp_path / "other_view"
    (other_view / "masks").mkdir(parents=True)
    for path in sorted((shot["truth"] / "masks").iterdir()):
        (other_view / "masks" / path.name).write_bytes(path.read_bytes())
    cv2.imwrite(str(sorted((other_view / "masks").iterdir())[3]), np.zeros((48, 36), np.uint8))
    done = run_cli("eval", str(shot["bundle"]), "--gt", str(other_view), "--layout", "generic")
    assert done.returncode == 2 and "cannot be the same view" in done.stderr
    inside = shot["bundle"] / "report"
    done = run_cli("eval", str(shot["bundle"]), "--gt", str(shot["truth"]), "-o", str(inside))
    assert done.returncode == 2 and "inside the bundle" in done.stderr
    assert not inside.exists()


def test_a_solved_bundle_reports_its_solve_figures(shot: dict, tmp_path: Path) -> None:
    data = read_bundle(shot["bundle"])
    count = len(data.frames)
    solved = with_solve(data, [0.3] * count, median=0.31, p90=0.8, k1=-0.1, k2=0.0)
    bundle = write_bundle(tmp_path / "solved.vggt4d", solved)
    done = run_cli("eval", str(bundle), "--gt", str(shot["truth"]), "-o", str(tmp_path / "r"))
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["solve_reprojection_error_px_median"] == 0.31
    assert report["solve_distortion_k1"] == -0.1 and report["solve_observations"] == 3
    assert report["ate_rmse"] == pytest.approx(shot["ate"], rel=1e-6)
    assert "solve_reprojection_error_px_p90" in done.stdout


def test_wrong_layout_and_empty_trajectory_say_what_is_expected(shot: dict, tmp_path: Path) -> None:
    """A folder that is not the named layout, and a trajectory without a pose: one sentence
    naming what is wrong and what was expected, exit code 2, no traceback."""
    plain = tmp_path / "plain"
    (plain / "footage").mkdir(parents=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "trajectory.txt").write_text("# timestamp tx ty tz qx qy qz qw\n\n")
    tum = tmp_path / "tum"
    tum.mkdir()
    (tum / "rgb.txt").write_text("1.0 rgb/1.png\n")
    (tum / "groundtruth.txt").write_text("")
    cases = [
        (("--gt", str(plain), "--layout", "davis"), f"{plain} is not a DAVIS dataset root"),
        (("--gt", str(plain), "--layout", "davis", "--sequence", "bear"), "Annotations/480p/"),
        (("--gt", str(plain), "--layout", "sintel", "--sequence", "alley_2"), "camdata_left/"),
        (("--gt", str(plain), "--layout", "tum"), "expected rgb.txt and groundtruth.txt"),
        (("--gt", str(empty)), "trajectory.txt holds no poses: expected one line per frame"),
        (("--gt", str(tum)), "groundtruth.txt holds no poses"),
    ]
    for arguments, sentence in cases:
        done = run_cli("eval", str(shot["bundle"]), *arguments)
        assert done.returncode == 2, done.stderr
        assert sentence in done.stderr and "Traceback" not in done.stderr
        assert done.stderr.count("\n") == 1, done.stderr  # one line
    done = run_cli("eval", "--dataset", "davis", "--root", str(plain))
    assert done.returncode == 2 and "No davis sequence found" in done.stderr, done.stderr
    assert "expected JPEGImages/480p/<sequence>/" in done.stderr
