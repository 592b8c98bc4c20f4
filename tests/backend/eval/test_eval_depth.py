"""Abs-Rel and delta < 1.25 with per-sequence median scaling, on hand-computed cases."""

import numpy as np
import pytest

from vggt4d.eval.depth import depth_scores


def test_a_scaled_prediction_is_perfect() -> None:
    truth = [np.array([[1.0, 2.0], [3.0, 9.0]]), np.array([[4.0, 5.0], [6.0, 7.0]])]
    scores = depth_scores([t / 2.5 for t in truth], truth)
    assert scores.scale == pytest.approx(2.5)
    assert scores.abs_rel == pytest.approx(0, abs=1e-12)
    assert scores.delta_1_25 == 1.0 and scores.pixels == 8


def test_hand_computed_errors() -> None:
    """Truth 1, 2, 4, 8 and prediction 1, 2, 4, 16: both medians are 3, so the scale is 1;
    Abs-Rel = (0 + 0 + 0 + 8/8) / 4 = 0.25 and one pixel in four fails delta (16/8 = 2)."""
    truth = np.array([[1.0, 2.0, 4.0, 8.0]])
    scores = depth_scores([np.array([[1.0, 2.0, 4.0, 16.0]])], [truth])
    assert scores.scale == pytest.approx(1.0)
    assert scores.abs_rel == pytest.approx(0.25)
    assert scores.delta_1_25 == pytest.approx(0.75)


def test_one_scale_for_the_whole_sequence() -> None:
    """Frame 2 is predicted twice too far: a per-frame scale would hide it, a sequence scale
    does not. All truths 1 -> median 1; predictions 1, 1, 2 -> median 1 -> scale 1."""
    truth = [np.ones((1, 2)), np.ones((1, 1))]
    scores = depth_scores([np.ones((1, 2)), np.full((1, 1), 2.0)], truth)
    assert scores.scale == pytest.approx(1.0)
    np.testing.assert_allclose(scores.abs_rel_per_frame, [0, 1])
    assert scores.abs_rel == pytest.approx(1 / 3)


def test_invalid_pixels_are_ignored() -> None:
    truth = np.array([[2.0, 0.0, np.nan, 100.0, 2.0]])
    prediction = np.array([[1.0, 5.0, 5.0, 1.0, np.nan]])
    scores = depth_scores([prediction], [truth], max_depth=50)
    assert scores.pixels == 1 and scores.abs_rel == pytest.approx(0)
    assert depth_scores([np.zeros((2, 2))], [np.ones((2, 2))]) is None
    with pytest.raises(ValueError):
        depth_scores([np.ones((2, 2))], [np.ones((2, 3))])
