"""A locked-off shot (tripod, no pan): the tracks hold still, so the solve sets one static camera
at the network's mean pose instead of letting a bundle adjustment wander (docs/solve.md)."""

import numpy as np
from scipy.spatial.transform import Rotation

from tests.backend.solve.blender_shot import render_shot
from tests.backend.solve.conftest import solve_shot
from tests.backend.solve.shot_bundle import network_estimate
from vggt4d.geometry import invert_se3
from vggt4d.io.bundle_format import describe_locked_off
from vggt4d.solve.camera_solve import is_locked_off
from vggt4d.solve.tracks import TrackOptions, track_plate


def test_a_still_camera_is_solved_as_one_static_camera(tmp_path):
    shot = render_shot(tmp_path, frame_count=8, travel=0.0)
    assert np.allclose(shot.extrinsics, shot.extrinsics[0], atol=1e-9)
    network = network_estimate(shot)
    result = solve_shot(shot, network)
    summary = result.summary()
    assert summary["locked_off"] is True
    assert "locked-off" in describe_locked_off(summary)
    assert describe_locked_off({"reprojection_error_px": {}}) is None
    assert np.all(result.extrinsics == result.extrinsics[0])
    network_centres = invert_se3(network.extrinsics)[:, :, 3]
    centre = invert_se3(result.extrinsics[:1])[0, :, 3]
    assert np.allclose(centre, np.median(network_centres, axis=0))
    mean = Rotation.from_matrix(network.extrinsics[:, :, :3]).mean()
    turn = Rotation.from_matrix(result.extrinsics[0, :, :3]) * mean.inv()
    assert turn.magnitude() < 1e-9
    focal = np.sqrt(network.intrinsics[:, 0, 0] * network.intrinsics[:, 1, 1])
    assert np.allclose(result.intrinsics[:, 0, 0], np.median(focal))
    assert np.all(result.distortion == 0) and np.all(result.depth_scale == 1)
    # The static camera is closer to the truth than the network's scattered ones.
    truth = invert_se3(shot.extrinsics[:1])[0, :, 3]
    assert np.linalg.norm(centre - truth) < np.median(
        np.linalg.norm(network_centres - truth, axis=1)
    )
    assert (
        summary["reprojection_error_px"]["median"]
        < summary["reprojection_error_px"]["network_median"]
    )


def test_a_moving_camera_is_not_locked_off(shot):
    tracks = track_plate(list(shot.plates), list(shot.movers), TrackOptions())
    assert not is_locked_off(tracks)


def test_a_slow_move_is_not_locked_off(tmp_path):
    """Half a percent of the test move over 8 frames: 1.5 cm of push and 0.2 degree of pan."""
    shot = render_shot(tmp_path, frame_count=8, travel=0.005)
    assert not is_locked_off(track_plate(list(shot.plates), list(shot.movers)))
