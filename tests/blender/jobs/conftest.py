"""Footage for end-to-end job tests: a short OpenCV-written video, the tiny test weights, and
running a job to its end as the panel's timer does."""

import time
from pathlib import Path

import numpy as np
import pytest

TINY_WEIGHTS = Path(__file__).resolve().parents[2] / "fixtures" / "tiny_vggt4d"


def write_video(path: Path, frame_count: int = 4, width: int = 96, height: int = 64) -> Path:
    """A textured background with a square moving right: frames 1..frame_count of an mp4."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 24.0, (width, height))
    for index in range(frame_count):
        frame = np.full((height, width, 3), 90, np.uint8)
        frame[::8] = 40
        frame[:, ::12] = 160
        left = 10 + 6 * index
        frame[20:40, left : left + 20] = (0, 200, 255)
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture
def video(tmp_path) -> Path:
    return write_video(tmp_path / "street_shot.mp4")


@pytest.fixture
def tiny_weights() -> Path:
    assert (TINY_WEIGHTS / "config.json").is_file()
    return TINY_WEIGHTS


def run_to_end(job, seconds: float) -> None:
    """Start `job` (a `ReconstructJob`) and tick it, as the panel's timer does, until it
    finishes or `seconds` pass."""
    job.start()
    deadline = time.monotonic() + seconds
    while not job.tick().finished and time.monotonic() < deadline:
        time.sleep(0.02)
