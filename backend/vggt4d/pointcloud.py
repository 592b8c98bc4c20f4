"""Point clouds from a reconstruction: one static cloud, and dynamic points per frame.

Numpy only. The official demo shows a 10 % random subsample of all static points and runs SOR
on dynamic points, and never filters by confidence. We filter by depth confidence (VGGT's low-
confidence pixels are sky, edges and blur, which litter a Blender scene) and replace random
subsampling with a voxel grid, which keeps thin structures and is deterministic.
"""

from dataclasses import dataclass
from typing import Protocol

import numpy as np

_SEED = 0


class ReconstructionLike(Protocol):
    """The fields of `vggt4d.pipeline.Reconstruction` this module reads."""

    images: np.ndarray  # float32 [S, H, W, 3] in [0, 1]
    depth_conf: np.ndarray  # float32 [S, H, W]
    world_points: np.ndarray  # float32 [S, H, W, 3]
    refined_masks: np.ndarray  # bool [S, H, W]


@dataclass(frozen=True)
class CloudOptions:
    """How the clouds are filtered.

    confidence_percentile: keep pixels whose depth confidence is at least this percentile of
        all pixels' confidence in the shot (25 drops the least reliable quarter; 0 keeps all).
    confidence_threshold: an absolute depth-confidence threshold (> 1) used instead of the
        percentile when set.
    voxel_size: static voxel edge in world units; None means `voxel_fraction` times the robust
        scene diagonal (2nd to 98th percentile box of the static points); 0 disables.
    voxel_fraction: 1/1000 of the diagonal keeps surfaces dense at a fraction of the pixels.
    max_static_points / max_dynamic_points_per_frame: optional budgets met by a seeded (so
        repeatable) random subset.
    """

    confidence_percentile: float = 25.0
    confidence_threshold: float | None = None
    voxel_size: float | None = None
    voxel_fraction: float = 1e-3
    max_static_points: int | None = None
    max_dynamic_points_per_frame: int | None = None


@dataclass
class PointClouds:
    """The static cloud and the dynamic points of every frame (frame i owns rows
    `dynamic_frame_offsets[i]:dynamic_frame_offsets[i + 1]`)."""

    static_points: np.ndarray  # float32 [N, 3]
    static_colors: np.ndarray  # uint8 [N, 3]
    static_confidence: np.ndarray  # float32 [N]
    dynamic_points: np.ndarray  # float32 [M, 3]
    dynamic_colors: np.ndarray  # uint8 [M, 3]
    dynamic_frame_offsets: np.ndarray  # int64 [S + 1]


def build_point_clouds(
    reconstruction: ReconstructionLike,
    options: CloudOptions | None = None,
    excluded: np.ndarray | None = None,
) -> PointClouds:
    """Static cloud from pixels outside the refined masks, dynamic points from pixels inside.

    excluded: bool [S, H, W] at model resolution, pixels that give no point at all (padding
    around the plate, transparent plate pixels).
    """
    options = options or CloudOptions()
    points = np.asarray(reconstruction.world_points, np.float32)
    confidence = np.asarray(reconstruction.depth_conf, np.float32)
    colors = to_colors(reconstruction.images)
    dynamic = np.asarray(reconstruction.refined_masks, bool)
    reliable = np.isfinite(points).all(axis=-1) & np.isfinite(confidence)
    if excluded is not None:
        reliable &= ~np.asarray(excluded, bool)
    reliable &= confidence >= confidence_threshold(confidence[reliable], options)

    static = reliable & ~dynamic
    static_points, static_colors, static_confidence = reduce_static(
        points[static], colors[static], confidence[static], options
    )
    dynamic_points, dynamic_colors, counts = [], [], [0]
    for frame in range(len(points)):
        selected = reliable[frame] & dynamic[frame]
        subset = _subset(int(selected.sum()), options.max_dynamic_points_per_frame)
        dynamic_points.append(points[frame][selected][subset])
        dynamic_colors.append(colors[frame][selected][subset])
        counts.append(len(dynamic_points[-1]))
    return PointClouds(
        static_points=static_points,
        static_colors=static_colors,
        static_confidence=static_confidence,
        dynamic_points=np.concatenate(dynamic_points).reshape(-1, 3).astype(np.float32),
        dynamic_colors=np.concatenate(dynamic_colors).reshape(-1, 3).astype(np.uint8),
        dynamic_frame_offsets=np.cumsum(counts).astype(np.int64),
    )


def reduce_static(
    points: np.ndarray, colors: np.ndarray, confidence: np.ndarray, options: CloudOptions
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Static points float [N, 3] (colours uint8 [N, 3], confidence [N]) merged on the voxel
    grid of `options`, then cut to the static budget; also merges clouds of several chunks."""
    voxel = options.voxel_size
    if voxel is None:
        voxel = options.voxel_fraction * robust_diagonal(points)
    if voxel > 0 and len(points):
        points, colors, confidence = voxel_downsample(points, colors, confidence, voxel)
    keep = _subset(len(points), options.max_static_points)
    return (
        points[keep].astype(np.float32),
        colors[keep].astype(np.uint8),
        confidence[keep].astype(np.float32),
    )


def to_colors(images: np.ndarray) -> np.ndarray:
    """float RGB in [0, 1] -> uint8, rounded."""
    return np.round(np.clip(np.asarray(images, np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)


def confidence_threshold(confidence: np.ndarray, options: CloudOptions) -> float:
    """The depth confidence a pixel needs to be kept (see `CloudOptions`)."""
    if options.confidence_threshold is not None:
        return float(options.confidence_threshold)
    if confidence.size == 0 or options.confidence_percentile <= 0:
        return -np.inf
    return float(np.percentile(confidence, options.confidence_percentile))


def robust_diagonal(points: np.ndarray) -> float:
    """Diagonal of the box spanning the 2nd to 98th percentile per axis (outliers ignored)."""
    if len(points) == 0:
        return 0.0
    low, high = np.percentile(points, [2.0, 98.0], axis=0)
    return float(np.linalg.norm(high - low))


def voxel_downsample(
    points: np.ndarray, colors: np.ndarray, confidence: np.ndarray, voxel_size: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One point per occupied voxel: the mean position, colour and confidence of its points.

    Output is ordered by voxel index, so the result depends only on the input set.
    """
    cells = np.floor((points - points.min(axis=0)) / voxel_size).astype(np.int64)
    sides = cells.max(axis=0) + 1
    if float(np.prod(sides.astype(np.float64))) < 2.0**62:  # one int64 key: a fast 1-D unique
        keys = (cells[:, 0] * sides[1] + cells[:, 1]) * sides[2] + cells[:, 2]
        _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    else:
        _, inverse, counts = np.unique(cells, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)

    def mean(values: np.ndarray) -> np.ndarray:
        return np.bincount(inverse, weights=values, minlength=len(counts)) / counts

    positions = np.stack([mean(points[:, axis]) for axis in range(3)], axis=1)
    averaged_colors = np.stack([mean(colors[:, channel]) for channel in range(3)], axis=1)
    return (
        positions.astype(np.float32),
        np.round(averaged_colors).astype(np.uint8),
        mean(confidence).astype(np.float32),
    )


def _subset(count: int, budget: int | None) -> np.ndarray:
    """Indices of at most `budget` of `count` items, seeded random, in increasing order."""
    if budget is None or count <= budget:
        return np.arange(count)
    chosen = np.random.default_rng(_SEED).choice(count, size=budget, replace=False)
    return np.sort(chosen)
