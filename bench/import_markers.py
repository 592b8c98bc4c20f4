"""Import speed of the solve's tracks as Movie Clip markers (importers/markers.py).

Makes a solve's worth of tracks (default 300 frames, 20 000 tracks of 10-120 frames), then
times, side by side in one run, for several track limits: the choice of tracks, our marker
import (``insert_frame`` per marker, then one ``foreach_set`` of ``co`` and ``mute`` per
track) and the plain per-marker way (``insert_frame(frame, co=...)`` and ``marker.mute``
set one by one), and prints the ratio. Run from the repository root:

    .venv/bin/python bench/import_markers.py [--frames 300 --tracks 20000 --limits 1000 5000]

Measured (2 shared cores, bpy 5.0): 1000 tracks = 116 160 markers in 0.54 s against 4.9 s
per marker (9x); 5000 tracks = 508 269 markers in 1.0 s against 20.8 s (21x); all 20 000
tracks = 1.29 M markers in 30 s against 211 s: the time inside Blender's ``tracks.new`` and
``insert_frame`` grows faster than the marker count once a clip holds many tracks, which is one
more reason for the cap.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="vggt4d-bench-"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bpy

from vggt4d_blender.importers import markers

WIDTH, HEIGHT = 1920, 1080


def make_tracks(frames: int, count: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    length = rng.integers(10, 120, count).clip(max=frames)
    start = rng.integers(0, frames - length + 1)
    track_index = np.repeat(np.arange(count), length)
    offsets = np.arange(len(track_index)) - np.repeat(np.cumsum(length) - length, length)
    centre = rng.uniform([0, 0], [WIDTH, HEIGHT], (count, 2))
    return {
        "track_index": track_index.astype(np.int32),
        "frame_index": (np.repeat(start, length) + offsets).astype(np.int32),
        "xy": (centre[track_index] + offsets[:, None] * 0.5).astype(np.float32),
        "error_px": rng.uniform(0, 0.5, len(track_index)).astype(np.float32),
        "points": rng.normal(size=(count, 3)).astype(np.float32),
    }


def new_clip(folder: Path) -> bpy.types.MovieClip:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    image = bpy.data.images.new("plate", 8, 8)
    image.filepath_raw = str(folder / "plate.1001.png")
    image.file_format = "PNG"
    image.save()
    clip = bpy.data.movieclips.load(str(folder / "plate.1001.png"))
    clip.frame_start = 1001
    return clip


def per_marker(clip, bundle, tracks, limit: int) -> int:
    """The plain way: one insert_frame with co per marker, mute set marker by marker."""
    chosen = markers.choose_tracks(tracks, bundle.plate_width, bundle.plate_height, limit)
    count = 0
    for track_id in chosen.tolist():
        mine = tracks["track_index"] == track_id
        index = tracks["frame_index"][mine]
        co = np.stack([tracks["xy"][mine, 0] / WIDTH, 1 - tracks["xy"][mine, 1] / HEIGHT], 1)
        frames = np.asarray(bundle.frames)[index] - clip.frame_start + 1
        track = clip.tracking.tracks.new(name=f"Track.{track_id:06d}", frame=int(frames[0]) - 1)
        track.markers[0].mute = True
        for frame, position in zip(frames.tolist(), co.tolist(), strict=True):
            track.markers.insert_frame(frame, co=position)
            count += 1
        track.markers.insert_frame(int(frames[-1]) + 1).mute = True
    return count


def timed(function, *args) -> tuple[float, object]:
    started = time.perf_counter()
    value = function(*args)
    return time.perf_counter() - started, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--tracks", type=int, default=20_000)
    parser.add_argument(
        "--limits", type=int, nargs="+", default=[1000, 2000, 5000], help="track limits to time"
    )
    args = parser.parse_args()
    tracks = make_tracks(args.frames, args.tracks)
    bundle = SimpleNamespace(
        plate_width=WIDTH, plate_height=HEIGHT, frames=np.arange(1001, 1001 + args.frames)
    )
    print(f"{args.tracks} tracks, {len(tracks['xy'])} observations over {args.frames} frames")
    print("limit   markers   choice s   ours s   per-marker s   ratio")
    with tempfile.TemporaryDirectory(prefix="vggt4d-bench-markers-") as folder:
        for limit in args.limits:
            choice, _ = timed(markers.choose_tracks, tracks, WIDTH, HEIGHT, limit)
            clip = new_clip(Path(folder))
            ours, made = timed(markers.import_markers, clip, bundle, tracks, limit)
            plain, _ = timed(per_marker, new_clip(Path(folder)), bundle, tracks, limit)
            print(
                f"{limit:6d} {made.markers:9d} {choice:9.3f} {ours:8.3f} {plain:14.3f} "
                f"{plain / ours:7.2f}x"
            )


if __name__ == "__main__":
    main()
