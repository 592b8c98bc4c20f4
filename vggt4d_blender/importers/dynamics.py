"""Moving points: one mesh for all frames, with a frame attribute and a geometry-nodes filter.

Chosen over one object per frame with keyed visibility after measuring both in
bench/import_speed.py (docs/importer.md): one mesh is written with three bulk calls
whatever the frame count, while per-frame objects cost an object, a mesh and keys per frame.
"""

from __future__ import annotations

import bpy
import numpy as np

from ..bundle_format import Bundle
from . import camera_math
from .datablocks import link_object, tag
from .points import add_point_display, default_radius, point_mesh

FRAME_ATTRIBUTE = "vggt4d_frame"
"""Integer point attribute: the plate (= scene) frame number the point belongs to."""


def import_dynamic_points(
    bundle: Bundle,
    dynamic: tuple[np.ndarray, np.ndarray, np.ndarray],
    collection: bpy.types.Collection,
    root: bpy.types.Object,
) -> bpy.types.Object:
    """Every frame's moving points (``read_dynamic_points``) in one object; each point shows
    only on its own frame."""
    positions, colors, offsets = dynamic
    shot = bundle.shot_name
    mesh = tag(
        point_mesh(f"{shot}_dynamic", camera_math.points_to_blender(positions), colors), shot
    )
    frame_of_point = np.repeat(bundle.frames.astype(np.int32), np.diff(offsets))
    attribute = mesh.attributes.new(FRAME_ATTRIBUTE, "INT", "POINT")
    attribute.data.foreach_set("value", frame_of_point)
    moving = link_object(f"{shot}_dynamic", mesh, collection, shot)
    moving.parent = root
    add_point_display(
        moving, shot, radius=default_radius(positions), frame_attribute=FRAME_ATTRIBUTE
    )
    return moving
