"""Backend jobs: the protocol client, the reconstruct modal operator, backend setup and the
artist-mask round trip. Operator modules are imported in ``register`` only, so the bpy-free
modules (backend_client, job, environment, footage_paths, setup_steps, mask_raster, png)
import without bpy."""

from __future__ import annotations


def classes() -> tuple[type, ...]:
    """The classes this package registers, in order (imported here: they need bpy)."""
    from . import backend_setup, reconstruct

    return (*reconstruct.classes, *backend_setup.classes)


def register() -> None:
    import bpy

    from .reconstruct import reset_stale_status

    for cls in classes():
        bpy.utils.register_class(cls)
    bpy.app.handlers.load_post.append(reset_stale_status)


def unregister() -> None:
    import bpy

    from .reconstruct import reset_stale_status

    if reset_stale_status in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(reset_stale_status)
    for cls in reversed(classes()):
        bpy.utils.unregister_class(cls)
