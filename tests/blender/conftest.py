"""bpy test setup: a throwaway Blender user folder, and the add-on enabled from the source tree.

``BLENDER_USER_RESOURCES`` must be set before bpy is first imported anywhere in the session,
so it is set when pytest loads this file (before any module under tests/blender is collected).
bpy is a process-wide singleton: every test that uses it starts from factory settings.
"""

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

_USER_RESOURCES = tempfile.mkdtemp(prefix="vggt4d-blender-user-")
os.environ["BLENDER_USER_RESOURCES"] = _USER_RESOURCES
atexit.register(shutil.rmtree, _USER_RESOURCES, True)

REPO = Path(__file__).resolve().parents[2]
DEV_REPO_MODULE = "vggt4d_dev"
ADDON_MODULE = f"bl_ext.{DEV_REPO_MODULE}.vggt4d_blender"


@pytest.fixture(scope="session")
def backend_python() -> str:
    """The interpreter the add-on starts the backend (torch) with: this one, or
    ``VGGT4D_TEST_BACKEND_PYTHON``. scripts/test.sh sets it to the main .venv when it runs these
    tests on the other Blender versions, whose venvs hold bpy but no torch: as a user's
    Blender and the backend's own venv are.
    """
    return os.environ.get("VGGT4D_TEST_BACKEND_PYTHON", sys.executable)


@pytest.fixture
def factory_blender():
    """bpy reset to empty factory settings."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    return bpy


@pytest.fixture
def addon(factory_blender, tmp_path_factory):
    """The add-on enabled from this checkout through a dev extension repo; disabled after.

    Yields the add-on's module name (``bl_ext.vggt4d_dev.vggt4d_blender``).
    """
    import addon_utils

    bpy = factory_blender
    repo_dir = tmp_path_factory.mktemp("dev_repo")
    (repo_dir / "vggt4d_blender").symlink_to(REPO / "vggt4d_blender")
    repo = bpy.context.preferences.extensions.repos.new(
        name="VGGT4D dev", module=DEV_REPO_MODULE, custom_directory=str(repo_dir), source="USER"
    )
    module = addon_utils.enable(ADDON_MODULE, default_set=True, handle_error=_raise)
    assert module is not None
    try:
        yield ADDON_MODULE
    finally:
        addon_utils.disable(ADDON_MODULE, default_set=True, handle_error=_raise)
        bpy.context.preferences.extensions.repos.remove(repo)


def _raise(error: BaseException) -> None:
    raise error
