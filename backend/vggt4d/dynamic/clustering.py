"""Dynamic score -> coarse masks: feature k-means, cluster-averaged score, adaptive multi-Otsu.

docs/vggt4d.md, stage `clustering` (released code, itself Easi3R's): the token score is averaged
within k-means clusters of the patch-embed features of all frames, re-normalised per frame,
upsampled bilinearly and thresholded once for the whole stack with the best of 2-4-class
multi-Otsu."""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F
from skimage.filters import threshold_multiotsu
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning

from vggt4d.dynamic.normalization import min_max_per_frame


def cluster_features_sklearn(features: np.ndarray, clusters: int, seed: int) -> np.ndarray:
    """Labels int64 [N] of ``KMeans(clusters, random_state=seed)`` on float32 features [N, C].

    Fewer clusters when there are fewer tokens than clusters (the released code would fail).
    """
    features = np.ascontiguousarray(features, dtype=np.float32)
    clusters = min(clusters, features.shape[0])
    with warnings.catch_warnings():
        # Flat frames give duplicate tokens; fewer distinct clusters is fine for averaging.
        warnings.simplefilter("ignore", ConvergenceWarning)
        labels = KMeans(n_clusters=clusters, random_state=seed).fit_predict(features)
    return labels.astype(np.int64)


def cluster_features_torch(
    features: torch.Tensor,
    clusters: int,
    seed: int,
    token_budget: int,
    iterations: int = 50,
) -> np.ndarray:
    """Labels int64 [N] from a torch k-means (k-means++ then Lloyd) that runs on any device.

    Deviation for long shots: fitted on at most ``token_budget`` tokens drawn at random, then
    every token is assigned to its nearest centre. Not label-identical to sklearn.
    """
    features = features.float()
    generator = torch.Generator(device="cpu").manual_seed(seed)
    count = features.shape[0]
    clusters = min(clusters, count)
    if count > token_budget:
        sample = features[
            torch.randperm(count, generator=generator)[:token_budget].to(features.device)
        ]
    else:
        sample = features
    centres = _kmeans_plus_plus(sample, clusters, generator)
    for _ in range(iterations):
        labels = torch.cdist(sample, centres).argmin(dim=1)
        sums = torch.zeros_like(centres).index_add_(0, labels, sample)
        counts = torch.bincount(labels, minlength=clusters).unsqueeze(1)
        updated = torch.where(counts > 0, sums / counts.clamp(min=1), centres)
        shift = (updated - centres).norm(dim=1).max()
        centres = updated
        if shift <= 1e-6:
            break
    labels = torch.cat([torch.cdist(part, centres).argmin(dim=1) for part in features.split(65536)])
    return labels.cpu().numpy().astype(np.int64)


def _kmeans_plus_plus(
    points: torch.Tensor, clusters: int, generator: torch.Generator
) -> torch.Tensor:
    """k-means++ seeding: each new centre is drawn with probability ~ squared distance."""
    first = int(torch.randint(points.shape[0], (1,), generator=generator))
    centres = [points[first]]
    distances = ((points - points[first]) ** 2).sum(dim=1)
    for _ in range(1, clusters):
        total = distances.sum()
        if total <= 0:
            index = int(torch.randint(points.shape[0], (1,), generator=generator))
        else:
            probabilities = (distances / total).cpu()
            index = int(torch.multinomial(probabilities, 1, generator=generator))
        centres.append(points[index])
        distances = torch.minimum(distances, ((points - points[index]) ** 2).sum(dim=1))
    return torch.stack(centres)


def cluster_average(dynamic_map: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Replace each token's score by its cluster's mean (float64), then per-frame min-max.

    dynamic_map: float [S, h, w]; labels: int [S, h, w]. Returns float32 [S, h, w].
    """
    scores = dynamic_map.astype(np.float64).ravel()
    flat_labels = labels.ravel()
    sums = np.bincount(flat_labels, weights=scores)
    counts = np.bincount(flat_labels)
    means = sums / np.maximum(counts, 1)
    averaged = means[flat_labels].astype(np.float32).reshape(dynamic_map.shape)
    return min_max_per_frame(torch.from_numpy(averaged)).numpy()


def upsample_scores(cluster_map: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear (align_corners False) upsampling of [S, h, w] to float32 [S, H, W]."""
    tensor = torch.from_numpy(np.ascontiguousarray(cluster_map, dtype=np.float32))[:, None]
    upsampled = F.interpolate(tensor, size=(height, width), mode="bilinear", align_corners=False)
    return upsampled[:, 0].numpy()


def adaptive_multiotsu(values: np.ndarray, class_counts: tuple[int, ...]) -> float:
    """Top threshold of the multi-Otsu split whose class means spread most (var / sqrt(k)).

    skimage ``threshold_multiotsu`` with 256 bins on the whole stack; class counts that the
    histogram cannot support (too few distinct values) are skipped. Returns the largest
    value when no split is possible, so that nothing lies above it.
    """
    values = np.asarray(values, dtype=np.float32)
    best_score, best_threshold = -np.inf, float(values.max())
    for classes in class_counts:
        try:
            thresholds = threshold_multiotsu(values.ravel(), classes=classes)
        except ValueError:
            continue
        regions = np.digitize(values, bins=thresholds)
        means = [values[regions == c].mean() for c in range(classes) if np.any(regions == c)]
        score = np.var(means) / np.sqrt(classes)
        if score > best_score:
            best_score, best_threshold = score, float(thresholds[-1])
    return best_threshold


def coarse_masks(upsampled: np.ndarray, threshold: float) -> np.ndarray:
    """Pixels strictly above the threshold, compared in float32; bool [S, H, W]."""
    return upsampled > np.float32(threshold)
