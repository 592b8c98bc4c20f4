"""Mask refinement: keep the 3-D clusters of a coarse mask that the static scene cannot explain.

docs/vggt4d.md, stage `refinement` (released code, default "residual"): per frame, unproject
every pixel, drop statistical outliers, split the coarse-dynamic inliers into 3-D k-means
clusters and project each cluster into the other frames. A cluster stays dynamic when it is
almost never seen on static background there, or when depth + colour residuals on that
background are large. The paper's "gradient" test (docs/vggt4d.md, deviation 7) is an option:
per point, ``|r * grad r|`` of the depth residual plus the photometric residual, averaged per
cluster.

Cost per frame is linear in the number of checked frames, which is capped for long shots
(``neighbourhood``), so the whole stage stays near linear in S. Projections are batched over
all candidate points and all checked frames at once.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from scipy.spatial import cKDTree
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning

from vggt4d.geometry import PIXEL_CENTRE_OFFSET, unproject_depth
from vggt4d.options import ReconstructOptions

LOW_VISIBILITY_LOSS = 1e10
_CLOSING_SIZE = 5  # released morphology: ellipse closing, then square dilation
_DILATION_SIZE = 3
_PROJECTION_BUDGET = 1 << 22  # point-frame projections held at once


@dataclass
class RefineResult:
    """Refined masks and the stage intermediates, all bool [S, H, W]."""

    refined: np.ndarray
    pre_morph: np.ndarray
    sor_inlier: np.ndarray


@dataclass(frozen=True)
class _Views:
    """What every projection reads of the whole shot (all float32)."""

    images: torch.Tensor  # [S, 3, H, W] in [0, 1]
    depth: torch.Tensor  # [S, H, W]
    coarse: torch.Tensor  # [S, H, W], 0 or 1
    cam_from_world: torch.Tensor  # [S, 3, 4]
    intrinsics: torch.Tensor  # [S, 3, 3]


def statistical_inliers(
    points: np.ndarray, neighbors: int = 20, std_ratio: float = 2.5
) -> np.ndarray:
    """Open3D's ``remove_statistical_outlier`` (bool [N], True = inlier), in float64.

    Mean distance to the ``neighbors`` nearest points (the point itself included); keep points
    with 0 < mean < cloud mean + std_ratio * Bessel std, statistics over points with mean > 0.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.shape[0] < 2:
        return np.zeros(points.shape[0], dtype=bool)
    count = min(neighbors, points.shape[0])
    distances, _ = cKDTree(points).query(points, k=count, workers=-1)
    mean_distance = distances.reshape(points.shape[0], -1).mean(axis=1)
    valid = mean_distance > 0
    if valid.sum() < 2:
        return valid
    cloud_mean = mean_distance[valid].mean()
    cloud_std = mean_distance[valid].std(ddof=1)
    return valid & (mean_distance < cloud_mean + std_ratio * cloud_std)


def checked_frames(frame: int, num_frames: int, neighbourhood: int) -> np.ndarray:
    """Frames the clusters of ``frame`` are projected into (int64 sorted).

    With S - 1 <= neighbourhood every other frame is checked (released behaviour). Beyond that,
    half of the budget goes to the temporally nearest frames and half to an even stride over the
    whole shot, so both near views and wide baselines stay represented.
    """
    others = np.array([u for u in range(num_frames) if u != frame], dtype=np.int64)
    if others.size <= neighbourhood:
        return others
    near_count = neighbourhood // 2
    near = others[np.argsort(np.abs(others - frame), kind="stable")[:near_count]]
    remaining = np.setdiff1d(others, near)
    picks = np.linspace(0, remaining.size - 1, neighbourhood - near_count).round().astype(np.int64)
    return np.sort(np.concatenate([near, remaining[np.unique(picks)]]))


