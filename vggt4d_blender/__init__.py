"""VGGT4D for Blender: registration only.

Each subpackage registers its own classes; they run in this order and unregister in reverse.
They are imported inside ``register`` so that the numpy-only modules (bundle reader, camera
math, protocol client, mask rasteriser) stay importable without bpy, e.g. by plain pytest.
The add-on never imports torch or the backend package: it talks to ``python -m vggt4d.server``
in another interpreter and imports the result bundle it writes.
"""

from __future__ import annotations

from types import ModuleType


def _modules() -> tuple[ModuleType, ...]:
    from . import importers, jobs, preferences, properties, ui

    return (properties, preferences, importers, jobs, ui)


def classes() -> tuple[type, ...]:
    """Every class the add-on registers, in registration order (for checks and tests)."""
    return tuple(cls for module in _modules() for cls in module.classes())


def register() -> None:
    for module in _modules():
        module.register()


def unregister() -> None:
    for module in reversed(_modules()):
        module.unregister()
