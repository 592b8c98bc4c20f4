"""Pose encoding round trips, VGGT's intrinsics convention and depth unprojection."""

import math

import torch
from torch.testing import assert_close

from vggt4d.geometry import VGGT_PIXEL_OFFSET, unproject_depth
from vggt4d.model import (
    autocast_dtype,
    extri_intri_to_pose_encoding,
    pose_encoding_to_extri_intri,
)


def _random_encoding(count: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(3)
    translation = torch.randn(count, 3, generator=generator)
    quaternion = torch.nn.functional.normalize(torch.randn(count, 4, generator=generator), dim=-1)
    quaternion = torch.where(quaternion[:, 3:] < 0, -quaternion, quaternion)
    fov = 0.5 + torch.rand(count, 2, generator=generator)
    return torch.cat((translation, quaternion, fov), dim=-1)


def test_round_trip_and_conventions() -> None:
    encoding = _random_encoding(64).reshape(2, 32, 9)
    extrinsics, intrinsics = pose_encoding_to_extri_intri(encoding, (294, 518))
    rotation = extrinsics[..., :3]
    assert_close(rotation @ rotation.transpose(-1, -2), torch.eye(3).expand(2, 32, 3, 3))
    assert_close(torch.linalg.det(rotation), torch.ones(2, 32))
    assert torch.all(intrinsics[..., 0, 2] == 259) and torch.all(intrinsics[..., 1, 2] == 147)
    assert_close(intrinsics[..., 1, 1], 147 / torch.tan(encoding[..., 7] / 2))  # fov_h first
    assert_close(intrinsics[..., 0, 0], 259 / torch.tan(encoding[..., 8] / 2))
    assert_close(extri_intri_to_pose_encoding(extrinsics, intrinsics, (294, 518)), encoding)


def test_quaternion_is_xyzw() -> None:
    half = math.pi / 4  # 90 degrees about z
    encoding = torch.tensor([[0, 0, 0, 0, 0, math.sin(half), math.cos(half), 1, 1]])
    extrinsics, _ = pose_encoding_to_extri_intri(encoding, (14, 14))
    expected = torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])
    assert_close(extrinsics[0, :, :3], expected)


def test_near_half_turn_rotations_convert_back() -> None:
    quaternion = torch.nn.functional.normalize(torch.tensor([[1.0, 1e-4, 0, 1e-5]]), dim=-1)
    encoding = torch.cat((torch.zeros(1, 3), quaternion, torch.ones(1, 2)), dim=-1)
    extrinsics, intrinsics = pose_encoding_to_extri_intri(encoding, (28, 28))
    assert_close(extri_intri_to_pose_encoding(extrinsics, intrinsics, (28, 28)), encoding)


def test_unproject_depth_uses_integer_pixels_and_inverts_extrinsics() -> None:
    encoding = _random_encoding(2)
    extrinsics, intrinsics = pose_encoding_to_extri_intri(encoding, (4, 6))
    depth = 1 + torch.rand(2, 4, 6)
    points = unproject_depth(depth, intrinsics, extrinsics, pixel_offset=VGGT_PIXEL_OFFSET)
    assert points.shape == (2, 4, 6, 3)
    camera = (
        torch.einsum("sij,shwj->shwi", extrinsics[..., :3], points)
        + extrinsics[:, None, None, :, 3]
    )
    assert_close(camera[..., 2], depth)
    projected = torch.einsum("sij,shwj->shwi", intrinsics, camera)
    pixels = projected[..., :2] / projected[..., 2:]
    rows, cols = torch.meshgrid(torch.arange(4.0), torch.arange(6.0), indexing="ij")
    assert_close(pixels, torch.stack((cols, rows), dim=-1).expand(2, 4, 6, 2))


def test_autocast_dtype_on_cpu_is_float32() -> None:
    assert autocast_dtype("cpu") == torch.float32
