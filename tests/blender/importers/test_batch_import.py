"""Importing a batch folder: a scene (or a collection) per finished shot, a summary, and a shot
whose bundle is damaged leaving nothing behind while the others import."""

import shutil

import pytest

from tests.importers.bundle_factory import write_synthetic_bundle
from vggt4d.batch.record import BatchRecord, ShotRecord
from vggt4d_blender.importers.batch import import_batch
from vggt4d_blender.importers.batch_folder import list_batch


@pytest.fixture
def batch_folder(tmp_path):
    """sh010 done, sh020 skipped (both fine), sh030 done but damaged, sh040 failed in the batch.

    batch.json holds the farm's absolute paths, which do not exist here: bundles are found by
    name in the folder, as when an artist opens the folder through another mount.
    """
    out = tmp_path / "batch"
    write_synthetic_bundle(out / "sh010.vggt4d", frames=[1001, 1002, 1003], seed=1)
    write_synthetic_bundle(out / "sh020.vggt4d", frames=[1, 2, 3, 4], seed=2)
    write_synthetic_bundle(out / "sh030.vggt4d", seed=3)
    (out / "sh030.vggt4d" / "points" / "static.ply").unlink()
    farm = "/mnt/farm/batch"
    shots = [
        ShotRecord("sh010", "/mnt/plates/sh010.mov", f"{farm}/sh010.vggt4d", "done"),
        ShotRecord("sh020", "/mnt/plates/sh020.mov", f"{farm}/sh020.vggt4d", "skipped"),
        ShotRecord("sh030", "/mnt/plates/sh030.mov", f"{farm}/sh030.vggt4d", "done"),
        ShotRecord("sh040", "/mnt/plates/sh040.mov", f"{farm}/sh040.vggt4d", "failed"),
    ]
    shots[3].error, shots[3].code = "Footage not found: /mnt/plates/sh040.mov", "bad_input"
    BatchRecord(out, shots, state="finished").save()
    return out


def _shot_objects(bpy, shot: str) -> list[str]:
    return sorted(o.name for o in bpy.data.objects if o.name.startswith(shot))


def test_a_scene_per_finished_shot_and_nothing_of_a_broken_one(addon, batch_folder):
    import bpy

    original = bpy.context.scene
    assert bpy.ops.vggt4d.import_batch(directory=str(batch_folder)) == {"FINISHED"}
    assert sorted(s.name for s in bpy.data.scenes) == sorted([original.name, "sh010", "sh020"])
    sh010 = bpy.data.scenes["sh010"]
    assert (sh010.frame_start, sh010.frame_end) == (1001, 1003)
    assert sh010.camera.name == "sh010_camera"
    assert [c.name for c in sh010.collection.children] == ["sh010"]
    assert bpy.data.scenes["sh020"].frame_end == 4
    assert bpy.context.scene == original and not original.collection.children
    assert _shot_objects(bpy, "sh030") == [] and "sh030" not in bpy.data.collections
    first = len(bpy.data.objects)
    assert bpy.ops.vggt4d.import_batch(directory=str(batch_folder)) == {"FINISHED"}
    assert len(bpy.data.objects) == first and len(bpy.data.scenes) == 3  # scenes reused


def test_summary_names_what_did_not_import(factory_blender, batch_folder):
    result = import_batch(batch_folder)
    assert [imported.shot for imported in result.imported] == ["sh010", "sh020"]
    assert [shot for shot, _ in result.failed] == ["sh030"]
    assert "missing" in result.failed[0][1]
    assert result.unfinished == [("sh040", "failed: Footage not found: /mnt/plates/sh040.mov")]
    assert result.summary().startswith(
        "Imported 2 of 4 shots from batch (a scene each: sh010, sh020) in "
    )
    assert result.summary().endswith("; 1 failed to import; 1 not finished by the batch")


def test_collections_in_the_current_scene(addon, batch_folder):
    import bpy

    scene = bpy.context.scene
    done = bpy.ops.vggt4d.import_batch(directory=str(batch_folder), layout_mode="COLLECTION")
    assert done == {"FINISHED"}
    assert len(bpy.data.scenes) == 1
    assert sorted(c.name for c in scene.collection.children) == ["sh010", "sh020"]
    assert (scene.frame_start, scene.camera.name) == (1001, "sh010_camera")  # the first shot


def test_a_folder_of_bundles_without_batch_json(tmp_path, batch_folder):
    folder = tmp_path / "gathered"
    folder.mkdir()
    for name in ("sh020", "sh010"):
        shutil.copytree(batch_folder / f"{name}.vggt4d", folder / f"{name}.vggt4d")
    (folder / "notes.vggt4d").mkdir()  # no manifest: not a bundle
    assert [shot.name for shot in list_batch(folder)] == ["sh010", "sh020"]
    assert [shot.name for shot in list_batch(batch_folder / "batch.json")][-1] == "sh040"


def test_not_a_batch_folder_is_one_error_line(addon, tmp_path):
    import bpy

    with pytest.raises(RuntimeError) as caught:
        bpy.ops.vggt4d.import_batch(directory=str(tmp_path))
    message = str(caught.value)
    assert message.startswith("Error: Cannot import the batch")
    assert "no batch.json" in message and "Traceback" not in message
