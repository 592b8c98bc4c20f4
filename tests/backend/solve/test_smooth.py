"""Temporal smoothing of the solved camera path on Blender-rendered shots: less jitter for at
most 0.05 px, and the moves the plate shows (a whip pan, handheld shake) are kept."""

import numpy as np
import pytest
from scipy.optimize._numdiff import approx_derivative
from scipy.spatial.transform import Rotation

from tests.backend.solve.conftest import trajectory_error
from tests.backend.solve.shot_bundle import PLATE_TO_MODEL, network_estimate
from tests.backend.solve.test_adjust import _scene
from vggt4d.errors import InputError
from vggt4d.solve import adjust as adjust_module
from vggt4d.solve.adjust import LensModel
from vggt4d.solve.camera_solve import SolveOptions, solve_cameras
from vggt4d.solve.gauge import jitter
from vggt4d.solve.smooth import SMOOTHING_BUDGET_PX, PathPrior
from vggt4d.solve.tracks import TrackOptions

WHIP_DEG = 4.0


@pytest.fixture(scope="module")
def whip_shot(tmp_path_factory):
    from tests.backend.solve.blender_shot import render_shot

    return render_shot(tmp_path_factory.mktemp("solve_whip"), whip_deg=WHIP_DEG)


@pytest.fixture(scope="module")
def handheld_shot(tmp_path_factory):
    from tests.backend.solve.blender_shot import render_shot

    return render_shot(tmp_path_factory.mktemp("solve_handheld"), shake_deg=0.15, seed=6)


def _solve_pair(shot, strength: float):
    """The shot solved without and with smoothing from a grainy plate and sparse tracks (60 a
    frame): each frame's pose then carries noise the tracks cannot fix, i.e. jitter."""
    grain = np.random.default_rng(5).normal(size=shot.plates.shape) * 8.0
    plates = list(np.clip(shot.plates + grain, 0, 255).astype(np.uint8))
    network = network_estimate(shot)
    results = [
        solve_cameras(
            plates,
            network.extrinsics,
            network.intrinsics,
            network.depth,
            PLATE_TO_MODEL,
            exclude=list(shot.movers),
            options=SolveOptions(smooth=smooth, tracking=TrackOptions(max_tracks=60)),
        )
        for smooth in (0.0, strength)
    ]
    plain, smoothed = results
    np.testing.assert_array_equal(plain.tracks.xy, smoothed.tracks.xy)  # the same observations
    return plain, smoothed


def _assert_within_budget(plain, smoothed) -> None:
    """The budget, measured independently of the smoothing's own report."""
    growth = smoothed.per_frame_error() - plain.per_frame_error()
    assert np.nanmax(growth) <= SMOOTHING_BUDGET_PX + 1e-9, growth
    assert np.median(smoothed.errors) - np.median(plain.errors) <= SMOOTHING_BUDGET_PX + 1e-9
    cost = smoothed.summary()["smoothing"]["cost_px"]
    assert cost["worst_frame"] == pytest.approx(np.nanmax(growth), abs=1e-9)


def _turns_deg(extrinsics: np.ndarray) -> np.ndarray:
    """Rotation [S-1] from each frame to the next, degrees."""
    rotations = Rotation.from_matrix(extrinsics[:, :, :3])
    return np.degrees((rotations[1:] * rotations[:-1].inv()).magnitude())


def test_smoothing_removes_jitter_within_the_budget_and_keeps_the_path(shot):
    plain, smoothed = _solve_pair(shot, 1.0)
    _assert_within_budget(plain, smoothed)
    section = smoothed.summary()["smoothing"]
    assert section["strength_used"] == 1.0 and section["limited_frames"] == []
    assert section["jitter"]["before"] == jitter(plain.extrinsics)
    truth, before, after = jitter(shot.extrinsics), plain.jitter_after, smoothed.jitter_after
    assert section["jitter"]["after"] == after
    # The true path is smooth: its centres have no second difference, its rotations (linear
    # Euler angles) a small one. Smoothing removes most of what the solve adds to both.
    assert after["position"] <= 0.4 * before["position"], (before, after)
    rotation_excess = abs(after["rotation_deg"] - truth["rotation_deg"])
    assert rotation_excess <= 0.3 * (before["rotation_deg"] - truth["rotation_deg"])
    assert trajectory_error(smoothed.extrinsics, shot.extrinsics) <= trajectory_error(
        plain.extrinsics, shot.extrinsics
    )


