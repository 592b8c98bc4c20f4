"""Plain-numpy checks of the OpenCV -> Blender camera conversion (no bpy)."""

import numpy as np
import pytest

from tests.importers.blender_viewplane import lens_to_intrinsics
from vggt4d_blender.importers import camera_math


def _rotation(rx: float, ry: float, rz: float) -> np.ndarray:
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    x = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    z = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return z @ y @ x


def _project_blender(matrix_world, intrinsics_blender, points_world):
    """Project Blender-world points with a Blender camera matrix and Blender-derived K."""
    camera_from_world = np.linalg.inv(matrix_world)
    local = points_world @ camera_from_world[:3, :3].T + camera_from_world[:3, 3]
    depth = -local[:, 2]
    u = intrinsics_blender[0, 0] * local[:, 0] / depth + intrinsics_blender[0, 2]
    v = -intrinsics_blender[1, 1] * local[:, 1] / depth + intrinsics_blender[1, 2]
    return np.stack([u, v], axis=1)


@pytest.mark.parametrize(
    ("width", "height", "fx", "fy", "cx", "cy"),
    [
        (1920, 1080, 1500.0, 1500.0, 960.0, 540.0),  # landscape, centred
        (1080, 1920, 1400.0, 1400.0, 540.0, 960.0),  # portrait
        (1440, 1080, 1500.0, 2000.0, 721.5, 512.25),  # off-centre, anamorphic 4:3 pixels
        (720, 1280, 900.0, 675.0, 300.0, 700.0),  # portrait, off-centre, pixels 3:4
    ],
)
def test_projection_matches_bundle(width, height, fx, fy, cx, cy):
    rng = np.random.default_rng(0)
    intrinsics = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1.0]])
    rotation = _rotation(0.1, -0.3, 0.2)
    translation = np.array([0.3, -0.2, 1.5])
    extrinsics = np.concatenate([rotation, translation[:, None]], axis=1)[None]
    points = rng.uniform(-1, 1, (50, 3)) + np.array([0, 0, 4.0])
    camera_points = points @ rotation.T + translation
    expected = camera_points[:, :2] / camera_points[:, 2:] * [fx, fy] + [cx, cy]

    lens = camera_math.intrinsics_to_lens(intrinsics[None], width, height, pixel_aspect=fy / fx)
    assert lens.sensor_fit == (
        "HORIZONTAL" if width * lens.pixel_aspect_x >= height * lens.pixel_aspect_y else "VERTICAL"
    )
    assert min(lens.pixel_aspect_x, lens.pixel_aspect_y) == 1.0
    assert lens.residual_px == pytest.approx(0.0, abs=1e-9)
    blender_k = lens_to_intrinsics(
        lens.lens[0],
        lens.shift_x[0],
        lens.shift_y[0],
        lens.sensor_fit,
        lens.sensor_size,
        lens.sensor_size,
        width,
        height,
        lens.pixel_aspect_x,
        lens.pixel_aspect_y,
    )
    np.testing.assert_allclose(blender_k, intrinsics, atol=1e-9)
    matrix_world = camera_math.camera_matrices_world(extrinsics)[0]
    projected = _project_blender(
        matrix_world, blender_k, camera_math.points_to_blender(points).astype(np.float64)
    )
    np.testing.assert_allclose(projected, expected, atol=1e-3)


def test_portrait_uses_vertical_fit_and_auto_agrees():
    intrinsics = np.array([[[1400.0, 0, 540], [0, 1400.0, 960], [0, 0, 1]]])
    lens = camera_math.intrinsics_to_lens(intrinsics, 1080, 1920)
    assert lens.sensor_fit == "VERTICAL"
    np.testing.assert_allclose(lens.lens[0], 1400.0 * 36.0 / 1920)
    auto = lens_to_intrinsics(lens.lens[0], 0, 0, "AUTO", 36.0, 36.0, 1080, 1920)
    np.testing.assert_allclose(auto, intrinsics[0])


def test_first_camera_is_level_blender_camera():
    extrinsics = np.concatenate([np.eye(3), np.zeros((3, 1))], axis=1)[None]
    matrix = camera_math.camera_matrices_world(extrinsics)[0]
    euler = camera_math.euler_xyz_from_matrices(matrix[None, :3, :3])[0]
    np.testing.assert_allclose(euler, [np.pi / 2, 0, 0], atol=1e-12)
    # Camera forward (-z local) is world +Y, camera up (+y local) is world +Z.
    np.testing.assert_allclose(matrix[:3, :3] @ [0, 0, -1], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(matrix[:3, :3] @ [0, 1, 0], [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(
        camera_math.points_to_blender(np.array([[0, -1.0, 2.0]])), [[0, 2, 1]]
    )


def test_euler_round_trip_and_unwrap():
    angles = np.stack(
        [np.linspace(0, 7, 40), np.linspace(-1.2, 1.2, 40), np.linspace(3, -4, 40)], 1
    )
    rotations = np.stack([_rotation(*a) for a in angles])
    euler = camera_math.euler_xyz_from_matrices(rotations)
    rebuilt = np.stack([_rotation(*a) for a in euler])
    np.testing.assert_allclose(rebuilt, rotations, atol=1e-12)
    assert np.abs(np.diff(euler, axis=0)).max() < 0.5  # no 2*pi jumps between keys


def test_gimbal_lock_rotation_is_rebuilt():
    rotation = _rotation(0.4, np.pi / 2, 0.0)
    euler = camera_math.euler_xyz_from_matrices(rotation[None])[0]
    np.testing.assert_allclose(_rotation(*euler), rotation, atol=1e-9)


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (1080, 1920)])
def test_noisy_focal_estimates_keep_square_pixels_and_report_the_residual(width, height):
    """fx = 1500, fy = 1480 on square-pixel footage: one focal (their geometric mean), pixel
    aspect 1:1, and the residual measured at the plate edge of each axis (a portrait plate's
    vertical half-size is its larger one)."""
    k = np.array([[1500.0, 0, width / 2], [0, 1480.0, height / 2], [0, 0, 1]])
    lens = camera_math.intrinsics_to_lens(k[None], width, height)
    assert (lens.pixel_aspect_x, lens.pixel_aspect_y) == (1.0, 1.0)
    focal = np.sqrt(1500.0 * 1480.0)
    expected = max(abs(focal / 1500 - 1) * width / 2, abs(focal / 1480 - 1) * height / 2)
    assert lens.residual_px == pytest.approx(expected)
    blender_k = lens_to_intrinsics(
        lens.lens[0], 0, 0, lens.sensor_fit, lens.sensor_size, lens.sensor_size, width, height
    )
    assert blender_k[0, 0] == pytest.approx(focal) and blender_k[1, 1] == pytest.approx(focal)
