"""Robust bundle adjustment of cameras, lens and static points (scipy's sparse least squares).

Unknowns: a rotation update (axis-angle, applied on the left of the start rotation) and a
translation per frame, a 3-D position per track, and the lens: focal as a log-scale of the
start focal (one shared, one per frame, or none), optionally a principal-point shift, and
optionally the polynomial radial distortion k1, k2, k3 on normalised coordinates (OpenCV's radial
terms, Blender's POLYNOMIAL model):

    x_d = x (1 + k1 r^2 + k2 r^4 + k3 r^6),   u = fx x_d + cx,   v = fy y_d + cy.

The residuals are pixels on the plate under a Huber loss; the Jacobian is analytic (SO(3) left
Jacobian for the rotation updates) and the steps come from `levenberg.minimise`, which
eliminates the points by the Schur complement. The seven-dimensional gauge freedom is left to
the damping and fixed afterwards by `gauge.py`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.sparse
from scipy.sparse import csr_matrix
from scipy.spatial.transform import Rotation

from vggt4d.solve.levenberg import marginal_variance, minimise
from vggt4d.solve.tracks import Tracks

FOCAL_MODES = ("shared", "per-frame", "fixed")
DISTORTION_MODELS = ("none", "polynomial")


@dataclass(frozen=True)
class LensModel:
    """Which lens parameters are solved (the rest stay at their start values)."""

    focal: str = "shared"
    distortion: str = "none"
    principal_point: bool = False


class PosePrior(Protocol):
    """Extra residuals on the poses and points (e.g. `smooth.PathPrior`), least squares (no
    robust loss). Rotations are perturbed on the left, R <- exp(w) R; the Jacobian's columns are
    w [3S], the translations [3S] and the points [3T], in that order. A prior must fix the gauge
    itself: with it, the first camera is free."""

    def residuals(
        self, rotations: np.ndarray, translations: np.ndarray, world: np.ndarray
    ) -> np.ndarray: ...  # [M], M even

    def jacobian(
        self, rotations: np.ndarray, translations: np.ndarray, world: np.ndarray
    ) -> csr_matrix: ...  # [M, 6S + 3T]


@dataclass(frozen=True)
class LensPrior:
    """Weak priors that hold the lens where the shot cannot tell it: each focal toward its
    reference (log scale) and k1-k3 toward zero. A dolly or a truck cannot tell the focal from
    the depth, a locked-off shot tells nothing, and an undistorted plate leaves k2 and k3 free
    to bend to noise (docs/solve.md, "Lens priors"). The residuals are worth the tracks' noise
    (per axis, at the adjustment's start) per standard deviation: a Bayesian prior beside pixel
    residuals of that noise, so tracks that determine the lens outweigh it (a fixed 1 px per
    deviation held a focal that 1000 tracks at 0.03 px determine 1.9 % off).

    reference_focal: float64 [S] fx each frame's focal is drawn toward (the network's);
    focal_sigma: relative standard deviation of the focal; distortion_sigma: of k1, k2, k3."""

    reference_focal: np.ndarray
    focal_sigma: float = 0.03
    distortion_sigma: tuple[float, float, float] = (0.1, 0.05, 0.05)


@dataclass
class Adjusted:
    """The solved state, with the same conventions as the inputs."""

    extrinsics: np.ndarray  # float64 [S, 3, 4] camera-from-world
    intrinsics: np.ndarray  # float64 [S, 3, 3] plate pixels
    distortion: np.ndarray  # float64 [3] k1, k2, k3
    points: np.ndarray  # float64 [T, 3] world
    errors: np.ndarray  # float64 [N] reprojection error of each observation, plate pixels
    iterations: int
    focal_spread: "FocalSpread | None" = None


@dataclass(frozen=True)
class FocalSpread:
    """How well the solve determines the (shared) focal, from the final normal equations:
    std_percent: its standard deviation from the tracks alone, percent of the focal (inf when
    they do not determine it: a dolly's focal-depth ambiguity); prior_share: the part of its
    information that came from the lens prior (0..1)."""

    std_percent: float
    prior_share: float


class _Layout:
    """Where each unknown lives in the parameter vector."""

    def __init__(self, frames: int, tracks: int, lens: LensModel):
        self.frames, self.tracks = frames, tracks
        focal_count = {"shared": 1, "per-frame": frames, "fixed": 0}[lens.focal]
        sizes = {
            "rotation": 3 * frames,
            "translation": 3 * frames,
            "focal": focal_count,
            "principal": 2 if lens.principal_point else 0,
            "distortion": 3 if lens.distortion == "polynomial" else 0,
            "points": 3 * tracks,  # last: the solver eliminates them (Schur complement)
        }
        self.slices, start = {}, 0
        for name, size in sizes.items():
            self.slices[name] = slice(start, start + size)
            start += size
        self.size = start

    def columns(self, name: str, index: np.ndarray | None = None, width: int = 1) -> np.ndarray:
        """Column numbers [N, width] of block `name` for the per-row `index` (None = global)."""
        first = self.slices[name].start
        offsets = np.arange(width)
        if index is None:
            return first + offsets[None, :]
        return first + width * index[:, None] + offsets[None, :]


def project(
    points_camera: np.ndarray, focal: np.ndarray, centre: np.ndarray, distortion: np.ndarray
) -> np.ndarray:
    """Plate pixels [N, 2] of camera-space points [N, 3] (OpenCV axes) through the polynomial
    lens: focal [N, 2] (fx, fy), centre [N, 2] or [2], distortion [3] (k1, k2, k3)."""
    depth = points_camera[:, 2]
    depth = np.where(np.abs(depth) > 1e-9, depth, 1e-9)
    normalised = points_camera[:, :2] / depth[:, None]
    radius2 = np.sum(normalised**2, axis=1)
    k1, k2, k3 = distortion
    factor = 1.0 + radius2 * (k1 + radius2 * (k2 + radius2 * k3))
    return normalised * factor[:, None] * focal + centre


def adjust(
    tracks: Tracks,
    points: np.ndarray,
    extrinsics: np.ndarray,
    intrinsics: np.ndarray,
    distortion: np.ndarray,
    lens: LensModel,
    loss_scale_px: float,
    max_iterations: int = 100,
    prior: PosePrior | None = None,
    gauge_runs: Sequence[tuple[int, int]] | None = None,
    held_frames: Sequence[int] = (),
    lens_prior: LensPrior | None = None,
) -> Adjusted:
    """One robust adjustment from the given start.

    tracks: N observations of T points in S frames; points float64 [T, 3]; extrinsics [S, 3, 4];
    intrinsics [S, 3, 3] (their fx/fy ratio is kept); distortion [3]; loss_scale_px: where the
    Huber loss turns from quadratic to linear, plate pixels; prior: extra residuals added to the
    cost (`PosePrior`), which must then fix the gauge itself; gauge_runs: runs of frames
    (first, last) that no track ties together, each with its own gauge held (`_gauge_columns`;
    default: the whole shot, one run; `connectivity.py`); held_frames: frames without
    observations, whose pose (and per-frame focal) stays at its start; lens_prior: weak priors
    on the solved lens parameters (`LensPrior`), none by default.
    """
    frame_count, track_count = len(extrinsics), len(points)
    layout = _Layout(frame_count, track_count, lens)
    start_rotations = extrinsics[:, :, :3]
    start_focal = intrinsics[:, [0, 1], [0, 1]]
    start_centre = intrinsics[:, :2, 2]
    start_distortion = np.asarray(distortion, np.float64)
    observed = tracks.xy.ravel()

    def unpack(vector: np.ndarray):
        rotations = (
            Rotation.from_rotvec(vector[layout.slices["rotation"]].reshape(-1, 3)).as_matrix()
            @ start_rotations
        )
        translations = vector[layout.slices["translation"]].reshape(-1, 3)
        world = vector[layout.slices["points"]].reshape(-1, 3)
        focal_values = vector[layout.slices["focal"]]
        log_scale = np.zeros(frame_count) + (focal_values if len(focal_values) else 0.0)
        focal = start_focal * np.exp(log_scale)[:, None]
        centre = start_centre + (
            vector[layout.slices["principal"]] if lens.principal_point else 0.0
        )
        lens_distortion = (
            vector[layout.slices["distortion"]]
            if lens.distortion == "polynomial"
            else start_distortion
        )
        return rotations, translations, world, focal, centre, lens_distortion

    lens_rows = (
        _LensPriorRows(
            lens_prior,
            layout,
            start_focal[:, 0],
            _noise_px(tracks, extrinsics, intrinsics, points, distortion),
        )
        if lens_prior is not None and (lens.focal != "fixed" or lens.distortion != "none")
        else None
    )

    def residuals(vector: np.ndarray) -> np.ndarray:
        parts = [_reproject(tracks, *unpack(vector)).ravel() - observed]
        if prior is not None:
            parts.append(prior.residuals(*unpack(vector)[:3]))
        if lens_rows is not None:
            parts.append(lens_rows.residuals(vector))
        return np.concatenate(parts)

    def jacobian(vector: np.ndarray) -> csr_matrix:
        rotvecs = vector[layout.slices["rotation"]].reshape(-1, 3)
        parts = [_jacobian(tracks, layout, lens, rotvecs, *unpack(vector))]
        if prior is not None:
            rotations, translations, world = unpack(vector)[:3]
            parts.append(_prior_jacobian(prior, layout, rotvecs, rotations, translations, world))
        if lens_rows is not None:
            parts.append(lens_rows.jacobian)
        return scipy.sparse.vstack(parts).tocsr() if len(parts) > 1 else parts[0]

    start = np.zeros(layout.size)
    start[layout.slices["translation"]] = extrinsics[:, :, 3].ravel()
    start[layout.slices["points"]] = points.ravel()
    if lens.distortion == "polynomial":
        start[layout.slices["distortion"]] = start_distortion
    observation_count = len(tracks.frame)
    loss_scale = loss_scale_px
    prior_pairs = (len(residuals(start)) - 2 * observation_count) // 2
    if prior_pairs:  # prior residual pairs stay quadratic: a scale no pair reaches
        loss_scale = np.concatenate(
            [np.full(observation_count, loss_scale_px), np.full(prior_pairs, 1e6)]
        )
    fixed = _held_columns(layout, lens, extrinsics, gauge_runs, held_frames, prior is None)
    result = minimise(
        residuals,
        jacobian,
        start,
        layout.slices["points"].start,
        loss_scale,
        max_iterations,
        fixed=fixed,
    )
    iterations = result.iterations
    # The prior was weighed against the start's noise; from a rough start (pixels off) that
    # overweighs it: re-weigh against the solution's noise and go on from there.
    for _ in range(_REWEIGH_ROUNDS if lens_rows is not None else 0):
        noise = _median_noise(result.residuals[: 2 * observation_count])
        if noise >= _REWEIGH_DROP * lens_rows.noise_px:
            break
        lens_rows = lens_rows.reweighed(noise)
        result = minimise(
            residuals,
            jacobian,
            result.parameters,
            layout.slices["points"].start,
            loss_scale,
            max_iterations,
            fixed=fixed,
        )
        iterations += result.iterations
    rotations, translations, world, focal, centre, lens_distortion = unpack(result.parameters)
    spread = None
    if lens.focal == "shared" and lens_rows is not None:
        spread = lens_rows.focal_spread(
            jacobian(result.parameters), result.residuals, loss_scale, fixed, observation_count
        )
    solved_intrinsics = np.array(intrinsics, np.float64, copy=True)
    solved_intrinsics[:, [0, 1], [0, 1]] = focal
    solved_intrinsics[:, :2, 2] = centre
    errors = np.linalg.norm(result.residuals[: 2 * observation_count].reshape(-1, 2), axis=1)
    return Adjusted(
        extrinsics=np.concatenate([rotations, translations[:, :, None]], axis=2),
        intrinsics=solved_intrinsics,
        distortion=np.array(lens_distortion, np.float64),
        points=world,
        errors=errors,
        iterations=iterations,
        focal_spread=spread,
    )


class _LensPriorRows:
    """The `LensPrior`'s residual pairs (padded with a zero) and their constant Jacobian."""

    def __init__(
        self, lens_prior: LensPrior, layout: _Layout, start_fx: np.ndarray, noise_px: float
    ):
        self.lens_prior, self.start_fx, self.noise_px = lens_prior, start_fx, noise_px
        self.layout = layout
        focal_columns = np.arange(layout.slices["focal"].start, layout.slices["focal"].stop)
        if len(focal_columns) == 1:  # shared: the start is one focal, so is the reference
            start_fx = start_fx[:1]
            reference = np.median(np.asarray(lens_prior.reference_focal, np.float64))[None]
        else:
            reference = np.asarray(lens_prior.reference_focal, np.float64)[: len(focal_columns)]
        self.focal_offset = np.log(start_fx[: len(focal_columns)] / reference)
        distortion = layout.slices["distortion"]
        distortion_columns = np.arange(distortion.start, distortion.stop)
        self.focal_weight = noise_px / lens_prior.focal_sigma
        weights = np.concatenate(
            [
                np.full(len(focal_columns), self.focal_weight),
                noise_px / np.asarray(lens_prior.distortion_sigma)[: len(distortion_columns)],
            ]
        )
        self.columns = np.concatenate([focal_columns, distortion_columns])
        self.weights = weights
        self.count = len(self.columns) + len(self.columns) % 2
        self.jacobian = csr_matrix(
            (weights, (np.arange(len(self.columns)), self.columns)),
            shape=(self.count, layout.size),
        )

    def reweighed(self, noise_px: float) -> "_LensPriorRows":
        """The same prior weighed against another noise (plate pixels per axis)."""
        return _LensPriorRows(self.lens_prior, self.layout, self.start_fx, noise_px)

    def residuals(self, vector: np.ndarray) -> np.ndarray:
        values = vector[self.columns].copy()
        values[: len(self.focal_offset)] += self.focal_offset
        result = np.zeros(self.count)
        result[: len(values)] = self.weights * values
        return result

    def focal_spread(
        self,
        matrix: csr_matrix,
        residuals: np.ndarray,
        loss_scale: np.ndarray | float,
        fixed: np.ndarray | None,
        observation_count: int,
    ) -> FocalSpread:
        """The shared focal's spread at the solution: its variance in the weighted normal
        equations (Huber weights; the points eliminated), less the prior's information, times
        the tracks' noise (per axis, from the median error of a 2-D Gaussian)."""
        column = self.layout.slices["focal"].start
        variance = marginal_variance(
            matrix, residuals, loss_scale, self.layout.slices["points"].start, column, fixed
        )
        prior_information = self.focal_weight**2
        data_information = 1.0 / max(variance, 1e-300) - prior_information
        noise = _median_noise(residuals[: 2 * observation_count])
        std = noise / np.sqrt(data_information) if data_information > 0 else np.inf
        return FocalSpread(
            std_percent=100.0 * float(std),
            prior_share=float(np.clip(prior_information * variance, 0.0, 1.0)),
        )


def _held_columns(
    layout: _Layout,
    lens: LensModel,
    extrinsics: np.ndarray,
    gauge_runs: Sequence[tuple[int, int]] | None,
    held_frames: Sequence[int],
    fix_gauge: bool,
) -> np.ndarray | None:
    """Parameters held at their start: the gauge of each run (`_gauge_columns`) unless a prior
    fixes it, and the poses (and per-frame focal lengths) of the held frames."""
    runs = ([(0, layout.frames - 1)] if gauge_runs is None else gauge_runs) if fix_gauge else []
    columns = [_gauge_columns(layout, extrinsics, first, last) for first, last in runs]
    frames = np.asarray(held_frames, np.int64)
    if len(frames):
        columns += [
            layout.columns("rotation", frames, 3).ravel(),
            layout.columns("translation", frames, 3).ravel(),
        ]
        if lens.focal == "per-frame":
            columns.append(layout.columns("focal", frames).ravel())
    return np.concatenate(columns) if columns else None


def _gauge_columns(layout: _Layout, extrinsics: np.ndarray, first: int, last: int) -> np.ndarray:
    """Parameters held at their start to fix the gauge of the run of frames first..last: its
    first camera's pose (six of the seven directions) and the scale, by the translation
    component of the run's camera farthest from the first camera's centre along its largest
    axis. With the scale free, Newton steps along it are unbounded: measured, the solved world
    drifted to 1.3 times the network's scale."""
    first_columns = [
        layout.columns(name, np.array([first]), 3)[0] for name in ("rotation", "translation")
    ]
    if last <= first:
        return np.concatenate(first_columns)
    first_centre = -extrinsics[first, :, :3].T @ extrinsics[first, :, 3]
    others = extrinsics[first + 1 : last + 1]
    baseline = others[:, :, 3] + others[:, :, :3] @ first_centre  # -R_i (C_i - C_first)
    frame, axis = np.unravel_index(np.argmax(np.abs(baseline)), baseline.shape)
    scale_column = layout.columns("translation", np.array([first + 1 + frame]), 3)[0, [axis]]
    return np.concatenate([*first_columns, scale_column])


# Median of |e| for a 2-D error e with unit standard deviation per axis: sqrt(2 ln 2).
_RAYLEIGH_MEDIAN = float(np.sqrt(2.0 * np.log(2.0)))
# Re-weigh the lens prior (at most this many times) when the noise dropped below this part.
_REWEIGH_ROUNDS = 2
_REWEIGH_DROP = 0.5
# The noise the lens prior (and the focal's spread) is weighed against never goes below this,
# about a real tracker's accuracy: a noiseless render (0.0003 px on a locked-off shot) would
# otherwise switch the prior off and call a focal 118 % off "determined".
_MIN_NOISE_PX = 0.05


def _noise_px(
    tracks: Tracks,
    extrinsics: np.ndarray,
    intrinsics: np.ndarray,
    points: np.ndarray,
    distortion: np.ndarray,
) -> float:
    """The tracks' noise per axis (plate pixels) at this state, from the median error."""
    errors = reprojection_errors(tracks, points, extrinsics, intrinsics, distortion)
    return max(float(np.median(errors)) / _RAYLEIGH_MEDIAN, _MIN_NOISE_PX)


def _median_noise(residuals: np.ndarray) -> float:
    """The noise per axis (pixels, at least `_MIN_NOISE_PX`) of residual pairs [2N]."""
    errors = np.linalg.norm(residuals.reshape(-1, 2), axis=1)
    return max(float(np.median(errors)) / _RAYLEIGH_MEDIAN, _MIN_NOISE_PX)


def reprojection_errors(
    tracks: Tracks,
    points: np.ndarray,
    extrinsics: np.ndarray,
    intrinsics: np.ndarray,
    distortion: np.ndarray,
) -> np.ndarray:
    """Pixel distance [N] between each observation and its point's projection."""
    pixels = _reproject(
        tracks,
        extrinsics[:, :, :3],
        extrinsics[:, :, 3],
        points,
        intrinsics[:, [0, 1], [0, 1]],
        intrinsics[:, :2, 2],
        np.asarray(distortion, np.float64),
    )
    return np.linalg.norm(pixels - tracks.xy, axis=1)


def _reproject(
    tracks: Tracks,
    rotations: np.ndarray,
    translations: np.ndarray,
    world: np.ndarray,
    focal: np.ndarray,
    centre: np.ndarray,
    distortion: np.ndarray,
) -> np.ndarray:
    """Projection [N, 2] of each observation's point through its frame's camera: rotations
    [S, 3, 3], translations [S, 3], world [T, 3], focal and centre [S, 2], distortion [3]."""
    frame = tracks.frame
    camera_points = (
        np.einsum("nij,nj->ni", rotations[frame], world[tracks.track]) + translations[frame]
    )
    return project(camera_points, focal[frame], centre[frame], distortion)


def _jacobian(
    tracks: Tracks,
    layout: _Layout,
    lens: LensModel,
    rotvecs: np.ndarray,
    rotations: np.ndarray,
    translations: np.ndarray,
    world: np.ndarray,
    focal: np.ndarray,
    centre: np.ndarray,
    distortion: np.ndarray,
) -> csr_matrix:
    """Analytic Jacobian [2N, P] of the residuals: each observation touches its camera's
    rotation and translation, its point, and the lens blocks."""
    frame, track = tracks.frame, tracks.track
    rotated = np.einsum("nij,nj->ni", rotations[frame], world[track])  # R X  [N, 3]
    camera = rotated + translations[frame]
    z = np.where(np.abs(camera[:, 2]) > 1e-9, camera[:, 2], 1e-9)
    x, y = camera[:, 0] / z, camera[:, 1] / z
    radius2 = x * x + y * y
    k1, k2, k3 = distortion
    factor = 1.0 + radius2 * (k1 + radius2 * (k2 + radius2 * k3))
    slope = k1 + radius2 * (2.0 * k2 + 3.0 * radius2 * k3)  # d factor / d r^2
    fx, fy = focal[frame, 0], focal[frame, 1]
    # d(u, v) / d(x, y): [N, 2, 2]
    lens_part = np.empty((len(frame), 2, 2))
    lens_part[:, 0, 0] = fx * (factor + 2.0 * x * x * slope)
    lens_part[:, 0, 1] = fx * 2.0 * x * y * slope
    lens_part[:, 1, 0] = fy * 2.0 * x * y * slope
    lens_part[:, 1, 1] = fy * (factor + 2.0 * y * y * slope)
    # d(x, y) / d camera point: [N, 2, 3]
    perspective = np.zeros((len(frame), 2, 3))
    perspective[:, 0, 0] = perspective[:, 1, 1] = 1.0 / z
    perspective[:, 0, 2], perspective[:, 1, 2] = -x / z, -y / z
    to_camera = lens_part @ perspective  # d(u, v) / d camera point [N, 2, 3]
    blocks = [
        to_camera @ (-_skew(rotated) @ _left_jacobian(rotvecs)[frame]),
        to_camera,
        to_camera @ rotations[frame],
    ]
    columns = [
        layout.columns("rotation", frame, 3),
        layout.columns("translation", frame, 3),
        layout.columns("points", track, 3),
    ]
    count = len(frame)
    distorted = np.stack([x * factor * fx, y * factor * fy], axis=1)[:, :, None]  # [N, 2, 1]
    if lens.focal != "fixed":
        blocks.append(distorted)
        shared = lens.focal == "shared"
        columns.append(layout.columns("focal", None if shared else frame))
    if lens.principal_point:
        blocks.append(np.broadcast_to(np.eye(2), (count, 2, 2)))
        columns.append(layout.columns("principal", None, 2))
    if lens.distortion == "polynomial":
        powers = np.stack([radius2, radius2**2, radius2**3], axis=1)[:, None, :]  # [N, 1, 3]
        scaled = np.stack([x * fx, y * fy], axis=1)[:, :, None]
        blocks.append(scaled * powers)
        columns.append(layout.columns("distortion", None, 3))
    values = np.concatenate(blocks, axis=2)  # [N, 2, C]
    column_index = np.concatenate([np.broadcast_to(c, (count, c.shape[1])) for c in columns], 1)
    width = column_index.shape[1]
    rows = np.repeat(np.arange(2 * count), width)
    return csr_matrix(
        (values.ravel(), (rows, np.repeat(column_index, 2, axis=0).ravel())),
        shape=(2 * count, layout.size),
    )


def _prior_jacobian(
    prior: PosePrior,
    layout: _Layout,
    rotvecs: np.ndarray,
    rotations: np.ndarray,
    translations: np.ndarray,
    world: np.ndarray,
) -> csr_matrix:
    """The prior's Jacobian in the layout's columns: its left perturbations chained through each
    rotation update's left Jacobian, the lens columns zero."""
    frames = layout.frames
    natural = prior.jacobian(rotations, translations, world)
    rotation_chain = scipy.sparse.bsr_matrix(
        (_left_jacobian(rotvecs), np.arange(frames), np.arange(frames + 1)),
        shape=(3 * frames, 3 * frames),
    )
    chain = scipy.sparse.block_diag([rotation_chain, scipy.sparse.identity(3 * frames)])
    poses = natural[:, : 6 * frames] @ chain
    lens_columns = layout.slices["points"].start - 6 * frames
    lens = csr_matrix((natural.shape[0], lens_columns))
    return scipy.sparse.hstack([poses, lens, natural[:, 6 * frames :]]).tocsr()


def _skew(vectors: np.ndarray) -> np.ndarray:
    """Cross-product matrices [N, 3, 3] of vectors [N, 3]: skew(a) @ b = a x b."""
    result = np.zeros((len(vectors), 3, 3))
    result[:, 0, 1], result[:, 0, 2] = -vectors[:, 2], vectors[:, 1]
    result[:, 1, 0], result[:, 1, 2] = vectors[:, 2], -vectors[:, 0]
    result[:, 2, 0], result[:, 2, 1] = -vectors[:, 1], vectors[:, 0]
    return result


def _left_jacobian(rotvecs: np.ndarray) -> np.ndarray:
    """SO(3) left Jacobians [S, 3, 3]: exp(w + d) = exp(J_l(w) d) exp(w) to first order."""
    angle = np.linalg.norm(rotvecs, axis=1)[:, None, None]
    skew = _skew(rotvecs)
    small = angle < 1e-8
    safe = np.where(small, 1.0, angle)
    first = np.where(small, 0.5, (1.0 - np.cos(safe)) / safe**2)
    second = np.where(small, 1.0 / 6.0, (safe - np.sin(safe)) / safe**3)
    return np.eye(3) + first * skew + second * (skew @ skew)
