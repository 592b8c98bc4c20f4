"""The lens prior: where the tracks cannot tell the focal or the distortion (a dolly, a
locked-off shot, an undistorted plate), the lens stays at the network's focal and zero
distortion and the solve says the focal is undetermined; where they can, the prior gives way."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vggt4d.io.bundle_format import describe_focal
from vggt4d.solve import adjust as adjust_module
from vggt4d.solve.adjust import LensModel, LensPrior, adjust
from vggt4d.solve.tracks import Tracks

TRUE_FOCAL = 300.0


def _shot(move: str, seed: int = 0, frames: int = 8, points: int = 300):
    """Tracks of random points seen by a moving camera (0.05 px noise), with a start perturbed
    like the network's: focal +5 %, points and poses a little off."""
    rng = np.random.default_rng(seed)
    world = rng.uniform([-3, -2, 5], [3, 2, 12], size=(points, 3))
    extrinsics = np.zeros((frames, 3, 4))
    for index in range(frames):
        angle = {"orbit": 2.0 * index, "dolly": 0.0, "locked": 0.0}[move]
        rotation = Rotation.from_euler("y", angle, degrees=True).as_matrix()
        step = {"orbit": [0.2, 0.0, 0.05], "dolly": [0.0, 0.0, 0.25], "locked": [0, 0, 0]}
        centre = np.array(step[move]) * index
        extrinsics[index] = np.concatenate([rotation, (-rotation @ centre)[:, None]], axis=1)
    intrinsics = np.tile(
        np.array([[TRUE_FOCAL, 0, 160], [0, TRUE_FOCAL, 90], [0, 0, 1]]), (frames, 1, 1)
    )
    frame = np.repeat(np.arange(frames), points).astype(np.int32)
    track = np.tile(np.arange(points), frames).astype(np.int32)
    empty = Tracks(frame, track, np.zeros((len(frame), 2)), 320, 180)
    xy = adjust_module._reproject(
        empty,
        extrinsics[:, :, :3],
        extrinsics[:, :, 3],
        world,
        intrinsics[:, [0, 1], [0, 1]],
        intrinsics[:, :2, 2],
        np.zeros(3),
    )
    tracks = Tracks(frame, track, xy + rng.normal(0, 0.05, xy.shape), 320, 180)
    start = intrinsics.copy()
    start[:, [0, 1], [0, 1]] *= 1.05
    noisy = extrinsics.copy()
    noisy[1:, :, 3] += rng.normal(0, 0.01, (frames - 1, 3))
    return tracks, world + rng.normal(0, 0.05, world.shape), noisy, start


def _solve(move: str):
    tracks, world, extrinsics, start = _shot(move)
    return adjust(
        tracks,
        world,
        extrinsics,
        start,
        np.zeros(3),
        LensModel("shared", "polynomial"),
        1.0,
        300,
        lens_prior=LensPrior(start[:, 0, 0]),
    )


@pytest.mark.parametrize("move", ["dolly", "locked"])
def test_an_undetermined_focal_stays_at_the_network_and_is_reported(move):
    adjusted = _solve(move)
    focal = adjusted.intrinsics[0, 0, 0]
    assert abs(focal / (1.05 * TRUE_FOCAL) - 1) < 0.005, focal
    k1, k2, k3 = adjusted.distortion
    assert abs(k1) < 0.05 and abs(k2) < 0.05 and abs(k3) < 0.05, adjusted.distortion
    spread = adjusted.focal_spread
    assert spread.std_percent > 1.0 and spread.prior_share > 0.5, spread
    assert np.median(adjusted.errors) < 0.1


def test_a_determined_focal_leaves_the_prior_behind():
    adjusted = _solve("orbit")
    assert abs(adjusted.intrinsics[0, 0, 0] / TRUE_FOCAL - 1) < 0.01
    assert np.abs(adjusted.distortion).max() < 0.05, adjusted.distortion
    spread = adjusted.focal_spread
    assert spread.std_percent < 1.0 and spread.prior_share < 0.1, spread


def test_describe_focal_speaks_only_when_the_shot_leaves_the_focal_open():
    assert describe_focal({}) is None
    assert (
        describe_focal({"focal": {"std_percent": 0.1, "prior_share": 0.0, "determined": True}})
        is None
    )
    sentence = describe_focal(
        {"focal": {"std_percent": 12.0, "prior_share": 0.9, "determined": False}}
    )
    assert "does not determine the focal" in sentence and "+-12.0 %" in sentence
    assert "anything" in describe_focal({"focal": {"prior_share": 1.0, "determined": False}})
