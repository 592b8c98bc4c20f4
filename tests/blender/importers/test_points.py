"""Static and moving clouds: counts, colours, per-frame visibility, and a save/reload."""

import numpy as np

from tests.blender.importers.conftest import evaluated_point_count, evaluated_points
from vggt4d.io.bundle import read_bundle
from vggt4d_blender.importers import camera_math
from vggt4d_blender.importers.points import COLOR_ATTRIBUTE, default_radius
from vggt4d_blender.importers.shot import ImportSettings, import_bundle


def _positions(mesh) -> np.ndarray:
    flat = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.attributes["position"].data.foreach_get("vector", flat)
    return flat.reshape(-1, 3)


def _colors(mesh) -> np.ndarray:
    flat = np.empty(len(mesh.vertices) * 4, np.float32)
    mesh.color_attributes[COLOR_ATTRIBUTE].data.foreach_get("color_srgb", flat)
    return flat.reshape(-1, 4)


def test_static_cloud_positions_colours_threshold_and_budget(factory_blender, bundle_dir):
    bpy = factory_blender
    path = bundle_dir("static", static_count=500)
    data = read_bundle(path)
    settings = ImportSettings(confidence_threshold=5.0, point_budget=100, import_dynamic=False)
    result = import_bundle(bpy.context, path, settings)
    keep = np.sort(np.argsort(-data.static_confidence)[:100])
    assert data.static_confidence[keep].min() >= 5.0
    assert result.static_points == 100
    mesh = bpy.data.objects["static_static"].data
    np.testing.assert_array_equal(
        _positions(mesh), camera_math.points_to_blender(data.static_points[keep])
    )
    np.testing.assert_allclose(_colors(mesh)[:, :3] * 255, data.static_colors[keep], atol=0.05)
    assert COLOR_ATTRIBUTE != "color"
    points, radii = evaluated_points(bpy, bpy.data.objects["static_static"])
    np.testing.assert_array_equal(points, _positions(mesh))
    np.testing.assert_allclose(radii, default_radius(data.static_points[keep]), rtol=1e-6)


def _check_moving_points(bpy, shot, frames, per_frame):
    scene = bpy.context.scene
    moving = bpy.data.objects[f"{shot}_dynamic"]
    for frame in frames:
        scene.frame_set(frame)
        assert evaluated_point_count(bpy, moving) == per_frame, frame
    for frame in (frames[0] - 1, frames[0] + 1, frames[-1] + 1):
        scene.frame_set(frame)
        assert evaluated_point_count(bpy, moving) == 0, frame


def test_moving_points_show_only_on_their_frame_and_survive_reload(
    factory_blender, bundle_dir, tmp_path
):
    bpy = factory_blender
    frames = [1001, 1003, 1005]
    path = bundle_dir("moving", frames=frames, dynamic_per_frame=25)
    data = read_bundle(path)
    result = import_bundle(bpy.context, path)
    assert result.dynamic_points == 75
    moving = bpy.data.objects["moving_dynamic"]
    np.testing.assert_array_equal(
        _positions(moving.data), camera_math.points_to_blender(data.dynamic_points)
    )
    _check_moving_points(bpy, "moving", frames, 25)

    blend = tmp_path / "moving.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    _check_moving_points(bpy, "moving", frames, 25)
    scene = bpy.context.scene
    assert (scene.frame_start, scene.frame_end, scene.camera.name) == (1001, 1005, "moving_camera")
    scene.frame_set(1003)
    expected = camera_math.camera_matrices_world(data.extrinsics[1:2])[0]
    np.testing.assert_allclose(np.array(scene.camera.matrix_world), expected, atol=1e-5)
    assert len(bpy.data.objects["moving_static"].data.vertices) == 500
