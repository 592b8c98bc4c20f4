"""VGGT's ``absT_quaR_FoV`` pose encoding and its conversion to camera matrices.

Encoding: ``[tx, ty, tz, qx, qy, qz, qw, fov_h, fov_w]``: quaternion scalar-last, FoV in
radians, height first. Extrinsics are camera-from-world (``x_cam = R x_world + t``) in OpenCV
axes (x right, y down, z forward). Intrinsics put the principal point at exactly (W/2, H/2)
of the network input, with ``fy = (H/2) / tan(fov_h/2)`` and ``fx = (W/2) / tan(fov_w/2)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from vggt4d.geometry import quat_xyzw_from_rotation, rotation_from_quat_xyzw


def pose_encoding_to_extri_intri(
    pose_enc: Tensor, image_hw: tuple[int, int]
) -> tuple[Tensor, Tensor]:
    """pose_enc [..., 9] -> (extrinsics [..., 3, 4] cam-from-world, intrinsics [..., 3, 3]).

    ``image_hw`` is the network input size (H, W), e.g. ``images.shape[-2:]``.
    """
    H, W = image_hw
    rotation = rotation_from_quat_xyzw(pose_enc[..., 3:7])
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
    quaternion = quat_xyzw_from_rotation(extrinsics[..., :3, :3])
    fov_h = 2 * torch.atan((H / 2.0) / intrinsics[..., 1, 1])
    fov_w = 2 * torch.atan((W / 2.0) / intrinsics[..., 0, 0])
    return torch.cat(
        (extrinsics[..., :3, 3], quaternion, fov_h[..., None], fov_w[..., None]), dim=-1
    ).float()
