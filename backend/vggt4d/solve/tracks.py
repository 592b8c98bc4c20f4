"""2-D tracks of static scene points on the full-resolution plate (pyramidal Lucas-Kanade).

Shi-Tomasi corners are detected away from excluded pixels (dynamic masks, artist mattes,
transparent pixels), followed frame to frame with OpenCV's pyramidal Lucas-Kanade and kept only
when tracking back lands within `forward_backward_px` of the start (the forward-backward check
of Kalal et al. 2010). New corners are detected wherever the tracks thinned out, so long tracks
survive and the frame stays covered. A track ends the moment it enters an excluded pixel.

Coordinates follow the bundle: continuous plate pixels whose origin is the top-left corner of
the top-left pixel (a pixel centre is at `i + 0.5`; OpenCV puts it at `i`, hence the shift).
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from vggt4d.errors import InputError
from vggt4d.option_types import check_values, options_from_json
from vggt4d.solve.affine_tracking import AffineTemplates

_OPENCV_TO_BUNDLE = 0.5


@dataclass(frozen=True)
class TrackOptions:
    """How the plate is tracked.

    max_tracks: live tracks aimed for in every frame (new corners are added up to this).
    forward_backward_px: largest forward-backward error of a kept step, plate pixels.
    window: Lucas-Kanade window side in pixels at 1920 px plate width (scaled with the plate,
        never below 11); pyramid_levels: extra pyramid levels.
    exclusion_margin_px: excluded regions grow by this many pixels (at 1920 px width) so that
        no tracking window straddles a mover's edge.
    min_length: tracks seen in fewer frames are dropped (they cannot constrain the cameras).
    max_length: longer tracks are cut into pieces of at most this many frames, each its own
        3-D point, at staggered frames so every frame boundary stays bridged. It bounds the
        bundle adjustment's cost per frame (each point couples every pair of frames that see
        it), so a long, slow or locked-off shot solves in time linear in its length.
    """

    max_tracks: int = 1500
    forward_backward_px: float = 0.5
    window: int = 31
    pyramid_levels: int = 3
    exclusion_margin_px: float = 12.0
    min_length: int = 3
    max_length: int = 64

    def __post_init__(self) -> None:
        check_values(
            self,
            at_least={
                "max_tracks": 1,
                "window": 1,
                "min_length": 1,
                "max_length": max(2, self.min_length),
                "pyramid_levels": 0,
                "exclusion_margin_px": 0,
            },
            above={"forward_backward_px": 0},
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrackOptions":
        """Build from JSON-like data; unknown keys and wrong types are refused (InputError)."""
        return cls(**options_from_json(cls, data, "tracking options"))


@dataclass
class Tracks:
    """Observations of static points: observation n sees track `track[n]` in frame `frame[n]`
    at plate pixel `xy[n]`. Sorted by frame, then track."""

    frame: np.ndarray  # int32 [N], index into the shot's frames (0..S-1)
    track: np.ndarray  # int32 [N], 0..T-1
    xy: np.ndarray  # float64 [N, 2], plate pixels (bundle convention)
    width: int  # plate size in pixels
    height: int

    @property
    def track_count(self) -> int:
        return int(self.track.max()) + 1 if len(self.track) else 0

    def subset(self, keep: np.ndarray) -> "Tracks":
        """The observations where `keep` (bool [N]) holds, tracks renumbered 0..T'-1."""
        _, renumbered = np.unique(self.track[keep], return_inverse=True)
        return Tracks(
            self.frame[keep], renumbered.astype(np.int32), self.xy[keep], self.width, self.height
        )


