"""Camera errors against hand-computed cases and against evo's own command line."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from evo.core.trajectory import PoseTrajectory3D
from evo.tools.file_interface import write_tum_trajectory_file
from scipy.spatial.transform import Rotation

from vggt4d.eval.camera import camera_errors

BIN = Path(sys.executable).parent


def poses(centres: np.ndarray, rotations: np.ndarray | None = None) -> np.ndarray:
    result = np.tile(np.eye(4), (len(centres), 1, 1))
    result[:, :3, 3] = centres
    if rotations is not None:
        result[:, :3, :3] = rotations
    return result


def similarity(scale: float, rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    transform = np.eye(4)
    transform[:3, :3] = scale * rotation
    transform[:3, 3] = translation
    return transform


def apply(transform: np.ndarray, world_from_cam: np.ndarray) -> np.ndarray:
    """A similarity of the world applied to camera-to-world poses (rotations stay orthonormal)."""
    scale = np.cbrt(np.linalg.det(transform[:3, :3]))
    result = transform @ world_from_cam
    result[:, :3, :3] /= scale
    return result


SQUARE = np.array([[1.0, 1, 0], [-1, 1, 0], [-1, -1, 0], [1, -1, 0]])


def test_a_similar_trajectory_has_no_error() -> None:
    reference = poses(SQUARE * 3 + [0, 0, 2], Rotation.random(4, random_state=1).as_matrix())
    transform = similarity(0.37, Rotation.random(random_state=2).as_matrix(), np.array([4, -1, 9]))
    errors = camera_errors(reference, apply(transform, reference))
    assert errors.ate_rmse == pytest.approx(0, abs=1e-9)
    assert errors.rpe_trans == pytest.approx(0, abs=1e-9)
    assert errors.rpe_rot_deg == pytest.approx(0, abs=1e-6)
    assert errors.scale == pytest.approx(1 / 0.37)


@pytest.mark.parametrize("height", [0.1, 0.5, 2.0])
def test_saddle_perturbation_matches_the_closed_form(height: float) -> None:
    """Corners of a square pushed alternately up and down by `height`: the best similarity is
    a pure scale s = 2 / (2 + h^2), so every aligned centre is off by h sqrt(2 / (2 + h^2)) and
    every consecutive pair by 2 sqrt((1 - s)^2 + s^2 h^2)."""
    estimate = SQUARE + np.array([0, 0, 1.0])[None] * height * np.array([1, -1, 1, -1])[:, None]
    scale = 2 / (2 + height**2)
    errors = camera_errors(poses(SQUARE), poses(estimate))
    assert errors.scale == pytest.approx(scale)
    assert errors.ate_rmse == pytest.approx(height * np.sqrt(2 / (2 + height**2)))
    np.testing.assert_allclose(errors.ate_per_frame, errors.ate_rmse)
    assert errors.rpe_trans == pytest.approx(2 * np.hypot(1 - scale, scale * height))
    # The answer does not depend on where and how large the estimate was.
    moved = apply(
        similarity(5.0, Rotation.random(random_state=3).as_matrix(), np.ones(3)), poses(estimate)
    )
    assert camera_errors(poses(SQUARE), moved).ate_rmse == pytest.approx(errors.ate_rmse)


def test_rotation_error_is_the_angle_between_relative_rotations() -> None:
    yaw = np.array([0.0, 1.0, 3.0, 6.0])  # relative errors of 1, 2 and 3 degrees
    rotations = Rotation.from_euler("z", yaw[:, None], degrees=True).as_matrix()
    errors = camera_errors(poses(SQUARE), poses(SQUARE, rotations))
    np.testing.assert_allclose(errors.rpe_rot_deg_per_pair, [1, 2, 3], atol=1e-9)
    assert errors.rpe_rot_deg == pytest.approx(np.sqrt(14 / 3))
    assert errors.ate_rmse == pytest.approx(0, abs=1e-9)


def test_a_camera_that_never_moves_reports_rotation_only() -> None:
    rotations = Rotation.from_euler("y", [[0], [10], [20], [30]], degrees=True).as_matrix()
    estimate_rotations = Rotation.from_euler("y", [[0], [10], [22], [30]], degrees=True).as_matrix()
    errors = camera_errors(
        poses(np.zeros((4, 3)), rotations), poses(np.zeros((4, 3)), estimate_rotations)
    )
    assert errors.ate_rmse is None and errors.rpe_trans is None
    assert errors.rpe_rot_deg == pytest.approx(np.sqrt(8 / 3))


def test_too_few_frames_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        camera_errors(poses(SQUARE[:2]), poses(SQUARE[:2]))


def _evo_rmse(tool: str, home: Path, *arguments: str) -> float:
    results = home / f"{tool}-{len(list(home.iterdir()))}.zip"
    done = subprocess.run(
        [str(BIN / tool), "tum", *arguments, "--align", "--correct_scale", "--no_warnings",
         "--save_results", str(results)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "HOME": str(home), "MPLBACKEND": "Agg"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    with zipfile.ZipFile(results) as archive:
        return json.loads(archive.read("stats.json"))["rmse"]


def test_matches_evo_command_line(tmp_path: Path) -> None:
    """A wobbly noisy trajectory, scored by our function and by `evo_ape` / `evo_rpe`."""
    rng = np.random.default_rng(0)
    count = 40
    angle = np.linspace(0, 2.5, count)
    centres = np.stack([3 * np.cos(angle), 0.3 * np.sin(3 * angle), 2 * np.sin(angle)], axis=1)
    rotations = Rotation.from_euler("xyz", np.stack([angle, 0.2 * angle, -angle], 1)).as_matrix()
    reference = poses(centres, rotations)
    noise = Rotation.from_rotvec(rng.normal(0, 0.02, (count, 3))).as_matrix()
    estimate = poses(centres + rng.normal(0, 0.05, (count, 3)), rotations @ noise)
    estimate = apply(
        similarity(0.2, Rotation.random(random_state=4).as_matrix(), np.ones(3)), estimate
    )
    stamps = np.arange(count) / 24.0
    ours = camera_errors(reference, estimate, stamps)
    files = {}
    for name, world_from_cam in (("reference", reference), ("estimate", estimate)):
        files[name] = tmp_path / f"{name}.txt"
        write_tum_trajectory_file(
            files[name], PoseTrajectory3D(poses_se3=list(world_from_cam), timestamps=stamps)
        )
    home = tmp_path / "home"
    home.mkdir()
    pair = (str(files["reference"]), str(files["estimate"]))
    assert ours.ate_rmse == pytest.approx(_evo_rmse("evo_ape", home, *pair), rel=1e-9)
    rpe = ("--delta", "1", "--delta_unit", "f", "--pose_relation")
    assert ours.rpe_trans == pytest.approx(
        _evo_rmse("evo_rpe", home, *pair, *rpe, "trans_part"), rel=1e-9
    )
    assert ours.rpe_rot_deg == pytest.approx(
        _evo_rmse("evo_rpe", home, *pair, *rpe, "angle_deg"), rel=1e-9
    )
    assert 0.03 < ours.ate_rmse < 0.1


def test_a_straight_dolly_still_gets_an_ate() -> None:
    """evo refuses a straight path (rank-1 covariance); the least-squares similarity is still
    a pure scale here, so the ATE is sqrt(V D / (V + D)) for V = 1.25 (spread of 0, 1, 2, 3)
    and D = h^2 (the sideways offsets +h, -h, -h, +h, uncorrelated with the path)."""
    height = 0.3
    line = np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0]])
    estimate = line + np.array([[0, height, 0], [0, -height, 0], [0, -height, 0], [0, height, 0]])
    errors = camera_errors(poses(line), poses(estimate))
    assert errors.straight
    assert errors.ate_rmse == pytest.approx(np.sqrt(1.25 * height**2 / (1.25 + height**2)))


def test_an_estimate_that_never_moves_scores_the_whole_path() -> None:
    """The best similarity shrinks a motionless estimate onto the truth's centroid, so every
    frame is off by its distance from it."""
    errors = camera_errors(poses(SQUARE * 2), poses(np.ones((4, 3))))
    assert errors.scale == 0.0
    assert errors.ate_rmse == pytest.approx(2 * np.sqrt(2))
    assert errors.rpe_trans == pytest.approx(4.0)  # every true step is 4 long, none predicted
