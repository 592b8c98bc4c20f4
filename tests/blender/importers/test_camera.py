"""The imported camera reproduces the bundle's projection to 0.01 px at every frame."""

import numpy as np
import pytest

from tests.blender.importers.conftest import project_with_blender, project_with_bundle
from tests.blender.versions import action_fcurves
from vggt4d.io.bundle import read_bundle
from vggt4d_blender.importers import camera_math
from vggt4d_blender.importers.shot import ImportSettings, import_bundle

CAMERA_ONLY = ImportSettings(import_static=False, import_dynamic=False, import_masks=False)


@pytest.mark.parametrize(
    ("name", "plate"),
    [
        ("landscape", {"width": 96, "height": 64, "fx": 80.0}),
        ("portrait", {"width": 64, "height": 96, "fx": 90.0}),
        ("offcentre", {"width": 96, "height": 64, "fx": 80.0, "cx": 51.3, "cy": 29.9}),
        (
            "anamorphic",
            {"width": 96, "height": 64, "fx": 40.0, "fy": 80.0, "pixel_aspect": 2.0, "cx": 50.0},
        ),
        (
            "tall_pixels",
            {"width": 64, "height": 96, "fx": 70.0, "fy": 52.5, "pixel_aspect": 0.75, "cy": 50.5},
        ),
    ],
)
def test_projection_matches_bundle_at_every_frame(factory_blender, bundle_dir, name, plate):
    bpy = factory_blender
    path = bundle_dir(name, frames=[1, 2, 3, 4], **plate)
    data = read_bundle(path)
    # The factory scales fx and fy together over time and fy = fx * pixel aspect: exact case.
    result = import_bundle(bpy.context, path, CAMERA_ONLY)
    assert result.warnings == [
        "the source footage was not found or not readable; no plate background"
    ]
    scene, camera = bpy.context.scene, bpy.data.objects[result.camera]
    rng = np.random.default_rng(3)
    points = rng.uniform(-0.8, 0.8, (30, 3)) + np.array([0, 0, 4.0])
    for index, frame in enumerate(data.frames):
        scene.frame_set(frame)
        expected = project_with_bundle(data.extrinsics[index], data.intrinsics[index], points)
        blender_points = camera_math.points_to_blender(points).astype(np.float64)
        actual = project_with_blender(scene, camera, blender_points)
        np.testing.assert_allclose(actual, expected, atol=0.01)
    assert (scene.render.resolution_x, scene.render.resolution_y) == (
        plate["width"],
        plate["height"],
    )
    assert camera.data.sensor_fit == (
        "VERTICAL" if plate["height"] > plate["width"] else "HORIZONTAL"
    )
    aspect = plate.get("pixel_aspect", 1.0)
    assert scene.render.pixel_aspect_x / scene.render.pixel_aspect_y == pytest.approx(aspect)


@pytest.mark.parametrize(("width", "height"), [(96, 64), (64, 96)])
def test_noisy_focal_lengths_keep_square_pixels_and_report_the_residual(
    factory_blender, bundle_dir, width, height
):
    """fx != fy from the network on square-pixel footage: pixels stay square (no 1:1.05
    aspect), one focal length, and the reported residual bounds every projection error."""
    bpy = factory_blender
    path = bundle_dir(f"noisy{width}", width=width, height=height, fx=80.0, fy=76.0)
    data = read_bundle(path)
    result = import_bundle(bpy.context, path, CAMERA_ONLY)
    scene, camera = bpy.context.scene, bpy.data.objects[result.camera]
    assert (scene.render.pixel_aspect_x, scene.render.pixel_aspect_y) == (1.0, 1.0)
    [warning] = [w for w in result.warnings if "focal lengths disagree" in w]
    bound = float(warning.split("up to ")[1].split(" px")[0])
    edges = np.array([[0.0, 0.0], [width, height], [0.0, height], [width, 0.0]])
    for index, frame in enumerate(data.frames):
        scene.frame_set(frame)
        rays = np.linalg.inv(data.intrinsics[index]) @ np.c_[edges, np.ones(4)].T
        cam_from_world = np.vstack([data.extrinsics[index], [0, 0, 0, 1]])
        points = (np.linalg.inv(cam_from_world) @ np.vstack([rays * 4.0, np.ones(4)]))[:3].T
        blender_points = camera_math.points_to_blender(points).astype(np.float64)
        error = np.abs(project_with_blender(scene, camera, blender_points) - edges).max()
        assert error <= bound + 0.01


def test_plate_frame_numbers_key_the_camera_and_set_the_range(factory_blender, bundle_dir):
    bpy = factory_blender
    path = bundle_dir("strided", frames=[1001, 1003, 1005])
    result = import_bundle(bpy.context, path, CAMERA_ONLY)
    scene, camera = bpy.context.scene, bpy.data.objects[result.camera]
    assert (scene.frame_start, scene.frame_end) == (1001, 1005)
    assert scene.render.fps == 24 and scene.render.fps_base == pytest.approx(1.0)
    assert scene.camera == camera
    motion = camera.animation_data.action
    lens = camera.data.animation_data.action
    for action in (motion, lens):
        for fcurve in action_fcurves(action):
            frames = [key.co[0] for key in fcurve.keyframe_points]
            assert frames == [1001, 1003, 1005], fcurve.data_path
            assert {key.interpolation for key in fcurve.keyframe_points} == {"LINEAR"}
    assert camera.parent.name == "strided_root"


def test_first_camera_is_level_looking_along_y(factory_blender, bundle_dir):
    from vggt4d_blender.importers import import_bundle as public_import_bundle

    bpy = factory_blender
    result = public_import_bundle(bpy.context, bundle_dir("level"), CAMERA_ONLY)
    bpy.context.scene.frame_set(1)
    matrix = np.array(bpy.data.objects[result.camera].matrix_world)
    np.testing.assert_allclose(matrix[:3, :3] @ [0, 0, -1], [0, 1, 0], atol=1e-6)
    np.testing.assert_allclose(matrix[:3, :3] @ [0, 1, 0], [0, 0, 1], atol=1e-6)
