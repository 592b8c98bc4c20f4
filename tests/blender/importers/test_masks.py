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


def _add_cg_cube(bpy, scene):
    """A flat blue cube 4 units in front of the first camera, over the middle of the plate
    at every frame (the camera turns a little)."""
    mesh = bpy.data.meshes.new("cg")
    half = 0.8
    corners = [
        (x, y, z) for x in (-half, half) for y in (4 - half, 4 + half) for z in (-half, half)
    ]
    faces = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    mesh.from_pydata(corners, [], faces)
    cube = bpy.data.objects.new("cg", mesh)
    scene.collection.objects.link(cube)
    scene.display.shading.light = "FLAT"
    scene.display.shading.color_type = "SINGLE"
    scene.display.shading.single_color = (0.0, 0.0, 1.0)


def test_f12_renders_cg_over_the_plate_and_writes_the_matte(factory_blender, bundle_dir, tmp_path):
    bpy = factory_blender
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "shot.blend"))  # the matte goes to //
    frames = [1001, 1002, 1003]
    plate = write_plate(tmp_path / "plate", frames, 96, 64)
    path = bundle_dir("matte", frames=frames, source_path=str(plate))
    result = import_bundle(bpy.context, path)
    assert result.masks == 3 and result.plate is not None, result.warnings
    scene = bpy.context.scene
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.image_settings.color_mode = "RGBA"
    scene.view_settings.view_transform = "Standard"
    _add_cg_cube(bpy, scene)
    camera = bpy.data.objects[result.camera]
    assert camera.data.show_background_images
    assert camera.data.background_images[0].clip.name == result.plate
    for index, frame in enumerate(frames):
        pixels = _render(bpy, scene, frame, tmp_path / f"out_{frame}.png")
        # The render: the CG cube in the middle, the plate everywhere else (its red channel
        # encodes its frame number: plate frame N at scene frame N), all opaque.
        assert (pixels[..., 3] == 255).all()
        assert pixels[32, 48, 2] > 200 and pixels[32, 48, 0] < 30
        plate_pixels = pixels[pixels[..., 2] < 100]  # not the cube
        assert len(plate_pixels) > 1000
        error = np.abs(plate_pixels[:, 0].astype(int) - (frame - 1000) * 60)
        assert np.percentile(error, 95) <= 1  # the cube's anti-aliased edge aside
        # The matte, its own output: the plate with this frame's mask as alpha.
        [matte_file] = (tmp_path / "vggt4d_matte").glob("*.png")
        matte = np.asarray(Image.open(matte_file))
        expected_alpha = np.zeros((64, 96), np.uint8)
        expected_alpha[10:30, 5 + 8 * index : 25 + 8 * index] = 255
        np.testing.assert_array_equal(matte[..., 3], expected_alpha)
        assert abs(int(matte[15, 10 + 8 * index, 0]) - (frame - 1000) * 60) <= 1
        matte_file.unlink()
