"""Set floor / origin / scale move the shot root; the camera keys stay untouched."""

import numpy as np
import pytest

from tests.blender.versions import action_fcurves
from vggt4d_blender.importers.scene_tools import selected_points


def _import(bpy, path):
    assert bpy.ops.vggt4d.import_bundle(filepath=str(path)) == {"FINISHED"}
    cloud = bpy.data.objects[f"{path.name.removesuffix('.vggt4d')}_static"]
    bpy.context.view_layer.objects.active = cloud
    return cloud


def _select(cloud, indices):
    selection = np.zeros(len(cloud.data.vertices), bool)
    selection[indices] = True
    cloud.data.vertices.foreach_set("select", selection)


def _camera_keys(camera):
    fcurves = action_fcurves(camera.animation_data.action)
    return [tuple(key.co) for fcurve in fcurves for key in fcurve.keyframe_points]


def test_floor_origin_and_scale(addon, bundle_dir):
    import bpy

    path = bundle_dir("tools", static_count=300)
    cloud = _import(bpy, path)
    camera = bpy.data.objects["tools_camera"]
    keys = _camera_keys(camera)
    local_camera = np.array(camera.matrix_local)

    # Tilt 60 points onto a plane, as if they were the ground, and fit the floor to them.
    positions = np.empty(300 * 3, np.float32)
    cloud.data.attributes["position"].data.foreach_get("vector", positions)
    positions = positions.reshape(-1, 3)
    positions[:60, 2] = -1.5 + 0.3 * positions[:60, 0] - 0.2 * positions[:60, 1]
    cloud.data.attributes["position"].data.foreach_set("vector", positions.ravel())
    _select(cloud, np.arange(60))
    assert bpy.ops.vggt4d.set_floor() == {"FINISHED"}
    np.testing.assert_allclose(selected_points(cloud)[:, 2], 0.0, atol=1e-4)
    assert camera.matrix_world.translation.z > 0

    _select(cloud, [100, 101, 102])
    centre = selected_points(cloud).mean(0)
    assert bpy.ops.vggt4d.set_origin() == {"FINISHED"}
    np.testing.assert_allclose(selected_points(cloud).mean(0), 0.0, atol=1e-4)
    assert np.linalg.norm(centre) > 0.1

    _select(cloud, [5, 200])
    assert bpy.ops.vggt4d.set_scale(distance=2.5) == {"FINISHED"}
    first, second = selected_points(cloud)
    np.testing.assert_allclose(np.linalg.norm(second - first), 2.5, rtol=1e-5)

    assert _camera_keys(camera) == keys
    np.testing.assert_allclose(np.array(camera.matrix_local), local_camera, atol=1e-6)
    root = bpy.data.objects["tools_root"]
    np.testing.assert_allclose(
        np.array(camera.matrix_world), np.array(root.matrix_world) @ local_camera, atol=1e-5
    )


def test_tools_refuse_too_few_points(addon, bundle_dir):
    import bpy

    cloud = _import(bpy, bundle_dir("few"))
    _select(cloud, [0])  # one point + the 3D cursor is still not a plane
    with pytest.raises(RuntimeError, match="Select at least 3 points"):
        bpy.ops.vggt4d.set_floor()


def test_set_origin_reads_the_edit_mode_selection(addon, bundle_dir):
    import bmesh
    import bpy

    cloud = _import(bpy, bundle_dir("editing"))
    cloud.select_set(True)
    bpy.ops.object.mode_set(mode="EDIT")
    edit_mesh = bmesh.from_edit_mesh(cloud.data)
    for vertex in edit_mesh.verts:
        vertex.select = vertex.index in (7, 8)
    bmesh.update_edit_mesh(cloud.data)
    assert bpy.ops.vggt4d.set_origin() == {"FINISHED"}
    bpy.ops.object.mode_set(mode="OBJECT")
    np.testing.assert_allclose(selected_points(cloud).mean(0), 0.0, atol=1e-5)
    assert len(selected_points(cloud)) == 2


def test_floor_through_two_points_and_the_cursor(addon, bundle_dir):
    import bpy

    cloud = _import(bpy, bundle_dir("cursor"))
    _select(cloud, [3, 4])
    bpy.context.scene.cursor.location = (0.3, 0.2, -1.0)
    assert bpy.ops.vggt4d.set_floor() == {"FINISHED"}
    np.testing.assert_allclose(selected_points(cloud)[:, 2], 0.0, atol=1e-5)
