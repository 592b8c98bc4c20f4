"""Minimal reader for uncompressed scanline OpenEXR files, single- or multi-part (test helper).

Blender 5.0 writes a multilayer render as a multi-part EXR (one part per pass), 4.x as one
part with every pass's channels; numpy alone
reads it back when the codec is NONE, so the ground-truth test needs no extra dependency.
"""

import struct
from pathlib import Path

import numpy as np

_PIXEL_TYPES = {0: np.dtype("<u4"), 1: np.dtype("<f2"), 2: np.dtype("<f4")}
_MULTIPART = 0x1000


def read_exr_channels(path: Path) -> dict[str, np.ndarray]:
    """All channels as float32 [H, W] arrays keyed by their full name (e.g. 'ViewLayer.Depth.Z')."""
    data = Path(path).read_bytes()
    if data[:4] != b"\x76\x2f\x31\x01":
        raise ValueError(f"{path} is not an OpenEXR file")
    multipart = bool(struct.unpack_from("<i", data, 4)[0] & _MULTIPART)
    position, headers = 8, []
    while True:
        header, position = _read_header(data, position)
        headers.append(header)
        if not multipart or data[position] == 0:
            break
    position += 1 if multipart else 0
    result = {}
    for header in headers:
        height = _window(header)[1]
        offsets = np.frombuffer(data, "<u8", count=height, offset=position)
        position += 8 * height
        result |= _read_part(data, header, offsets, multipart)
    return result


def _read_header(data: bytes, position: int) -> tuple[dict[str, bytes], int]:
    attributes = {}
    while data[position] != 0:
        name_end = data.index(b"\0", position)
        type_end = data.index(b"\0", name_end + 1)
        size = struct.unpack_from("<i", data, type_end + 1)[0]
        value_start = type_end + 5
        attributes[data[position:name_end].decode()] = data[value_start : value_start + size]
        position = value_start + size
    if attributes["compression"][0] != 0:
        raise ValueError("only uncompressed EXR is supported")
    return attributes, position + 1


def _window(header: dict[str, bytes]) -> tuple[int, int, int]:
    xmin, ymin, xmax, ymax = struct.unpack("<4i", header["dataWindow"])
    return xmax - xmin + 1, ymax - ymin + 1, ymin


def _read_part(data, header, offsets, multipart) -> dict[str, np.ndarray]:
    channels, raw, cursor = [], header["channels"], 0
    while raw[cursor] != 0:
        end = raw.index(b"\0", cursor)
        pixel_type = struct.unpack_from("<i", raw, end + 1)[0]
        channels.append((raw[cursor:end].decode(), _PIXEL_TYPES[pixel_type]))
        cursor = end + 17
    width, height, ymin = _window(header)
    result = {name: np.empty((height, width), np.float32) for name, _ in channels}
    for offset in offsets:
        cursor = int(offset) + (4 if multipart else 0)
        y = struct.unpack_from("<i", data, cursor)[0] - ymin
        cursor += 8
        for name, dtype in channels:
            result[name][y] = np.frombuffer(data, dtype, count=width, offset=cursor)
            cursor += width * dtype.itemsize
    return result
