"""Result bundle importers: camera, static and moving points, masks, and the scene tools.

``register()`` / ``unregister()`` are called by the add-on's top ``__init__``; heavy work
(numpy, the bundle reader) is imported inside the operators' ``execute``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import bpy

from .operators import VGGT4D_OT_import_batch, VGGT4D_OT_import_bundle, menu_import
from .scene_tools import VGGT4D_OT_set_floor, VGGT4D_OT_set_origin, VGGT4D_OT_set_scale

if TYPE_CHECKING:
    from .shot import ImportResult, ImportSettings

_CLASSES = (
    VGGT4D_OT_import_bundle,
    VGGT4D_OT_import_batch,
    VGGT4D_OT_set_floor,
    VGGT4D_OT_set_origin,
    VGGT4D_OT_set_scale,
)


def classes() -> tuple[type, ...]:
    """The classes this module registers, in order."""
    return _CLASSES


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.TOPBAR_MT_file_import.append(menu_import)


def unregister() -> None:
    bpy.types.TOPBAR_MT_file_import.remove(menu_import)
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)


def import_bundle(
    context: bpy.types.Context, bundle_path: str | Path, settings: ImportSettings | None = None
) -> ImportResult:
    """Import a bundle (see ``shot.import_bundle``); numpy loads only when this is called."""
    from .shot import import_bundle as import_shot

    return import_shot(context, bundle_path, settings)
