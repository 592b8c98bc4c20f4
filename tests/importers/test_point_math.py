"""Point selection and scene-tool geometry (no bpy)."""

import numpy as np

from vggt4d_blender.importers import point_math


def test_select_points_threshold_then_budget_keeps_most_confident():
    confidence = np.array([1.0, 5.0, 0.5, 3.0, 4.0, 2.0], np.float32)
    np.testing.assert_array_equal(point_math.select_points(confidence, 1.5, 0), [1, 3, 4, 5])
    np.testing.assert_array_equal(point_math.select_points(confidence, 1.5, 2), [1, 4])
    assert len(point_math.select_points(confidence, 0.0, 10)) == 6


def test_floor_transform_lays_tilted_plane_flat_with_camera_above():
    rng = np.random.default_rng(1)
    flat = np.c_[rng.uniform(-2, 2, (200, 2)), np.zeros(200)]
    tilt = np.array([[1, 0, 0], [0, np.cos(0.4), -np.sin(0.4)], [0, np.sin(0.4), np.cos(0.4)]])
    points = flat @ tilt.T + [0.5, 1.0, -3.0]
    camera = np.array([0.0, 0.0, 5.0]) @ tilt.T + [0.5, 1.0, -3.0]
    transform = point_math.floor_transform(points, camera)
    moved = points @ transform[:3, :3].T + transform[:3, 3]
    np.testing.assert_allclose(moved[:, 2], 0.0, atol=1e-9)
    assert (transform[:3, :3] @ camera + transform[:3, 3])[2] > 0


def test_rotation_between_opposite_vectors():
    rotation = point_math.rotation_between(np.array([0, 0, -1.0]), np.array([0, 0, 1.0]))
    np.testing.assert_allclose(rotation @ [0, 0, -1.0], [0, 0, 1.0], atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(rotation), 1.0)


def test_scale_transform():
    transform = point_math.scale_transform(np.array([0, 0, 0]), np.array([0, 2.0, 0]), 5.0)
    np.testing.assert_allclose(np.diag(transform), [2.5, 2.5, 2.5, 1.0])
