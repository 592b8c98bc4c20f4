"""Exports of a bundle to formats other tools read: COLMAP text model, TUM trajectory, PLY.

Numpy only. Pixel convention: our plate intrinsics use continuous coordinates whose origin is
the top-left corner of the top-left pixel (pixel centres at i + 0.5). COLMAP uses the same
convention (the centre of the top-left pixel is (0.5, 0.5)), so plate intrinsics are written
unchanged (PINHOLE fx fy cx cy; OPENCV or FULL_OPENCV with a solved lens distortion).
"""

import shutil
from pathlib import Path

import cv2
import numpy as np

from vggt4d.errors import InputError
from vggt4d.geometry import invert_se3, quat_wxyz_from_rotation
from vggt4d.io.bundle import BundleData
from vggt4d.io.footage import FrameRange, read_footage
from vggt4d.io.ply import write_ply

IMAGES_FOLDER = "images"
"""Where ``export_colmap(..., write_images=True)`` puts the plate frames, beside the model."""


def _colmap_lens(data: BundleData) -> tuple[str, tuple[float, ...]]:
    """COLMAP's camera model for the bundle's lens: PINHOLE without distortion, OPENCV
    (k1, k2, p1 = p2 = 0) for a solved k1/k2 lens, FULL_OPENCV (k4..k6 = 0 leaves its rational
    term at 1) when k3 is used: each is exactly the bundle's polynomial model."""
    lens = (data.solve or {}).get("distortion", {})
    k1, k2, k3 = (float(lens.get(name, 0.0)) for name in ("k1", "k2", "k3"))
    if k1 == k2 == k3 == 0.0:
        return "PINHOLE", ()
    if k3 == 0.0:
        return "OPENCV", (k1, k2, 0.0, 0.0)
    return "FULL_OPENCV", (k1, k2, 0.0, 0.0, k3, 0.0, 0.0, 0.0)


def _track_observations(data: BundleData) -> list[str]:
    """POINTS2D line of each image: the solve's tracks (X, Y, POINT3D_ID), empty without."""
    lines = [[] for _ in data.frames]
    if data.tracks is not None:
        tracks = data.tracks
        for frame, track, (x, y) in zip(
            tracks["frame_index"], tracks["track_index"], tracks["xy"], strict=True
        ):
            lines[frame].append(f"{x:.6f} {y:.6f} {track + 1}")
    return [" ".join(line) for line in lines]


def _track_points(data: BundleData) -> list[str]:
    """The solve's 3-D points with their mean reprojection error and (IMAGE_ID, POINT2D_IDX)."""
    if data.tracks is None:
        return []
    tracks = data.tracks
    count = len(tracks["points"])
    index_in_image = np.zeros(len(tracks["frame_index"]), np.int64)
    seen = np.zeros(len(data.frames), np.int64)
    for number, frame in enumerate(tracks["frame_index"]):
        index_in_image[number] = seen[frame]
        seen[frame] += 1
    members: list[list[str]] = [[] for _ in range(count)]
    for number, (frame, track) in enumerate(
        zip(tracks["frame_index"], tracks["track_index"], strict=True)
    ):
        members[track].append(f"{frame + 1} {index_in_image[number]}")
    totals = np.bincount(tracks["track_index"], tracks["error_px"], minlength=count)
    lengths = np.maximum(np.bincount(tracks["track_index"], minlength=count), 1)
    return [
        f"{index + 1} {x:.9g} {y:.9g} {z:.9g} 128 128 128 {totals[index] / lengths[index]:.6g} "
        + " ".join(members[index])
        for index, (x, y, z) in enumerate(tracks["points"])
    ]


def image_names(data: BundleData) -> list[str]:
    """The COLMAP image name of each frame: the source file's own name for an image sequence
    (``plate.0001.png``), so COLMAP, pycolmap and Gaussian-splatting trainers find the
    plates; ``<video stem>.<frame:06d>.png`` for a video (written by ``write_images``)."""
    files = data.source.get("files")
    if isinstance(files, list) and len(files) == len(data.frames):
        return [Path(str(name)).name for name in files]
    stem = Path(str(data.source.get("path", ""))).stem.replace("%", "") or "frame"
    return [f"{stem}.{frame:06d}.png" for frame in data.frames]


