"""Depth unprojection in VGGT's own pixel convention.

VGGT's ``unproject_depth_map_to_point_map`` uses **integer** pixel coordinates: pixel (row v,
column u) is the ray through (u, v), with no +0.5 centre offset, while the intrinsics put the
principal point at (W/2, H/2). We keep that convention here so results match VGGT; code that
wants pixel centres (VGGT4D's refinement, the bundle) must add 0.5 itself.
"""

from __future__ import annotations

import torch
from torch import Tensor


def unproject_depth(depth: Tensor, extrinsics: Tensor, intrinsics: Tensor) -> Tensor:
    """depth [S, H, W] (or [S, H, W, 1]), extrinsics [S, 3, 4] cam-from-world, intrinsics
    [S, 3, 3] -> world points [S, H, W, 3] at integer pixel coordinates (no +0.5)."""
    if depth.dim() == 4:
        depth = depth.squeeze(-1)
    H, W = depth.shape[-2:]
    rows = torch.arange(H, dtype=depth.dtype, device=depth.device)
    cols = torch.arange(W, dtype=depth.dtype, device=depth.device)
    v, u = torch.meshgrid(rows, cols, indexing="ij")
    fx = intrinsics[:, 0, 0, None, None]
    fy = intrinsics[:, 1, 1, None, None]
    cx = intrinsics[:, 0, 2, None, None]
    cy = intrinsics[:, 1, 2, None, None]
    camera_points = torch.stack(((u - cx) * depth / fx, (v - cy) * depth / fy, depth), dim=-1)
    rotation = extrinsics[:, :3, :3]
    translation = extrinsics[:, :3, 3]
    # world = R^T (x_cam - t): the closed-form inverse of [R | t].
    offset = camera_points - translation[:, None, None, :]
    return torch.einsum("sji,shwj->shwi", rotation, offset)
