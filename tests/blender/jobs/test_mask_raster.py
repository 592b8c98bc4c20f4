"""The numpy mask rasteriser: Bézier sampling, mask space, even-odd fill, layer blending."""

import numpy as np

from vggt4d_blender.jobs.mask_raster import (
    LayerShape,
    SplineShape,
    fill_polygon,
    mask_space_to_pixels,
    rasterise_layers,
    sample_spline,
)


def _polygon_spline(corners, cyclic=True) -> SplineShape:
    """Straight edges: handles sit on their points."""
    corners = np.asarray(corners, dtype=np.float64)
    return SplineShape(np.stack([corners, corners, corners], axis=1), cyclic=cyclic)


def test_fill_square_covers_exactly_the_pixel_centres_inside():
    square = np.array([[2.0, 1.0], [6.0, 1.0], [6.0, 4.0], [2.0, 4.0]])
    mask = fill_polygon(square, width=8, height=6)
    expected = np.zeros((6, 8), dtype=bool)
    expected[1:4, 2:6] = True  # centres 2.5..5.5 and 1.5..3.5
    np.testing.assert_array_equal(mask, expected)


def test_fill_is_even_odd_for_a_self_intersecting_star():
    angles = np.pi / 2 + np.arange(5) * 4 * np.pi / 5  # pentagram vertex order
    star = np.stack([50 + 45 * np.cos(angles), 50 - 45 * np.sin(angles)], axis=1)
    mask = fill_polygon(star, width=100, height=100)
    assert not mask[50, 50]  # the centre pentagon is covered twice: a hole
    assert mask[12, 50]  # the top spike is covered once
    outer, inner = 45.0, 45.0 * np.cos(2 * np.pi / 5) / np.cos(np.pi / 5)
    star_area = 5 * outer * inner * np.sin(np.pi / 5)  # concave decagon
    hole_area = 2.5 * inner**2 * np.sin(2 * np.pi / 5)  # inner pentagon
    assert abs(mask.sum() - (star_area - hole_area)) / (star_area - hole_area) < 0.03


def test_bezier_circle_area_matches_pi_r_squared():
    kappa = 0.5522847498  # cubic Bézier circle approximation
    radius, centre = 0.25, np.array([0.5, 0.5])
    points = []
    for angle in np.arange(4) * np.pi / 2:
        direction = np.array([np.cos(angle), np.sin(angle)])
        tangent = np.array([-np.sin(angle), np.cos(angle)])
        co = centre + radius * direction
        points.append([co - kappa * radius * tangent, co, co + kappa * radius * tangent])
    spline = SplineShape(np.array(points), cyclic=True)
    polygon = sample_spline(spline, samples_per_segment=32)
    assert polygon.shape == (128, 2)
    distances = np.linalg.norm(polygon - centre, axis=1)
    np.testing.assert_allclose(distances, radius, rtol=3e-3)
    mask = rasterise_layers([LayerShape([spline])], width=200, height=200)
    assert abs(mask.sum() - np.pi * 50**2) / (np.pi * 50**2) < 0.01


def test_mask_space_is_aspect_corrected_with_y_up():
    corners = np.array(
        [[0.0, 0.5], [1.0, 0.5], [0.5, 0.5 + 0.5 * 9 / 16], [0.5, 0.5 - 0.5 * 9 / 16]]
    )
    pixels = mask_space_to_pixels(corners, width=1920, height=1080)
    np.testing.assert_allclose(pixels, [[0, 540], [1920, 540], [960, 0], [960, 1080]], atol=1e-6)
    tall = mask_space_to_pixels(np.array([[0.5 - 0.5 * 9 / 16, 1.0]]), width=1080, height=1920)
    np.testing.assert_allclose(tall, [[0.0, 0.0]], atol=1e-6)


def test_layers_subtract_and_invert():
    full = _polygon_spline([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    left = _polygon_spline([[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]])
    mask = rasterise_layers([LayerShape([full]), LayerShape([left], subtract=True)], 10, 10)
    assert not mask[:, :5].any() and mask[:, 5:].all()
    inverted = rasterise_layers([LayerShape([left], invert=True)], 10, 10)
    np.testing.assert_array_equal(inverted, mask)


def test_open_spline_is_closed_by_a_straight_edge():
    open_triangle = _polygon_spline([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], cyclic=False)
    polygon = sample_spline(open_triangle, samples_per_segment=4)
    assert len(polygon) == 2 * 4 + 1
    mask = rasterise_layers([LayerShape([open_triangle])], 20, 20)
    assert mask[19, 0] and not mask[0, 19]  # bottom-left corner in (y up), top-right out
    assert abs(mask.mean() - 0.5) < 0.06