def write_plate_images(data: BundleData, directory: str | Path) -> Path:
    """Write (video) or copy (sequence) the reconstructed plate frames into ``directory``
    under ``image_names``; raises InputError when the footage is not there any more."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    names = image_names(data)
    source = data.source
    if isinstance(source.get("files"), list):
        folder = _sequence_folder(str(source["path"]))
        for name in names:
            if not (folder / name).is_file():
                raise InputError(f"The plate {folder / name} is missing; cannot copy it.")
            shutil.copy2(folder / name, directory / name)
        return directory
    frames = [int(frame) for frame in data.frames]
    footage = read_footage(
        source["path"],
        FrameRange(frames[0], frames[-1]),
        first_video_frame=int(source.get("frame_start", 1)),
    )
    by_number = dict(zip(footage.frame_numbers, footage.frames, strict=True))
    for frame, name in zip(frames, names, strict=True):
        if frame not in by_number:
            raise InputError(f"Frame {frame} of {source['path']} does not decode any more.")
        cv2.imwrite(str(directory / name), cv2.cvtColor(by_number[frame], cv2.COLOR_RGB2BGR))
    return directory


def _sequence_folder(pattern: str) -> Path:
    path = Path(pattern)
    return path if path.is_dir() else path.parent


def export_colmap(data: BundleData, directory: str | Path, write_images: bool = False) -> Path:
    """Write cameras.txt, images.txt and points3D.txt (COLMAP text model) into `directory`.

    One camera per frame in plate pixels (VGGT predicts a focal length per frame; PINHOLE, or
    OPENCV / FULL_OPENCV with a solved lens distortion), world-to-camera poses, the solve's
    tracks as 2-D observations and 3-D points with their mean error (when the bundle has a
    solve), then the static cloud as 3-D points with an error of 0 and empty tracks. Images
    are named by ``image_names``; ``write_images`` also writes the frames into
    ``directory/images`` (needed for a video plate).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    names = image_names(data)
    if write_images:
        write_plate_images(data, directory / IMAGES_FOLDER)
    model, extra = _colmap_lens(data)
    camera_lines = ["# Camera list: CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]"]
    for index, intrinsics in enumerate(data.intrinsics):
        fx, fy, cx, cy = intrinsics[0, 0], intrinsics[1, 1], intrinsics[0, 2], intrinsics[1, 2]
        values = " ".join(f"{value:.17g}" for value in (fx, fy, cx, cy, *extra))
        camera_lines.append(f"{index + 1} {model} {data.plate_width} {data.plate_height} {values}")
    observations = _track_observations(data)
    image_lines = [
        "# Image list with two lines of data per image:",
        "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME",
        "#   POINTS2D[] as (X, Y, POINT3D_ID)",
    ]
    quaternions = quat_wxyz_from_rotation(np.asarray(data.extrinsics[:, :, :3], np.float64))
    for index, (quaternion, extrinsics) in enumerate(
        zip(quaternions, data.extrinsics, strict=True)
    ):
        values = " ".join(f"{value:.17g}" for value in (*quaternion, *extrinsics[:, 3]))
        image_lines += [f"{index + 1} {values} {index + 1} {names[index]}", observations[index]]
    point_lines = ["# 3D point list: POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[]"]
    point_lines += _track_points(data)
    first_id = len(point_lines)
    for index, (position, color) in enumerate(
        zip(data.static_points, data.static_colors, strict=True)
    ):
        x, y, z = (f"{value:.9g}" for value in position)
        point_lines.append(f"{first_id + index} {x} {y} {z} {color[0]} {color[1]} {color[2]} 0")
    for name, lines in (
        ("cameras.txt", camera_lines),
        ("images.txt", image_lines),
        ("points3D.txt", point_lines),
    ):
        (directory / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


def tum_timestamps(data: BundleData) -> list[float]:
    """Seconds of each frame in a TUM trajectory of this bundle: the real presentation time
    for a video (``source.timestamps``: right for variable frame rate), else plate frame
    number / fps. `vggt4d eval` matches a generic ground truth's trajectory with the same."""
    times = data.source.get("timestamps")
    if isinstance(times, list) and len(times) == len(data.frames):
        return [float(time) for time in times]
    return [frame / data.fps for frame in data.frames]


def export_tum(data: BundleData, path: str | Path) -> Path:
    """Write the trajectory in standard TUM order: `timestamp tx ty tz qx qy qz qw`,
    camera-to-world, timestamps from `tum_timestamps`. (The official VGGT4D demo writes
    `t x y z qw qx qy qz`, which is not TUM.)"""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    poses = invert_se3(np.asarray(data.extrinsics, dtype=np.float64))  # world_from_cam
    quaternions = quat_wxyz_from_rotation(poses[:, :, :3])
    lines = ["# timestamp tx ty tz qx qy qz qw (camera-to-world, OpenCV camera axes)"]
    for time, pose, (w, x, y, z) in zip(tum_timestamps(data), poses, quaternions, strict=True):
        values = (*pose[:, 3], x, y, z, w)
        lines.append(f"{float(time):.9f} " + " ".join(f"{value:.17g}" for value in values))
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


def export_ply(data: BundleData, path: str | Path, include_dynamic: bool = False) -> Path:
    """Write the static cloud (and, with `include_dynamic`, every frame's dynamic points) as
    binary PLY with colours; confidence is written only for the static-only cloud."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not include_dynamic:
        return write_ply(path, data.static_points, data.static_colors, data.static_confidence)
    positions = np.concatenate([data.static_points, data.dynamic_points])
    colors = np.concatenate([data.static_colors, data.dynamic_colors])
    return write_ply(path, positions, colors)
