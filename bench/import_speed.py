"""Import speed: our importer against the common from_pydata + keyframe_insert approach.

Generates a 300-frame bundle (2M static points, 20k moving points per frame, 300 camera keys)
with the backend's writer, imports it with ``import_bundle`` and with the common approach,
and prints both times and the ratio. It also compares two ways of showing moving points (one
mesh with a frame attribute + geometry-nodes filter, against one object per frame with keyed
visibility): import time and .blend size. Run from the repository root:

    .venv/bin/python bench/import_speed.py [--frames 300 --static 2000000 --moving 20000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="vggt4d-bench-"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bpy

from vggt4d.io.bundle import BundleData, write_bundle
from vggt4d_blender.bundle_format import read_bundle, read_dynamic_points, read_static_points
from vggt4d_blender.importers import camera_math
from vggt4d_blender.importers.datablocks import key_channels
from vggt4d_blender.importers.dynamics import import_dynamic_points
from vggt4d_blender.importers.points import add_point_display, point_mesh
from vggt4d_blender.importers.shot import ImportSettings, import_bundle


def make_bundle(path: Path, frames: int, static: int, moving: int) -> Path:
    rng = np.random.default_rng(0)
    width, height, model_width, model_height = 320, 180, 64, 36
    angles = np.linspace(0, 0.5, frames)
    extrinsics = np.zeros((frames, 3, 4))
    extrinsics[:, 0, 0] = extrinsics[:, 2, 2] = np.cos(angles)
    extrinsics[:, 0, 2], extrinsics[:, 2, 0] = np.sin(angles), -np.sin(angles)
    extrinsics[:, 1, 1] = 1.0
    extrinsics[:, :, 3] = np.stack([angles, 0 * angles, 0.1 * angles], 1)
    intrinsics = np.tile([[300.0, 0, 160], [0, 300.0, 90], [0, 0, 1]], (frames, 1, 1))
    masks = np.zeros((frames, height, width), bool)
    masks[:, 40:120, 100:200] = True
    data = BundleData(
        source={"path": "/missing/plate.####.png", "kind": "image_sequence"},
        plate_width=width,
        plate_height=height,
        fps=24.0,
        frames=list(range(1001, 1001 + frames)),
        model_width=model_width,
        model_height=model_height,
        preprocess_mode="crop",
        plate_to_model={"scale_x": 0.2, "scale_y": 0.2, "offset_x": 0.0, "offset_y": 0.0},
        extrinsics=extrinsics,
        intrinsics=intrinsics,
        depth=np.ones((frames, model_height, model_width), np.float16),
        depth_conf=np.ones((frames, model_height, model_width), np.float16),
        coarse_masks=masks,
        refined_masks=masks,
        static_points=rng.normal(0, 2, (static, 3)).astype(np.float32),
        static_colors=rng.integers(0, 256, (static, 3), dtype=np.uint8),
        static_confidence=rng.uniform(1, 10, static).astype(np.float32),
        dynamic_points=rng.normal(0, 1, (frames * moving, 3)).astype(np.float32),
        dynamic_colors=rng.integers(0, 256, (frames * moving, 3), dtype=np.uint8),
        dynamic_frame_offsets=np.arange(frames + 1, dtype=np.int64) * moving,
        model={"source": "bench", "sha256": "0", "test_weights": True},
        options={},
        timings={},
        software={},
    )
    return write_bundle(path, data)


def timed(function, *args) -> float:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def import_ours(path: Path) -> None:
    import_bundle(bpy.context, path, ImportSettings(plate_background=False))


def import_common(path: Path, static_limit: int, frame_limit: int) -> None:
    """The usual add-on code, producing the same data as ours: Python lists into from_pydata,
    colours from a Python list, one keyframe_insert per keyed value, per-frame objects."""
    from mathutils import Matrix

    bundle = read_bundle(path)
    scene = bpy.context.scene
    positions, colors, _confidence = read_static_points(bundle)
    _common_cloud(scene, "static", positions[:static_limit], colors[:static_limit])
    camera = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    scene.collection.objects.link(camera)
    matrices = camera_math.camera_matrices_world(bundle.extrinsics)
    lens = camera_math.intrinsics_to_lens(
        bundle.intrinsics, bundle.plate_width, bundle.plate_height
    )
    for index, frame in enumerate(bundle.frames[:frame_limit]):
        camera.matrix_world = Matrix(matrices[index].tolist())
        camera.data.lens = lens.lens[index]
        camera.keyframe_insert("location", frame=frame)
        camera.keyframe_insert("rotation_euler", frame=frame)
        camera.data.keyframe_insert("lens", frame=frame)
    moving, moving_colors, offsets = read_dynamic_points(bundle)
    for index, frame in enumerate(bundle.frames[:frame_limit]):
        rows = slice(offsets[index], offsets[index + 1])
        obj = _common_cloud(scene, f"moving_{frame}", moving[rows], moving_colors[rows])
        for shown, key_frame in ((False, frame - 1), (True, frame), (False, frame + 1)):
            obj.hide_viewport = obj.hide_render = not shown
            obj.keyframe_insert("hide_viewport", frame=key_frame)
            obj.keyframe_insert("hide_render", frame=key_frame)


def _common_cloud(scene, name: str, positions: np.ndarray, colors: np.ndarray):
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(camera_math.points_to_blender(positions).tolist(), [], [])
    attribute = mesh.color_attributes.new("vggt4d_color", "FLOAT_COLOR", "POINT")
    rgba = [channel / 255.0 for color in colors.tolist() for channel in (*color, 255)]
    attribute.data.foreach_set("color", rgba)
    obj = bpy.data.objects.new(name, mesh)
    scene.collection.objects.link(obj)
    return obj


def moving_as_objects(path: Path) -> None:
    """Alternative design, written fast: one object per frame with keyed visibility, all
    sharing one point-display node group (as the importer would)."""
    bundle = read_bundle(path)
    moving, colors, offsets = read_dynamic_points(bundle)
    collection = bpy.context.scene.collection
    display = None
    for index, frame in enumerate(bundle.frames):
        rows = slice(offsets[index], offsets[index + 1])
        mesh = point_mesh(
            f"moving_{frame}", camera_math.points_to_blender(moving[rows]), colors[rows]
        )
        obj = bpy.data.objects.new(f"moving_{frame}", mesh)
        collection.objects.link(obj)
        if display is None:
            display = add_point_display(obj, "bench", radius=0.01)
        else:
            modifier = obj.modifiers.new(display.name, "NODES")
            modifier.node_group = display.node_group
        action = bpy.data.actions.new(f"moving_{frame}")
        keys = np.array([frame - 1, frame, frame + 1], np.float64)
        hidden = np.array([1.0, 0.0, 1.0])
        key_channels(obj, action, "hide_viewport", keys, hidden, "CONSTANT")
        key_channels(obj, action, "hide_render", keys, hidden, "CONSTANT")


def moving_as_one_mesh(path: Path) -> None:
    """The importer's design: one mesh, a frame attribute and a geometry-nodes filter."""
    bundle = read_bundle(path)
    root = bpy.data.objects.new("root", None)
    bpy.context.scene.collection.objects.link(root)
    import_dynamic_points(bundle, read_dynamic_points(bundle), bpy.context.scene.collection, root)


