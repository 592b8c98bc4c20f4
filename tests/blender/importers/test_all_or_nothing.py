"""The importer is all or nothing: static shots import, and every broken bundle (damaged
files, absurd values) is one report with the scene exactly as before."""

import json
import shutil
import zipfile

import numpy as np
import pytest

from tests.importers.bundle_factory import write_synthetic_bundle
from vggt4d_blender.importers.compat import scene_compositor

_KINDS = (
    "objects",
    "cameras",
    "meshes",
    "actions",
    "movieclips",
    "images",
    "node_groups",
    "materials",
    "collections",
)


def _scene_state(bpy) -> dict:
    """Every datablock name by kind, and the scene settings an import may change."""
    scene = bpy.context.scene
    render = scene.render
    state = {kind: sorted(d.name for d in getattr(bpy.data, kind)) for kind in _KINDS}
    state["scene"] = (
        scene.frame_start,
        scene.frame_end,
        scene.frame_current,
        scene.camera.name if scene.camera else None,
        render.fps,
        render.fps_base,
        render.resolution_x,
        render.resolution_y,
        render.pixel_aspect_x,
        render.use_compositing,
        getattr(scene_compositor(scene), "name", None),
    )
    return state


def _edit_manifest(path, change) -> None:
    manifest = json.loads((path / "manifest.json").read_text())
    change(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


def _import(bpy, path) -> str:
    """Run the operator; return its error report ('' when it finished)."""
    try:
        assert bpy.ops.vggt4d.import_bundle(filepath=str(path / "manifest.json")) == {"FINISHED"}
    except RuntimeError as error:
        return str(error)
    return ""


@pytest.mark.parametrize(
    ("frames", "label"), [([1], "one frame"), ([1001, 1002, 1003], "locked-off, no movers")]
)
def test_static_shot_without_moving_points_imports(addon, tmp_path, frames, label):
    import bpy

    path = write_synthetic_bundle(tmp_path / "static.vggt4d", frames=frames, dynamic_per_frame=0)
    assert _import(bpy, path) == "", label
    collection = bpy.data.collections["static"]
    assert sorted(o.name for o in collection.objects) == [
        "static_camera",
        "static_root",
        "static_static",
    ]
    assert len(bpy.data.objects["static_static"].data.vertices) == 500
    assert bpy.context.scene.frame_start == frames[0]


def test_bundle_without_any_points_imports(addon, tmp_path):
    import bpy

    path = write_synthetic_bundle(
        tmp_path / "empty.vggt4d", frames=[1], static_count=0, dynamic_per_frame=0
    )
    assert _import(bpy, path) == ""
    assert len(bpy.data.objects["empty_static"].data.vertices) == 0


def _corrupt_dynamic(path) -> None:
    """Flip bytes inside the stored positions: the zip headers stay valid, the CRC fails."""
    archive = path / "points" / "dynamic.npz"
    with zipfile.ZipFile(archive) as opened:
        info = opened.getinfo("positions.npy")
    data = bytearray(archive.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + 200
    data[start : start + 64] = bytes(64)
    archive.write_bytes(bytes(data))


def _not_a_zip(path) -> None:
    np.save(path / "points" / "dynamic.npy", np.zeros(3))
    (path / "points" / "dynamic.npy").rename(path / "points" / "dynamic.npz")


def _nested(path) -> None:
    (path / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def change(manifest) -> None:
        target = manifest
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return lambda path: _edit_manifest(path, change)


def _huge_focal(path) -> None:
    intrinsics = np.load(path / "cameras" / "intrinsics.npy")
    intrinsics[:, 0, 0] = intrinsics[:, 1, 1] = 1e300
    np.save(path / "cameras" / "intrinsics.npy", intrinsics)


def _many_frames(path) -> None:
    _edit_manifest(path, lambda manifest: manifest.update(frames=list(range(5_000_000))))


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (_corrupt_dynamic, "dynamic.npz is damaged"),
        (_not_a_zip, "not a .npz"),
        (_nested, "cannot be read"),
        (_set("source", "frame_start", 10**12), "frame_start"),
        (_set("frames", [1, 2, 3, 10**30]), "Blender's last frame"),
        (_set("plate", "fps", 1e-300), "fps"),
        (_huge_focal, "not a usable lens"),
        (_many_frames, "1 to 100000"),
    ],
    ids=[
        "corrupt-npz",
        "not-zip",
        "nested",
        "frame-start",
        "frame-overflow",
        "fps",
        "focal",
        "five-million-frames",
    ],
)
def test_broken_bundle_leaves_the_scene_and_the_previous_shot_as_they_were(
    addon, tmp_path, damage, words
):
    import bpy

    path = write_synthetic_bundle(tmp_path / "shot.vggt4d")
    assert _import(bpy, path) == ""
    before = _scene_state(bpy)
    damage(path)
    message = _import(bpy, path)
    assert message.startswith("Error: Cannot import"), message
    assert words in message
    assert "Traceback" not in message
    assert _scene_state(bpy) == before


def test_a_failure_while_building_rolls_everything_back(addon, tmp_path, monkeypatch):
    """A bug in any builder (simulated: the compositor step raises) leaves no half shot."""
    import bpy
    from bl_ext.vggt4d_dev.vggt4d_blender.importers import masks

    path = write_synthetic_bundle(tmp_path / "shot.vggt4d")
    assert _import(bpy, path) == ""
    other = shutil.copytree(path, tmp_path / "other.vggt4d")
    before = _scene_state(bpy)

    def broken(*_args):
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(masks, "build_matte_compositor", broken)
    for target in (path, other):
        message = _import(bpy, target)
        assert "internal error (ZeroDivisionError: simulated bug)" in message
        assert "Traceback" not in message
        assert _scene_state(bpy) == before
