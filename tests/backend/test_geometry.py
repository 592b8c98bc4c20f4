"""The geometry vocabulary: SE(3) inverse, unprojection conventions, quaternion orders."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from vggt4d.geometry import (
    PIXEL_CENTRE_OFFSET,
    Similarity,
    homogeneous,
    invert_se3,
    quat_wxyz_from_rotation,
    quat_xyzw_from_rotation,
    rotation_from_quat_wxyz,
    rotation_from_quat_xyzw,
    transform_points,
    unproject_depth,
)


def random_poses(count: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rotation = Rotation.random(count, random_state=seed).as_matrix()
    return np.concatenate([rotation, rng.normal(size=(count, 3, 1))], axis=-1)


def test_quaternions_match_scipy_for_random_rotations() -> None:
    rotations = Rotation.random(200, random_state=3)
    expected = rotations.as_quat()[:, [3, 0, 1, 2]]
    expected *= np.sign(expected[:, :1])
    quaternions = quat_wxyz_from_rotation(rotations.as_matrix())
    np.testing.assert_allclose(quaternions, expected, atol=1e-12)
    np.testing.assert_allclose(
        rotation_from_quat_wxyz(quaternions), rotations.as_matrix(), atol=1e-12
    )
    xyzw = quat_xyzw_from_rotation(rotations.as_matrix())
    np.testing.assert_allclose(xyzw, expected[:, [1, 2, 3, 0]], atol=1e-12)
    np.testing.assert_allclose(rotation_from_quat_xyzw(xyzw), rotations.as_matrix(), atol=1e-12)


def test_numpy_and_torch_give_the_same_answers() -> None:
    poses = random_poses(5)
    tensor = torch.from_numpy(poses)
    np.testing.assert_allclose(invert_se3(tensor).numpy(), invert_se3(poses), atol=1e-15)
    np.testing.assert_allclose(
        quat_xyzw_from_rotation(tensor[:, :, :3]).numpy(),
        quat_xyzw_from_rotation(poses[:, :, :3]),
        atol=1e-15,
    )


@pytest.mark.parametrize("rows", [3, 4])
def test_closed_form_inverse_matches_the_matrix_inverse(rows: int) -> None:
    poses = homogeneous(random_poses(7))[:, :rows]
    inverse = invert_se3(poses)
    assert inverse.shape == poses.shape
    np.testing.assert_allclose(homogeneous(inverse), np.linalg.inv(homogeneous(poses)), atol=1e-12)


def test_transform_points_broadcasts_poses_over_points() -> None:
    poses = random_poses(4)
    points = np.random.default_rng(0).normal(size=(6, 3))
    moved = transform_points(poses, points)
    assert moved.shape == (4, 6, 3)
    np.testing.assert_allclose(moved[2], points @ poses[2, :, :3].T + poses[2, :, 3], atol=1e-12)


def test_unprojection_uses_the_given_pixel_offset() -> None:
    depth = torch.full((1, 2, 2), 2.0)
    intrinsics = torch.tensor([[[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]]])
    identity = torch.eye(4)[None, :3]
    points = unproject_depth(depth, intrinsics, identity, pixel_offset=PIXEL_CENTRE_OFFSET)
    torch.testing.assert_close(points[0, 0, 0], torch.tensor([-1.0, -1.0, 2.0]))
    torch.testing.assert_close(points[0, 1, 1], torch.tensor([1.0, 1.0, 2.0]))
    corner = unproject_depth(depth.numpy(), intrinsics.numpy(), identity.numpy(), pixel_offset=0.0)
    np.testing.assert_allclose(corner[0, 0, 0], [-2.0, -2.0, 2.0])


def test_unprojected_points_reproject_to_their_pixels_with_skew() -> None:
    cam_from_world = random_poses(2)
    intrinsics = np.array([[[300.0, 4.0, 81.0], [0.0, 290.0, 59.0], [0.0, 0.0, 1.0]]] * 2)
    depth = 1 + np.random.default_rng(1).random((2, 5, 7))
    points = unproject_depth(depth, intrinsics, cam_from_world, pixel_offset=0.5)
    camera = transform_points(cam_from_world, points.reshape(2, -1, 3))
    np.testing.assert_allclose(camera[..., 2], depth.reshape(2, -1), atol=1e-12)
    pixels = camera @ intrinsics.swapaxes(-1, -2)
    rows, columns = np.meshgrid(np.arange(5) + 0.5, np.arange(7) + 0.5, indexing="ij")
    expected = np.stack([columns, rows], axis=-1).reshape(-1, 2)
    np.testing.assert_allclose(pixels[..., :2] / pixels[..., 2:], expected[None].repeat(2, 0))


def test_similarity_fit_recovers_a_similarity_and_a_straight_path() -> None:
    rng = np.random.default_rng(5)
    truth = Similarity(2.5, Rotation.random(random_state=5).as_matrix(), rng.normal(size=3))
    points = rng.normal(size=(30, 3))
    fitted = Similarity.fit(points, truth.apply_points(points))
    np.testing.assert_allclose(fitted.matrix(), truth.matrix(), atol=1e-12)
    # points on a line (a dolly): one of the optimal rotations, every point still lands
    line = np.outer(np.linspace(-1, 1, 9), [0.3, -0.2, 0.9])
    fitted = Similarity.fit(line, truth.apply_points(line))
    np.testing.assert_allclose(fitted.apply_points(line), truth.apply_points(line), atol=1e-12)
    assert np.linalg.det(fitted.rotation) == pytest.approx(1.0)
    # a mirrored target is met by the best proper rotation, never a reflection
    mirrored = Similarity.fit(points, points * [1, 1, -1])
    assert np.linalg.det(mirrored.rotation) == pytest.approx(1.0)
    assert Similarity.fit(np.ones((4, 3)), points[:4]).scale == 0.0
