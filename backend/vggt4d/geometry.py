"""The project's one geometry vocabulary: poses, unprojection and quaternions.

Conventions used everywhere in the project:

* Poses are rigid transforms ``[R | t]``, float [..., 3, 4] (or homogeneous [..., 4, 4]), named
  after what they map: ``cam_from_world`` (the extrinsics: ``x_cam = R x_world + t``) and
  ``world_from_cam`` (its inverse, the camera's placement in the world). Camera axes are
  OpenCV's: x right, y down, z forward. Units are the scene's (VGGT's are arbitrary but
  consistent within a shot).
* Intrinsics are float [..., 3, 3] upper-triangular ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` in
  pixels. Pixel coordinates are continuous with the origin at the top-left corner of the
  top-left pixel, so pixel (row v, column u) has its centre at ``(u + 0.5, v + 0.5)``
  (``PIXEL_CENTRE_OFFSET``, the convention of the bundle and of COLMAP). VGGT's own
  ``unproject_depth_map_to_point_map`` puts the ray of pixel (v, u) through ``(u, v)``
  (``VGGT_PIXEL_OFFSET``); functions that map pixels take the offset explicitly.
* Quaternions say their component order in their names: ``wxyz`` (scalar first: COLMAP, TUM
  after reordering) or ``xyzw`` (scalar last: VGGT's pose encoding, SciPy). Rotations to
  quaternions return the unit quaternion with a non-negative scalar part.

Every function takes numpy arrays or torch tensors and answers in kind (same dtype and device).
The module imports numpy only, so the Blender add-on can ship the same file (see build.py):
torch is only touched through the tensors it is given.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

Array = TypeVar("Array")
"""A numpy array or a torch tensor; results are of the same kind as the inputs."""

PIXEL_CENTRE_OFFSET = 0.5
"""Pixel (u, v) is the ray through (u + 0.5, v + 0.5): the bundle's and COLMAP's convention."""

VGGT_PIXEL_OFFSET = 0.0
"""Pixel (u, v) is the ray through (u, v): VGGT's ``unproject_depth_map_to_point_map``."""


def homogeneous(pose: Array) -> Array:
    """Rigid transform [..., 3, 4] -> [..., 4, 4] with a (0, 0, 0, 1) bottom row.

    A [..., 4, 4] input is returned unchanged.
    """
    if pose.shape[-2] == 4:
        return pose
    xp = _namespace(pose)
    bottom = xp.zeros_like(pose[..., :1, :])
    bottom[..., 0, 3] = 1
    return xp.concatenate([pose, bottom], axis=-2)


def invert_se3(pose: Array) -> Array:
    """Closed-form inverse of rigid transforms: ``[R | t] -> [R^T | -R^T t]``.

    pose: [..., 3, 4] or [..., 4, 4] (the result has the same shape), e.g. ``cam_from_world``
    -> ``world_from_cam``. Exact for orthonormal R, unlike a general matrix inverse.
    """
    xp = _namespace(pose)
    rotation = pose[..., :3, :3].swapaxes(-1, -2)
    translation = -rotation @ pose[..., :3, 3:]
    inverse = xp.concatenate([rotation, translation], axis=-1)
    return homogeneous(inverse) if pose.shape[-2] == 4 else inverse


def transform_points(pose: Array, points: Array) -> Array:
    """Apply rigid transforms [..., 3, 4] (or [..., 4, 4]) to points [..., N, 3] -> [..., N, 3].

    Leading dimensions broadcast, e.g. poses [S, 3, 4] with points [S, N, 3] or [N, 3].
    """
    return points @ pose[..., :3, :3].swapaxes(-1, -2) + pose[..., None, :3, 3]


def unproject_depth(
    depth: Array, intrinsics: Array, cam_from_world: Array, *, pixel_offset: float
) -> Array:
    """World points [S, H, W, 3] of every pixel of depth maps [S, H, W].

    depth: z-depth along the camera's forward axis (not ray length), [S, H, W] or [S, H, W, 1].
    intrinsics: [S, 3, 3] in the pixels of the depth maps. cam_from_world: [S, 3, 4] or
    [S, 4, 4]. pixel_offset: where the ray of pixel (u, v) passes, ``(u + offset, v + offset)``:
    ``PIXEL_CENTRE_OFFSET`` (0.5, the bundle's convention) or ``VGGT_PIXEL_OFFSET`` (0.0).
    Computed in the dtype of ``depth``.
    """
    xp = _namespace(depth)
    if depth.ndim == 4:
        depth = depth[..., 0]
    height, width = depth.shape[-2:]
    v, u = xp.pixel_grid(depth, height, width, pixel_offset)
    fx, fy = intrinsics[:, 0, 0, None, None], intrinsics[:, 1, 1, None, None]
    cx, cy = intrinsics[:, 0, 2, None, None], intrinsics[:, 1, 2, None, None]
    skew = intrinsics[:, 0, 1, None, None]
    y = (v - cy) / fy
    x = (u - cx - skew * y) / fx
    camera = xp.stack([x * depth, y * depth, depth], axis=-1)
    world_from_cam = xp.astype(invert_se3(cam_from_world), depth)
    points = transform_points(world_from_cam, camera.reshape(depth.shape[0], -1, 3))
    return points.reshape(*depth.shape, 3)


