"""`vggt4d eval` on a shot Blender rendered: its camera, object-index and depth passes become a
generic-layout ground truth; a bundle of the same render with known errors (cameras moved by
offsets uncorrelated with the path, in another similarity world; masks eroded by one pixel;
depth at half scale) must score the known ATE, the counted J and an exact depth."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from tests.backend.conftest import make_bundle_data
from tests.backend.eval.benchmark_layouts import perturbed_in_another_world
from tests.blender.importers.exr import read_exr_channels
from tests.blender.render_truth import configure_truth_render, render_truth
from vggt4d.io.bundle import write_bundle

SCRIPT = Path(sys.executable).parent / "vggt4d"
WIDTH, HEIGHT = 96, 72
FRAMES = [1, 2, 3, 4, 5, 6]
FPS = 24.0


def _build_scene(bpy):
    scene = bpy.context.scene
    bpy.ops.mesh.primitive_plane_add(size=14.0, location=(0, 0, 0))
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=(1.5, 2.5, 0.5))
    bpy.ops.mesh.primitive_uv_sphere_add(radius=1.0, segments=32, ring_count=16)
    actor = bpy.context.active_object
    actor.pass_index = 1
    camera = bpy.data.objects.new("truth", bpy.data.cameras.new("truth"))
    scene.collection.objects.link(camera)
    camera.data.lens = 24.0
    for frame in FRAMES:
        actor.location = (-1.2 + 0.4 * frame, 0.8, 0.9 + 0.1 * frame)
        actor.keyframe_insert("location", frame=frame)
        camera.location = (0.35 * frame, -7.5 + 0.25 * frame, 2.4 + 0.04 * frame * frame)
        camera.rotation_euler = (np.radians(76 - 1.5 * frame), 0.0, np.radians(3.0 * frame))
        camera.keyframe_insert("location", frame=frame)
        camera.keyframe_insert("rotation_euler", frame=frame)
    scene.camera = camera
    configure_truth_render(bpy, scene, WIDTH, HEIGHT)
    return scene


def _render(bpy, scene, folder: Path) -> dict:
    """Per frame: world_from_cam (OpenCV axes), depth, moving mask, and the plate on disk."""
    poses, depths, masks = [], [], []
    for frame, (depth, index, _, extrinsics) in zip(
        FRAMES, render_truth(bpy, scene, FRAMES, folder), strict=True
    ):
        channels = read_exr_channels(folder / f"render_{frame}.exr")
        colour = [
            next(v for k, v in channels.items() if k.endswith(f"Combined.{c}")) for c in "BGR"
        ]
        plate = np.clip(np.stack(colour, axis=2) ** (1 / 2.2) * 255, 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / "plate" / f"plate.{frame:04d}.png"), plate)
        pose = np.linalg.inv(np.vstack([extrinsics, [0, 0, 0, 1]]))
        pose[:3, :3] = Rotation.from_matrix(pose[:3, :3]).as_matrix()  # float32 -> orthonormal
        poses.append(pose)
        depths.append(np.where(depth < 1e5, depth, 0.0))
        masks.append(index == 1)
    return {"poses": np.stack(poses), "depth": np.stack(depths), "masks": np.stack(masks)}


def _write_truth(folder: Path, render: dict) -> None:
    """The generic layout, written here without any of the backend's code."""
    lines = ["# timestamp tx ty tz qx qy qz qw"]
    (folder / "masks").mkdir(parents=True)
    (folder / "depth").mkdir()
    for frame, pose, mask, depth in zip(
        FRAMES, render["poses"], render["masks"], render["depth"], strict=True
    ):
        x, y, z, w = Rotation.from_matrix(pose[:3, :3]).as_quat()
        lines.append(" ".join(f"{v:.12g}" for v in (frame / FPS, *pose[:3, 3], x, y, z, w)))
        cv2.imwrite(
            str(folder / "masks" / f"actor.{frame:04d}.png"),
            np.where(mask, 255, 0).astype(np.uint8),
        )
        cv2.imwrite(
            str(folder / "depth" / f"depth.{frame:04d}.png"),
            np.round(depth * 1000).astype(np.uint16),
        )
    (folder / "trajectory.txt").write_text("\n".join(lines) + "\n")


@pytest.mark.slow
def test_eval_of_a_rendered_shot_with_known_errors(factory_blender, tmp_path: Path) -> None:
    bpy = factory_blender
    (tmp_path / "plate").mkdir()
    scene = _build_scene(bpy)
    render = _render(bpy, scene, tmp_path)
    assert all(mask.sum() > 150 for mask in render["masks"])
    _write_truth(tmp_path / "truth", render)

    extrinsics, ate = perturbed_in_another_world(render["poses"], rms=0.1, seed=5)
    eroded = np.stack(
        [cv2.erode(m.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0 for m in render["masks"]]
    )
    base = make_bundle_data(frames=len(FRAMES), plate=(WIDTH, HEIGHT))
    bundle = write_bundle(
        tmp_path / "render.vggt4d",
        type(base)(
            **{
                **base.__dict__,
                "source": {
                    "path": str(tmp_path / "plate" / "plate.####.png"),
                    "kind": "image_sequence",
                },
                "fps": FPS,
                "frames": FRAMES,
                "model_width": WIDTH,
                "model_height": HEIGHT,
                "plate_to_model": {
                    "scale_x": 1.0,
                    "scale_y": 1.0,
                    "offset_x": 0.0,
                    "offset_y": 0.0,
                },
                "extrinsics": extrinsics,
                "depth": (0.5 * render["depth"]).astype(np.float16),
                "depth_conf": np.ones((len(FRAMES), HEIGHT, WIDTH), np.float16),
                "coarse_masks": eroded,
                "refined_masks": eroded,
            }
        ),
    )
    command = [str(SCRIPT), "eval", str(bundle), "--gt", str(tmp_path / "truth")]
    done = subprocess.run(
        [*command, "-o", str(tmp_path / "report")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["layout"] == "generic" and report["camera_frames"] == len(FRAMES)
    assert report["ate_rmse"] == pytest.approx(ate, rel=1e-6)
    assert report["rpe_rot_deg"] == pytest.approx(0, abs=1e-4)
    expected_j = np.mean([e.sum() / m.sum() for e, m in zip(eroded, render["masks"], strict=True)])
    assert report["mask_J_mean"] == pytest.approx(expected_j)
    assert report["depth_scale"] == pytest.approx(2.0, rel=1e-3)
    assert report["depth_abs_rel"] < 2e-3 and report["depth_delta_1_25"] == 1.0
    overlay = cv2.imread(str(tmp_path / "report" / "masks.png"))
    assert overlay.shape == (HEIGHT, 4 * WIDTH, 3) and overlay.std() > 10  # the real plate
