"""Stitching against ground truth Blender rendered: oracle chunks, each in its own random
world (as VGGT puts every chunk at its first camera and its own scale) with network-like
noise, are stitched back by the same `align_chunk` the long-shot loop uses; the trajectory
must come back at the noise level, without drift and without a jump at any seam."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from skimage.transform import SimilarityTransform

from tests.blender.render_truth import configure_truth_render, render_truth
from vggt4d.chunks import plan_chunks
from vggt4d.geometry import Similarity
from vggt4d.long_shot import align_chunk, next_overlap
from vggt4d.pipeline import Reconstruction

WIDTH, HEIGHT = 96, 72
FRAMES = list(range(1, 31))
CHUNK, OVERLAP = 12, 4
ROTATION_NOISE_DEG = 0.15
CENTRE_NOISE = 0.01  # metres; the scene is about 10 m across
DEPTH_NOISE = 0.01  # relative, per pixel


def _build_scene(bpy):
    scene = bpy.context.scene
    bpy.ops.mesh.primitive_plane_add(size=30.0, location=(0, 0, 0))
    for x, y, size in ((-2.0, 3.0, 1.5), (2.5, 4.0, 2.0), (0.5, 6.5, 3.0), (-3.5, 7.0, 2.5)):
        bpy.ops.mesh.primitive_cube_add(size=size, location=(x, y, size / 2))
    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.7)
    mover = bpy.context.active_object
    mover.pass_index = 1
    camera = bpy.data.objects.new("truth", bpy.data.cameras.new("truth"))
    scene.collection.objects.link(camera)
    camera.data.lens = 24.0
    for frame in FRAMES:
        phase = (frame - 1) / (len(FRAMES) - 1)
        mover.location = (-2.5 + 5.0 * phase, 2.0, 0.7)
        mover.keyframe_insert("location", frame=frame)
        camera.location = (-4.0 + 8.0 * phase, -6.0 + 1.5 * np.sin(3 * phase), 2.0 + phase)
        camera.rotation_euler = (np.radians(78), 0.0, np.radians(-20 + 40 * phase))
        camera.keyframe_insert("location", frame=frame)
        camera.keyframe_insert("rotation_euler", frame=frame)
    scene.camera = camera
    configure_truth_render(bpy, scene, WIDTH, HEIGHT)
    return scene


def _unproject(depth: np.ndarray, intrinsics: np.ndarray, cam_from_world: np.ndarray):
    """World points [H, W, 3] of depth [H, W] at pixel centres."""
    rows, columns = np.mgrid[0:HEIGHT, 0:WIDTH] + 0.5
    rays = np.stack([columns, rows, np.ones_like(rows)], -1) @ np.linalg.inv(intrinsics).T
    camera_points = rays * depth[..., None]
    rotation, translation = cam_from_world[:, :3], cam_from_world[:, 3]
    return (camera_points - translation) @ rotation


def _oracle_chunk(rendered, frames: range, rng: np.random.Generator) -> Reconstruction:
    """The render of ``frames`` as a network would give it: its own world and scale, noise."""
    world = Similarity(
        float(np.exp(rng.uniform(-1.0, 1.0))),
        Rotation.random(random_state=rng.integers(1 << 31)).as_matrix(),
        rng.normal(scale=3.0, size=3),
    )
    cameras, depths, points, masks, intrinsics = [], [], [], [], []
    for frame in frames:
        depth, index, camera_intrinsics, truth = rendered[frame]
        noisy = truth.copy()
        turn = Rotation.from_rotvec(rng.normal(scale=np.radians(ROTATION_NOISE_DEG), size=3))
        noisy[:, :3] = turn.as_matrix() @ truth[:, :3]
        centre = -truth[:, :3].T @ truth[:, 3] + rng.normal(scale=CENTRE_NOISE, size=3)
        noisy[:, 3] = -noisy[:, :3] @ centre
        seen = np.minimum(depth, 60.0) * (1 + rng.normal(scale=DEPTH_NOISE, size=depth.shape))
        points.append(world.apply_points(_unproject(seen, camera_intrinsics, noisy)))
        cameras.append(world.apply_cameras(noisy[None])[0])
        depths.append(seen * world.scale)
        masks.append(index == 1)
        intrinsics.append(camera_intrinsics)
    count = len(frames)
    return Reconstruction(
        images=np.zeros((count, HEIGHT, WIDTH, 3), np.float32),
        extrinsics=np.stack(cameras).astype(np.float32),
        intrinsics=np.stack(intrinsics).astype(np.float32),
        depth=np.stack(depths).astype(np.float32),
        depth_conf=rng.uniform(1.0, 5.0, (count, HEIGHT, WIDTH)).astype(np.float32),
        world_points=np.stack(points).astype(np.float32),
        coarse_masks=np.stack(masks),
        refined_masks=np.stack(masks),
    )


def _centres(cameras: np.ndarray) -> np.ndarray:
    return np.stack([-camera[:, :3].T @ camera[:, 3] for camera in cameras])


@pytest.mark.slow
def test_oracle_chunks_stitch_back_at_the_noise_level(factory_blender, tmp_path) -> None:
    bpy = factory_blender
    scene = _build_scene(bpy)
    rendered = render_truth(bpy, scene, FRAMES, tmp_path)
    truth = np.stack([r[3] for r in rendered])
    chunks = plan_chunks(len(FRAMES), CHUNK, OVERLAP)
    assert len(chunks) == 4
    rng = np.random.default_rng(12)

    stitched, previous, seams = [], None, []
    for chunk in chunks:
        result = align_chunk(_oracle_chunk(rendered, chunk.frames, rng), chunk, previous, FRAMES)
        own = slice(chunk.own_start - chunk.start, chunk.own_stop - chunk.start)
        stitched.append(np.asarray(result.reconstruction.extrinsics[own], np.float64))
        following = chunks[chunk.index + 1] if chunk.index + 1 < len(chunks) else None
        previous = next_overlap(result, following)
        if result.seam is not None:
            seams.append(result.seam)
    cameras = np.concatenate(stitched)

    # Absolute trajectory error after one similarity for the whole shot (Umeyama).
    estimated, expected = _centres(cameras), _centres(truth)
    gauge = SimilarityTransform.from_estimate(estimated, expected)
    errors = np.linalg.norm(gauge(estimated) - expected, axis=1)
    noise_level = CENTRE_NOISE * np.sqrt(3)  # RMS of the per-frame centre noise
    assert np.sqrt(np.mean(errors**2)) < 2.0 * noise_level
    assert errors.max() < 4.0 * noise_level  # no drift across four chunks
    # No jump at a seam: the step into each seam frame is like the steps around it.
    steps = np.linalg.norm(np.diff(gauge(estimated) - expected, axis=0), axis=1)
    for seam in seams:
        position = FRAMES.index(seam["frame"])
        assert steps[position - 1] < 4.0 * noise_level
        assert seam["relative_residual"] < 3 * DEPTH_NOISE
        # Two chunks' independent noise on the seam frame: about sqrt(6) sigma apart.
        assert seam["rotation_jump_deg"] < 3 * np.sqrt(6) * ROTATION_NOISE_DEG
    # Rotations too: after the best common rotation (truth^T estimate, averaged over frames),
    # the geodesic error stays at the noise level.
    offsets = Rotation.from_matrix(np.transpose(truth[:, :, :3], (0, 2, 1)) @ cameras[:, :, :3])
    angles = np.degrees((offsets * offsets.mean().inv()).magnitude())
    assert np.sqrt(np.mean(angles**2)) < 2 * np.sqrt(3) * ROTATION_NOISE_DEG
