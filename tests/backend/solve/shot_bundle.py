"""A rendered solve shot as a reconstruction would leave it: the "network" version of its
cameras (perturbed as VGGT4D errs: about 1 degree, 2-3 % of the scene depth, focal +5 %, depth
at a lower resolution with a per-frame scale error) written as a bundle with its plate on disk.

Torch-, scipy- and evo-free: the Blender-side tests use it on every Blender of the matrix."""

from dataclasses import dataclass

import cv2
import numpy as np

from vggt4d.geometry import invert_se3

MODEL_SCALE = 0.5  # depth is at half the plate resolution, like VGGT's 518-px input
PLATE_TO_MODEL = {"scale_x": MODEL_SCALE, "scale_y": MODEL_SCALE, "offset_x": 0.0, "offset_y": 0.0}


@dataclass
class Network:
    extrinsics: np.ndarray
    intrinsics: np.ndarray
    depth: np.ndarray  # float32 [S, h, w], model resolution


def network_estimate(shot, seed: int = 1, focal_error: float = 0.05) -> Network:
    """The shot's cameras and depth with network-like errors."""
    rng = np.random.default_rng(seed)
    frames = len(shot.extrinsics)
    centres = invert_se3(shot.extrinsics)[:, :, 3]
    scene_depth = float(np.median(shot.depth[np.isfinite(shot.depth)]))
    extrinsics = np.empty_like(shot.extrinsics)
    for index in range(frames):
        turn, _ = cv2.Rodrigues(rng.normal(size=3) * np.radians(1.0) / np.sqrt(3))
        rotation = turn @ shot.extrinsics[index, :, :3]
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
