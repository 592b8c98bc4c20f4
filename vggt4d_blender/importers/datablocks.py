"""Shot-tagged datablocks and bulk keyframes: the small bpy helpers every importer shares."""

from __future__ import annotations

import bpy
import numpy as np

from .compat import ensure_fcurve

SHOT_TAG = "vggt4d_shot"
"""Custom property naming the shot that created a datablock, so re-import can remove it."""

ROOT_TAG = "vggt4d_root"
"""Custom property set on the shot root empty that the scene tools move."""

_TAGGED_COLLECTIONS = (
    "objects",
    "cameras",
    "meshes",
    "actions",
    "images",
    "movieclips",
    "node_groups",
    "materials",
    "collections",
)


def tag(datablock: bpy.types.ID, shot: str) -> bpy.types.ID:
    """Mark ``datablock`` as made by the import of ``shot`` and return it."""
    datablock[SHOT_TAG] = shot
    return datablock


def remove_shot(shot: str) -> int:
    """Remove every datablock tagged with ``shot``; return how many were removed."""
    doomed = [
        datablock
        for name in _TAGGED_COLLECTIONS
        for datablock in getattr(bpy.data, name)
        if datablock.get(SHOT_TAG) == shot
    ]
    if doomed:
        bpy.data.batch_remove(doomed)
    return len(doomed)


def link_object(
    name: str, data: bpy.types.ID | None, collection: bpy.types.Collection, shot: str
) -> bpy.types.Object:
    """A new tagged object holding ``data`` (None for an empty), linked into ``collection``."""
    obj = tag(bpy.data.objects.new(name, data), shot)
    collection.objects.link(obj)
    return obj


_INTERPOLATION = {
    item.identifier: item.value
    for item in bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items
}


def key_channels(
    datablock: bpy.types.ID,
    action: bpy.types.Action,
    data_path: str,
    frames: np.ndarray,
    values: np.ndarray,
    interpolation: str = "LINEAR",
) -> None:
    """Key ``data_path`` at ``frames`` in one bulk write per channel (layered actions from 4.4).

    values: [S] for a scalar property or [S, C] for a vector property (one F-curve per column).
    """
    if datablock.animation_data is None:
        datablock.animation_data_create()
    if datablock.animation_data.action is not action:
        datablock.animation_data.action = action
    values = np.asarray(values, dtype=np.float64)
    columns = values.reshape(len(frames), -1)
    points = np.empty((len(frames), 2), dtype=np.float32)
    points[:, 0] = frames
    modes = np.full(len(frames), _INTERPOLATION[interpolation], dtype=np.int32)
    for index in range(columns.shape[1]):
        fcurve = ensure_fcurve(action, datablock, data_path, index if values.ndim > 1 else 0)
        points[:, 1] = columns[:, index]
        fcurve.keyframe_points.add(len(frames))
        fcurve.keyframe_points.foreach_set("co", points.ravel())
        fcurve.keyframe_points.foreach_set("interpolation", modes)
        fcurve.update()
