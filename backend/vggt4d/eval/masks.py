"""Dynamic-mask quality as the DAVIS benchmark defines it: region similarity J and boundary
measure F, each summarised by its mean and its recall.

Sources: Perazzi et al., "A Benchmark Dataset and Evaluation Methodology for Video Object
Segmentation", CVPR 2016 (definitions of J, F, mean and recall), and the DAVIS evaluation code
(github.com/davisvideochallenge/davis2017-evaluation, `db_eval_iou` / `db_eval_boundary`),
whose conventions are kept:

* J = |M and G| / |M or G| (pixel counts) over non-void pixels; 1 when both are empty.
* F = 2PR / (P + R) between the boundary pixels of M and of G, a boundary pixel matching when
  the other boundary lies within a disk of radius ceil(0.008 x image diagonal) pixels. A boundary
  pixel is a foreground/background change towards the right, lower or lower-right neighbour.
  Both boundaries empty: F = 1; only one empty: F = 0. Void pixels are removed from M first.
* mean = average over frames; recall = fraction of frames scoring above 0.5.

VGGT4D's own `eval_mask.py` differs in one corner case: J = 0 (not 1) on a frame where both
masks are empty. Frames with an empty ground truth are rare in DAVIS, so the tables agree.
"""

from dataclasses import dataclass

import cv2
import numpy as np
from skimage.morphology import disk

BOUNDARY_THRESHOLD = 0.008  # fraction of the image diagonal (DAVIS default)
RECALL_THRESHOLD = 0.5


@dataclass(frozen=True)
class MaskScores:
    """Per-frame J and F with their DAVIS summaries (all in [0, 1])."""

    j_per_frame: np.ndarray  # float64 [N]
    f_per_frame: np.ndarray  # float64 [N]

    @property
    def j_mean(self) -> float:
        return float(np.mean(self.j_per_frame))

    @property
    def j_recall(self) -> float:
        return float(np.mean(self.j_per_frame > RECALL_THRESHOLD))

    @property
    def f_mean(self) -> float:
        return float(np.mean(self.f_per_frame))

    @property
    def f_recall(self) -> float:
        return float(np.mean(self.f_per_frame > RECALL_THRESHOLD))


def region_similarity(
    prediction: np.ndarray, truth: np.ndarray, void: np.ndarray | None = None
) -> float:
    """DAVIS J (Jaccard index) of two bool [H, W] masks; `void` pixels are ignored."""
    prediction, truth = _check(prediction, truth)
    valid = np.ones_like(truth) if void is None else ~np.asarray(void, dtype=bool)
    union = np.count_nonzero((prediction | truth) & valid)
    if union == 0:
        return 1.0
    return np.count_nonzero(prediction & truth & valid) / union


def boundary_measure(
    prediction: np.ndarray,
    truth: np.ndarray,
    void: np.ndarray | None = None,
    threshold: float = BOUNDARY_THRESHOLD,
) -> float:
    """DAVIS F of two bool [H, W] masks. `threshold` < 1 is a fraction of the image diagonal,
    >= 1 a radius in pixels."""
    prediction, truth = _check(prediction, truth)
    if void is not None:
        prediction = prediction & ~np.asarray(void, dtype=bool)
    radius = threshold if threshold >= 1 else int(np.ceil(threshold * np.hypot(*truth.shape)))
    predicted_edges, true_edges = boundary_map(prediction), boundary_map(truth)
    predicted_count, true_count = predicted_edges.sum(), true_edges.sum()
    if predicted_count == 0 or true_count == 0:
        return 1.0 if predicted_count == true_count else 0.0
    footprint = disk(radius).astype(np.uint8)
    near_prediction = cv2.dilate(predicted_edges.astype(np.uint8), footprint) > 0
    near_truth = cv2.dilate(true_edges.astype(np.uint8), footprint) > 0
    precision = np.count_nonzero(predicted_edges & near_truth) / predicted_count
    recall = np.count_nonzero(true_edges & near_prediction) / true_count
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """Bool [H, W]: pixels whose value differs from the right, lower or lower-right neighbour.
    The last column compares only downwards and the last row only rightwards; the bottom-right
    pixel is never a boundary (the DAVIS `seg2bmap` convention at the mask's own size)."""
    mask = np.asarray(mask, dtype=bool)
    right = np.zeros_like(mask)
    right[:, :-1] = mask[:, 1:]
    below = np.zeros_like(mask)
    below[:-1, :] = mask[1:, :]
    diagonal = np.zeros_like(mask)
    diagonal[:-1, :-1] = mask[1:, 1:]
    edges = (mask ^ right) | (mask ^ below) | (mask ^ diagonal)
    edges[-1, :] = mask[-1, :] ^ right[-1, :]
    edges[:, -1] = mask[:, -1] ^ below[:, -1]
    edges[-1, -1] = False
    return edges


def mask_scores(
    predictions: list[np.ndarray], truths: list[np.ndarray], voids: list[np.ndarray | None]
) -> MaskScores:
    """J and F for each frame of a sequence (bool [H, W] masks, one list entry per frame)."""
    if not len(predictions) == len(truths) == len(voids) or not predictions:
        raise ValueError("mask scores need the same non-zero number of predictions and truths")
    return MaskScores(
        j_per_frame=np.array(
            [region_similarity(p, t, v) for p, t, v in zip(predictions, truths, voids, strict=True)]
        ),
        f_per_frame=np.array(
            [boundary_measure(p, t, v) for p, t, v in zip(predictions, truths, voids, strict=True)]
        ),
    )


def _check(prediction: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    prediction, truth = np.asarray(prediction, dtype=bool), np.asarray(truth, dtype=bool)
    if prediction.shape != truth.shape or prediction.ndim != 2:
        raise ValueError(f"masks {prediction.shape} and {truth.shape} must be the same [H, W]")
    return prediction, truth
