"""Importer fixtures: synthetic bundles written by the backend's writer, and helpers to read
back what Blender evaluates (projections, evaluated point clouds)."""

import numpy as np
import pytest

from tests.importers.bundle_factory import write_synthetic_bundle


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    """Factory: write_synthetic_bundle into a fresh folder named ``<name>.vggt4d``."""
    root = tmp_path_factory.mktemp("bundles")

    def make(name: str = "shot", **kwargs):
        return write_synthetic_bundle(root / f"{name}.vggt4d", **kwargs)

    return make


def write_plate(folder, frames: list[int], width: int, height: int):
    """A PNG plate sequence ``plate.####.png`` whose red channel is 60 * (frame - 1000) mod 256."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for frame in frames:
        pixels = np.zeros((height, width, 3), np.uint8)
        pixels[..., 0] = (frame - 1000) * 60 % 256
        Image.fromarray(pixels).save(folder / f"plate.{frame:04d}.png")
    return folder / "plate.####.png"


def project_with_blender(scene, camera, points_world: np.ndarray) -> np.ndarray:
    """Plate pixels [N, 2] of Blender-world points, through Blender's own camera view frame."""
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    width, height = scene.render.resolution_x, scene.render.resolution_y
    pixels = []
    for point in points_world:
        view = world_to_camera_view(scene, camera, Vector(point.tolist()))
        pixels.append((view.x * width, (1.0 - view.y) * height))
    return np.array(pixels)


def project_with_bundle(extrinsics: np.ndarray, intrinsics: np.ndarray, points: np.ndarray):
    """K [R|t] projection of OpenCV-world points into plate pixels [N, 2]."""
    camera_points = points @ extrinsics[:, :3].T + extrinsics[:, 3]
    image = camera_points @ intrinsics.T
    return image[:, :2] / image[:, 2:]


def evaluated_points(bpy, obj) -> tuple[np.ndarray, np.ndarray]:
    """Positions [N, 3] (object space) and radii [N] of the points the geometry-nodes modifier
    outputs for ``obj`` at the current frame.

    Read from the depsgraph's instances, which is the same on every Blender from 4.2
    (``Object.evaluated_geometry`` is 5.0+).
    """
    depsgraph = bpy.context.evaluated_depsgraph_get()
    for instance in depsgraph.object_instances:
        parent = instance.parent
        if instance.object.type != "POINTCLOUD" or parent is None or parent.original != obj:
            continue
        cloud = instance.object.data  # valid only while iterating: copy it out
        count = len(cloud.points)
        positions = np.empty(count * 3, np.float32)
        radii = np.empty(count, np.float32)
        cloud.attributes["position"].data.foreach_get("vector", positions)
        cloud.attributes["radius"].data.foreach_get("value", radii)
        return positions.reshape(-1, 3), radii
    return np.empty((0, 3), np.float32), np.empty(0, np.float32)


def evaluated_point_count(bpy, obj) -> int:
    """Points the geometry-nodes modifier outputs for ``obj`` at the current frame."""
    return len(evaluated_points(bpy, obj)[0])
