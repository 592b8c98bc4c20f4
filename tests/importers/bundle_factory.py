"""Small synthetic bundles written with the backend's own writer, for importer tests."""

from dataclasses import replace
from pathlib import Path

import numpy as np

from vggt4d.io.bundle import BundleData, write_bundle


def rotation_xyz(rx: float, ry: float, rz: float) -> np.ndarray:
    """R = Rz @ Ry @ Rx (radians)."""
    cx, sx, cy, sy = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry)
    cz, sz = np.cos(rz), np.sin(rz)
    x = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    z = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return z @ y @ x


def make_bundle_data(
    frames: list[int] | None = None,
    width: int = 96,
    height: int = 64,
    fx: float = 80.0,
    fy: float | None = None,
    cx: float | None = None,
    cy: float | None = None,
    static_count: int = 500,
    dynamic_per_frame: int = 40,
    seed: int = 0,
    source_path: str = "/plates/shot.####.png",
    pixel_aspect: float = 1.0,
) -> BundleData:
    """A camera orbiting slightly around points in front of it; masks mark a moving square."""
    frames = frames if frames is not None else [1, 2, 3, 4]
    count = len(frames)
    rng = np.random.default_rng(seed)
    extrinsics = np.zeros((count, 3, 4))
    for index in range(count):
        angle = 0.05 * index
        extrinsics[index, :, :3] = rotation_xyz(0.02 * index, angle, -0.01 * index)
        extrinsics[index, :, 3] = [0.1 * index, -0.05 * index, 0.02 * index]
    extrinsics[0] = np.concatenate([np.eye(3), np.zeros((3, 1))], axis=1)
    intrinsics = np.tile(
        np.array(
            [
                [fx, 0, width / 2 if cx is None else cx],
                [0, fx if fy is None else fy, height / 2 if cy is None else cy],
                [0, 0, 1],
            ]
        ),
        (count, 1, 1),
    )
    intrinsics[:, 0, 0] *= np.linspace(1.0, 1.1, count)
    intrinsics[:, 1, 1] *= np.linspace(1.0, 1.1, count)
    model_width, model_height = 48, 32
    masks = np.zeros((count, height, width), dtype=bool)
    for index in range(count):
        masks[index, 10:30, 5 + 8 * index : 25 + 8 * index] = True
    static = (rng.uniform(-1, 1, (static_count, 3)) + np.array([0, 0, 4])).astype(np.float32)
    offsets = np.arange(count + 1, dtype=np.int64) * dynamic_per_frame
    dynamic = rng.uniform(-0.3, 0.3, (count * dynamic_per_frame, 3)) + np.array([0, 0, 3])
    dynamic = dynamic.astype(np.float32)
    return BundleData(
        source={"path": source_path, "kind": "image_sequence"},
        plate_width=width,
        plate_height=height,
        fps=24.0,
        frames=list(frames),
        model_width=model_width,
        model_height=model_height,
        preprocess_mode="crop",
        plate_to_model={
            "scale_x": model_width / width,
            "scale_y": model_height / height,
            "offset_x": 0.0,
            "offset_y": 0.0,
        },
        extrinsics=extrinsics,
        intrinsics=intrinsics,
        depth=np.full((count, model_height, model_width), 4.0, np.float16),
        depth_conf=np.full((count, model_height, model_width), 2.0, np.float16),
        coarse_masks=masks,
        refined_masks=masks,
        static_points=static,
        static_colors=rng.integers(0, 256, (static_count, 3), dtype=np.uint8),
        static_confidence=np.linspace(1.0, 10.0, static_count, dtype=np.float32),
        dynamic_points=dynamic,
        dynamic_colors=rng.integers(0, 256, (len(dynamic), 3), dtype=np.uint8),
        dynamic_frame_offsets=offsets,
        model={"source": "synthetic", "sha256": "0", "test_weights": False},
        options={},
        timings={},
        software={"vggt4d": "test"},
        plate_pixel_aspect=pixel_aspect,
    )


def write_synthetic_bundle(path: Path, **kwargs) -> Path:
    """Write make_bundle_data(**kwargs) at `path` with the backend's writer."""
    return write_bundle(path, make_bundle_data(**kwargs))


def with_solve(
    data: BundleData,
    per_frame: list[float | None],
    median: float = 0.12,
    p90: float = 0.3,
    k1: float = -0.12,
    k2: float = 0.03,
    k3: float = 0.0,
    tracks: dict[str, np.ndarray] | None = None,
) -> BundleData:
    """`data` with a small `solve` section and its stored tracks (docs/bundle.md; two made-up
    tracks unless `tracks` are given), the network cameras kept as they were."""
    frames = len(data.frames)
    tracks = tracks or {
        "frame_index": np.array([0, 1, 1]),
        "track_index": np.array([0, 0, 1]),
        "xy": np.array([[10.0, 12.0], [11.0, 12.5], [40.0, 30.0]]),
        "error_px": np.array([0.1, 0.2, 0.1]),
        "points": np.array([[0.0, 0.0, 4.0], [0.5, 0.2, 4.5]]),
    }
    solve = {
        "reprojection_error_px": {"median": median, "p90": p90, "per_frame": per_frame},
        "distortion": {"model": "polynomial", "k1": k1, "k2": k2, "k3": k3},
        "tracks": len(tracks["points"]),
        "observations": len(tracks["xy"]),
        "depth_scale": [1.0] * frames,
        "options": {"focal": "shared"},
    }
    return replace(
        data,
        solve=solve,
        network_extrinsics=data.extrinsics,
        network_intrinsics=data.intrinsics,
        tracks=tracks,
    )
