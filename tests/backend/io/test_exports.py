"""Exports read back with independent parsers: COLMAP text, TUM trajectory, PLY."""

from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from vggt4d.geometry import rotation_from_quat_wxyz
from vggt4d.io.bundle_format import read_ply
from vggt4d.io.exports import (
    export_colmap,
    export_ply,
    export_tum,
    image_names,
)


def data_lines(path: Path) -> list[list[str]]:
    lines = path.read_text().splitlines()
    return [line.split() for line in lines if not line.startswith("#")]


def project(intrinsics: np.ndarray, extrinsics: np.ndarray, points: np.ndarray) -> np.ndarray:
    camera = points @ extrinsics[:, :3].T + extrinsics[:, 3]
    pixels = camera @ intrinsics.T
    return pixels[:, :2] / pixels[:, 2:]


def test_colmap_model_reprojects_like_the_bundle(tmp_path: Path, bundle_data) -> None:
    data = bundle_data()
    export_colmap(data, tmp_path / "colmap")
    cameras = {int(row[0]): row for row in data_lines(tmp_path / "colmap" / "cameras.txt")}
    image_rows = data_lines(tmp_path / "colmap" / "images.txt")
    images = [row for row in image_rows if row]
    assert len(image_rows) == 2 * len(images)  # every image is followed by an empty points line
    points = np.array(
        [
            [float(value) for value in row[1:4]]
            for row in data_lines(tmp_path / "colmap" / "points3D.txt")
        ]
    )
    np.testing.assert_allclose(points, data.static_points, rtol=1e-6)
    assert len(images) == len(data.frames)
    for index, row in enumerate(images):
        camera = cameras[int(row[8])]
        assert camera[1:4] == ["PINHOLE", str(data.plate_width), str(data.plate_height)]
        fx, fy, cx, cy = (float(value) for value in camera[4:8])
        intrinsics = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])
        rotation = rotation_from_quat_wxyz(np.array([float(value) for value in row[1:5]]))
        translation = np.array([float(value) for value in row[5:8]])
        extrinsics = np.concatenate([rotation, translation[:, None]], axis=1)
        assert row[9] == image_names(data)[index]
        np.testing.assert_allclose(
            project(intrinsics, extrinsics, points),
            project(data.intrinsics[index], data.extrinsics[index], data.static_points),
            atol=1e-6,
        )


def test_tum_poses_are_inverse_extrinsics(tmp_path: Path, bundle_data) -> None:
    data = bundle_data()
    rows = np.array(data_lines(export_tum(data, tmp_path / "trajectory.txt")), dtype=np.float64)
    np.testing.assert_allclose(rows[:, 0], np.array(data.frames) / data.fps)
    for row, extrinsics in zip(rows, data.extrinsics, strict=True):
        pose = np.eye(4)
        qx, qy, qz, qw = row[4:8]
        pose[:3, :3] = Rotation.from_quat([qx, qy, qz, qw]).as_matrix()  # scipy: scalar last
        pose[:3, 3] = row[1:4]
        cam_from_world = np.vstack([extrinsics, [0, 0, 0, 1]])
        np.testing.assert_allclose(pose, np.linalg.inv(cam_from_world), atol=1e-12)


def test_ply_export_round_trips(tmp_path: Path, bundle_data) -> None:
    data = bundle_data()
    positions, colors, confidence = read_ply(export_ply(data, tmp_path / "static.ply"))
    np.testing.assert_array_equal(positions, data.static_points)
    np.testing.assert_array_equal(colors, data.static_colors)
    np.testing.assert_array_equal(confidence, data.static_confidence)
    positions, colors, confidence = read_ply(
        export_ply(data, tmp_path / "all.ply", include_dynamic=True)
    )
    assert confidence is None
    assert len(positions) == len(data.static_points) + len(data.dynamic_points)
    np.testing.assert_array_equal(colors[len(data.static_points) :], data.dynamic_colors)
