"""Ground truth nobody here wrote: Blender renders a scene, we turn its camera and passes into
a bundle with our own independent conversion, import it, and compare with what rendered it.

The conversion below deliberately does not use camera_math: intrinsics come from Blender's
``calc_matrix_camera`` (an OpenGL projection), extrinsics from ``matrix_world``, depth from
Cycles' Z pass and masks from the object-index pass of a multilayer EXR.
"""

import numpy as np
import pytest

from tests.blender.render_truth import FLIP, configure_truth_render, render_truth
from vggt4d.io.bundle import BundleData, write_bundle
from vggt4d_blender.importers.shot import import_bundle

WIDTH, HEIGHT = 160, 120
FRAMES = [1, 2, 3]
SPHERE_RADIUS = 0.6


def _sphere_centre(frame: int) -> np.ndarray:
    return np.array([-0.8 + 0.6 * frame, 0.5, 0.9])


def _build_scene(bpy):
    scene = bpy.context.scene
    bpy.ops.mesh.primitive_plane_add(size=12.0, location=(0, 0, 0))
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=(1.5, 2.5, 0.5))
    bpy.ops.mesh.primitive_uv_sphere_add(radius=SPHERE_RADIUS, segments=64, ring_count=32)
    sphere = bpy.context.active_object
    sphere.pass_index = 1
    for frame in FRAMES:
        sphere.location = _sphere_centre(frame)
        sphere.keyframe_insert("location", frame=frame)
    camera = bpy.data.objects.new("truth", bpy.data.cameras.new("truth"))
    scene.collection.objects.link(camera)
    camera.data.lens = 28.0
    camera.data.shift_x = 0.04
    camera.data.shift_y = -0.03
    for frame in FRAMES:
        camera.location = (0.3 * frame, -7.0 + 0.2 * frame, 2.5)
        camera.rotation_euler = (np.radians(75 - frame), 0.0, np.radians(2.0 * frame))
        camera.keyframe_insert("location", frame=frame)
        camera.keyframe_insert("rotation_euler", frame=frame)
    scene.camera = camera
    configure_truth_render(bpy, scene, WIDTH, HEIGHT)
    return scene, camera


def _unproject(depth, intrinsics, extrinsics, selection):
    rows, columns = np.nonzero(selection)
    z = depth[rows, columns]
    x = (columns + 0.5 - intrinsics[0, 2]) / intrinsics[0, 0] * z
    y = (rows + 0.5 - intrinsics[1, 2]) / intrinsics[1, 1] * z
    camera_points = np.stack([x, y, z], axis=1)
    rotation, translation = extrinsics[:, :3], extrinsics[:, 3]
    return (camera_points - translation) @ rotation


def _bundle_from_render(rendered) -> BundleData:
    static, dynamic, offsets, masks = [], [], [0], []
    for number, (depth, index, intrinsics, extrinsics) in enumerate(rendered):
        finite = depth < 1e5
        if number == 0:
            static.append(_unproject(depth, intrinsics, extrinsics, finite & (index == 0)))
        moving = _unproject(depth, intrinsics, extrinsics, finite & (index == 1))
        dynamic.append(moving)
        offsets.append(offsets[-1] + len(moving))
        masks.append(index == 1)
    static_points = np.concatenate(static).astype(np.float32)
    dynamic_points = np.concatenate(dynamic).astype(np.float32)
    count = len(rendered)
    return BundleData(
        source={"path": "render", "kind": "image_sequence"},
        plate_width=WIDTH,
        plate_height=HEIGHT,
        fps=24.0,
        frames=FRAMES,
        model_width=WIDTH,
        model_height=HEIGHT,
        preprocess_mode="crop",
        plate_to_model={"scale_x": 1.0, "scale_y": 1.0, "offset_x": 0.0, "offset_y": 0.0},
        extrinsics=np.stack([r[3] for r in rendered]),
        intrinsics=np.stack([r[2] for r in rendered]),
        depth=np.stack([np.minimum(r[0], 1e4) for r in rendered]).astype(np.float16),
        depth_conf=np.ones((count, HEIGHT, WIDTH), np.float16),
        coarse_masks=np.stack(masks),
        refined_masks=np.stack(masks),
        static_points=static_points,
        static_colors=np.full((len(static_points), 3), 200, np.uint8),
        static_confidence=np.ones(len(static_points), np.float32),
        dynamic_points=dynamic_points,
        dynamic_colors=np.full((len(dynamic_points), 3), 90, np.uint8),
        dynamic_frame_offsets=np.array(offsets, np.int64),
        model={"source": "blender-render", "sha256": "0", "test_weights": True},
        options={},
        timings={},
        software={},
    )


