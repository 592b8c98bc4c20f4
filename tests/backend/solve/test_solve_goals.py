"""The solve's accuracy goals end to end through `vggt4d solve`, on a shot of its own (another
texture seed, 8 frames) with network-like camera errors: focal -5 %, and a plate warped through
a known lens, solved with and without `--distortion polynomial`."""

import numpy as np
import pytest

from tests.backend.solve.conftest import distort_shot, trajectory_error
from tests.backend.solve.shot_bundle import network_estimate, write_shot_bundle
from vggt4d.cli import main
from vggt4d.io.bundle import read_bundle

K1, K2 = -0.1, 0.02


@pytest.fixture(scope="module")
def fresh_shot(tmp_path_factory):
    from tests.backend.solve.blender_shot import render_shot

    return render_shot(tmp_path_factory.mktemp("goals_shot"), frame_count=8, seed=5)


def _solve(shot, network, folder, *arguments):
    path = write_shot_bundle(shot, network, folder)
    assert main(["solve", str(path), *arguments]) == 0
    return read_bundle(path)


def _assert_goals(shot, network, solved) -> None:
    solve = solved.solve
    assert solve["reprojection_error_px"]["median"] <= 0.25, solve["reprojection_error_px"]
    network_ate = trajectory_error(network.extrinsics, shot.extrinsics)
    solved_ate = trajectory_error(solved.extrinsics, shot.extrinsics)
    assert solved_ate <= 0.1 * network_ate, (solved_ate, network_ate)
    focal_ratio = solved.intrinsics[:, 0, 0] / shot.intrinsics[:, 0, 0]
    assert np.all(np.abs(focal_ratio - 1.0) <= 0.01), focal_ratio


def test_focal_minus_5_percent_reaches_the_goals(fresh_shot, tmp_path, capsys):
    network = network_estimate(fresh_shot, seed=7, focal_error=-0.05)
    solved = _solve(fresh_shot, network, tmp_path)
    _assert_goals(fresh_shot, network, solved)
    assert not solved.solve["lens_check"]["distorted"], solved.solve["lens_check"]
    assert "WARNING" not in capsys.readouterr().out


def test_distorted_plate_reaches_the_goals_and_a_lens_free_solve_says_so(
    fresh_shot, tmp_path, capsys
):
    distorted = distort_shot(fresh_shot, K1, K2)
    network = network_estimate(distorted, seed=8, focal_error=0.05)
    solved = _solve(distorted, network, tmp_path / "polynomial", "--distortion", "polynomial")
    _assert_goals(distorted, network, solved)
    assert abs(solved.solve["distortion"]["k1"] - K1) <= 0.02, solved.solve["distortion"]
    assert "lens_check" not in solved.solve
    capsys.readouterr()

    lens_free = _solve(distorted, network, tmp_path / "none")
    check = lens_free.solve["lens_check"]
    assert check["distorted"], check
    assert abs(check["k1"] - K1) <= 0.04, check
    assert "WARNING the plate looks lens-distorted" in capsys.readouterr().out