def test_smoothing_keeps_a_whip_pan_and_smooths_around_it(whip_shot):
    plain, smoothed = _solve_pair(whip_shot, 1.0)
    _assert_within_budget(plain, smoothed)
    whip = len(whip_shot.extrinsics) // 2 - 1  # the turn from frame `whip` to the next
    truth = _turns_deg(whip_shot.extrinsics)
    assert truth[whip] > WHIP_DEG
    assert _turns_deg(smoothed.extrinsics)[whip] == pytest.approx(
        _turns_deg(plain.extrinsics)[whip], abs=0.05
    )
    section = smoothed.summary()["smoothing"]
    assert {whip, whip + 1} <= set(section["limited_frames"])
    assert len(section["limited_frames"]) < len(whip_shot.extrinsics) // 2
    assert section["strength_used"] == 1.0
    assert smoothed.jitter_after["position"] < 0.7 * plain.jitter_after["position"]


def test_a_strong_smoothing_of_handheld_shake_is_held_to_the_budget(handheld_shot):
    plain, smoothed = _solve_pair(handheld_shot, 100.0)
    _assert_within_budget(plain, smoothed)
    section = smoothed.summary()["smoothing"]
    assert section["strength_used"] < 1.0  # the shake is real: the prior had to give way
    plain_error = trajectory_error(plain.extrinsics, handheld_shot.extrinsics)
    assert trajectory_error(smoothed.extrinsics, handheld_shot.extrinsics) <= 1.05 * plain_error


def test_path_prior_jacobian_matches_finite_differences():
    tracks, world, extrinsics, intrinsics, _ = _scene(frames=6, points=7)
    rng = np.random.default_rng(3)
    translations = extrinsics[:, :, 3] + rng.normal(size=(6, 3)) * 0.1
    prior = PathPrior(tracks, world, extrinsics, intrinsics, np.array([1.0, 2.0, 0.5]))
    layout = adjust_module._Layout(6, 7, LensModel("fixed"))
    rotvecs = rng.normal(size=(6, 3)) * 0.1

    def residuals(vector):
        rotations = Rotation.from_rotvec(vector[layout.slices["rotation"]].reshape(-1, 3))
        return prior.residuals(
            rotations.as_matrix() @ extrinsics[:, :, :3],
            vector[layout.slices["translation"]].reshape(-1, 3),
            vector[layout.slices["points"]].reshape(-1, 3),
        )

    vector = np.concatenate([rotvecs.ravel(), translations.ravel(), world.ravel() + 0.1])
    numeric = approx_derivative(residuals, vector, method="3-point")
    rotations = Rotation.from_rotvec(rotvecs).as_matrix() @ extrinsics[:, :, :3]
    analytic = adjust_module._prior_jacobian(
        prior, layout, rotvecs, rotations, translations, world + 0.1
    ).toarray()
    np.testing.assert_allclose(analytic, numeric, atol=1e-6 * np.abs(numeric).max())


def test_smoothing_option_is_checked():
    assert SolveOptions.from_dict({"smooth": 2}).smooth == 2.0
    with pytest.raises(InputError, match="smooth"):
        SolveOptions(smooth=-1.0)
    with pytest.raises(InputError, match="smooth"):
        SolveOptions.from_dict({"smooth": "yes"})


def test_a_shot_too_short_to_smooth_keeps_its_path(shot):
    network = network_estimate(shot)
    result = solve_cameras(
        list(shot.plates[:3]),
        network.extrinsics[:3],
        network.intrinsics[:3],
        network.depth[:3],
        PLATE_TO_MODEL,
        exclude=list(shot.movers[:3]),
        options=SolveOptions(smooth=1.0, tracking=TrackOptions(max_tracks=60)),
    )
    section = result.summary()["smoothing"]
    assert section["strength_used"] == 0.0 and section["cost_px"]["median"] == 0.0
    assert section["jitter"]["before"] == section["jitter"]["after"]