@pytest.mark.slow
def test_imported_shot_matches_the_render_that_made_it(factory_blender, tmp_path):
    bpy = factory_blender
    scene, truth = _build_scene(bpy)
    rendered = render_truth(bpy, scene, FRAMES, tmp_path)
    truth_matrices, truth_lens = [], []
    for frame in FRAMES:
        scene.frame_set(frame)
        truth_matrices.append(np.array(truth.matrix_world))
        truth_lens.append((truth.data.lens, truth.data.shift_x, truth.data.shift_y))
    path = write_bundle(tmp_path / "truth.vggt4d", _bundle_from_render(rendered))
    result = import_bundle(bpy.context, path)
    imported = bpy.data.objects[result.camera]
    assert scene.camera == imported

    for number, frame in enumerate(FRAMES):
        scene.frame_set(frame)
        np.testing.assert_allclose(
            np.array(imported.matrix_world), truth_matrices[number], atol=1e-5
        )
        lens = (imported.data.lens, imported.data.shift_x, imported.data.shift_y)
        np.testing.assert_allclose(lens, truth_lens[number], atol=1e-5)

    # Static points from frame 1 land on the rendered surfaces of frame 3 (depth agrees).
    depth3, index3, intrinsics3, _ = rendered[2]
    cloud = bpy.data.objects["truth_static"]
    flat = np.empty(len(cloud.data.vertices) * 3, np.float32)
    cloud.data.attributes["position"].data.foreach_get("vector", flat)
    world = flat.reshape(-1, 3).astype(np.float64)
    camera_from_world = FLIP @ np.linalg.inv(truth_matrices[2])[:3]
    camera_points = world @ camera_from_world[:, :3].T + camera_from_world[:, 3]
    pixels = camera_points @ intrinsics3.T
    pixels = pixels[:, :2] / pixels[:, 2:]
    inside = (pixels >= 0).all(1) & (pixels[:, 0] < WIDTH) & (pixels[:, 1] < HEIGHT)
    columns, rows = pixels[inside].astype(int).T
    visible = index3[rows, columns] == 0
    error = np.abs(depth3[rows, columns] - camera_points[inside, 2])[visible]
    assert inside.sum() > 5000
    assert np.median(error) < 0.02 and np.quantile(error, 0.9) < 0.1
    # Floor pixels unproject onto Blender's Z = 0 plane.
    off_cube = (np.abs(world[:, 0] - 1.5) > 0.55) | (np.abs(world[:, 1] - 2.5) > 0.55)
    floor = world[off_cube]  # every static pixel off the cube's footprint sees the floor
    assert len(floor) > 0.3 * len(world)
    np.testing.assert_allclose(floor[:, 2], 0.0, atol=2e-3)

    moving = bpy.data.objects["truth_dynamic"]
    offsets = np.concatenate([[0], np.cumsum([np.sum(r[1] == 1) for r in rendered])])
    flat = np.empty(len(moving.data.vertices) * 3, np.float32)
    moving.data.attributes["position"].data.foreach_get("vector", flat)
    moving_points = flat.reshape(-1, 3)
    for number, frame in enumerate(FRAMES):
        points = moving_points[offsets[number] : offsets[number + 1]]
        distance = np.linalg.norm(points - _sphere_centre(frame), axis=1)
        np.testing.assert_allclose(distance, SPHERE_RADIUS, atol=0.01)
