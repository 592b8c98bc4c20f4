"""Write 8-bit greyscale PNGs with numpy and zlib: Blender's Python has no PIL."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_grey_png(path: str | Path, image: np.ndarray) -> Path:
    """Write uint8 [H, W] (or bool: 0/255) as an 8-bit greyscale PNG."""
    pixels = np.asarray(image)
    if pixels.dtype == bool:
        pixels = pixels.astype(np.uint8) * 255
    if pixels.ndim != 2 or pixels.dtype != np.uint8:
        raise ValueError(
            f"expected a uint8 or bool [H, W] image, got {pixels.dtype} {pixels.shape}"
        )
    height, width = pixels.shape
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey, no interlace
    rows = np.hstack([np.zeros((height, 1), dtype=np.uint8), pixels])  # filter 0 per row
    path = Path(path)
    path.write_bytes(
        _SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + _chunk(b"IEND", b"")
    )
    return path
