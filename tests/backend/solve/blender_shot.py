"""Ground-truth shots for the camera solve, rendered by Blender (Workbench, a few seconds).

A textured static set (ground, back wall, boxes) and textured movers crossing the frame, seen by
a dollying, panning camera. The plate, Blender's Z pass and a matte of the movers (a second
render with only the movers visible) come back with the cameras in bundle conventions
(camera-from-world in an OpenCV world, intrinsics in plate pixels), converted independently of
the add-on's camera_math: intrinsics from ``calc_matrix_camera``, poses from ``matrix_world``.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.blender.importers.exr import read_exr_channels
from tests.blender.render_truth import opencv_camera
from tests.blender.versions import write_multilayer_exr

_FAR = 1e5


@dataclass
class Shot:
    plates: np.ndarray  # uint8 [S, H, W, 3]
    depth: np.ndarray  # float32 [S, H, W] z along the camera axis (inf on the background)
    movers: np.ndarray  # bool [S, H, W]
    extrinsics: np.ndarray  # float64 [S, 3, 4]
    intrinsics: np.ndarray  # float64 [S, 3, 3]


def render_shot(
    folder: Path,
    width: int = 320,
    height: int = 180,
    frame_count: int = 16,
    mover_scale: float = 1.0,
    seed: int = 0,
    whip_deg: float = 0.0,
    shake_deg: float = 0.0,
    travel: float = 1.0,
) -> Shot:
    """Render the shot into `folder` (EXR files, deleted by the caller's tmp dir).

    whip_deg: a sudden pan by this angle between the middle frame and the next (a whip pan
    that any smoothing must keep); shake_deg: handheld shake, a random turn of about this size
    about each axis in every frame (real camera motion, which the plate shows); travel: the part
    of the dolly and pan the camera makes (0: a locked-off camera, every frame the first)."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    rng = np.random.default_rng(seed)
    scene = bpy.context.scene
    static = _build_set(bpy, rng)
    movers = _build_movers(bpy, rng, frame_count, mover_scale)
    shake = np.radians(shake_deg) * rng.normal(size=(frame_count, 3)) if shake_deg else None
    camera = _build_camera(bpy, scene, frame_count, whip_deg, shake, travel)
    _configure(scene, width, height)
    frames = []
    for frame in range(1, frame_count + 1):
        scene.frame_set(frame)
        plate, depth = _render(bpy, scene, folder / f"plate_{frame}.exr")
        for item in static:
            item.hide_render = True
        _, mover_depth = _render(bpy, scene, folder / f"matte_{frame}.exr")
        for item in static:
            item.hide_render = False
        intrinsics, extrinsics = opencv_camera(bpy, camera, width, height)
        frames.append((plate, depth, mover_depth < _FAR, extrinsics, intrinsics))
    del movers
    return Shot(*(np.stack(values) for values in zip(*frames, strict=True)))


def _texture(bpy, rng: np.random.Generator, name: str, tint: tuple[float, float, float]):
    """A material whose base colour is a blotchy multi-scale noise image (good corners)."""
    import cv2

    size = 256
    noise = np.zeros((size, size), np.float32)
    for sigma, weight in ((1.0, 0.5), (3.0, 1.0), (8.0, 1.0)):
        layer = cv2.GaussianBlur(
            rng.standard_normal((size, size)).astype(np.float32), (0, 0), sigma
        )
        noise += weight * layer / layer.std()
    grey = np.clip(0.5 + 0.15 * noise, 0.0, 1.0)
    rgba = np.ones((size, size, 4), np.float32)
    rgba[..., :3] = grey[..., None] * np.array(tint, np.float32)
    image = bpy.data.images.new(name, size, size)
    image.pixels.foreach_set(rgba.ravel())
    material = bpy.data.materials.new(name)
    material.use_nodes = True
    node = material.node_tree.nodes.new("ShaderNodeTexImage")
    node.image = image
    material.node_tree.nodes.active = node
    return material


def _add(bpy, kind: str, material, **kwargs):
    getattr(bpy.ops.mesh, f"primitive_{kind}_add")(**kwargs)
    item = bpy.context.active_object
    bpy.ops.object.mode_set(mode="EDIT")
    bpy.ops.uv.cube_project(cube_size=2.0)
    bpy.ops.object.mode_set(mode="OBJECT")
    item.data.materials.append(material)
    return item


def _build_set(bpy, rng: np.random.Generator) -> list:
    material = _texture(bpy, rng, "set", (1.0, 0.95, 0.9))
    items = [
        _add(bpy, "plane", material, size=30.0, location=(0, 4, 0)),
        _add(bpy, "plane", material, size=30.0, location=(0, 10, 5), rotation=(np.pi / 2, 0, 0)),
    ]
    for x, y, size in ((-3.0, 3.0, 1.5), (2.5, 5.0, 2.0), (0.5, 1.0, 0.8), (-1.5, 7.0, 2.5)):
        items.append(_add(bpy, "cube", material, size=size, location=(x, y, size / 2)))
    return items


def _build_movers(bpy, rng: np.random.Generator, frame_count: int, scale: float) -> list:
    material = _texture(bpy, rng, "movers", (0.6, 0.8, 1.0))
    movers = []
    for start, end, height, size in (((-4, 2), (3, 3), 1.2, 1.6), ((3, 0), (-2, 4), 0.9, 1.2)):
        item = _add(bpy, "cube", material, size=size * scale)
        for frame, fraction in ((1, 0.0), (frame_count, 1.0)):
            x = start[0] + fraction * (end[0] - start[0])
            y = start[1] + fraction * (end[1] - start[1])
            item.location = (x, y, height * scale)
            item.rotation_euler = (0.0, 0.0, 1.5 * fraction)
            item.keyframe_insert("location", frame=frame)
            item.keyframe_insert("rotation_euler", frame=frame)
        movers.append(item)
    return movers


def _build_camera(
    bpy, scene, frame_count: int, whip_deg: float, shake: np.ndarray | None, travel: float
):
    camera = bpy.data.objects.new("truth", bpy.data.cameras.new("truth"))
    scene.collection.objects.link(camera)
    camera.data.lens = 26.0
    camera.data.sensor_width = 36.0
    for frame in range(1, frame_count + 1):
        fraction = travel * (frame - 1) / max(frame_count - 1, 1)
        camera.location = (-2.0 + 3.0 * fraction, -7.5 + 2.0 * fraction, 2.2 + 0.6 * fraction)
        camera.rotation_euler = (
            np.radians(76 - 8 * fraction),
            np.radians(4 * fraction),
            np.radians(-18 + 36 * fraction + whip_deg * (frame > frame_count // 2)),
        )
        if shake is not None:
            camera.rotation_euler = np.array(camera.rotation_euler) + shake[frame - 1]
        camera.keyframe_insert("location", frame=frame)
        camera.keyframe_insert("rotation_euler", frame=frame)
    scene.camera = camera
    return camera


def _configure(scene, width: int, height: int) -> None:
    render = scene.render
    render.engine = "BLENDER_WORKBENCH"
    render.resolution_x, render.resolution_y, render.resolution_percentage = width, height, 100
    scene.display.shading.light = "FLAT"
    scene.display.shading.color_type = "TEXTURE"
    scene.display.render_aa = "8"
    scene.view_settings.view_transform = "Standard"
    scene.view_layers[0].use_pass_z = True
    write_multilayer_exr(render.image_settings)


def _render(bpy, scene, path: Path) -> tuple[np.ndarray, np.ndarray]:
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    channels = read_exr_channels(path)
    pick = lambda suffix: next(v for k, v in channels.items() if k.endswith(suffix))  # noqa: E731
    linear = np.stack([pick("Combined.R"), pick("Combined.G"), pick("Combined.B")], axis=-1)
    linear = np.clip(linear, 0.0, 1.0)
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    plate = np.clip(srgb * 255 + 0.5, 0, 255).astype(np.uint8)
    depth = pick("Depth.Z").astype(np.float32)
    return plate, np.where(depth < _FAR, depth, np.inf).astype(np.float32)
