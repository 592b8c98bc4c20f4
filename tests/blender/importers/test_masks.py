"""Masks: a clip on the plate's frame numbers and a compositor matte that renders them."""

import numpy as np
from PIL import Image

from tests.blender.importers.conftest import write_plate
from vggt4d_blender.importers.shot import import_bundle


def _render(bpy, scene, frame, path):
    scene.frame_set(frame)
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    return np.asarray(Image.open(path))


def test_matte_compositor_renders_each_frames_mask_as_alpha(factory_blender, bundle_dir, tmp_path):
    bpy = factory_blender
    frames = [1001, 1002, 1003]
    plate = write_plate(tmp_path / "plate", frames, 96, 64)
    path = bundle_dir("matte", frames=frames, source_path=str(plate))
    result = import_bundle(bpy.context, path)
    assert result.masks == 3 and result.plate is not None, result.warnings
    scene = bpy.context.scene
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.image_settings.color_mode = "RGBA"
    scene.view_settings.view_transform = "Standard"
    camera = bpy.data.objects[result.camera]
    assert camera.data.show_background_images
    assert camera.data.background_images[0].clip.name == result.plate
    for index, frame in enumerate(frames):
        pixels = _render(bpy, scene, frame, tmp_path / f"out_{frame}.png")
        expected_alpha = np.zeros((64, 96), np.uint8)
        expected_alpha[10:30, 5 + 8 * index : 25 + 8 * index] = 255
        np.testing.assert_array_equal(pixels[..., 3], expected_alpha)
        # The plate's red channel encodes its own frame number: plate frame N at scene frame N.
        assert abs(int(pixels[15, 10 + 8 * index, 0]) - (frame - 1000) * 60) <= 1
