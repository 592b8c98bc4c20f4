"""Temporal smoothing of a solved camera path, within a reprojection budget.

A solve follows every frame's tracks, so a frame with few or noisy tracks gets a pose that is
off by a little, which shows as jitter: high-frequency motion the real camera did not make.
Smoothing re-runs the bundle adjustment (cameras and points; the lens stays as solved) with a
prior on the third differences (jerk) of the camera rotations and centres, in pixel equivalents:

    rotation:  f / sqrt(2) * |R[i+3] - 3 R[i+2] + 3 R[i+1] - R[i]|_F   (about f times the angle)
    position:  f / d * |c[i+3] - 3 c[i+2] + 3 c[i+1] - c[i]|           (d: the median depth)

each weighted by `strength` times the median observation count of a frame (strength 1: a jerk
of 1 px costs as much as all of a frame's tracks being 1 px off). Third differences leave any
path of constant acceleration alone (a pan that eases in, a dolly that speeds up): only what
changes from frame to frame faster than that is jitter. Weak anchors hold the points near the
solve, so the path cannot shrink the scene to lower the prior, and the gauge stays the solve's.

Never across a cut or a whip pan: a third difference of the solved path more than ten times
the shot's median one (and above the budget) is a real move, and the prior drops it before
anything runs. A quadratic prior would otherwise spread such a move over the whole shot.

The budget makes it safe: the median reprojection error and each frame's mean error may grow
by at most `SMOOTHING_BUDGET_PX` over the unsmoothed solve. Where a frame goes over (a move
below the break threshold, real shake the tracks do follow), the prior is weakened tenfold
around that frame and the adjustment re-run, until every frame holds; where only the median
goes over, the prior is weakened everywhere. A shot that cannot be smoothed within the budget
keeps its unsmoothed path.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse
from scipy.sparse import csr_matrix

from vggt4d.solve.adjust import LensModel, adjust
from vggt4d.solve.gauge import jitter
from vggt4d.solve.tracks import Tracks

SMOOTHING_BUDGET_PX = 0.05  # largest growth of the median and of any frame's mean error
DEFAULT_STRENGTH = 1.0  # what `--smooth` asks for
_WEAKEN = 10.0  # the prior around a frame over budget drops by this factor per round
_WEAKEST = 1e-3  # ... and is dropped below this fraction of the requested strength
_ROUNDS = 6
_BREAK = 10.0  # a third difference this many times the median one is a cut or a whip
_STENCIL = np.array([-1.0, 3.0, -3.0, 1.0])  # third difference over four frames
_ANCHOR = 1e-2  # point anchors, as a fraction of the pixel equivalent of a point's shift


@dataclass
class Smoothed:
    """A smoothed solve: same tracks, same lens. weights [S-3]: the prior's strength on each
    third difference (the one over frames i..i+3), 0 where it was dropped; limited_frames: the
    frames where it was weakened or dropped (a cut, a whip, a frame over budget)."""

    extrinsics: np.ndarray  # float64 [S, 3, 4] camera-from-world
    points: np.ndarray  # float64 [T, 3]
    errors: np.ndarray  # float64 [N] plate pixels
    weights: np.ndarray  # float64 [S-3]
    limited_frames: list[int]
    strength: float
    cost_median_px: float
    cost_worst_frame_px: float
    jitter_before: dict[str, float]
    jitter_after: dict[str, float]

    def summary(self) -> dict[str, Any]:
        """The manifest's `solve.smoothing` section (docs/bundle.md)."""
        return {
            "strength": self.strength,
            "strength_used": float(np.max(self.weights, initial=0.0)),
            "limited_frames": self.limited_frames,
            "budget_px": SMOOTHING_BUDGET_PX,
            "cost_px": {"median": self.cost_median_px, "worst_frame": self.cost_worst_frame_px},
            "jitter": {"before": self.jitter_before, "after": self.jitter_after},
        }


