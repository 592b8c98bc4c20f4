"""Footage paths as the backend reads them, and shot names for bundles (bpy-free)."""

from __future__ import annotations

import re
from pathlib import Path

from ..bundle_format import frame_number_span


def sequence_pattern(path: str) -> str:
    """``/seq/plate.1001.png`` -> ``/seq/plate.####.png``: the whole sequence, not one frame.

    Blender's file browser and an image-sequence clip both name one frame, but the backend
    reads a single image file as a one-frame shot; folders and patterns pass through.
    """
    file = Path(path)
    if "#" in file.name or "%" in file.name or not file.suffix:
        return path
    span = frame_number_span(file.name)
    if span is None:
        return path
    start, end = span
    name = file.name[:start] + "#" * (end - start) + file.name[end:]
    return str(file.with_name(name))


def shot_name(footage_path: str) -> str:
    """A file-system-safe shot name from the footage path (folder name for sequences)."""
    path = Path(footage_path.rstrip("/\\"))
    stem = path.stem if path.suffix else path.name
    stem = re.sub(r"[._#-]*[#0-9]+$", "", stem) or stem  # drop a frame-number suffix
    return re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_") or "shot"