def refine_masks(
    images: torch.Tensor,
    depth: torch.Tensor,
    coarse: torch.Tensor,
    cam_from_world: torch.Tensor,
    intrinsics: torch.Tensor,
    options: ReconstructOptions | None = None,
    *,
    on_frame: Callable[[int], None] | None = None,
) -> RefineResult:
    """Refine coarse masks (docs/vggt4d.md, stage `refinement`).

    images float [S, 3, H, W] in [0, 1]; depth [S, H, W]; coarse bool [S, H, W];
    cam_from_world [S, 3, 4] (the extrinsics, as the pipeline holds them); intrinsics
    [S, 3, 3]. Pixels are unprojected through their centres (``PIXEL_CENTRE_OFFSET``).
    ``on_frame(t)`` runs before each frame (progress and cancellation).
    """
    options = options or ReconstructOptions()
    S, H, W = depth.shape
    views = _Views(
        images=images.float(),
        depth=depth.float(),
        coarse=coarse.float(),
        cam_from_world=cam_from_world[:, :3].float(),
        intrinsics=intrinsics.float(),
    )
    world = unproject_depth(
        views.depth, views.intrinsics, views.cam_from_world, pixel_offset=PIXEL_CENTRE_OFFSET
    )
    pre_morph = np.zeros((S, H, W), dtype=bool)
    inliers = np.zeros((S, H, W), dtype=bool)
    for t in range(S):
        if on_frame is not None:
            on_frame(t)
        points = world[t].reshape(-1, 3)
        inlier = statistical_inliers(points.numpy(), options.sor_neighbors, options.sor_std_ratio)
        inliers[t] = inlier.reshape(H, W)
        candidates = np.flatnonzero(inlier & coarse[t].reshape(-1).numpy())
        if candidates.size == 0 or S < 2:
            continue
        labels = _cluster_points(points[candidates].numpy(), options)
        frames = torch.from_numpy(checked_frames(t, S, options.refine_neighbourhood))
        colours = views.images[t].reshape(3, -1)[:, candidates].T
        dynamic = _dynamic_clusters(points[candidates], colours, labels, frames, views, options)
        kept = candidates[dynamic[labels]]
        pre_morph[t].reshape(-1)[kept] = True
    refined = np.stack([_close_and_dilate(mask) for mask in pre_morph])
    return RefineResult(refined=refined, pre_morph=pre_morph, sor_inlier=inliers)


