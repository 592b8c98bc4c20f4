"""DAVIS J and F on small synthetic masks, checked against the definitions by hand."""

import numpy as np
import pytest

from vggt4d.eval.masks import boundary_map, boundary_measure, mask_scores, region_similarity


def box(shape: tuple[int, int], top: int, left: int, height: int, width: int) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[top : top + height, left : left + width] = True
    return mask


def test_region_similarity_is_intersection_over_union() -> None:
    truth = box((20, 30), 0, 0, 10, 10)
    prediction = box((20, 30), 0, 5, 10, 10)  # 50 shared pixels of 150
    assert region_similarity(prediction, truth) == pytest.approx(1 / 3)
    void = box((20, 30), 0, 10, 10, 5)  # hides the 50 predicted-only pixels
    assert region_similarity(prediction, truth, void) == pytest.approx(0.5)
    empty = np.zeros((20, 30), dtype=bool)
    assert region_similarity(empty, empty) == 1.0
    assert region_similarity(prediction, empty) == 0.0


def test_boundary_map_marks_changes_to_the_right_and_below() -> None:
    mask = box((8, 8), 2, 2, 3, 3)
    expected = np.zeros((8, 8), dtype=bool)
    expected[1, 1:5] = True  # above the square (and the pixel diagonally above-left)
    expected[2:5, 1] = True  # left of it
    expected[2:5, 4] = True  # its own right column
    expected[4, 2:4] = True  # its own bottom row
    np.testing.assert_array_equal(boundary_map(mask), expected)
    edge = box((4, 4), 0, 0, 4, 2)  # touches the image border: the border is no boundary
    np.testing.assert_array_equal(np.nonzero(boundary_map(edge))[1], [1, 1, 1, 1])


def test_boundary_tolerance_is_a_fraction_of_the_diagonal() -> None:
    """300 x 400 image: diagonal 500 pixels, tolerance ceil(0.008 x 500) = 4 pixels."""
    truth = box((300, 400), 50, 100, 200, 200)
    assert boundary_measure(truth, truth) == 1.0
    assert boundary_measure(box((300, 400), 50, 104, 200, 200), truth) == 1.0
    # 5 columns off: the vertical edges no longer match, the horizontal ones still mostly do.
    shifted = boundary_measure(box((300, 400), 50, 105, 200, 200), truth)
    far = boundary_measure(box((300, 400), 60, 110, 200, 200), truth)
    assert 0 < far < shifted < 1
    assert boundary_measure(truth, truth, threshold=1) == 1.0


def test_boundary_precision_and_recall() -> None:
    """Predicting one of two equal squares: every predicted edge is right (P = 1), half the true
    edges are found (R = 1/2), so F = 2 P R / (P + R) = 2/3. Disjoint edges give F = 0."""
    left, right = box((100, 200), 20, 10, 30, 30), box((100, 200), 20, 120, 30, 30)
    assert boundary_measure(left, left | right) == pytest.approx(2 / 3)
    assert boundary_measure(left, right) == 0.0
    empty = np.zeros((100, 200), dtype=bool)
    assert boundary_measure(empty, empty) == 1.0
    assert boundary_measure(left, empty) == 0.0 and boundary_measure(empty, left) == 0.0
    assert boundary_measure(left | right, left, void=right) == 1.0  # void removes the extra


def test_sequence_means_and_recalls() -> None:
    truth = box((20, 30), 0, 0, 10, 10)
    predictions = [truth, box((20, 30), 0, 5, 10, 10), np.zeros((20, 30), bool)]
    scores = mask_scores(predictions, [truth] * 3, [None] * 3)
    np.testing.assert_allclose(scores.j_per_frame, [1, 1 / 3, 0])
    assert scores.j_mean == pytest.approx(4 / 9)
    assert scores.j_recall == pytest.approx(1 / 3)  # only J > 0.5 counts
    assert scores.f_per_frame[0] == 1.0 and scores.f_per_frame[2] == 0.0
    assert scores.f_recall == pytest.approx(np.mean(scores.f_per_frame > 0.5))
    with pytest.raises(ValueError):
        mask_scores([], [], [])
