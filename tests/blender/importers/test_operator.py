"""The registered operator: imports, replaces a shot cleanly, and reports bad bundles."""

import json
import shutil

import pytest

from vggt4d_blender.importers.compat import scene_compositor


def _datablock_counts(bpy) -> dict[str, int]:
    names = ("objects", "cameras", "meshes", "actions", "movieclips", "node_groups", "materials")
    return {name: len(getattr(bpy.data, name)) for name in names} | {
        "collections": len(bpy.data.collections)
    }


def test_import_and_reimport_replaces_the_shot(addon, bundle_dir):
    import bpy

    path = bundle_dir("replace")
    assert bpy.ops.vggt4d.import_bundle(filepath=str(path / "manifest.json")) == {"FINISHED"}
    first = _datablock_counts(bpy)
    assert first["objects"] == 4  # root, camera, static, dynamic
    assert bpy.ops.vggt4d.import_bundle(filepath=str(path)) == {"FINISHED"}
    assert _datablock_counts(bpy) == first
    collection = bpy.data.collections["replace"]
    assert sorted(o.name for o in collection.objects) == [
        "replace_camera",
        "replace_dynamic",
        "replace_root",
        "replace_static",
    ]
    assert scene_compositor(bpy.context.scene).get("vggt4d_shot") == "replace"


def _break_version(path):
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["version"] = 7
    (path / "manifest.json").write_text(json.dumps(manifest))


def _break_path(path):
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"]["intrinsics"]["path"] = "../../etc/passwd"
    (path / "manifest.json").write_text(json.dumps(manifest))


def _remove_manifest(path):
    (path / "manifest.json").unlink()


def _remove_points(path):
    (path / "points" / "static.ply").unlink()


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (_break_version, "version 7"),
        (_break_path, ".."),
        (_remove_manifest, "no manifest.json"),
        (_remove_points, "missing"),
    ],
)
def test_bad_bundle_is_a_report_not_a_traceback(addon, bundle_dir, tmp_path, damage, words):
    import bpy

    broken = tmp_path / "broken.vggt4d"
    shutil.copytree(bundle_dir("intact"), broken)
    damage(broken)
    before = _datablock_counts(bpy)
    with pytest.raises(RuntimeError) as caught:
        bpy.ops.vggt4d.import_bundle(filepath=str(broken / "manifest.json"))
    message = str(caught.value)
    assert message.startswith("Error: Cannot import")
    assert words in message
    assert "Traceback" not in message
    assert _datablock_counts(bpy) == before


def test_operator_is_in_file_import_menu(addon):
    import bpy

    drawn = [function.__name__ for function in bpy.types.TOPBAR_MT_file_import._dyn_ui_initialize()]
    assert "menu_import" in drawn