def _cluster_points(points: np.ndarray, options: ReconstructOptions) -> np.ndarray:
    """3-D k-means labels (sklearn, seed 42); fewer clusters when there are fewer points."""
    clusters = min(options.refine_clusters, points.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = KMeans(n_clusters=clusters, random_state=options.seed)
        return model.fit_predict(np.ascontiguousarray(points, dtype=np.float32)).astype(np.int64)


def _dynamic_clusters(
    points: torch.Tensor,
    colours: torch.Tensor,
    labels: np.ndarray,
    frames: torch.Tensor,
    views: _Views,
    options: ReconstructOptions,
) -> np.ndarray:
    """bool [clusters]: which 3-D clusters of one frame stay dynamic."""
    clusters = int(labels.max()) + 1
    label_tensor = torch.from_numpy(labels)
    loss_count = torch.zeros(clusters, dtype=torch.float64)
    depth_sum = torch.zeros(clusters, dtype=torch.float64)
    colour_sum = torch.zeros(clusters, dtype=torch.float64)
    chunk = max(1, _PROJECTION_BUDGET // max(1, points.shape[0]))
    for start in range(0, frames.numel(), chunk):
        batch = frames[start : start + chunk]
        loss, depth_term, colour_term = _projection_terms(points, colours, batch, views, options)
        loss_count += _per_cluster(loss.double(), label_tensor, clusters)
        depth_sum += _per_cluster(depth_term.double(), label_tensor, clusters)
        colour_sum += _per_cluster(colour_term.double(), label_tensor, clusters)
    sizes = torch.bincount(label_tensor, minlength=clusters).double()
    low_visibility = (
        loss_count / (frames.numel() * sizes.clamp(min=1)) < options.min_static_fraction
    )
    residual = (depth_sum + colour_sum / 3.0) / loss_count.clamp(min=1)
    threshold = (
        options.residual_threshold
        if options.refine_method == "residual"
        else options.gradient_threshold
    )
    return (low_visibility | (residual > threshold)).numpy()


def _per_cluster(values: torch.Tensor, labels: torch.Tensor, clusters: int) -> torch.Tensor:
    """Sum of values [U, N] over checked frames and the points of each cluster."""
    return torch.zeros(clusters, dtype=values.dtype).index_add_(0, labels, values.sum(dim=0))


def _projection_terms(
    points: torch.Tensor,
    colours: torch.Tensor,
    frames: torch.Tensor,
    views: _Views,
    options: ReconstructOptions,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Project N points into U frames at once; per projection: loss flag, depth term, colour term.

    The released sampling is kept: pixel coordinates go to ``grid_sample`` with
    align_corners=True and a (W - 1) normalisation; depth nearest, mask and colour bilinear.
    """
    _, H, W = views.depth.shape
    rotation = views.cam_from_world[frames, :, :3]
    translation = views.cam_from_world[frames, :, 3]
    intrinsics, depth = views.intrinsics[frames], views.depth[frames]
    camera = torch.einsum("uij,nj->uni", rotation, points) + translation[:, None, :]
    projected = torch.einsum("uij,unj->uni", intrinsics, camera)
    z = projected[..., 2]
    x = projected[..., 0] / z
    y = projected[..., 1] / z
    in_bounds = (x > 0) & (x < W) & (y > 0) & (y < H) & (z > 0)
    grid = torch.stack([x / (W - 1) * 2 - 1, y / (H - 1) * 2 - 1], dim=-1)[:, :, None, :]
    grid = torch.nan_to_num(grid, nan=-2.0, posinf=-2.0, neginf=-2.0)
    sampled_depth = _sample(depth[:, None], grid, "nearest")[:, 0]
    sampled_mask = _sample(views.coarse[frames, None], grid, "bilinear")[:, 0]
    sampled_colour = _sample(views.images[frames], grid, "bilinear")  # [U, 3, N]
    visible = z - options.visibility_tolerance < sampled_depth
    loss = in_bounds & visible & (sampled_mask <= 0.5)
    depth_residual = z - sampled_depth
    colour_residual = (colours.T[None] - sampled_colour).abs().sum(dim=1)
    if options.refine_method == "gradient":
        depth_residual = depth_residual * _depth_residual_gradient_norm(
            camera, rotation, intrinsics, depth, grid
        )
    zero = torch.zeros_like(z)
    return (
        loss,
        torch.where(loss, depth_residual.abs(), zero),
        torch.where(loss, colour_residual, zero),
    )


def _sample(values: torch.Tensor, grid: torch.Tensor, mode: str) -> torch.Tensor:
    """grid_sample of [U, C, H, W] at grid [U, N, 1, 2] -> [U, C, N]."""
    return F.grid_sample(values, grid, mode=mode, align_corners=True)[..., 0]


def _depth_residual_gradient_norm(
    camera: torch.Tensor,
    rotation: torch.Tensor,
    intrinsics: torch.Tensor,
    target_depth: torch.Tensor,
    grid: torch.Tensor,
) -> torch.Tensor:
    """|d r / d X| for r = z(X) - D(pi(X)) (the paper's test): view-ray term minus the
    image-gradient term.

    camera [U, N, 3]; rotation [U, 3, 3]; intrinsics [U, 3, 3]; target_depth [U, H, W].
    """
    gradient_y, gradient_x = torch.gradient(target_depth, dim=(1, 2))
    image_gradient = torch.stack(
        [
            _sample(gradient_x[:, None], grid, "bilinear")[:, 0],
            _sample(gradient_y[:, None], grid, "bilinear")[:, 0],
        ],
        dim=-1,
    )  # [U, N, 2] depth change per pixel
    X, Y, Z = camera.unbind(dim=-1)
    fx, fy = intrinsics[:, 0, 0, None], intrinsics[:, 1, 1, None]
    inverse_z = 1.0 / Z
    zeros = torch.zeros_like(Z)
    jacobian = torch.stack(  # d(pixel)/d(camera point) [U, N, 2, 3]
        [
            torch.stack([fx * inverse_z, zeros, -fx * X * inverse_z**2], dim=-1),
            torch.stack([zeros, fy * inverse_z, -fy * Y * inverse_z**2], dim=-1),
        ],
        dim=-2,
    )
    depth_axis = torch.tensor([0.0, 0.0, 1.0]).expand_as(camera)
    camera_gradient = depth_axis - torch.einsum("unk,unkj->unj", image_gradient, jacobian)
    world_gradient = torch.einsum("unj,uji->uni", camera_gradient, rotation)
    return world_gradient.norm(dim=-1)


def _close_and_dilate(mask: np.ndarray) -> np.ndarray:
    """cv2 closing (ellipse) then dilation (square), one iteration each, as released."""
    image = mask.astype(np.uint8)
    ellipse = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (_CLOSING_SIZE, _CLOSING_SIZE))
    closed = cv2.morphologyEx(image, cv2.MORPH_CLOSE, ellipse, iterations=1)
    square = np.ones((_DILATION_SIZE, _DILATION_SIZE), dtype=np.uint8)
    return cv2.dilate(closed, square, iterations=1).astype(bool)
