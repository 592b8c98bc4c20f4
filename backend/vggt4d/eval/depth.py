"""Depth accuracy: Abs-Rel and δ < 1.25 after one median scale per sequence.

Metrics from Eigen et al., "Depth Map Prediction from a Single Image using a Multi-Scale Deep
Network", NeurIPS 2014:  Abs-Rel = mean |d* - d| / d  and  δ<1.25 = fraction of pixels with
max(d*/d, d/d*) < 1.25, for predicted depth d* and true depth d. A monocular prediction has no
metric scale, so one factor per sequence, s = median(d) / median(d) over every valid pixel of
every frame, multiplies the prediction first: the per-sequence alignment of the video-depth
protocol used by MonST3R and CUT3R (their Sintel / Bonn / KITTI tables), in its scale-only form.

Valid pixels: finite true depth > 0 (and <= `max_depth` when given) and finite prediction > 0.
All valid pixels of the sequence are pooled, so large frames weigh by their pixel count.
"""

from dataclasses import dataclass

import numpy as np

DELTA = 1.25


@dataclass(frozen=True)
class DepthScores:
    abs_rel: float
    delta_1_25: float
    scale: float  # the median scale applied to the prediction
    abs_rel_per_frame: np.ndarray  # float64 [N], NaN for a frame without valid pixels
    pixels: int  # valid pixels pooled


def depth_scores(
    predictions: list[np.ndarray], truths: list[np.ndarray], max_depth: float | None = None
) -> DepthScores | None:
    """Scores of a sequence: predictions and truths are float [H, W] depths of the same frames at
    the same resolution (NaN or <= 0 = unknown). None when no pixel is valid."""
    if len(predictions) != len(truths):
        raise ValueError("depth scores need one prediction per true depth map")
    valid_pairs = []
    for prediction, truth in zip(predictions, truths, strict=True):
        prediction = np.asarray(prediction, dtype=np.float64)
        truth = np.asarray(truth, dtype=np.float64)
        if prediction.shape != truth.shape:
            raise ValueError(f"depth maps {prediction.shape} and {truth.shape} differ in size")
        with np.errstate(invalid="ignore"):
            valid = np.isfinite(truth) & (truth > 0) & np.isfinite(prediction) & (prediction > 0)
            if max_depth is not None:
                valid &= truth <= max_depth
        valid_pairs.append((prediction[valid], truth[valid]))
    predicted = np.concatenate([p for p, _ in valid_pairs]) if valid_pairs else np.empty(0)
    true = np.concatenate([t for _, t in valid_pairs]) if valid_pairs else np.empty(0)
    if len(true) == 0:
        return None
    scale = float(np.median(true) / np.median(predicted))
    per_frame = np.array(
        [np.mean(np.abs(scale * p - t) / t) if len(t) else np.nan for p, t in valid_pairs]
    )
    scaled = scale * predicted
    return DepthScores(
        abs_rel=float(np.mean(np.abs(scaled - true) / true)),
        delta_1_25=float(np.mean(np.maximum(scaled / true, true / scaled) < DELTA)),
        scale=scale,
        abs_rel_per_frame=per_frame,
        pixels=len(true),
    )