@dataclass(frozen=True)
class Similarity:
    """A similarity of worlds, Sim(3): ``x' = scale * rotation @ x + translation``.

    Two reconstructions of one scene differ by one (VGGT fixes neither scale nor origin): the
    solve's gauge and the stitching of a long shot's chunks are similarities. numpy only.
    """

    scale: float
    rotation: np.ndarray  # float64 [3, 3], proper rotation
    translation: np.ndarray  # float64 [3]

    @classmethod
    def identity(cls) -> Similarity:
        return cls(1.0, np.eye(3), np.zeros(3))

    @classmethod
    def from_matrix(cls, matrix: np.ndarray) -> Similarity:
        """From a homogeneous 4x4 ``[[s R, t], [0, 1]]``."""
        matrix = np.asarray(matrix, np.float64)
        scale = float(np.cbrt(np.linalg.det(matrix[:3, :3])))
        return cls(scale, matrix[:3, :3] / scale, matrix[:3, 3].copy())

    @classmethod
    def fit(cls, source: np.ndarray, target: np.ndarray) -> Similarity:
        """The least-squares similarity with ``target ~ scale * R @ source + t`` for
        corresponding points float [N, 3] (Umeyama 1991, eqs. 34-43). On a rank-deficient
        source (points on a line) it returns one of the optimal rotations, which all give the
        same residuals; a source without spread gets scale 0."""
        source = np.asarray(source, np.float64)
        target = np.asarray(target, np.float64)
        source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
        source_centred = source - source_mean
        variance = float(np.mean(np.sum(source_centred**2, axis=1)))
        covariance = (target - target_mean).T @ source_centred / len(source)
        left, singular, right = np.linalg.svd(covariance)
        sign = np.ones(3)
        if np.linalg.det(left) * np.linalg.det(right) < 0:
            sign[2] = -1.0  # a reflection is not a rotation
        rotation = left @ np.diag(sign) @ right
        scale = float(singular @ sign / variance) if variance > 0 else 0.0
        return cls(scale, rotation, target_mean - scale * rotation @ source_mean)

    def matrix(self) -> np.ndarray:
        """Homogeneous 4x4 ``[[s R, t], [0, 1]]``."""
        matrix = np.eye(4)
        matrix[:3, :3] = self.scale * self.rotation
        matrix[:3, 3] = self.translation
        return matrix

    def then(self, outer: Similarity) -> Similarity:
        """The similarity that applies ``self`` first, then ``outer``."""
        return Similarity.from_matrix(outer.matrix() @ self.matrix())

    def apply_points(self, points: np.ndarray) -> np.ndarray:
        """World points [..., 3] moved by the similarity."""
        return self.scale * np.asarray(points) @ self.rotation.T + self.translation

    def apply_cameras(self, cam_from_world: np.ndarray) -> np.ndarray:
        """Cameras [S, 3, 4] of the same cameras in the moved world: they see every moved
        point where they saw the original. ``[Rc | tc]`` becomes ``[Rc R^T | s tc - Rc R^T t]``
        (camera depths grow by ``scale``)."""
        cam_from_world = np.asarray(cam_from_world, np.float64)
        rotations = cam_from_world[:, :, :3] @ self.rotation.T
        translations = self.scale * cam_from_world[:, :, 3] - rotations @ self.translation
        return np.concatenate([rotations, translations[:, :, None]], axis=2)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scale": float(self.scale),
            "rotation": self.rotation.tolist(),
            "translation": self.translation.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Similarity:
        return cls(
            float(data["scale"]),
            np.asarray(data["rotation"], np.float64),
            np.asarray(data["translation"], np.float64),
        )


def rotation_from_quat_xyzw(quaternion: Array) -> Array:
    """Quaternions [..., 4] as (x, y, z, w) -> rotation matrices [..., 3, 3].

    Scales by 2 / |q|^2, so q need not be unit (VGGT's raw encodings are not).
    """
    xp = _namespace(quaternion)
    x, y, z, w = (quaternion[..., index] for index in range(4))
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
    return xp.stack(rows, axis=-1).reshape(*quaternion.shape[:-1], 3, 3)


