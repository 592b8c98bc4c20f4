"""Ground truth that Blender renders: Cycles depth and object-index passes with the OpenCV
camera that made them (shared by the tests that compare our geometry with a render).

The conversion deliberately does not use the add-on's camera_math: intrinsics come from
Blender's ``calc_matrix_camera`` (an OpenGL projection), extrinsics from ``matrix_world``.
"""

from pathlib import Path

import numpy as np

from tests.blender.importers.exr import read_exr_channels
from tests.blender.versions import OBJECT_INDEX_CHANNELS, write_multilayer_exr

# Blender world from OpenCV world: Rx(-90 deg), written out here as the convention under test.
BLENDER_FROM_OPENCV = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])
FLIP = np.diag([1.0, -1.0, -1.0])


def configure_truth_render(bpy, scene, width: int, height: int) -> None:
    """One Cycles sample at each pixel centre, Z and object-index passes, multilayer EXR."""
    world = bpy.data.worlds.new("world")
    world.color = (0.8, 0.8, 0.8)
    scene.world = world
    render = scene.render
    render.engine = "CYCLES"
    render.resolution_x, render.resolution_y, render.resolution_percentage = width, height, 100
    render.filter_size = 0.01  # one sample at the pixel centre: depth belongs to that ray
    scene.cycles.samples = 1
    scene.cycles.use_denoising = False
    scene.cycles.device = "CPU"
    view_layer = scene.view_layers[0]
    view_layer.use_pass_z = True
    view_layer.use_pass_object_index = True
    write_multilayer_exr(render.image_settings)


def opencv_camera(
    bpy, camera, width: int, height: int, pixel_aspect: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """(K [3,3] pixels of a width x height render whose pixels are ``pixel_aspect`` times as
    wide as tall, [R|t] camera-from-world in the OpenCV world) at this frame."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    projection = np.array(
        camera.calc_matrix_camera(depsgraph, x=width, y=height, scale_x=pixel_aspect, scale_y=1.0)
    )
    intrinsics = np.array(
        [
            [projection[0, 0] * width / 2, 0, (1 - projection[0, 2]) * width / 2],
            [0, projection[1, 1] * height / 2, (1 + projection[1, 2]) * height / 2],
            [0, 0, 1],
        ]
    )
    camera_from_world = np.linalg.inv(np.array(camera.matrix_world))
    rotation = FLIP @ camera_from_world[:3, :3] @ BLENDER_FROM_OPENCV
    translation = FLIP @ camera_from_world[:3, 3]
    return intrinsics, np.concatenate([rotation, translation[:, None]], axis=1)


def render_truth(bpy, scene, frames: list[int], folder: Path) -> list[tuple]:
    """Per frame: (depth [H, W], object index int [H, W], K [3, 3], [R|t] [3, 4])."""
    rendered = []
    for frame in frames:
        scene.frame_set(frame)
        scene.render.filepath = str(folder / f"render_{frame}.exr")
        bpy.ops.render.render(write_still=True)
        channels = read_exr_channels(folder / f"render_{frame}.exr")
        depth = next(v for k, v in channels.items() if k.endswith("Depth.Z"))
        index = next(v for k, v in channels.items() if k.endswith(OBJECT_INDEX_CHANNELS))
        size = scene.render.resolution_x, scene.render.resolution_y
        intrinsics, extrinsics = opencv_camera(bpy, scene.camera, *size)
        rendered.append((depth.copy(), np.rint(index).astype(int), intrinsics, extrinsics))
    return rendered
