"""Add-on preferences: the backend interpreter, weights, device, cache, and setup buttons."""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import EnumProperty, StringProperty

from .environment import venv_python

DEVICES = (
    ("auto", "Auto", "CUDA when available, else CPU"),
    ("cuda", "CUDA", "NVIDIA GPU"),
    ("cpu", "CPU", "Slow; for small tests"),
)


class VGGT4D_AddonPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    python_path: StringProperty(
        name="Backend Python",
        subtype="FILE_PATH",
        description="Python of the backend environment (empty: the one 'Set up backend' made)",
    )
    weights_source: StringProperty(
        name="Weights",
        default="facebook/VGGT-1B",
        description="Hugging Face repository id or a local folder with config.json and weights",
    )
    setup_python: StringProperty(
        name="Setup Python",
        subtype="FILE_PATH",
        description="Python 3.10-3.12 that 'Set up backend' builds from (empty: search PATH)",
    )
    device: EnumProperty(name="Device", items=DEVICES, default="auto")
    cache_dir: StringProperty(
        name="Cache Folder",
        subtype="DIR_PATH",
        description="Where result bundles and artist masks are written (empty: extension folder)",
    )

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "python_path")
        layout.prop(self, "weights_source")
        layout.prop(self, "device")
        layout.prop(self, "cache_dir")
        layout.prop(self, "setup_python")
        row = layout.row()
        setup = row.operator("vggt4d.setup_backend", icon="CONSOLE")
        setup.base_python = self.setup_python
        row.operator("vggt4d.check_backend", icon="CHECKMARK")
        if not bpy.app.online_access:
            layout.label(text="Online access is off: setup cannot download", icon="INFO")
        settings = context.window_manager.vggt4d_backend
        if settings.report:
            box = layout.box()
            for line in settings.report.split("\n"):
                box.label(text=line)


def get_preferences(context: bpy.types.Context) -> VGGT4D_AddonPreferences:
    return context.preferences.addons[__package__].preferences


def user_dir(subfolder: str) -> Path:
    """A folder of this extension's user data (created on demand)."""
    return Path(bpy.utils.extension_path_user(__package__, path=subfolder, create=True))


def backend_venv_dir() -> Path:
    return user_dir("backend") / "venv"


def backend_python(preferences: VGGT4D_AddonPreferences) -> str:
    """The interpreter to run: the preference, else the venv that setup created."""
    if preferences.python_path:
        return bpy.path.abspath(preferences.python_path)
    return str(venv_python(backend_venv_dir()))


def cache_dir(preferences: VGGT4D_AddonPreferences) -> Path:
    if preferences.cache_dir:
        path = Path(bpy.path.abspath(preferences.cache_dir))
        path.mkdir(parents=True, exist_ok=True)
        return path
    return user_dir("cache")


_CLASSES = (VGGT4D_AddonPreferences,)


def classes() -> tuple[type, ...]:
    """The classes this module registers, in order."""
    return _CLASSES


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
