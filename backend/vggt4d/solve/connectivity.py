"""Which frames a solve can tie together, and which keep the network's camera.

A bundle adjustment fixes the cameras of frames that share tracks relative to each other; two
runs of frames with too few tracks in common (a whip pan that breaks every track, a hard cut, a
run of white, black or fully covered frames) are two separate solves, each with its own
similarity gauge. Solving them as one and gauging them with one similarity puts one run far off
(measured: a 6 degree whip with 60 tracks a frame, ATE 0.32 against the network's 0.14).

So the shot is cut into segments: maximal runs of frames in which every boundary between
neighbouring frames is crossed by at least `MIN_TRACKS` tracks (seen on both sides). Frames
with fewer than `MIN_TRACKS` observations, and segments shorter than `MIN_SEGMENT_FRAMES`,
cannot be solved: they keep the network's camera. Twelve tracks: a pose has six unknowns and a
track two residuals a frame, so twelve give a four-fold redundancy, enough for the outlier
rounds to leave a usable pose; fewer leave poses that fit their tracks and nothing else.
After the outlier rounds the inliers are cut again with a lower bar, `MIN_INLIER_TRACKS`: the
outliers are gone (a whip's "surviving" tracks are outliers: 14 cross it before rejection, 1
after), and cutting a frame shortens its neighbours' tracks, so the same bar would erode
frame after frame (measured: 4 frames lost beside a whip with 12, none with 8).
"""

from dataclasses import dataclass

import numpy as np

from vggt4d.solve.tracks import Tracks

MIN_TRACKS = 12  # observations a frame needs, and tracks a boundary between frames needs
MIN_INLIER_TRACKS = 8  # the same, counting the inliers after the outlier rounds
MIN_SEGMENT_FRAMES = 3  # a track needs three frames (TrackOptions.min_length's default)


@dataclass(frozen=True)
class Segments:
    """runs: (first, last) frame of each solvable run, inclusive, ascending; kept: frames outside
    every run (their camera stays the network's)."""

    runs: list[tuple[int, int]]
    kept: list[int]

    def frame_segment(self, frame_count: int) -> np.ndarray:
        """Segment index [S] of each frame, -1 for a kept frame."""
        labels = np.full(frame_count, -1)
        for index, (first, last) in enumerate(self.runs):
            labels[first : last + 1] = index
        return labels


def find_segments(tracks: Tracks, frame_count: int, min_tracks: int = MIN_TRACKS) -> Segments:
    """Cut the shot where fewer than `min_tracks` tracks tie neighbouring frames or a frame has
    fewer observations (module docstring)."""
    per_frame = np.bincount(tracks.frame, minlength=frame_count)
    first = np.full(tracks.track_count, frame_count)
    last = np.full(tracks.track_count, -1)
    np.minimum.at(first, tracks.track, tracks.frame)
    np.maximum.at(last, tracks.track, tracks.frame)
    # Tracks crossing the boundary after frame k: first <= k < last.
    starts = np.bincount(first[last >= 0], minlength=frame_count + 1)[:frame_count]
    ends = np.bincount(last[last >= 0], minlength=frame_count)
    crossing = np.cumsum(starts - ends)[:-1]  # [S-1]
    runs, kept, start = [], [], None
    for frame in range(frame_count):
        if per_frame[frame] < min_tracks:
            start = _close(runs, kept, start, frame - 1)
            kept.append(frame)
            continue
        if start is None:
            start = frame
        if frame == frame_count - 1 or crossing[frame] < min_tracks:
            start = _close(runs, kept, start, frame)
    return Segments(runs=runs, kept=sorted(kept))


def _close(runs: list, kept: list, start: int | None, last: int) -> None:
    """End the run started at `start` at frame `last`: a segment, or kept if too short."""
    if start is not None:
        if last - start + 1 >= MIN_SEGMENT_FRAMES:
            runs.append((start, last))
        else:
            kept.extend(range(start, last + 1))
    return None


def inside_segments(tracks: Tracks, segments: Segments, frame_count: int) -> np.ndarray:
    """Observations [N] bool to keep: those in a segment's frames, of tracks seen in one
    segment only (the few tracks across a break tie nothing and would bend both sides)."""
    labels = segments.frame_segment(frame_count)[tracks.frame]
    low = np.full(tracks.track_count, np.iinfo(np.int64).max)
    high = np.full(tracks.track_count, -2)
    np.minimum.at(low, tracks.track, np.where(labels >= 0, labels, low[0]))
    np.maximum.at(high, tracks.track, labels)
    return (labels >= 0) & (low[tracks.track] == high[tracks.track])
