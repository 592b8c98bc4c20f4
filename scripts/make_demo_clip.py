"""Write a short synthetic clip for the demo: a camera panning over a textured wall while a
chequered disc moves across it. Needs numpy and OpenCV only."""

import argparse
from pathlib import Path

import cv2
import numpy as np


def _wall_texture(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth multi-frequency colour texture, so every patch of the wall looks different."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = []
    for _ in range(3):
        value = np.zeros_like(x)
        for _ in range(6):
            fx, fy = rng.uniform(0.005, 0.05, size=2)
            phase = rng.uniform(0, 2 * np.pi)
            value += np.sin(fx * x + fy * y + phase)
        channels.append(value)
    texture = np.stack(channels, axis=-1)
    texture = (texture - texture.min()) / (texture.max() - texture.min())
    return (texture * 255).astype(np.uint8)


def make_clip(
    path: Path, frames: int = 12, width: int = 320, height: int = 180, fps: float = 24.0
) -> Path:
    """Render the clip to ``path`` (mp4, mp4v codec) and return the path."""
    rng = np.random.default_rng(7)
    wall = _wall_texture(height * 2, width * 2, rng)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    for index in range(frames):
        pan_x = int(index * width / (2 * frames))
        frame = wall[height // 3 : height // 3 + height, pan_x : pan_x + width].copy()
        centre = (int(width * 0.2 + index * width * 0.6 / frames), int(height * 0.5))
        radius = height // 6
        disc = np.zeros((height, width), np.uint8)
        cv2.circle(disc, centre, radius, 255, -1)
        yy, xx = np.mgrid[0:height, 0:width]
        checker = ((xx // 6 + yy // 6) % 2).astype(bool)
        frame[(disc > 0) & checker] = (40, 40, 220)
        frame[(disc > 0) & ~checker] = (220, 60, 40)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("output", type=Path)
    parser.add_argument("--frames", type=int, default=12)
    args = parser.parse_args()
    make_clip(args.output, frames=args.frames)


if __name__ == "__main__":
    main()
