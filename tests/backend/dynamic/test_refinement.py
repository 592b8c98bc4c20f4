"""Refinement stage fed the official refinement inputs (README "Stage-wise testing" step 5)."""

import numpy as np
import pytest
from conftest import mask_iou

from vggt4d.dynamic.refinement import (
    checked_frames,
    refine_masks,
    statistical_inliers,
)
from vggt4d.options import ReconstructOptions


@pytest.fixture(scope="module")
def official_refinement(case):
    return refine_masks(
        case["images"],
        case["depth"],
        case["coarse_mask_official"],
        case["extrinsic_pass2"],
        case["intrinsic"],
    )


def test_sor_inliers_match_open3d_exactly(case, official_refinement):
    np.testing.assert_array_equal(official_refinement.sor_inlier, case["sor_inlier"].numpy())


def test_refined_masks_match_official(case, official_refinement):
    for frame in range(case["images"].shape[0]):
        pre = mask_iou(
            official_refinement.pre_morph[frame], case["refined_mask_pre_morph"][frame].numpy()
        )
        final = mask_iou(
            official_refinement.refined[frame], case["refined_mask_official"][frame].numpy()
        )
        assert pre >= 0.95 and final >= 0.95, (frame, pre, final)


def test_statistical_outlier_removal_drops_a_far_point():
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(size=(200, 3)), [[50.0, 50.0, 50.0]]])
    inliers = statistical_inliers(points)
    assert not inliers[-1] and inliers[:-1].mean() > 0.95


def test_checked_frames_all_for_short_shots_and_bounded_for_long():
    np.testing.assert_array_equal(checked_frames(2, 5, 32), [0, 1, 3, 4])
    frames = checked_frames(100, 400, 32)
    assert len(frames) == 32 and 100 not in frames and len(set(frames.tolist())) == 32
    assert {99, 101}.issubset(frames) and frames.min() < 20 and frames.max() > 380


def test_gradient_variant_runs_and_only_removes(case):
    frames = slice(0, 4)
    coarse = case["coarse_mask_official"][frames]
    result = refine_masks(
        case["images"][frames],
        case["depth"][frames],
        coarse,
        case["extrinsic_pass2"][frames],
        case["intrinsic"][frames],
        ReconstructOptions(refine_method="gradient"),
    )
    assert not (result.pre_morph & ~coarse.numpy()).any()
    assert result.refined.shape == coarse.shape


def test_on_frame_callback_runs_per_frame(case):
    seen = []
    frames = slice(0, 3)
    refine_masks(
        case["images"][frames],
        case["depth"][frames],
        case["coarse_mask_official"][frames],
        case["extrinsic_pass2"][frames],
        case["intrinsic"][frames],
        on_frame=seen.append,
    )
    assert seen == [0, 1, 2]