def smooth_path(
    tracks: Tracks,
    points: np.ndarray,
    extrinsics: np.ndarray,
    intrinsics: np.ndarray,
    distortion: np.ndarray,
    errors: np.ndarray,
    strength: float,
    progress: Callable[[float], None] | None = None,
    max_iterations: int = 50,
) -> Smoothed:
    """Smooth a solved path as far as the budget allows (module docstring).

    tracks, points [T, 3], extrinsics [S, 3, 4], intrinsics [S, 3, 3], distortion [3]: the
    solve's inliers and state; errors [N]: their reprojection errors in plate pixels;
    strength > 0: the prior's weight before the budget weakens it; progress(fraction) is
    called before each adjustment (it may raise to cancel).
    """
    frame_count = len(extrinsics)
    weights = np.zeros(max(frame_count - len(_STENCIL) + 1, 0))  # none: too short to smooth
    if len(weights):
        unit = PathPrior(tracks, points, extrinsics, intrinsics, np.ones(len(weights)))
        jerk = unit.jerk_px(extrinsics)
        weights[jerk <= max(_BREAK * float(np.median(jerk)), SMOOTHING_BUDGET_PX)] = strength
    base = _frame_means(errors, tracks, frame_count)
    base_median = float(np.median(errors))
    lens = LensModel("fixed", "none", False)
    state = (extrinsics, points, errors)  # the unsmoothed solve unless a round holds the budget
    for round_index in range(_ROUNDS if weights.any() else 0):
        if progress is not None:
            progress(round_index / _ROUNDS)
        prior = PathPrior(tracks, points, extrinsics, intrinsics, weights)
        result = adjust(
            tracks, points, extrinsics, intrinsics, distortion, lens, 1.0, max_iterations, prior
        )
        growth = _frame_means(result.errors, tracks, frame_count) - base
        over = np.flatnonzero(np.nan_to_num(growth) > SMOOTHING_BUDGET_PX)
        median_ok = np.median(result.errors) - base_median <= SMOOTHING_BUDGET_PX
        if median_ok and not len(over):
            state = (result.extrinsics, result.points, result.errors)
            break
        if len(over):  # the differences that touch a frame over budget
            touched = (over[:, None] - np.arange(len(_STENCIL))[None, :]).ravel()
            touched = np.unique(touched[(touched >= 0) & (touched < len(weights))])
            weights[touched] /= _WEAKEN
        else:
            weights /= _WEAKEN
        weights[weights < _WEAKEST * strength] = 0.0
        if not weights.any():
            break
    else:
        weights[:] = 0.0  # no round held the budget (or none ran)
    smoothed_extrinsics, smoothed_points, smoothed_errors = state
    return Smoothed(
        extrinsics=smoothed_extrinsics,
        points=smoothed_points,
        errors=smoothed_errors,
        weights=weights,
        limited_frames=_limited_frames(weights, strength, frame_count),
        strength=float(strength),
        cost_median_px=float(np.median(smoothed_errors) - base_median),
        cost_worst_frame_px=float(
            np.nanmax(_frame_means(smoothed_errors, tracks, frame_count) - base, initial=0.0)
        ),
        jitter_before=jitter(extrinsics),
        jitter_after=jitter(smoothed_extrinsics),
    )


