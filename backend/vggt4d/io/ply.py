"""Write binary little-endian PLY point clouds: position, colour and an optional confidence.

Numpy only. The layout (and the reader, which accepts exactly this layout) belongs to the
bundle format: ``vggt4d.io.bundle_format.ply_header`` / ``ply_dtype`` / ``read_ply``.
"""

from pathlib import Path

import numpy as np

from vggt4d.io.bundle_format import ply_dtype, ply_header


def write_ply(
    path: str | Path,
    positions: np.ndarray,
    colors: np.ndarray,
    confidence: np.ndarray | None = None,
) -> Path:
    """Write points as a binary little-endian PLY.

    positions: float [N, 3]; colors: uint8 [N, 3]; confidence: float [N] or None.
    """
    path = Path(path)
    positions = np.asarray(positions)
    colors = np.asarray(colors)
    count = positions.shape[0]
    if positions.shape != (count, 3) or colors.shape != (count, 3):
        raise ValueError(f"positions {positions.shape} and colors {colors.shape} must be [N, 3]")
    if confidence is not None and np.shape(confidence) != (count,):
        raise ValueError(f"confidence {np.shape(confidence)} must be [{count}]")
    vertices = np.empty(count, dtype=ply_dtype(confidence is not None))
    for axis, name in enumerate("xyz"):
        vertices[name] = positions[:, axis]
    for channel, name in enumerate(("red", "green", "blue")):
        vertices[name] = colors[:, channel]
    if confidence is not None:
        vertices["confidence"] = confidence
    with path.open("wb") as stream:
        stream.write(ply_header(count, confidence is not None))
        stream.write(vertices.tobytes())
    return path