def track_plate(
    frames: Sequence[np.ndarray],
    exclude: Sequence[np.ndarray | None] | None = None,
    options: TrackOptions | None = None,
    progress: Callable[[float], None] | None = None,
) -> Tracks:
    """Track static corners through the plate.

    frames: S images uint8 [H, W, 3] RGB, [H, W] grey or [H, W, 4] RGBA (alpha below half is
        excluded); any sequence, read once in order, so a lazy reader keeps memory flat.
    exclude: S bool [H, W] (True = never track there: movers, mattes) or None entries.
    progress(fraction) is called after every frame (it may raise to cancel).
    Raises InputError when frames disagree in size or nothing trackable is found.
    """
    options = options or TrackOptions()
    count = len(frames)
    previous_grey: np.ndarray | None = None
    live_ids = np.zeros(0, np.int64)
    live_points = np.zeros((0, 2), np.float32)
    next_id = 0
    observed_frames: list[np.ndarray] = []
    observed_ids: list[np.ndarray] = []
    observed_points: list[np.ndarray] = []
    shape: tuple[int, int] | None = None
    for index in range(count):
        grey, allowed = _prepare(frames[index], None if exclude is None else exclude[index])
        if shape is None:
            shape = grey.shape
            window, margin = _scaled_sizes(shape[1], options)
            spacing = _spacing(shape, options.max_tracks)
            templates = AffineTemplates(window)
        elif grey.shape != shape:
            raise InputError(f"Plate frame {index} is {grey.shape[::-1]}, not {shape[::-1]}.")
        allowed = _shrink(allowed, margin)
        if previous_grey is not None and len(live_points):
            followed, moved = _follow(previous_grey, grey, live_points, window, options)
            live_ids = live_ids[followed]
            templates.select(followed)
            moved, trusted = templates.refine(grey, moved[followed])
            keep = trusted & _lookup(allowed, moved)
            live_ids, live_points = live_ids[keep], moved[keep]
            templates.select(keep)
        if len(live_points) < options.max_tracks:
            fresh = _detect(
                grey, allowed, live_points, options.max_tracks - len(live_points), spacing
            )
            live_ids = np.concatenate([live_ids, np.arange(next_id, next_id + len(fresh))])
            live_points = np.concatenate([live_points, fresh])
            templates.add(grey, fresh)
            next_id += len(fresh)
        observed_frames.append(np.full(len(live_ids), index, np.int32))
        observed_ids.append(live_ids.copy())
        observed_points.append(live_points.astype(np.float64) + _OPENCV_TO_BUNDLE)
        previous_grey = grey
        if progress is not None:
            progress((index + 1) / count)
    tracks = Tracks(
        np.concatenate(observed_frames),
        np.concatenate(observed_ids).astype(np.int32),
        np.concatenate(observed_points).reshape(-1, 2),
        shape[1],
        shape[0],
    )
    tracks = _cut_long_tracks(tracks, options.max_length)
    lengths = np.bincount(tracks.track, minlength=tracks.track_count)
    tracks = tracks.subset(lengths[tracks.track] >= options.min_length)
    if tracks.track_count == 0:
        raise InputError(
            "No static feature could be tracked through the plate: it is too flat, too short "
            "or entirely masked."
        )
    return tracks


