"""Binary little-endian PLY point clouds: position, colour and an optional confidence per vertex.

Numpy only (the Blender add-on reads the same files). The reader accepts exactly the vertex
layouts the writer produces, so a hostile or foreign file fails with a clear BundleError instead
of being half-understood.
"""

from pathlib import Path

import numpy as np

from vggt4d.errors import BundleError

_MAX_HEADER_BYTES = 64 * 1024
_MAX_POINTS = 2_000_000_000
_BASE_FIELDS = [
    ("x", "<f4"),
    ("y", "<f4"),
    ("z", "<f4"),
    ("red", "u1"),
    ("green", "u1"),
    ("blue", "u1"),
]
_CONFIDENCE_FIELD = ("confidence", "<f4")
_PLY_TYPES = {"<f4": "float", "u1": "uchar"}


def _fields(with_confidence: bool) -> list[tuple[str, str]]:
    return _BASE_FIELDS + ([_CONFIDENCE_FIELD] if with_confidence else [])


def _header_properties(with_confidence: bool) -> list[str]:
    return [f"property {_PLY_TYPES[kind]} {name}" for name, kind in _fields(with_confidence)]


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
    vertices = np.empty(count, dtype=np.dtype(_fields(confidence is not None)))
    for axis, name in enumerate("xyz"):
        vertices[name] = positions[:, axis]
    for channel, name in enumerate(("red", "green", "blue")):
        vertices[name] = colors[:, channel]
    if confidence is not None:
        vertices["confidence"] = confidence
    lines = ["ply", "format binary_little_endian 1.0", f"element vertex {count}"]
    lines += _header_properties(confidence is not None)
    lines.append("end_header")
    with path.open("wb") as stream:
        stream.write(("\n".join(lines) + "\n").encode("ascii"))
        stream.write(vertices.tobytes())
    return path


def read_ply_header(path: str | Path) -> tuple[int, np.dtype, int]:
    """Parse and check the header: (vertex count, vertex dtype, header size in bytes).

    Also checks that the file size is exactly header + count * vertex size, so a truncated or
    padded file is refused before any data is read.
    """
    path = Path(path)
    with path.open("rb") as stream:
        head = stream.read(_MAX_HEADER_BYTES)
    end = head.find(b"end_header\n")
    if not head.startswith(b"ply\n") or end < 0:
        raise BundleError(f"{path} is not a PLY file with a header under 64 KiB")
    header_size = end + len(b"end_header\n")
    lines = head[:end].decode("ascii", errors="replace").splitlines()[1:]
    if not lines or lines[0] != "format binary_little_endian 1.0":
        raise BundleError(f"{path}: only binary little-endian PLY is supported")
    element = lines[1].split() if len(lines) > 1 else []
    if len(element) != 3 or element[:2] != ["element", "vertex"] or not element[2].isdigit():
        raise BundleError(f"{path}: expected a single 'element vertex N'")
    count = int(element[2])
    properties = [line for line in lines[2:] if not line.startswith("comment")]
    for with_confidence in (False, True):
        if properties == _header_properties(with_confidence):
            dtype = np.dtype(_fields(with_confidence))
            break
    else:
        raise BundleError(f"{path}: unexpected vertex properties {properties}")
    if count > _MAX_POINTS:
        raise BundleError(f"{path}: {count} points is more than the limit {_MAX_POINTS}")
    expected_size = header_size + count * dtype.itemsize
    actual_size = path.stat().st_size
    if actual_size != expected_size:
        raise BundleError(f"{path} is {actual_size} bytes, expected {expected_size}")
    return count, dtype, header_size


def read_ply(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Read a PLY written by `write_ply`: (positions float32 [N,3], colors uint8 [N,3],
    confidence float32 [N] or None)."""
    count, dtype, header_size = read_ply_header(path)
    vertices = np.fromfile(path, dtype=dtype, count=count, offset=header_size)
    positions = np.stack([vertices[name] for name in "xyz"], axis=1).astype(np.float32)
    colors = np.stack([vertices[name] for name in ("red", "green", "blue")], axis=1)
    confidence = vertices["confidence"].astype(np.float32) if "confidence" in dtype.names else None
    return positions, colors.astype(np.uint8), confidence
