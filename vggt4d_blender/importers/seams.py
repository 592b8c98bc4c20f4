"""Seams of a long shot as timeline markers, so an artist can jump to each and check it.

A long shot is reconstructed in overlapping chunks stitched together (docs/long_shots.md); the
manifest's ``chunking.seams`` says where one chunk takes over from the previous one and how
well they agreed there. Each seam becomes a marker at its plate frame, named with the shot,
the seam's number and its residual in percent of the overlap's size (e.g. ``sh010 seam 3
0.4%``), so a bad seam stands out on the timeline.
"""

from __future__ import annotations

import bpy

from ..bundle_format import Bundle


def seam_markers(bundle: Bundle) -> list[tuple[str, int]]:
    """(marker name, plate frame) of every seam; empty for a shot run in one pass."""
    chunking = bundle.manifest.get("chunking") or {}
    return [
        (f"{_prefix(bundle.shot_name)}{number} {seam['relative_residual']:.1%}", int(seam["frame"]))
        for number, seam in enumerate(chunking.get("seams", []), start=1)
    ]


def mark_seams(scene: bpy.types.Scene, bundle: Bundle) -> int:
    """Add the seam markers of ``bundle`` to ``scene``'s timeline; returns how many."""
    markers = seam_markers(bundle)
    for name, frame in markers:
        scene.timeline_markers.new(name, frame=frame)
    return len(markers)


def remove_seam_markers(scene: bpy.types.Scene, shot: str) -> None:
    """Remove the seam markers an earlier import of ``shot`` added (on re-import)."""
    prefix = _prefix(shot)
    for marker in [marker for marker in scene.timeline_markers if marker.name.startswith(prefix)]:
        scene.timeline_markers.remove(marker)


def _prefix(shot: str) -> str:
    return f"{shot} seam "
