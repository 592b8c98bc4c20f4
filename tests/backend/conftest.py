"""Shared backend test helpers: a small consistent bundle in memory, a tiny clip, the tiny
weights."""

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from vggt4d.io.bundle import BundleData


def rotation_about_y(angle: float) -> np.ndarray:
    cosine, sine = np.cos(angle), np.sin(angle)
    return np.array([[cosine, 0.0, sine], [0.0, 1.0, 0.0], [-sine, 0.0, cosine]])


def make_bundle_data(frames: int = 3, plate: tuple[int, int] = (64, 48)) -> BundleData:
    """Cameras orbiting a little around the origin, static points in front of them, random
    masks and depth; plate `plate` (width, height) and a model input at half its size."""
    rng = np.random.default_rng(7)
    width, height = plate
    extrinsics = np.zeros((frames, 3, 4))
    for index in range(frames):
        extrinsics[index, :, :3] = rotation_about_y(0.05 * index)
        extrinsics[index, :, 3] = [0.1 * index, -0.02 * index, 0.03]
    intrinsics = np.tile(
        np.array([[50.0, 0.0, width / 2], [0.0, 52.0, height / 2], [0.0, 0.0, 1.0]]),
        (frames, 1, 1),
    )
    intrinsics[:, 0, 0] += np.arange(frames)
    static_count, dynamic_count = 40, 12
    static_points = rng.uniform([-1, -1, 3], [1, 1, 5], (static_count, 3)).astype(np.float32)
    offsets = np.linspace(0, dynamic_count, frames + 1).astype(np.int64)
    return BundleData(
        source={"path": "/footage/shot.mp4", "kind": "video", "frame_start": 1001},
        plate_width=width,
        plate_height=height,
        fps=24.0,
        frames=[1001 + 2 * index for index in range(frames)],
        model_width=width // 2,
        model_height=height // 2,
        preprocess_mode="crop",
        plate_to_model={"scale_x": 0.5, "scale_y": 0.5, "offset_x": 0.0, "offset_y": 0.0},
        extrinsics=extrinsics,
        intrinsics=intrinsics,
        depth=rng.uniform(1, 5, (frames, height // 2, width // 2)).astype(np.float16),
        depth_conf=rng.uniform(1, 9, (frames, height // 2, width // 2)).astype(np.float16),
        coarse_masks=rng.random((frames, height, width)) < 0.3,
        refined_masks=rng.random((frames, height, width)) < 0.2,
        static_points=static_points,
        static_colors=rng.integers(0, 256, (static_count, 3), dtype=np.uint8),
        static_confidence=rng.uniform(1, 9, static_count).astype(np.float32),
        dynamic_points=rng.normal(size=(dynamic_count, 3)).astype(np.float32),
        dynamic_colors=rng.integers(0, 256, (dynamic_count, 3), dtype=np.uint8),
        dynamic_frame_offsets=offsets,
        model={"source": "tests/fixtures/tiny_vggt4d", "sha256": "0" * 64, "test_weights": True},
        options={"refine": True, "confidence_percentile": 25.0},
        timings={"ingest": 0.5, "pass1": 1.25},
        software={"vggt4d": "0.1.0", "numpy": np.__version__},
    )


@pytest.fixture
def bundle_data() -> Callable[..., BundleData]:
    """Factory for a fresh `BundleData` (tests mutate it)."""
    return make_bundle_data


def write_test_clip(path: Path, frames: int = 5, size: tuple[int, int] = (296, 56)) -> Path:
    """A tiny mp4: smooth static texture and a red disc moving right. The wide plate keeps the
    model input at 518x98 (7x37 patches), so a job on the tiny weights takes seconds."""
    width, height = size
    rng = np.random.default_rng(0)
    coarse = (rng.random((height // 4, width // 4, 3)) * 255).astype(np.uint8)
    texture = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 24.0, (width, height))
    for index in range(frames):
        frame = texture.copy()
        cv2.circle(frame, (40 + 12 * index, height // 2), height // 5, (0, 0, 255), -1)
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="session")
def test_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 5-frame 296x56 mp4 shared by the end-to-end tests (read-only)."""
    return write_test_clip(tmp_path_factory.mktemp("clip") / "shot.mp4")


@pytest.fixture(scope="session")
def tiny_weights(fixtures_dir: Path) -> Path:
    """The untrained 24-block VGGT4D test model (a directory weights source)."""
    return fixtures_dir / "tiny_vggt4d"