class PathPrior:
    """The smoothing prior as least-squares residuals for `adjust` (`adjust.PosePrior`): per
    third difference 9 rotation-matrix and 3 centre residuals, then 3 anchor residuals per
    point, all in pixel equivalents (module docstring)."""

    def __init__(
        self,
        tracks: Tracks,
        points: np.ndarray,
        extrinsics: np.ndarray,
        intrinsics: np.ndarray,
        weights: np.ndarray,
    ) -> None:
        frame_count = len(extrinsics)
        focal = intrinsics[:, [0, 1], [0, 1]].mean(axis=1)
        depth = _mean_depths(tracks, points, extrinsics, tracks.frame, frame_count)
        per_frame = np.bincount(tracks.frame, minlength=frame_count)
        root = np.sqrt(weights * np.median(per_frame))
        window = np.ones(len(_STENCIL)) / len(_STENCIL)  # each term: the mean over its frames
        self.rotation_px = np.convolve(focal, window, "valid") / np.sqrt(2.0)  # [S-3]
        self.centre_px = np.convolve(focal / depth, window, "valid")
        self.rotation_scale, self.centre_scale = root * self.rotation_px, root * self.centre_px
        # A point's shift in pixels seen from its frames: focal over its median depth.
        track_depth = _mean_depths(tracks, points, extrinsics, tracks.track, len(points))
        self.anchor_scale = _ANCHOR * np.median(focal) / track_depth  # [T]
        self.anchor = np.array(points, copy=True)
        self.frame_count = frame_count
        self.count = 12 * len(weights) + 3 * len(points)
        self.padding = self.count % 2  # residuals come in pairs

    def jerk_px(self, extrinsics: np.ndarray) -> np.ndarray:
        """Size [S-3] of each third difference of the path `extrinsics`, pixel equivalents."""
        rotation_term, centre_term = _differences(extrinsics[:, :, :3], extrinsics[:, :, 3])
        return np.hypot(
            np.linalg.norm(rotation_term, axis=1) * self.rotation_px,
            np.linalg.norm(centre_term, axis=1) * self.centre_px,
        )

    def residuals(
        self, rotations: np.ndarray, translations: np.ndarray, world: np.ndarray
    ) -> np.ndarray:
        """Residuals [M]: rotation and centre third differences, then point anchors."""
        rotation_term, centre_term = _differences(rotations, translations)
        terms = np.concatenate(
            [
                rotation_term * self.rotation_scale[:, None],
                centre_term * self.centre_scale[:, None],
            ],
            axis=1,
        )
        anchors = (world - self.anchor) * self.anchor_scale[:, None]
        return np.concatenate([terms.ravel(), anchors.ravel(), np.zeros(self.padding)])

    def jacobian(
        self, rotations: np.ndarray, translations: np.ndarray, world: np.ndarray
    ) -> csr_matrix:
        """Jacobian [M, 6S + 3T]: columns left rotation perturbations, translations, points."""
        frames, terms = self.frame_count, len(self.rotation_scale)
        axes = np.eye(3)
        # d R / d w_k = [e_k]x R  ->  [S, 9, 3];  d c / d w = -R^T [t]x,  d c / d t = -R^T.
        rotation_derivative = np.stack(
            [
                np.cross(axes[k][None, :, None], rotations, axis=1).reshape(frames, 9)
                for k in range(3)
            ],
            axis=2,
        )
        skew_t = np.cross(translations[:, None, :], axes[None, :, :])  # [S, k, 3]: t x e_k
        centre_by_rotation = -np.einsum("sji,skj->sik", rotations, skew_t)
        centre_by_translation = -np.transpose(rotations, (0, 2, 1))
        rows, columns, values = [], [], []
        term_rows = 12 * np.arange(terms)
        for offset, coefficient in enumerate(_STENCIL):
            frame = np.arange(terms) + offset
            rotation_columns = 3 * frame[:, None] + np.arange(3)[None, :]
            translation_columns = 3 * frames + rotation_columns
            blocks = [
                (0, 9, rotation_columns, rotation_derivative[frame], self.rotation_scale),
                (9, 3, rotation_columns, centre_by_rotation[frame], self.centre_scale),
                (9, 3, translation_columns, centre_by_translation[frame], self.centre_scale),
            ]
            for first, height, block_columns, block, scale in blocks:
                block_rows = term_rows[:, None] + first + np.arange(height)[None, :]
                rows.append(np.repeat(block_rows[:, :, None], 3, axis=2).ravel())
                columns.append(np.repeat(block_columns[:, None, :], height, axis=1).ravel())
                values.append((coefficient * scale[:, None, None] * block).ravel())
        anchor_rows = 12 * terms + np.arange(3 * len(world))
        rows.append(anchor_rows)
        columns.append(6 * frames + np.arange(3 * len(world)))
        values.append(np.repeat(self.anchor_scale, 3))
        return scipy.sparse.coo_matrix(
            (np.concatenate(values), (np.concatenate(rows), np.concatenate(columns))),
            shape=(self.count + self.padding, 6 * frames + 3 * len(world)),
        ).tocsr()