def quat_xyzw_from_rotation(rotation: Array) -> Array:
    """Rotation matrices [..., 3, 3] -> unit quaternions [..., 4] as (x, y, z, w), w >= 0.

    Each of the four candidate formulas divides by one of 4|x|, 4|y|, 4|z|, 4|w|; the one with
    the largest denominator is used, which keeps the conversion accurate for every rotation.
    """
    xp = _namespace(rotation)
    m = rotation
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    squares = xp.stack(
        [
            1 + m00 - m11 - m22,  # 4 x^2
            1 - m00 + m11 - m22,  # 4 y^2
            1 - m00 - m11 + m22,  # 4 z^2
            1 + m00 + m11 + m22,  # 4 w^2
        ],
        axis=-1,
    )
    four_abs = 2 * xp.sqrt(squares.clip(0))  # 4|x|, 4|y|, 4|z|, 4|w|
    sum_xy = m[..., 1, 0] + m[..., 0, 1]  # 4xy
    sum_xz = m[..., 0, 2] + m[..., 2, 0]  # 4xz
    sum_yz = m[..., 2, 1] + m[..., 1, 2]  # 4yz
    diff_x = m[..., 2, 1] - m[..., 1, 2]  # 4xw
    diff_y = m[..., 0, 2] - m[..., 2, 0]  # 4yw
    diff_z = m[..., 1, 0] - m[..., 0, 1]  # 4zw
    candidates = (
        xp.stack(
            [
                xp.stack([squares[..., 0], sum_xy, sum_xz, diff_x], axis=-1),
                xp.stack([sum_xy, squares[..., 1], sum_yz, diff_y], axis=-1),
                xp.stack([sum_xz, sum_yz, squares[..., 2], diff_z], axis=-1),
                xp.stack([diff_x, diff_y, diff_z, squares[..., 3]], axis=-1),
            ],
            axis=-2,
        )
        / four_abs.clip(0.1)[..., None]
    )
    best = four_abs.argmax(-1)
    quaternion = xp.take_along_axis(candidates, best[..., None, None], axis=-2)[..., 0, :]
    quaternion = quaternion / xp.norm(quaternion)
    return xp.where(quaternion[..., 3:] < 0, -quaternion, quaternion)


def rotation_from_quat_wxyz(quaternion: Array) -> Array:
    """Quaternions [..., 4] as (w, x, y, z) -> rotation matrices [..., 3, 3]."""
    return rotation_from_quat_xyzw(quaternion[..., [1, 2, 3, 0]])


def quat_wxyz_from_rotation(rotation: Array) -> Array:
    """Rotation matrices [..., 3, 3] -> unit quaternions [..., 4] as (w, x, y, z), w >= 0."""
    return quat_xyzw_from_rotation(rotation)[..., [3, 0, 1, 2]]


class _Numpy:
    """The few calls whose spelling differs between numpy and torch: numpy's side."""

    concatenate = staticmethod(np.concatenate)
    stack = staticmethod(np.stack)
    sqrt = staticmethod(np.sqrt)
    where = staticmethod(np.where)
    zeros_like = staticmethod(np.zeros_like)
    take_along_axis = staticmethod(np.take_along_axis)

    @staticmethod
    def norm(values: Any) -> Any:
        return np.linalg.norm(values, axis=-1, keepdims=True)

    @staticmethod
    def astype(values: Any, like: Any) -> Any:
        return np.asarray(values, dtype=like.dtype)

    @staticmethod
    def pixel_grid(like: Any, height: int, width: int, offset: float) -> tuple[Any, Any]:
        rows = np.arange(height, dtype=like.dtype) + offset
        columns = np.arange(width, dtype=like.dtype) + offset
        return np.meshgrid(rows, columns, indexing="ij")


class _Torch:
    """The torch side of `_Numpy`; built only when a tensor is passed in."""

    def __init__(self, torch: Any) -> None:
        self.torch = torch
        self.sqrt = torch.sqrt
        self.where = torch.where
        self.zeros_like = torch.zeros_like

    def concatenate(self, values: Any, axis: int) -> Any:
        return self.torch.cat(values, dim=axis)

    def stack(self, values: Any, axis: int) -> Any:
        return self.torch.stack(values, dim=axis)

    def take_along_axis(self, values: Any, indices: Any, axis: int) -> Any:
        return self.torch.take_along_dim(values, indices, dim=axis)

    def norm(self, values: Any) -> Any:
        return values.norm(dim=-1, keepdim=True)

    def astype(self, values: Any, like: Any) -> Any:
        return values.to(dtype=like.dtype, device=like.device)

    def pixel_grid(self, like: Any, height: int, width: int, offset: float) -> tuple[Any, Any]:
        options = {"dtype": like.dtype, "device": like.device}
        rows = self.torch.arange(height, **options) + offset
        columns = self.torch.arange(width, **options) + offset
        return self.torch.meshgrid(rows, columns, indexing="ij")


def _namespace(values: Any) -> Any:
    """`_Torch` for a torch tensor (torch is then already imported), `_Numpy` otherwise."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(values, torch.Tensor):
        return _Torch(torch)
    return _Numpy
