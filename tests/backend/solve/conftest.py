"""Camera-solve fixtures: Blender-rendered shots with known cameras, and the "network" version
of their cameras (perturbed as VGGT4D errs: about 1 degree, 2-3 % of the scene depth, focal
+5 %, depth at a lower resolution with a per-frame scale error)."""

import os
import tempfile
from dataclasses import dataclass, replace

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vggt4d.eval.camera import camera_errors
from vggt4d.geometry import homogeneous, invert_se3

# bpy reads this at its first import: a throwaway user folder, as in tests/blender.
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="vggt4d-solve-user-"))

MODEL_SCALE = 0.5  # depth is at half the plate resolution, like VGGT's 518-px input
PLATE_TO_MODEL = {"scale_x": MODEL_SCALE, "scale_y": MODEL_SCALE, "offset_x": 0.0, "offset_y": 0.0}


@dataclass
class Network:
    extrinsics: np.ndarray
    intrinsics: np.ndarray
    depth: np.ndarray  # float32 [S, h, w], model resolution


@pytest.fixture(scope="session")
def shot(tmp_path_factory):
    from tests.backend.solve.blender_shot import render_shot

    return render_shot(tmp_path_factory.mktemp("solve_shot"))


@pytest.fixture(scope="session")
def crowded_shot(tmp_path_factory):
    """Movers twice the size: they cover a large part of the frame."""
    from tests.backend.solve.blender_shot import render_shot

    return render_shot(tmp_path_factory.mktemp("solve_crowded"), mover_scale=2.2, seed=3)


def network_estimate(shot, seed: int = 1, focal_error: float = 0.05) -> Network:
    """The shot's cameras and depth with network-like errors."""
    rng = np.random.default_rng(seed)
    frames = len(shot.extrinsics)
    centres = invert_se3(shot.extrinsics)[:, :, 3]
    scene_depth = float(np.median(shot.depth[np.isfinite(shot.depth)]))
    extrinsics = np.empty_like(shot.extrinsics)
    for index in range(frames):
        turn = Rotation.from_rotvec(rng.normal(size=3) * np.radians(1.0) / np.sqrt(3))
        rotation = turn.as_matrix() @ shot.extrinsics[index, :, :3]
        centre = centres[index] + rng.normal(size=3) * 0.025 * scene_depth / np.sqrt(3)
        extrinsics[index] = np.concatenate([rotation, (-rotation @ centre)[:, None]], axis=1)
    intrinsics = shot.intrinsics.copy()
    intrinsics[:, 0, 0] *= 1 + focal_error
    intrinsics[:, 1, 1] *= 1 + focal_error
    height, width = shot.depth.shape[1:]
    size = (round(width * MODEL_SCALE), round(height * MODEL_SCALE))
    far = np.where(np.isfinite(shot.depth), shot.depth, 10 * scene_depth)
    depth = np.stack([cv2.resize(d, size, interpolation=cv2.INTER_AREA) for d in far])
    depth *= 1 + 0.02 * rng.normal(size=(frames, 1, 1))
    return Network(extrinsics, intrinsics, depth.astype(np.float32))


def trajectory_error(extrinsics: np.ndarray, truth: np.ndarray) -> float:
    """ATE (camera centres after the best similarity), by the project's eval metric."""
    errors = camera_errors(homogeneous(invert_se3(truth)), homogeneous(invert_se3(extrinsics)))
    return errors.ate_rmse


def distort_shot(shot, k1: float, k2: float):
    """The shot seen through a polynomial lens (k1, k2 on normalised coordinates), warped with
    OpenCV: each distorted pixel takes the colour (depth, matte) of its undistorted position."""
    height, width = shot.depth.shape[1:]
    intrinsics = shot.intrinsics[0]
    opencv_matrix = intrinsics.copy()
    opencv_matrix[:2, 2] -= 0.5  # OpenCV puts pixel centres on integers
    columns, rows = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height))
    pixels = np.stack([columns, rows], axis=-1).reshape(-1, 1, 2)
    coefficients = np.array([k1, k2, 0.0, 0.0, 0.0])
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)
    undistorted = cv2.undistortPointsIter(
        pixels, opencv_matrix, coefficients, None, opencv_matrix, criteria
    )
    maps = undistorted.reshape(height, width, 2).astype(np.float32)

    def warp(image, interpolation):
        return cv2.remap(
            image, maps[..., 0], maps[..., 1], interpolation, borderMode=cv2.BORDER_REFLECT
        )

    plates = np.stack([warp(p, cv2.INTER_CUBIC) for p in shot.plates])
    depth = np.stack([warp(d, cv2.INTER_NEAREST) for d in shot.depth])
    movers = np.stack([warp(m.astype(np.uint8), cv2.INTER_NEAREST) > 0 for m in shot.movers])
    return replace(shot, plates=plates, depth=depth, movers=movers)


def write_shot_bundle(shot, network: Network, folder, name: str = "shot.vggt4d"):
    """The shot as a reconstruction would leave it: plate PNGs on disk named by the manifest's
    source, the network's cameras and depth, the movers as masks, an empty moving cloud."""
    from PIL import Image

    from vggt4d.io.bundle import BundleData, write_bundle

    plate_folder = folder / "plate"
    plate_folder.mkdir(parents=True, exist_ok=True)
    frames = list(range(1001, 1001 + len(shot.plates)))
    for number, plate in zip(frames, shot.plates, strict=True):
        Image.fromarray(plate).save(plate_folder / f"plate.{number:04d}.png")
    height, width = shot.plates.shape[1:3]
    static = np.zeros((1, 3), np.float32)
    data = BundleData(
        source={"path": str(plate_folder / "plate.####.png"), "kind": "image_sequence"},
        plate_width=width,
        plate_height=height,
        fps=24.0,
        frames=frames,
        model_width=network.depth.shape[2],
        model_height=network.depth.shape[1],
        preprocess_mode="crop",
        plate_to_model=PLATE_TO_MODEL,
        extrinsics=network.extrinsics,
        intrinsics=network.intrinsics,
        depth=network.depth,
        depth_conf=np.full(network.depth.shape, 2.0, np.float16),
        coarse_masks=shot.movers,
        refined_masks=shot.movers,
        static_points=static,
        static_colors=np.zeros((1, 3), np.uint8),
        static_confidence=np.ones(1, np.float32),
        dynamic_points=np.zeros((0, 3), np.float32),
        dynamic_colors=np.zeros((0, 3), np.uint8),
        dynamic_frame_offsets=np.zeros(len(frames) + 1, np.int64),
        model={"source": "blender-render", "sha256": "0", "test_weights": True},
        options={"confidence_percentile": 0.0},
        timings={},
        software={},
    )
    return write_bundle(folder / name, data)
