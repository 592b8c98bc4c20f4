"""Exports of a bundle to formats other tools read: COLMAP text model, TUM trajectory, PLY.

Numpy only. Pixel convention: our plate intrinsics use continuous coordinates whose origin is
the top-left corner of the top-left pixel (pixel centres at i + 0.5). COLMAP uses the same
convention (the centre of the top-left pixel is (0.5, 0.5)), so plate intrinsics are written
unchanged as PINHOLE fx fy cx cy.
"""

from pathlib import Path

import numpy as np

from vggt4d.geometry import invert_se3, quat_wxyz_from_rotation
from vggt4d.io.bundle import BundleData
from vggt4d.io.ply import write_ply


def image_name(frame: int) -> str:
    """The COLMAP image name of a plate frame (no image file is written)."""
    return f"frame.{frame:06d}.png"


def export_colmap(data: BundleData, directory: str | Path) -> Path:
    """Write cameras.txt, images.txt and points3D.txt (COLMAP text model) into `directory`.

    One PINHOLE camera per frame in plate pixels (VGGT predicts a focal length per frame),
    world-to-camera poses, no 2-D observations, and the static cloud as 3-D points with an
    error of 0 and empty tracks.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    camera_lines = ["# Camera list: CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[fx, fy, cx, cy]"]
    for index, intrinsics in enumerate(data.intrinsics):
        fx, fy, cx, cy = intrinsics[0, 0], intrinsics[1, 1], intrinsics[0, 2], intrinsics[1, 2]
        camera_lines.append(
            f"{index + 1} PINHOLE {data.plate_width} {data.plate_height} "
            f"{fx:.17g} {fy:.17g} {cx:.17g} {cy:.17g}"
        )
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
        image_lines += [f"{index + 1} {values} {index + 1} {image_name(data.frames[index])}", ""]
    point_lines = ["# 3D point list: POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[]"]
    for index, (position, color) in enumerate(
        zip(data.static_points, data.static_colors, strict=True)
    ):
        x, y, z = (f"{value:.9g}" for value in position)
        point_lines.append(f"{index + 1} {x} {y} {z} {color[0]} {color[1]} {color[2]} 0")
    for name, lines in (
        ("cameras.txt", camera_lines),
        ("images.txt", image_lines),
        ("points3D.txt", point_lines),
    ):
        (directory / name).write_text("\n".join(lines) + "\n", encoding="ascii")
    return directory


def export_tum(data: BundleData, path: str | Path) -> Path:
    """Write the trajectory in standard TUM order: `timestamp tx ty tz qx qy qz qw`,
    camera-to-world, timestamp = plate frame number / fps. (The official VGGT4D demo writes
    `t x y z qw qx qy qz`, which is not TUM.)"""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    poses = invert_se3(np.asarray(data.extrinsics, dtype=np.float64))  # world_from_cam
    quaternions = quat_wxyz_from_rotation(poses[:, :, :3])
    lines = ["# timestamp tx ty tz qx qy qz qw (camera-to-world, OpenCV camera axes)"]
    for frame, pose, (w, x, y, z) in zip(data.frames, poses, quaternions, strict=True):
        values = (*pose[:, 3], x, y, z, w)
        lines.append(f"{frame / data.fps:.9f} " + " ".join(f"{value:.17g}" for value in values))
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
