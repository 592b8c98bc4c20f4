"""The camera solve: plate tracks + robust bundle adjustment, started from VGGT4D's cameras and
depth and gauged back into VGGT4D's world.

Public entry point for any caller holding plates and network cameras (the bundle re-solve in
`vggt4d.solve.bundle_solve`, the long-shot stitcher): `solve_cameras`.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from scipy.ndimage import map_coordinates
from scipy.spatial.transform import Rotation

from vggt4d.errors import InputError
from vggt4d.geometry import Similarity, invert_se3
from vggt4d.option_types import check_values, options_from_json
from vggt4d.solve.adjust import (
    DISTORTION_MODELS,
    FOCAL_MODES,
    FocalSpread,
    LensModel,
    LensPrior,
    adjust,
    reprojection_errors,
)
from vggt4d.solve.connectivity import (
    MIN_INLIER_TRACKS,
    MIN_SEGMENT_FRAMES,
    MIN_TRACKS,
    Segments,
    find_segments,
    inside_segments,
)
from vggt4d.solve.gauge import gauge_to, jitter
from vggt4d.solve.smooth import Smoothed, smooth_segments
from vggt4d.solve.tracks import TrackOptions, Tracks, track_plate

# (stage "tracking" | "adjustment" (with the smoothing), fraction of that stage); may raise to
# cancel.
SolveProgress = Callable[[str, float], None]


@dataclass(frozen=True)
class SolveOptions:
    """What the solve refines and how hard it rejects outliers.

    focal: "shared" (one focal length for the shot, the default for prime lenses), "per-frame"
        (zoom shots) or "fixed" (keep the network's).
    distortion: "none" or "polynomial" (k1, k2, k3 on normalised coordinates).
    refine_principal_point: solve a principal point shared by all frames; otherwise it sits at
        the plate centre.
    outlier_rounds: re-solves after dropping observations whose error exceeds
        max(outlier_floor_px, outlier_factor * median error).
    max_iterations: Levenberg-Marquardt iterations of each round at most (a converged round
        stops sooner; the focal-depth valley can take a hundred or more).
    smooth: strength of the temporal smoothing of the camera path (`solve/smooth.py`); 0 (the
        default) leaves the path as solved. 1 is strong; the 0.05 px budget weakens it.
    """

    focal: str = "shared"
    distortion: str = "none"
    refine_principal_point: bool = False
    outlier_rounds: int = 2
    outlier_floor_px: float = 0.75
    outlier_factor: float = 4.0
    max_iterations: int = 300
    smooth: float = 0.0
    tracking: TrackOptions = field(default_factory=TrackOptions)

    def __post_init__(self) -> None:
        check_values(
            self,
            choices={"focal": FOCAL_MODES, "distortion": DISTORTION_MODELS},
            at_least={"outlier_rounds": 0, "max_iterations": 1, "smooth": 0},
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SolveOptions":
        """Build from JSON-like data; unknown keys and wrong types are refused (InputError)."""
        return cls(**options_from_json(cls, data, "solve options"))


@dataclass(frozen=True)
class Connectivity:
    """segments: (first, last) of each run of frames solved on its own (a break between runs:
    too few tracks tie them, `connectivity.py`); kept_frames: frames whose camera is the
    network's (too few tracks, or in `worse_frames`, where the solve did not beat the network)."""

    segments: list[tuple[int, int]]
    kept_frames: list[int]
    worse_frames: list[int]

    def summary(self) -> dict[str, Any]:
        """The manifest's `solve.connectivity` section (docs/bundle.md)."""
        return {
            "segments": [[first, last] for first, last in self.segments],
            "kept_frames": self.kept_frames,
            "worse_frames": self.worse_frames,
            "min_tracks": MIN_TRACKS,
        }


@dataclass
class SolveResult:
    """A solved shot in the network's world and scale.

    tracks/points: the inlier observations and their 3-D points (world); errors: each inlier
    observation's reprojection error in plate pixels; depth_scale [S]: multiply frame i's
    network depth by it so that it unprojects through the solved camera onto the solved points.
    """

    extrinsics: np.ndarray  # float64 [S, 3, 4] camera-from-world
    intrinsics: np.ndarray  # float64 [S, 3, 3] plate pixels
    distortion: np.ndarray  # float64 [3] k1, k2, k3
    tracks: Tracks
    points: np.ndarray  # float64 [T, 3]
    errors: np.ndarray  # float64 [N]
    depth_scale: np.ndarray  # float64 [S]
    gauge: Similarity
    start_errors: np.ndarray  # float64 [N] the same observations through the network cameras
    jitter_before: dict[str, float]
    jitter_after: dict[str, float]
    options: SolveOptions
    smoothing: Smoothed | None = None
    lens_check: dict[str, Any] | None = None  # `_check_distortion`: solved without distortion
    connectivity: Connectivity = field(default_factory=lambda: Connectivity([], [], []))
    focal_switch: dict[str, Any] | None = None  # `_focal_switch`: a zoom solved per frame
    iterations: list[int] = field(default_factory=list)  # Levenberg-Marquardt, per round
    focal_spread: FocalSpread | None = None  # a shared focal's: how well the shot determines it
    locked_off: bool = False  # `is_locked_off`: one static camera, nothing adjusted

    def per_frame_error(self) -> np.ndarray:
        """Mean reprojection error of each frame's inliers (plate pixels, NaN without any),
        the per-frame figure Blender's tracker shows."""
        frame_count = len(self.extrinsics)
        total = np.bincount(self.tracks.frame, self.errors, minlength=frame_count)
        count = np.bincount(self.tracks.frame, minlength=frame_count)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    def summary(self) -> dict[str, Any]:
        """The bundle manifest's `solve` section (docs/bundle.md)."""
        k1, k2, k3 = (float(value) for value in self.distortion)
        return {
            "reprojection_error_px": {
                "median": float(np.median(self.errors)),
                "p90": float(np.percentile(self.errors, 90)),
                "mean": float(np.mean(self.errors)),
                "per_frame": [None if np.isnan(v) else float(v) for v in self.per_frame_error()],
                "network_median": float(np.median(self.start_errors)),
            },
            "distortion": {"model": "polynomial", "k1": k1, "k2": k2, "k3": k3},
            "tracks": self.tracks.track_count,
            "observations": len(self.errors),
            "jitter": {"before": self.jitter_before, "after": self.jitter_after},
            "gauge_scale": self.gauge.scale,
            "options": self.options.to_dict(),
            "connectivity": self.connectivity.summary(),
        } | (
            ({"smoothing": self.smoothing.summary()} if self.smoothing is not None else {})
            | ({"lens_check": self.lens_check} if self.lens_check is not None else {})
            | ({"focal_switch": self.focal_switch} if self.focal_switch is not None else {})
            | ({"focal": self._focal_summary()} if self.focal_spread is not None else {})
            | ({"locked_off": True} if self.locked_off else {})
        )

    def _focal_summary(self) -> dict[str, Any]:
        """The manifest's `solve.focal`: how well the shot determined the shared focal
        (`std_percent` absent when the tracks do not determine it at all)."""
        spread = self.focal_spread
        std = spread.std_percent
        determined = bool(np.isfinite(std) and std <= _FOCAL_DETERMINED_PERCENT)
        return ({"std_percent": float(std)} if np.isfinite(std) else {}) | {
            "prior_share": spread.prior_share,
            "determined": determined,
        }


def solve_cameras(
    plates: Sequence[np.ndarray],
    extrinsics: np.ndarray,
    intrinsics: np.ndarray,
    depth: np.ndarray,
    plate_to_model: Mapping[str, float],
    exclude: Sequence[np.ndarray | None] | None = None,
    options: SolveOptions | None = None,
    progress: SolveProgress | None = None,
    pixel_aspect: float = 1.0,
) -> SolveResult:
    """Solve the cameras of a shot from its plate, starting from the network's estimate.

    plates: S frames uint8 [H, W, 3] RGB (or grey, or RGBA: transparent pixels are never
        tracked), full plate resolution; a lazy sequence is read once, in order.
    extrinsics: float64 [S, 3, 4] camera-from-world, OpenCV axes; intrinsics: float64 [S, 3, 3]
        in plate pixels (bundle conventions, docs/bundle.md).
    depth: float [S, h, w] network depth along the camera z axis at model resolution;
        plate_to_model: {"scale_x", "scale_y", "offset_x", "offset_y"} mapping plate pixels
        to depth pixels (continuous corner coordinates).
    exclude: S bool [H, W] pixels never to track (dynamic masks, artist mattes) or None.
    pixel_aspect: the plate's known pixel width / height (the footage's sample aspect; 1 for
        square pixels): the solved fy is fx times it, never the network's ratio, so the
        reported error is that of the camera Blender builds (one focal length per frame).
    Raises InputError when the plate cannot be tracked or the sizes disagree.
    """
    options = options or SolveOptions()
    extrinsics = np.asarray(extrinsics, np.float64)
    intrinsics = np.asarray(intrinsics, np.float64)
    frame_count = len(extrinsics)
    focal_switch = _focal_switch(intrinsics, options)
    if focal_switch is not None:
        options = replace(options, focal="per-frame")
    if not (len(plates) == len(intrinsics) == len(depth) == frame_count):
        raise InputError(
            f"{len(plates)} plates, {len(extrinsics)} cameras and {len(depth)} depth maps "
            "must be the same number of frames."
        )
    if frame_count < 2:
        raise InputError("A camera solve needs at least two frames.")

    def report(stage: str) -> Callable[[float], None]:
        return lambda fraction: progress(stage, fraction) if progress else None

    tracks = track_plate(plates, exclude, options.tracking, report("tracking"))
    network_depth = _sample_depth(np.asarray(depth, np.float32), tracks, plate_to_model)
    valid = np.isfinite(network_depth) & (network_depth > 0)
    tracks, network_depth = tracks.subset(valid), network_depth[valid]
    segments = find_segments(tracks, frame_count)
    keep = _keep_long_tracks(
        tracks, inside_segments(tracks, segments, frame_count), options.tracking.min_length
    )
    tracks, network_depth = tracks.subset(keep), network_depth[keep]
    if not segments.runs or not len(tracks.frame):
        raise InputError(
            f"No run of {MIN_SEGMENT_FRAMES} frames shares {MIN_TRACKS} tracks: the plate "
            "cannot be solved (too little texture, or movers everywhere)."
        )
    if is_locked_off(tracks):
        report("adjustment")(1.0)  # nothing to adjust; the stage still completes
        return _solve_locked_off(
            tracks, network_depth, extrinsics, intrinsics, options, pixel_aspect, focal_switch
        )
    points = _unproject_tracks(tracks, network_depth, extrinsics, intrinsics)
    start = _start_intrinsics(intrinsics, tracks, options, pixel_aspect)
    start_errors = reprojection_errors(tracks, points, extrinsics, start, np.zeros(3))
    lens = LensModel(options.focal, options.distortion, options.refine_principal_point)
    lens_prior = LensPrior(start[:, 0, 0])
    state = (extrinsics, start, np.zeros(3), points)
    errors = start_errors
    iterations_per_round = []
    loss_scale = max(1.0, 0.5 * float(np.median(errors)))
    rounds = options.outlier_rounds + 1 + (options.smooth > 0)  # progress: smoothing is one more
    # After the outlier rounds, up to _RESEGMENT_ROUNDS re-solves if the inliers split the shot.
    for round_index in range(options.outlier_rounds + 1 + _RESEGMENT_ROUNDS):
        report("adjustment")(min(round_index, options.outlier_rounds) / rounds)
        final = round_index >= options.outlier_rounds
        # The first round only settles cameras and points, with the lens held: from the
        # network's start they are far from consistent, and a free focal wanders +-15 % along
        # the focal-depth valley (measured on an 8-frame shot, which then never came back).
        # Every later round converges before outliers are judged: rejecting against a state
        # still crawling along that valley drops good observations and locks a wrong focal in
        # (measured at 1920x1080: -7 % after 15 iterations, 0.05 % when converged).
        settle = round_index == 0 and not final
        iterations = min(options.max_iterations, 15) if settle else options.max_iterations
        round_lens = LensModel("fixed") if settle else lens
        adjusted = adjust(
            tracks,
            state[3],
            *state[:3],
            round_lens,
            loss_scale,
            iterations,
            gauge_runs=segments.runs,
            held_frames=segments.kept,
            lens_prior=lens_prior,
        )
        iterations_per_round.append(adjusted.iterations)
        state = (adjusted.extrinsics, adjusted.intrinsics, adjusted.distortion, adjusted.points)
        errors = adjusted.errors
        if final:
            # The outliers gone, fewer tracks may tie the frames: solve again if they split.
            segments, keep = _resegment(tracks, segments, frame_count, options)
            if keep is None:
                break
        else:
            threshold = max(options.outlier_floor_px, options.outlier_factor * np.median(errors))
            keep = _keep_long_tracks(tracks, errors <= threshold, options.tracking.min_length)
        state = (*state[:3], adjusted.points[np.unique(tracks.track[keep])])
        tracks, errors = tracks.subset(keep), errors[keep]  # consistent if no round follows
        network_depth, start_errors = network_depth[keep], start_errors[keep]
        loss_scale = 1.0
    solved_extrinsics, solved_intrinsics, distortion, solved_points = state
    check_plausible_lens(distortion)
    lens_check = (
        _check_distortion(tracks, state, lens, float(np.median(errors)), segments, lens_prior)
        if options.distortion == "none"
        else None
    )
    solved_extrinsics, solved_points, gauge = _gauge_segments(
        extrinsics, network_depth, solved_extrinsics, solved_points, tracks, segments
    )
    worse = _worse_than_network(tracks, errors, start_errors, frame_count)
    if worse:  # the safety net: those frames keep the network's camera
        solved_extrinsics[worse] = extrinsics[worse]
        keep = ~np.isin(tracks.frame, worse)
        solved_points = solved_points[np.unique(tracks.track[keep])]
        tracks, errors = tracks.subset(keep), errors[keep]
        network_depth, start_errors = network_depth[keep], start_errors[keep]
    smoothed = None
    if options.smooth > 0:
        smoothed = smooth_segments(
            tracks,
            solved_points,
            solved_extrinsics,
            solved_intrinsics,
            distortion,
            errors,
            options.smooth,
            _split_runs(segments.runs, worse),
            lambda fraction: report("adjustment")((rounds - 1 + fraction) / rounds),
        )
        solved_extrinsics, solved_points, errors = (
            smoothed.extrinsics,
            smoothed.points,
            smoothed.errors,
        )
    report("adjustment")(1.0)
    solved_depth = _camera_depth(tracks, solved_points, solved_extrinsics)
    depth_scale = _median_depth_per_frame(solved_depth / network_depth, tracks, frame_count)
    kept = sorted(set(segments.kept) | set(worse))
    depth_scale[kept] = 1.0  # a kept frame's network depth goes with its network camera
    return SolveResult(
        extrinsics=solved_extrinsics,
        intrinsics=solved_intrinsics,
        distortion=distortion,
        tracks=tracks,
        points=solved_points,
        errors=errors,
        depth_scale=depth_scale,
        gauge=gauge,
        start_errors=start_errors,
        jitter_before=jitter(extrinsics),
        jitter_after=jitter(solved_extrinsics),
        options=options,
        smoothing=smoothed,
        lens_check=lens_check,
        connectivity=Connectivity(segments.runs, kept, worse),
        focal_switch=focal_switch,
        iterations=iterations_per_round,
        focal_spread=adjusted.focal_spread,
    )


# A shot is locked off (tripod, no pan) when the median over its tracks of their largest
# displacement from where they were first seen is below this, in plate pixels at 1920 px width
# (scaled with the plate's width). Measured: a noiseless locked-off render 0.000 px; the slowest
# test moves (dolly + pan over 16 frames, 320 px wide: tens of px; a 0.1 % push-in over 8 frames
# at 1920 px: about 1 px at mid-frame) stay well above it, a real tracker's jitter (0.05-0.1 px)
# well below.
LOCKED_OFF_PX = 0.5
_LOCKED_OFF_WIDTH = 1920.0


def is_locked_off(tracks: Tracks) -> bool:
    """Whether the plate's tracks hold still: the median over tracks of each one's largest
    displacement from its first observation is under LOCKED_OFF_PX (scaled to the plate)."""
    order = np.lexsort((tracks.frame, tracks.track))
    track, xy = tracks.track[order], tracks.xy[order]
    _, first = np.unique(track, return_index=True)
    start = np.zeros((tracks.track_count, 2))
    start[track[first]] = xy[first]
    largest = np.zeros(tracks.track_count)
    np.maximum.at(largest, track, np.linalg.norm(xy - start[track], axis=1))
    seen = np.bincount(track, minlength=tracks.track_count) > 0
    threshold = LOCKED_OFF_PX * tracks.width / _LOCKED_OFF_WIDTH
    return bool(np.median(largest[seen]) < threshold)


def _solve_locked_off(
    tracks: Tracks,
    network_depth: np.ndarray,
    extrinsics: np.ndarray,
    intrinsics: np.ndarray,
    options: SolveOptions,
    pixel_aspect: float,
    focal_switch: dict[str, Any] | None,
) -> SolveResult:
    """A locked-off shot's solve: one static camera for every frame, what a matchmove artist
    sets up for a tripod shot. Its rotation is the mean of the network's, its centre the median
    of the network's (so the gauge stays the network's world), its focal the network's median:
    a camera that never moves gives the tracks nothing to determine the focal or the depth by
    (a bundle adjustment then wanders: QA measured 6 cm of centre jitter and focal +118 %).
    The lens stays undistorted; the points lie at the network depth through that camera."""
    frame_count = len(extrinsics)
    rotation = Rotation.from_matrix(extrinsics[:, :, :3]).mean().as_matrix()
    centre = np.median(invert_se3(extrinsics)[:, :, 3], axis=0)
    camera = np.concatenate([rotation, (-rotation @ centre)[:, None]], axis=1)
    cameras = np.repeat(camera[None], frame_count, axis=0)
    static = _start_intrinsics(intrinsics, tracks, replace(options, focal="shared"), pixel_aspect)
    start = _start_intrinsics(intrinsics, tracks, options, pixel_aspect)
    no_lens = np.zeros(3)
    points = _unproject_tracks(tracks, network_depth, cameras, static)
    errors = reprojection_errors(tracks, points, cameras, static, no_lens)
    network_points = _unproject_tracks(tracks, network_depth, extrinsics, intrinsics)
    start_errors = reprojection_errors(tracks, network_points, extrinsics, start, no_lens)
    return SolveResult(
        extrinsics=cameras,
        intrinsics=static,
        distortion=no_lens,
        tracks=tracks,
        points=points,
        errors=errors,
        depth_scale=np.ones(frame_count),
        gauge=Similarity.identity(),
        start_errors=start_errors,
        jitter_before=jitter(extrinsics),
        jitter_after=jitter(cameras),
        options=options,
        connectivity=Connectivity([(0, frame_count - 1)], [], []),
        focal_switch=focal_switch,
        locked_off=True,
    )


# A shared focal whose spread from the tracks alone exceeds this (percent) is not determined by
# the shot: it stays near the network's, held by the lens prior.
_FOCAL_DETERMINED_PERCENT = 1.0
# The plate looks lens-distorted when solving the distortion cuts the median error to this part,
# and by at least this much: a locked-off shot's 0.003 -> 0.001 px is no lens, k1 = -0.12 on the
# test shot drops 0.053 -> 0.033 px.
_DISTORTED_GAIN = 0.9
_DISTORTED_DROP_PX = 0.01
_CHECK_ITERATIONS = 20
# Largest |k1|, |k2|, |k3| (normalised coordinates) of a real lens fit: a 14 mm full-frame lens
# stays well inside it; beyond it the coefficients cancel each other on a plate that does not
# determine them (a zoom solved with one focal gave k3 = 1835).
PLAUSIBLE_DISTORTION = 10.0
# The network's focal changes by more than this factor over the shot (5th to 95th percentile):
# a zoom. One shared focal then fails (QA: +62 to +143 % focal error, or k3 = 1835), a focal
# per frame holds (+10 %, 0.03 px), so a "shared" solve switches to "per-frame".
ZOOM_SPREAD = 1.05


def _focal_switch(intrinsics: np.ndarray, options: SolveOptions) -> dict[str, Any] | None:
    """The manifest's `solve.focal_switch` when a shared-focal solve is asked of a shot whose
    network focal changes like a zoom's (it is then solved per frame); None otherwise."""
    focal = np.sqrt(intrinsics[:, 0, 0] * intrinsics[:, 1, 1])
    low, high = np.percentile(focal, [5, 95])
    spread = float(high / low)
    if options.focal != "shared" or not spread > ZOOM_SPREAD:
        return None
    return {"network_spread": spread, "asked": "shared", "used": "per-frame"}


def check_plausible_lens(distortion: np.ndarray) -> None:
    """Refuse a solved lens no real lens has, before anything is written (InputError)."""
    if np.all(np.abs(distortion) <= PLAUSIBLE_DISTORTION):
        return
    k1, k2, k3 = (float(value) for value in distortion)
    raise InputError(
        f"The solved lens distortion is implausible (k1 {k1:.3g}, k2 {k2:.3g}, k3 {k3:.3g}): "
        "this plate does not determine it. Re-solve with --distortion none (and --focal "
        "per-frame on a zoom)."
    )


def _check_distortion(
    tracks: Tracks,
    state: tuple,
    lens: LensModel,
    median_px: float,
    segments: Segments,
    lens_prior: LensPrior,
) -> dict[str, Any]:
    """What a polynomial lens would do to a solve made without one: its k1-k3 and median error,
    and whether the plate looks distorted. Without a lens model, a distorted plate still
    reaches a small error (the focal and the points soak the distortion up: measured, k1 =
    -0.12 gave 0.05 px against 0.03 px, with the focal 6.5 % off), so only the comparison shows
    it. A short adjustment from the solved state. A fit with implausible coefficients is
    recorded as not determined, without them."""
    with_lens = replace(lens, distortion="polynomial")
    adjusted = adjust(
        tracks,
        state[3],
        *state[:3],
        with_lens,
        1.0,
        _CHECK_ITERATIONS,
        gauge_runs=segments.runs,
        held_frames=segments.kept,
        lens_prior=lens_prior,
    )
    check_median = float(np.median(adjusted.errors))
    if not np.all(np.abs(adjusted.distortion) <= PLAUSIBLE_DISTORTION):
        return {"median_px": check_median, "distorted": False, "determined": False}
    k1, k2, k3 = (float(value) for value in adjusted.distortion)
    distorted = (
        check_median < _DISTORTED_GAIN * median_px
        and median_px - check_median >= _DISTORTED_DROP_PX
    )
    return {"k1": k1, "k2": k2, "k3": k3, "median_px": check_median, "distorted": distorted}


_RESEGMENT_ROUNDS = 2


def _resegment(
    tracks: Tracks, segments: Segments, frame_count: int, options: SolveOptions
) -> tuple[Segments, np.ndarray | None]:
    """The segments of the inlier tracks, and the observations to keep when they changed
    (None when the solve stands as it is)."""
    found = find_segments(tracks, frame_count, MIN_INLIER_TRACKS)
    if found == segments:
        return segments, None
    if not found.runs:
        raise InputError(
            f"After outlier rejection no run of {MIN_SEGMENT_FRAMES} frames shares "
            f"{MIN_INLIER_TRACKS} tracks: the plate cannot be solved."
        )
    # Tracks cut short by a kept frame still tie their other frames: two observations will do.
    return found, _keep_long_tracks(tracks, inside_segments(tracks, found, frame_count), 2)


def _gauge_segments(
    extrinsics: np.ndarray,
    network_depth: np.ndarray,
    solved_extrinsics: np.ndarray,
    solved_points: np.ndarray,
    tracks: Tracks,
    segments: Segments,
) -> tuple[np.ndarray, np.ndarray, Similarity]:
    """Each segment moved by its own similarity onto the network's cameras (kept frames: the
    network's); returns cameras [S, 3, 4], points [T, 3] and the longest segment's gauge."""
    frame_count = len(extrinsics)
    solved_depth = _median_depth_per_frame(
        _camera_depth(tracks, solved_points, solved_extrinsics), tracks, frame_count
    )
    reference_depth = _median_depth_per_frame(network_depth, tracks, frame_count)
    cameras, points = np.array(extrinsics, copy=True), np.array(solved_points, copy=True)
    point_segment = np.zeros(len(solved_points), np.int64)
    point_segment[tracks.track] = segments.frame_segment(frame_count)[tracks.frame]
    gauges = []
    for index, (first, last) in enumerate(segments.runs):
        frames = slice(first, last + 1)
        gauge = gauge_to(
            solved_extrinsics[frames],
            solved_depth[frames],
            extrinsics[frames],
            reference_depth[frames],
        )
        cameras[frames] = gauge.apply_cameras(solved_extrinsics[frames])
        inside = point_segment == index
        points[inside] = gauge.apply_points(solved_points[inside])
        gauges.append((last - first, gauge))
    return cameras, points, max(gauges, key=lambda pair: pair[0])[1]


def _split_runs(runs: list[tuple[int, int]], cut: list[int]) -> list[tuple[int, int]]:
    """The runs (first, last) less the frames in `cut`."""
    pieces = []
    for first, last in runs:
        start = first
        for frame in [*sorted(f for f in cut if first <= f <= last), last + 1]:
            if frame > start:
                pieces.append((start, frame - 1))
            start = frame + 1
    return pieces


def _worse_than_network(
    tracks: Tracks, errors: np.ndarray, start_errors: np.ndarray, frame_count: int
) -> list[int]:
    """Frames whose mean error through the solve is not below the network's on the same
    observations (a solve that went wrong there: they keep the network's camera)."""
    count = np.bincount(tracks.frame, minlength=frame_count)
    solved = np.bincount(tracks.frame, errors, minlength=frame_count)
    network = np.bincount(tracks.frame, start_errors, minlength=frame_count)
    return [int(frame) for frame in np.flatnonzero((count > 0) & (solved >= network))]


def _sample_depth(
    depth: np.ndarray, tracks: Tracks, plate_to_model: Mapping[str, float]
) -> np.ndarray:
    """Network depth [N] under each observation (bilinear; NaN outside the depth map)."""
    scale = np.array([plate_to_model["scale_x"], plate_to_model["scale_y"]])
    offset = np.array([plate_to_model["offset_x"], plate_to_model["offset_y"]])
    model_xy = tracks.xy * scale + offset - 0.5  # continuous corner -> array index
    coordinates = np.stack([tracks.frame.astype(np.float64), model_xy[:, 1], model_xy[:, 0]])
    return map_coordinates(depth, coordinates, order=1, mode="constant", cval=np.nan)


def _unproject_tracks(
    tracks: Tracks, depth: np.ndarray, extrinsics: np.ndarray, intrinsics: np.ndarray
) -> np.ndarray:
    """Start position [T, 3] of each track: the median over its observations of the network
    depth unprojected through the network camera (robust to a bad depth pixel or two)."""
    frame = tracks.frame
    focal = intrinsics[frame][:, [0, 1], [0, 1]]
    centre = intrinsics[frame][:, :2, 2]
    camera = np.concatenate([(tracks.xy - centre) / focal, np.ones((len(frame), 1))], axis=1)
    camera *= depth[:, None]
    rotations, translations = extrinsics[frame][:, :, :3], extrinsics[frame][:, :, 3]
    world = np.einsum("nji,nj->ni", rotations, camera - translations)
    return np.stack(
        [_group_median(world[:, axis], tracks.track, tracks.track_count) for axis in range(3)],
        axis=1,
    )


def _start_intrinsics(
    intrinsics: np.ndarray, tracks: Tracks, options: SolveOptions, pixel_aspect: float
) -> np.ndarray:
    """The network intrinsics made to fit the lens model: one focal length per frame (the
    geometric mean of fx and fy, as the Blender import takes it) with fy = fx * pixel_aspect
    (the adjustment keeps that ratio), the median of them when it is shared, the principal
    point at the plate centre."""
    start = np.array(intrinsics, copy=True)
    focal = np.sqrt(intrinsics[:, 0, 0] * intrinsics[:, 1, 1] / pixel_aspect)
    if options.focal == "shared":
        focal = np.full_like(focal, np.median(focal))
    start[:, 0, 0] = focal
    start[:, 1, 1] = focal * pixel_aspect
    start[:, 0, 2] = tracks.width / 2.0
    start[:, 1, 2] = tracks.height / 2.0
    return start


def _keep_long_tracks(tracks: Tracks, keep: np.ndarray, min_length: int) -> np.ndarray:
    """`keep`, less the observations of tracks left with fewer than `min_length` of them."""
    lengths = np.bincount(tracks.track[keep], minlength=tracks.track_count)
    return keep & (lengths[tracks.track] >= max(min_length, 2))


def _camera_depth(tracks: Tracks, points: np.ndarray, extrinsics: np.ndarray) -> np.ndarray:
    """Depth [N] of each observation's point along its camera's z axis."""
    frame = tracks.frame
    return (
        np.einsum("nj,nj->n", extrinsics[frame, 2, :3], points[tracks.track])
        + extrinsics[frame, 2, 3]
    )


def _median_depth_per_frame(values: np.ndarray, tracks: Tracks, frame_count: int) -> np.ndarray:
    """Median of `values` [N] per frame [S]; frames without observations get the overall one."""
    medians = _group_median(values, tracks.frame, frame_count)
    return np.where(np.isfinite(medians), medians, np.median(values))


def _group_median(values: np.ndarray, groups: np.ndarray, count: int) -> np.ndarray:
    """Median [count] of `values` per group id (NaN for an empty group), without a loop."""
    order = np.lexsort((values, groups))
    sizes = np.bincount(groups, minlength=count)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    ordered = values[order]
    lower = ordered[np.minimum(starts + (sizes - 1) // 2, len(values) - 1)]
    upper = ordered[np.minimum(starts + sizes // 2, len(values) - 1)]
    return np.where(sizes > 0, 0.5 * (lower + upper), np.nan)
