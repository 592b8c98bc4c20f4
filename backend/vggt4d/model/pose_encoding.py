"""VGGT's ``absT_quaR_FoV`` pose encoding and its conversion to camera matrices.

Encoding: ``[tx, ty, tz, qx, qy, qz, qw, fov_h, fov_w]``: quaternion scalar-last, FoV in
radians, height first. Extrinsics are camera-from-world (``x_cam = R x_world + t``) in OpenCV
axes (x right, y down, z forward). Intrinsics put the principal point at exactly (W/2, H/2)
of the network input, with ``fy = (H/2) / tan(fov_h/2)`` and ``fx = (W/2) / tan(fov_w/2)``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def quaternion_to_matrix(quaternion: Tensor) -> Tensor:
    """xyzw quaternion [..., 4] -> rotation [..., 3, 3]; uses 2/|q|^2, so q need not be unit."""
    x, y, z, w = quaternion.unbind(-1)
    two_s = 2.0 / (quaternion * quaternion).sum(-1)
    rows = (
        1 - two_s * (y * y + z * z),
        two_s * (x * y - z * w),
        two_s * (x * z + y * w),
        two_s * (x * y + z * w),
        1 - two_s * (x * x + z * z),
        two_s * (y * z - x * w),
        two_s * (x * z - y * w),
        two_s * (y * z + x * w),
        1 - two_s * (x * x + y * y),
    )
    return torch.stack(rows, dim=-1).reshape(*quaternion.shape[:-1], 3, 3)


def matrix_to_quaternion(rotation: Tensor) -> Tensor:
    """Rotation [..., 3, 3] -> unit xyzw quaternion [..., 4] with w >= 0.

    Each of the four candidate formulas divides by one of 4|x|, 4|y|, 4|z|, 4|w|; the one with
    the largest denominator is used, which keeps the conversion accurate for every rotation.
    """
    m = rotation
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    squares = torch.stack(
        (
            1 + m00 - m11 - m22,  # 4 x^2
            1 - m00 + m11 - m22,  # 4 y^2
            1 - m00 - m11 + m22,  # 4 z^2
            1 + m00 + m11 + m22,  # 4 w^2
        ),
        dim=-1,
    )
    four_abs = 2 * squares.clamp(min=0).sqrt()  # 4|x|, 4|y|, 4|z|, 4|w|
    sum_xy = m[..., 1, 0] + m[..., 0, 1]  # 4xy
    sum_xz = m[..., 0, 2] + m[..., 2, 0]  # 4xz
    sum_yz = m[..., 2, 1] + m[..., 1, 2]  # 4yz
    diff_x = m[..., 2, 1] - m[..., 1, 2]  # 4xw
    diff_y = m[..., 0, 2] - m[..., 2, 0]  # 4yw
    diff_z = m[..., 1, 0] - m[..., 0, 1]  # 4zw
    candidates = (
        torch.stack(
            (
                torch.stack((squares[..., 0], sum_xy, sum_xz, diff_x), dim=-1),
                torch.stack((sum_xy, squares[..., 1], sum_yz, diff_y), dim=-1),
                torch.stack((sum_xz, sum_yz, squares[..., 2], diff_z), dim=-1),
                torch.stack((diff_x, diff_y, diff_z, squares[..., 3]), dim=-1),
            ),
            dim=-2,
        )
        / four_abs.clamp(min=0.1)[..., None]
    )
    best = four_abs.argmax(dim=-1)
    quaternion = torch.take_along_dim(candidates, best[..., None, None], dim=-2).squeeze(-2)
    quaternion = quaternion / quaternion.norm(dim=-1, keepdim=True)
    return torch.where(quaternion[..., 3:] < 0, -quaternion, quaternion)


def pose_encoding_to_extri_intri(
    pose_enc: Tensor, image_hw: tuple[int, int]
) -> tuple[Tensor, Tensor]:
    """pose_enc [..., 9] -> (extrinsics [..., 3, 4] cam-from-world, intrinsics [..., 3, 3]).

    ``image_hw`` is the network input size (H, W), e.g. ``images.shape[-2:]``.
    """
    H, W = image_hw
    rotation = quaternion_to_matrix(pose_enc[..., 3:7])
    extrinsics = torch.cat((rotation, pose_enc[..., :3, None]), dim=-1)
    fy = (H / 2.0) / torch.tan(pose_enc[..., 7] / 2.0)
    fx = (W / 2.0) / torch.tan(pose_enc[..., 8] / 2.0)
    intrinsics = pose_enc.new_zeros(*pose_enc.shape[:-1], 3, 3)
    intrinsics[..., 0, 0] = fx
    intrinsics[..., 1, 1] = fy
    intrinsics[..., 0, 2] = W / 2.0
    intrinsics[..., 1, 2] = H / 2.0
    intrinsics[..., 2, 2] = 1.0
    return extrinsics, intrinsics


def extri_intri_to_pose_encoding(
    extrinsics: Tensor, intrinsics: Tensor, image_hw: tuple[int, int]
) -> Tensor:
    """Inverse of ``pose_encoding_to_extri_intri``: [..., 3, 4] and [..., 3, 3] -> [..., 9].

    Only the focal lengths are encoded: the principal point is assumed to be (W/2, H/2).
    """
    H, W = image_hw
    quaternion = matrix_to_quaternion(extrinsics[..., :3, :3])
    fov_h = 2 * torch.atan((H / 2.0) / intrinsics[..., 1, 1])
    fov_w = 2 * torch.atan((W / 2.0) / intrinsics[..., 0, 0])
    return torch.cat(
        (extrinsics[..., :3, 3], quaternion, fov_h[..., None], fov_w[..., None]), dim=-1
    ).float()
