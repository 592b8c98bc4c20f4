"""The built extension zip installs into a user repository, enables, registers and disables,
and imports a shot that survives save and reopen (on every Blender of the test matrix)."""

import contextlib
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest

import build
from tests.blender.versions import action_fcurves
from tests.importers.bundle_factory import write_synthetic_bundle
from vggt4d.io.bundle import read_bundle
from vggt4d_blender.importers import camera_math

REPO = Path(__file__).resolve().parents[2]


def _tree(folder: Path) -> set[str]:
    """Every path under ``folder`` except byte-code caches."""
    return {
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def build_run(tmp_path_factory) -> tuple[Path, set[str]]:
    """Run build.py once: the zip path and the paths it added to the checkout."""
    output = tmp_path_factory.mktemp("dist")
    before = _tree(REPO / "backend") | _tree(REPO / "vggt4d_blender")
    subprocess.run(
        [sys.executable, str(REPO / "build.py"), "--output-dir", str(output)],
        check=True,
        capture_output=True,
        text=True,
    )
    added = (_tree(REPO / "backend") | _tree(REPO / "vggt4d_blender")) - before
    version = tomllib.loads((REPO / "blender_manifest.toml").read_text())["version"]
    return output / f"vggt4d_blender-{version}.zip", added


@pytest.fixture(scope="module")
def built_zip(build_run) -> Path:
    return build_run[0]


def test_build_leaves_no_build_folder_or_egg_info_in_the_checkout(build_run):
    assert build_run[1] == set()


def test_build_writes_a_validated_zip_with_the_backend_wheel(built_zip):
    assert built_zip.is_file()
    with zipfile.ZipFile(built_zip) as archive:
        names = set(archive.namelist())
    assert {"blender_manifest.toml", "__init__.py", "jobs/backend_client.py"} <= names
    assert {f"icons/{name}.png" for name in ("vggt4d", "reconstruct", "cancel", "masks")} <= names
    assert "backend_wheels/vggt4d-0.1.0-py3-none-any.whl" in names
    assert not any("__pycache__" in name for name in names)
    with zipfile.ZipFile(built_zip) as archive:
        for name, source in build.SHARED_FILES.items():
            assert archive.read(name) == (REPO / "backend" / source).read_bytes(), name


def test_shared_files_have_one_home_in_the_backend():
    """The add-on's copies in the tree are links to the backend's files, never twins."""
    for name, source in build.SHARED_FILES.items():
        link = REPO / "vggt4d_blender" / name
        assert link.is_symlink(), name
        assert link.resolve() == (REPO / "backend" / source).resolve(), name


@contextlib.contextmanager
def _installed(bpy, built_zip: Path, directory: Path):
    """The zip installed and enabled from a user repository in ``directory``; yields the
    add-on's module name. Afterwards the add-on is disabled (if the test did not) and the
    repository removed."""
    import addon_utils

    repo = bpy.context.preferences.extensions.repos.new(
        name="VGGT4D test", module="vggt4d_test", custom_directory=str(directory), source="USER"
    )
    try:
        result = bpy.ops.extensions.package_install_files(
            repo="vggt4d_test", filepath=str(built_zip), enable_on_install=True
        )
        assert result == {"FINISHED"}
        module = "bl_ext.vggt4d_test.vggt4d_blender"
        yield module
    finally:
        if module in bpy.context.preferences.addons:
            addon_utils.disable(module, default_set=True, handle_error=_raise)
        bpy.context.preferences.extensions.repos.remove(repo)


def test_installed_zip_enables_registers_and_disables_cleanly(built_zip, factory_blender, tmp_path):
    import addon_utils

    bpy = factory_blender
    with _installed(bpy, built_zip, tmp_path) as module:
        assert (tmp_path / "vggt4d_blender" / "backend_wheels").is_dir()
        assert module in bpy.context.preferences.addons
        addon_classes = sys.modules[module].classes()
        kinds = {base for cls in addon_classes for base in cls.__mro__ if base in _KINDS(bpy)}
        assert kinds == set(_KINDS(bpy))  # panels, operators, property groups, preferences
        assert [cls.__name__ for cls in addon_classes if not cls.is_registered] == []
        assert bpy.context.scene.vggt4d.status_state == "idle"
        preferences = bpy.context.preferences.addons[module].preferences
        assert preferences.weights_source == "facebook/VGGT-1B"
        icons = sys.modules[f"{module}.ui.icons"]
        assert icons.icons_dir() == tmp_path / "vggt4d_blender" / "icons"
        assert sorted(icons._previews.keys()) == sorted(icons.ICON_NAMES)
        assert icons._previews["masks"].image_size[:] == (64, 64)
        handlers = bpy.app.handlers.load_post
        assert [h.__name__ for h in handlers].count("reset_stale_status") == 1

        addon_utils.disable(module, default_set=True, handle_error=_raise)
        assert not hasattr(bpy.types.Scene, "vggt4d")
        assert [cls.__name__ for cls in addon_classes if cls.is_registered] == []
        assert icons._previews is None
        assert "reset_stale_status" not in [h.__name__ for h in handlers]


def test_installed_zip_imports_a_shot_that_survives_save_and_reopen(
    built_zip, factory_blender, tmp_path
):
    bpy = factory_blender
    frames = [1001, 1002, 1003, 1004]
    bundle = write_synthetic_bundle(tmp_path / "bundles" / "shot.vggt4d", frames=frames)
    expected = camera_math.camera_matrices_world(read_bundle(bundle).extrinsics)
    blend = tmp_path / "shot.blend"
    with _installed(bpy, built_zip, tmp_path / "extensions") as module:
        assert bpy.ops.vggt4d.import_bundle(filepath=str(bundle / "manifest.json")) == {"FINISHED"}
        bpy.ops.wm.save_as_mainfile(filepath=str(blend))
        bpy.ops.wm.open_mainfile(filepath=str(blend))
        assert module in bpy.context.preferences.addons
        scene = bpy.context.scene
        camera = scene.camera
        assert camera.name == "shot_camera"
        fcurves = action_fcurves(camera.animation_data.action)
        keyed = {key.co[0] for fcurve in fcurves for key in fcurve.keyframe_points}
        assert keyed == set(frames)
        for frame, matrix in zip(frames, expected, strict=True):
            scene.frame_set(frame)
            np.testing.assert_allclose(np.array(camera.matrix_world), matrix, atol=1e-5)
        assert not np.allclose(expected[0], expected[-1], atol=1e-3)  # the camera moves


def test_dev_checkout_enables_with_icons_beside_the_package(addon):
    import bpy

    icons = sys.modules[f"{addon}.ui.icons"]
    assert icons.icons_dir() == REPO / "icons"
    assert len(icons._previews) == len(icons.ICON_NAMES)
    assert bpy.ops.vggt4d.reconstruct.poll()
    assert not bpy.ops.vggt4d.cancel.poll()  # nothing running
    assert not bpy.ops.vggt4d.rerun_with_masks.poll()  # no bundle yet


def _KINDS(bpy) -> tuple[type, ...]:  # noqa: N802 - reads like the constant it stands for
    types = bpy.types
    return (types.Panel, types.Operator, types.PropertyGroup, types.AddonPreferences)


def _raise(error: BaseException) -> None:
    raise error