def _cut_long_tracks(tracks: Tracks, max_length: int) -> Tracks:
    """Tracks longer than `max_length` frames cut into pieces of at most that many, each
    track at its own phase (its id modulo max_length) so that the cuts do not line up."""
    count = tracks.track_count
    first = np.full(count, np.iinfo(np.int64).max)
    np.minimum.at(first, tracks.track, tracks.frame.astype(np.int64))
    lengths = np.bincount(tracks.track, minlength=count)
    age = tracks.frame - first[tracks.track]  # a live track is seen in every frame until it ends
    phase = np.where(lengths > max_length, np.arange(count) % max_length, 0)[tracks.track]
    piece = np.where(lengths[tracks.track] > max_length, (age + phase) // max_length, 0)
    key = tracks.track.astype(np.int64) * (piece.max(initial=0) + 1) + piece
    _, renumbered = np.unique(key, return_inverse=True)
    return Tracks(tracks.frame, renumbered.astype(np.int32), tracks.xy, tracks.width, tracks.height)


def _prepare(image: np.ndarray, exclude: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 grey [H, W], bool allowed [H, W]) of one plate frame."""
    image = np.asarray(image)
    allowed = np.ones(image.shape[:2], bool)
    if image.ndim == 3 and image.shape[2] == 4:
        allowed &= image[..., 3] >= 128
        image = image[..., :3]
    if image.dtype != np.uint8:
        raise InputError(f"Plate frames must be 8-bit, got {image.dtype}.")
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    if exclude is not None:
        exclude = np.asarray(exclude, bool)
        if exclude.shape != grey.shape:
            raise InputError(f"A mask is {exclude.shape[::-1]}, the plate {grey.shape[::-1]}.")
        allowed &= ~exclude
    return np.ascontiguousarray(grey), allowed


def _scaled_sizes(width: int, options: TrackOptions) -> tuple[int, int]:
    """Window side (odd) and exclusion margin in pixels for a plate `width` pixels wide."""
    scale = width / 1920.0
    window = max(11, round(options.window * scale) | 1)
    margin = int(np.ceil(options.exclusion_margin_px * scale))
    return window, max(margin, window // 2)


def _spacing(shape: tuple[int, int], max_tracks: int) -> float:
    """Least distance between corners so that `max_tracks` of them can cover the frame."""
    return max(3.0, 0.5 * float(np.sqrt(shape[0] * shape[1] / max_tracks)))


def _shrink(allowed: np.ndarray, margin: int) -> np.ndarray:
    if margin <= 0 or allowed.all():
        return allowed
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    return cv2.erode(allowed.astype(np.uint8), kernel, borderValue=1).astype(bool)


def _follow(
    previous: np.ndarray,
    current: np.ndarray,
    points: np.ndarray,
    window: int,
    options: TrackOptions,
) -> tuple[np.ndarray, np.ndarray]:
    """Lucas-Kanade forward and back: (kept bool [P], positions float32 [P, 2] in `current`)."""
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 40, 0.001)
    parameters = {
        "winSize": (window, window),
        "maxLevel": options.pyramid_levels,
        "criteria": criteria,
    }
    start = points.reshape(-1, 1, 2).astype(np.float32)
    moved, found, _ = cv2.calcOpticalFlowPyrLK(previous, current, start, None, **parameters)
    back, found_back, _ = cv2.calcOpticalFlowPyrLK(current, previous, moved, None, **parameters)
    error = np.linalg.norm((back - start).reshape(-1, 2), axis=1)
    keep = found.ravel().astype(bool) & found_back.ravel().astype(bool)
    keep &= error <= options.forward_backward_px
    return keep, moved.reshape(-1, 2)


def _lookup(allowed: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Whether each OpenCV-convention point lies on an allowed pixel inside the frame."""
    height, width = allowed.shape
    columns = np.floor(points[:, 0] + 0.5).astype(np.int64)
    rows = np.floor(points[:, 1] + 0.5).astype(np.int64)
    inside = (columns >= 0) & (columns < width) & (rows >= 0) & (rows < height)
    result = np.zeros(len(points), bool)
    result[inside] = allowed[rows[inside], columns[inside]]
    return result


def _detect(
    grey: np.ndarray, allowed: np.ndarray, existing: np.ndarray, wanted: int, spacing: float
) -> np.ndarray:
    """Up to `wanted` new Shi-Tomasi corners on allowed pixels, `spacing` from existing ones."""
    mask = allowed.astype(np.uint8) * 255
    radius = int(np.ceil(spacing))
    for x, y in np.rint(existing).astype(int):
        cv2.circle(mask, (int(x), int(y)), radius, 0, -1)
    corners = cv2.goodFeaturesToTrack(
        grey,
        maxCorners=wanted,
        qualityLevel=0.01,
        minDistance=spacing,
        mask=mask,
        blockSize=7,
    )
    if corners is None:
        return np.zeros((0, 2), np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.001)
    cv2.cornerSubPix(grey, corners, (3, 3), (-1, -1), criteria)
    return corners.reshape(-1, 2)