def playback_ms(frames: int) -> float:
    """Mean time of a frame change (depsgraph evaluation) over the first ``frames`` frames."""
    scene = bpy.context.scene
    scene.frame_set(1001)
    started = time.perf_counter()
    for frame in range(1002, 1002 + frames):
        scene.frame_set(frame)
    return (time.perf_counter() - started) / frames * 1000.0


def blend_size(folder: Path, name: str) -> float:
    target = folder / f"{name}.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(target), compress=False)
    return target.stat().st_size / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--static", type=int, default=2_000_000)
    parser.add_argument("--moving", type=int, default=20_000)
    parser.add_argument("--subset", type=int, default=10, help="common approach: 1/N of the data")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vggt4d-bench-") as folder:
        folder = Path(folder)
        started = time.perf_counter()
        path = make_bundle(folder / "bench.vggt4d", args.frames, args.static, args.moving)
        print(
            f"bundle: {args.frames} frames, {args.static} static points, {args.moving} moving "
            f"points per frame (written in {time.perf_counter() - started:.1f} s)"
        )
        ours = min(timed(import_ours, path) for _ in range(3))
        print(
            f"ours (bulk attributes, layered-action keys, masks, GN filter): {ours:.3f} s "
            "(best of 3)"
        )
        static_limit, frame_limit = args.static // args.subset, args.frames // args.subset
        subset = min(timed(import_common, path, static_limit, frame_limit) for _ in range(2))
        common = subset * args.subset
        print(
            f"common (from_pydata, colour list, keyframe_insert): {subset:.3f} s on "
            f"1/{args.subset} of the data ({static_limit} static points, {frame_limit} "
            f"frames), scaled linearly to {common:.2f} s"
        )
        print(f"ratio: ours is {common / ours:.1f}x faster")

        for label, function in (
            ("one mesh + frame attribute + GN filter", moving_as_one_mesh),
            ("one object per frame + keyed visibility", moving_as_objects),
        ):
            seconds = min(timed(function, path) for _ in range(2))
            playback = playback_ms(min(30, args.frames - 1))
            size = blend_size(folder, function.__name__)
            print(
                f"moving points, {label}: import {seconds:.3f} s, frame change "
                f"{playback:.1f} ms, .blend {size:.1f} MiB"
            )


if __name__ == "__main__":
    main()
