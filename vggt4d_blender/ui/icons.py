"""The add-on's own icons, loaded once through ``bpy.utils.previews``."""

from __future__ import annotations

from pathlib import Path

import bpy.utils.previews

ICON_NAMES = ("vggt4d", "reconstruct", "cancel", "masks")
_previews: bpy.utils.previews.ImagePreviewCollection | None = None


def icons_dir() -> Path:
    """``icons/`` inside the built extension, or beside the package in a source checkout."""
    package = Path(__file__).resolve().parent.parent
    built = package / "icons"
    return built if built.is_dir() else package.parent / "icons"


def icon_id(name: str) -> int:
    """The preview icon id for ``icon_value=``; 0 (no icon) when icons are not loaded."""
    if _previews is None or name not in _previews:
        return 0
    return _previews[name].icon_id


def register() -> None:
    global _previews
    _previews = bpy.utils.previews.new()
    folder = icons_dir()
    for name in ICON_NAMES:
        path = folder / f"{name}.png"
        if path.is_file():
            _previews.load(name, str(path), "IMAGE")


def unregister() -> None:
    global _previews
    if _previews is not None:
        bpy.utils.previews.remove(_previews)
        _previews = None
