"""The solve's tracks as tracking markers on the plate's Movie Clip (docs/importer.md).

Artists inspect them in the Clip editor and can run Blender's own camera solver on them as a
second opinion. Blender's marker ``co`` is normalised to the clip, origin at the bottom left;
the bundle's plate pixels have the top-left pixel's centre at (0.5, 0.5) and y down, so
``co = (x / W, 1 - y / H)`` with no half-pixel term. Markers are stored in clip frames (the
clip's first frame is 1), and a clip shows clip frame 1 at scene frame ``clip.frame_start``.

A track's 3-D position (``MovieTrackingTrack.bundle``, ``has_bundle``) is read-only in every
Blender from 4.2 to 5.3: only Blender's own solver writes it, so the solve's 3-D points stay in
the bundle's ``solve/tracks.npz`` (the static cloud, re-aligned by the solve, shares their world).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import bpy
import numpy as np

from ..bundle_format import Bundle

TRACKS_PER_CELL = 4
"""Tracks kept per grid cell of the plate at each round of the spread-out choice."""

MIN_COMMON_TRACKS = 8
"""Tracks Blender's solver needs on both keyframes."""


@dataclass(frozen=True)
class MarkerImport:
    """What the import made: ``tracks`` of the bundle's ``available`` as ``markers``."""

    tracks: int
    available: int
    markers: int


