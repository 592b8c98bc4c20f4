"""Sidebar panels and icons."""

from __future__ import annotations

import bpy

from . import icons, panels


def classes() -> tuple[type, ...]:
    """The classes this package registers, in order."""
    return panels.classes


def register() -> None:
    icons.register()
    for cls in panels.classes:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(panels.classes):
        bpy.utils.unregister_class(cls)
    icons.unregister()
