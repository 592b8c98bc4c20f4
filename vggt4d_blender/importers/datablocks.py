"""Shot-tagged datablocks and bulk keyframes: the small bpy helpers every importer shares."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import bpy
import numpy as np

from . import compat
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
    "texts",
)


def tag(datablock: bpy.types.ID, shot: str) -> bpy.types.ID:
    """Mark ``datablock`` as made by the import of ``shot`` and return it."""
    datablock[SHOT_TAG] = shot
    return datablock


_SCENE_SETTINGS = (
    "frame_start",
    "frame_end",
    "frame_current",
    "camera",
    "render.fps",
    "render.fps_base",
    "render.resolution_x",
    "render.resolution_y",
    "render.resolution_percentage",
    "render.pixel_aspect_x",
    "render.pixel_aspect_y",
    "render.use_compositing",
    "render.film_transparent",
)


@contextlib.contextmanager
def replace_shot(scene: bpy.types.Scene, shot: str) -> Iterator[None]:
    """Build ``shot`` all or nothing: the body creates the new shot's datablocks; on success
    the previous import of the shot is removed, on any exception every datablock the body made
    is removed and the previous shot, its names and the scene settings come back as they were.

    The previous shot's datablocks are renamed aside while the body runs, so the new ones get
    the plain names.
    """
    existing = {datablock.as_pointer() for datablock in _datablocks()}
    previous = [(d, d.name) for d in _datablocks() if d.get(SHOT_TAG) == shot]
    for datablock, name in previous:
        datablock.name = f"{name[:50]}~previous"
    settings = {path: _get(scene, path) for path in _SCENE_SETTINGS}
    compositor = compat.scene_compositor(scene)
    try:
        yield
    except BaseException:
        made = [d for d in _datablocks() if d.as_pointer() not in existing]
        if made:
            bpy.data.batch_remove(made)
        for datablock, name in previous:
            datablock.name = name
        for path, value in settings.items():
            _set(scene, path, value)
        if compat.scene_compositor(scene) != compositor:
            compat.set_scene_compositor(scene, compositor)
        raise
    if previous:
        bpy.data.batch_remove([datablock for datablock, _name in previous])


def _datablocks() -> list[bpy.types.ID]:
    return [d for name in _TAGGED_COLLECTIONS for d in getattr(bpy.data, name)]


def _get(scene: bpy.types.Scene, path: str) -> object:
    owner, _, attribute = path.rpartition(".")
    return getattr(scene.path_resolve(owner) if owner else scene, attribute)


def _set(scene: bpy.types.Scene, path: str, value: object) -> None:
    owner, _, attribute = path.rpartition(".")
    setattr(scene.path_resolve(owner) if owner else scene, attribute, value)


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