def choose_tracks(tracks: dict[str, np.ndarray], width: int, height: int, limit: int) -> np.ndarray:
    """Indices (into ``tracks["points"]``) of at most ``limit`` tracks, long and spread out.

    The plate is cut into about ``limit / TRACKS_PER_CELL`` cells (a track belongs to the cell
    of its mean position); each cell's tracks are ranked longest first (lowest mean error among
    equals), and the choice takes every cell's best, then every cell's second, and so on, so
    an empty sky does not lose to a busy wall. ``limit`` <= 0 keeps none.
    """
    count = len(tracks["points"])
    if limit <= 0 or count == 0:
        return np.empty(0, np.int64)
    owner = tracks["track_index"].astype(np.int64)
    length = np.bincount(owner, minlength=count)
    seen = np.flatnonzero(length)
    if len(seen) <= limit:
        return seen
    xy = tracks["xy"].astype(np.float64)
    mean = np.stack([np.bincount(owner, xy[:, a], count) for a in (0, 1)], axis=1)
    mean /= np.maximum(length, 1)[:, None]
    error = np.bincount(owner, tracks["error_px"].astype(np.float64), count)
    error /= np.maximum(length, 1)
    cells = max(1, limit // TRACKS_PER_CELL)
    rows = max(1, round(math.sqrt(cells * height / width)))
    columns = max(1, round(cells / rows))
    column = np.clip((mean[seen, 0] / width * columns).astype(np.int64), 0, columns - 1)
    row = np.clip((mean[seen, 1] / height * rows).astype(np.int64), 0, rows - 1)
    cell = row * columns + column
    by_cell = np.lexsort((error[seen], -length[seen], cell))  # cell, longest, best
    sorted_cell = cell[by_cell]
    first_of_cell = np.searchsorted(sorted_cell, sorted_cell, side="left")
    rank = np.empty(len(seen), np.int64)
    rank[by_cell] = np.arange(len(seen)) - first_of_cell
    order = np.lexsort((error[seen], -length[seen], rank))
    return np.sort(seen[order[:limit]])


def import_markers(
    clip: bpy.types.MovieClip, bundle: Bundle, tracks: dict[str, np.ndarray], limit: int
) -> MarkerImport:
    """Add the chosen tracks (``choose_tracks``) to ``clip``'s camera tracks, named
    ``Track.NNNNNN`` after their index in ``solve/tracks.npz``.

    Each observation becomes an enabled marker at its plate frame; a disabled marker at the
    plate frame before and after each run of reconstructed frames the track is seen on hides
    it where it is not (as Blender's own tracker ends a track). Markers are added one call each
    (``insert_frame``, about 1 us) and filled with one ``foreach_set`` per track.
    """
    chosen = choose_tracks(tracks, bundle.plate_width, bundle.plate_height, limit)
    available = len(np.unique(tracks["track_index"]))
    if len(chosen) == 0:
        return MarkerImport(0, available, 0)
    keep = np.isin(tracks["track_index"], chosen)
    owner = tracks["track_index"][keep].astype(np.int64)
    index = tracks["frame_index"][keep].astype(np.int64)
    xy = tracks["xy"][keep].astype(np.float64)
    order = np.lexsort((index, owner))
    owner, index, xy = owner[order], index[order], xy[order]
    co = np.stack([xy[:, 0] / bundle.plate_width, 1.0 - xy[:, 1] / bundle.plate_height], axis=1)
    starts = np.searchsorted(owner, chosen, side="left")
    ends = np.searchsorted(owner, chosen, side="right")
    clip_frames = np.asarray(bundle.frames, np.int64) - clip.frame_start + 1
    keyframes = choose_keyframes(owner, index)
    if keyframes is not None:
        solved_object = clip.tracking.objects.active
        solved_object.keyframe_a, solved_object.keyframe_b = clip_frames[list(keyframes)].tolist()
    collection = clip.tracking.tracks
    markers = 0
    for track_id, start, end in zip(chosen.tolist(), starts.tolist(), ends.tolist(), strict=True):
        frames, positions, muted = _track_markers(index[start:end], co[start:end], clip_frames)
        track = collection.new(name=f"Track.{track_id:06d}", frame=int(frames[0]))
        track.select = False
        insert = track.markers.insert_frame
        for frame in frames[1:].tolist():
            insert(frame)
        track.markers.foreach_set("co", positions.astype(np.float32).ravel())
        track.markers.foreach_set("mute", muted)
        markers += int(np.count_nonzero(~muted))
    return MarkerImport(len(chosen), available, markers)


def choose_keyframes(owner: np.ndarray, index: np.ndarray) -> tuple[int, int] | None:
    """Keyframes for Blender's solver (reconstructed-frame indices a < b), or None.

    Blender's default pair (clip frames 1 and 30) may share too few tracks or lie outside a
    short shot, and its automatic choice (*Keyframe*) takes minutes with a thousand tracks
    (an eigen-decomposition per candidate frame). a is the first frame that sees at least
    ``MIN_COMMON_TRACKS`` tracks; b the last frame still sharing half of a's tracks (the widest
    baseline that keeps the pair well supported), else the last sharing ``MIN_COMMON_TRACKS``.
    owner, index: the imported observations' track and reconstructed frame.
    """
    if len(index) == 0:
        return None
    per_frame = np.bincount(index)
    busy = np.flatnonzero(per_frame >= MIN_COMMON_TRACKS)
    if len(busy) == 0:
        return None
    first = int(busy[0])
    common = np.bincount(index[np.isin(owner, owner[index == first])], minlength=len(per_frame))
    common[: first + 1] = 0
    for needed in (max(MIN_COMMON_TRACKS, per_frame[first] // 2), MIN_COMMON_TRACKS):
        later = np.flatnonzero(common >= needed)
        if len(later):
            return first, int(later[-1])
    return None


def _track_markers(
    index: np.ndarray, co: np.ndarray, clip_frames: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One track's markers sorted by clip frame: frames int [M], co [M, 2], muted bool [M].

    ``index``: the reconstructed frames it is seen on (sorted), ``co`` its normalised positions
    there; a disabled marker goes one plate frame before each run of consecutive reconstructed
    frames and one after it.
    """
    run_start = np.ones(len(index), bool)
    run_start[1:] = index[1:] != index[:-1] + 1
    run_end = np.ones(len(index), bool)
    run_end[:-1] = run_start[1:]
    seen = clip_frames[index]
    frames = np.concatenate([seen, seen[run_start] - 1, seen[run_end] + 1])
    positions = np.concatenate([co, co[run_start], co[run_end]])
    ends = np.count_nonzero(run_start) + np.count_nonzero(run_end)
    muted = np.concatenate([np.zeros(len(seen), bool), np.ones(ends, bool)])
    order = np.argsort(frames, kind="stable")
    frames, positions, muted = frames[order], positions[order], muted[order]
    # With a stride, a run's end + 1 can be the next run's start - 1: keep one disabled marker.
    unique = np.ones(len(frames), bool)
    unique[1:] = frames[1:] != frames[:-1]
    return frames[unique], positions[unique], muted[unique]