def _differences(rotations: np.ndarray, translations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Third differences of the rotation matrices [S-3, 9] and of the centres [S-3, 3]."""
    centres = -np.einsum("sji,sj->si", rotations, translations)
    return _difference(rotations).reshape(-1, 9), _difference(centres)


def _limited_frames(weights: np.ndarray, strength: float, frame_count: int) -> list[int]:
    """Frames [ascending] touched by a third difference weaker than `strength`."""
    weak = np.flatnonzero(weights < strength)
    frames = (weak[:, None] + np.arange(len(_STENCIL))[None, :]).ravel()
    return [int(frame) for frame in np.unique(frames[frames < frame_count])]


def _difference(values: np.ndarray) -> np.ndarray:
    """The stencil's difference [S-3, ...] of per-frame values [S, ...]."""
    count = len(values) - len(_STENCIL) + 1
    return sum(weight * values[offset : offset + count] for offset, weight in enumerate(_STENCIL))


def _frame_means(errors: np.ndarray, tracks: Tracks, frame_count: int) -> np.ndarray:
    """Mean error [S] of each frame's observations (NaN without any)."""
    total = np.bincount(tracks.frame, errors, minlength=frame_count)
    count = np.bincount(tracks.frame, minlength=frame_count)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _mean_depths(
    tracks: Tracks, points: np.ndarray, extrinsics: np.ndarray, group: np.ndarray, count: int
) -> np.ndarray:
    """Mean depth [count] of the observations of each group (frame or track); the shot's
    median depth for a group without any, never below a millionth of it."""
    frame = tracks.frame
    rows = extrinsics[frame, 2]
    depths = np.abs(np.einsum("nj,nj->n", rows[:, :3], points[tracks.track]) + rows[:, 3])
    overall = max(float(np.median(depths)), 1e-12)
    total = np.bincount(group, depths, minlength=count)
    seen = np.bincount(group, minlength=count)
    means = np.where(seen > 0, total / np.maximum(seen, 1), overall)
    return np.maximum(means, 1e-6 * overall)


def smooth_segments(
    tracks: Tracks,
    points: np.ndarray,
    extrinsics: np.ndarray,
    intrinsics: np.ndarray,
    distortion: np.ndarray,
    errors: np.ndarray,
    strength: float,
    runs: list[tuple[int, int]],
    progress: Callable[[float], None] | None = None,
) -> Smoothed:
    """`smooth_path` on each run of frames (first, last) of a shot solved in segments
    (`connectivity.py`): never across a break, never on a kept frame (outside every run, its
    camera stays). Every observation lies in a run; each track in one."""
    frame_count = len(extrinsics)
    smoothed_extrinsics, smoothed_points = np.array(extrinsics), np.array(points)
    smoothed_errors = np.array(errors)
    weights = np.zeros(max(frame_count - len(_STENCIL) + 1, 0))
    worst = 0.0
    for index, (first, last) in enumerate(runs):
        inside = (tracks.frame >= first) & (tracks.frame <= last)
        part = tracks.subset(inside)
        part = Tracks(part.frame - first, part.track, part.xy, part.width, part.height)
        owned = np.unique(tracks.track[inside])
        frames = slice(first, last + 1)
        result = smooth_path(
            part,
            points[owned],
            extrinsics[frames],
            intrinsics[frames],
            distortion,
            errors[inside],
            strength,
            None if progress is None else lambda f, i=index: progress((i + f) / len(runs)),
        )
        smoothed_extrinsics[frames] = result.extrinsics
        smoothed_points[owned] = result.points
        smoothed_errors[inside] = result.errors
        weights[first : first + len(result.weights)] = result.weights
        worst = max(worst, result.cost_worst_frame_px)
    return Smoothed(
        extrinsics=smoothed_extrinsics,
        points=smoothed_points,
        errors=smoothed_errors,
        weights=weights,
        limited_frames=_limited_frames(weights, strength, frame_count),
        strength=float(strength),
        cost_median_px=float(np.median(smoothed_errors) - np.median(errors)),
        cost_worst_frame_px=worst,
        jitter_before=jitter(extrinsics),
        jitter_after=jitter(smoothed_extrinsics),
    )
