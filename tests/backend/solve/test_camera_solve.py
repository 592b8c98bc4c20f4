"""The camera solve on Blender-rendered shots: from network-like cameras to a matchmove."""

import numpy as np
import pytest

from tests.backend.solve.conftest import distort_shot, solve_shot, trajectory_error
from tests.backend.solve.shot_bundle import PLATE_TO_MODEL, network_estimate
from vggt4d.solve.camera_solve import SolveOptions, solve_cameras


def test_solve_reaches_matchmove_accuracy(shot):
    network = network_estimate(shot)
    result = solve_shot(shot, network)
    summary = result.summary()
    errors = summary["reprojection_error_px"]
    network_ate = trajectory_error(network.extrinsics, shot.extrinsics)
    solved_ate = trajectory_error(result.extrinsics, shot.extrinsics)
    focal_ratio = result.intrinsics[:, 0, 0] / shot.intrinsics[:, 0, 0]
    assert errors["median"] <= 0.25
    assert errors["network_median"] > 10 * errors["median"]
    assert solved_ate <= 0.1 * network_ate, (solved_ate, network_ate)
    assert np.all(np.abs(focal_ratio - 1.0) <= 0.01), focal_ratio
    assert (
        summary["jitter"]["after"]["rotation_deg"]
        < 0.2 * summary["jitter"]["before"]["rotation_deg"]
    )
    assert summary["distortion"] == {"model": "polynomial", "k1": 0.0, "k2": 0.0, "k3": 0.0}
    assert not summary["lens_check"]["distorted"], summary["lens_check"]
    # Gauged into the network's world: the solved path overlays the network's, not elsewhere.
    assert trajectory_error(result.extrinsics, network.extrinsics) < 2 * network_ate
    assert 0.8 < result.gauge.scale < 1.25


def test_no_track_lands_on_a_masked_pixel(shot):
    network = network_estimate(shot)
    result = solve_shot(shot, network, SolveOptions(outlier_rounds=0, max_iterations=1))
    columns = np.floor(result.tracks.xy[:, 0]).astype(int)
    rows = np.floor(result.tracks.xy[:, 1]).astype(int)
    assert not shot.movers[result.tracks.frame, rows, columns].any()


def test_polynomial_distortion_recovers_k1(shot):
    k1, k2 = -0.12, 0.03
    distorted = distort_shot(shot, k1, k2)
    network = network_estimate(distorted, seed=2)
    result = solve_shot(distorted, network, SolveOptions(distortion="polynomial"))
    assert abs(result.distortion[0] - k1) <= 0.02, result.distortion
    assert result.summary()["reprojection_error_px"]["median"] <= 0.25
    plain = solve_shot(distorted, network)
    assert (
        plain.summary()["reprojection_error_px"]["median"]
        > result.summary()["reprojection_error_px"]["median"]
    )
    assert plain.lens_check["distorted"] and result.lens_check is None


def test_masks_beat_no_masks_when_movers_fill_the_frame(crowded_shot):
    assert crowded_shot.movers.mean() > 0.2
    network = network_estimate(crowded_shot, seed=4)
    masked = solve_shot(crowded_shot, network)
    unmasked = solve_shot(crowded_shot, network, masks=False)
    masked_ate = trajectory_error(masked.extrinsics, crowded_shot.extrinsics)
    unmasked_ate = trajectory_error(unmasked.extrinsics, crowded_shot.extrinsics)
    assert masked_ate < unmasked_ate, (masked_ate, unmasked_ate)


def test_per_frame_focal_and_fixed_focal(shot):
    network = network_estimate(shot, focal_error=0.0)
    fixed = solve_shot(shot, network, SolveOptions(focal="fixed"))
    np.testing.assert_allclose(fixed.intrinsics[:, 0, 0], network.intrinsics[:, 0, 0])
    per_frame = solve_shot(shot, network, SolveOptions(focal="per-frame"))
    assert per_frame.summary()["reprojection_error_px"]["median"] <= 0.25


def test_too_few_frames_is_a_clear_error(shot):
    from vggt4d.errors import InputError

    network = network_estimate(shot)
    with pytest.raises(InputError, match="two frames"):
        solve_cameras(
            list(shot.plates[:1]),
            network.extrinsics[:1],
            network.intrinsics[:1],
            network.depth[:1],
            PLATE_TO_MODEL,
        )


@pytest.mark.parametrize("pixel_aspect", [1.0, 4.0 / 3.0])
def test_solved_fy_follows_the_plate_pixel_aspect_not_the_network(shot, pixel_aspect):
    """The network's fy 3 % above its fx: the solve keeps the plate's known pixel shape (fy = fx
    * pixel aspect), so the camera Blender builds is the one whose error the solve reports."""
    network = network_estimate(shot)
    network.intrinsics[:, 1, 1] *= 1.03 * pixel_aspect
    result = solve_shot(
        shot,
        network,
        SolveOptions(outlier_rounds=0, max_iterations=10),
        pixel_aspect=pixel_aspect,
    )
    ratio = result.intrinsics[:, 1, 1] / result.intrinsics[:, 0, 0]
    np.testing.assert_allclose(ratio, pixel_aspect, rtol=1e-9)


def test_a_zoom_like_network_focal_is_solved_per_frame_and_said(shot):
    """The network's focal climbs 20 % over the shot: one shared focal cannot fit a zoom, so the
    solve goes per frame, records the switch and says so in one sentence."""
    from vggt4d.io.bundle_format import describe_focal_switch

    network = network_estimate(shot)
    network.intrinsics[:, :2, :2] *= np.linspace(1.0, 1.2, len(shot.plates))[:, None, None]
    result = solve_shot(shot, network, SolveOptions(outlier_rounds=0, max_iterations=10))
    summary = result.summary()
    assert summary["options"]["focal"] == "per-frame"
    switch = summary["focal_switch"]
    assert switch["asked"] == "shared" and 1.15 < switch["network_spread"] < 1.21, switch
    sentence = describe_focal_switch(summary)
    assert "--focal per-frame" in sentence and "1.1" in sentence, sentence
    assert describe_focal_switch({"reprojection_error_px": {}}) is None


def test_an_implausible_lens_is_refused_before_anything_is_written():
    from vggt4d.errors import InputError
    from vggt4d.solve.camera_solve import check_plausible_lens

    check_plausible_lens(np.array([-0.3, 0.12, -0.02]))  # a wide real lens passes
    with pytest.raises(InputError, match=r"implausible \(k1 0.1, k2 -3, k3 1.84e\+03\)"):
        check_plausible_lens(np.array([0.1, -3.0, 1835.0]))
