"""One table of hostile bundles, each refused identically by every reader of the format.

`vggt4d info`, `vggt4d export` (real subprocesses of the console script) and the Blender
importer (the real operator) all read bundles through the one format module, so each case
must give the same code (``bad_bundle``) and the very same sentence, and never a traceback.
"""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.importers.bundle_factory import write_synthetic_bundle
from vggt4d.errors import BundleError as BackendBundleError
from vggt4d.io.bundle import validate_bundle as backend_validate
from vggt4d_blender import bundle_format

MASK = "masks/refined/mask.000002.png"


def _edit_manifest(change):
    def damage(path: Path) -> None:
        manifest = json.loads((path / "manifest.json").read_text())
        change(manifest)
        (path / "manifest.json").write_text(json.dumps(manifest))

    return damage


def _mask(make):
    def damage(path: Path) -> None:
        make(path / MASK)

    return damage


def _intrinsics(change):
    def damage(path: Path) -> None:
        intrinsics = np.load(path / "cameras" / "intrinsics.npy")
        change(intrinsics)
        np.save(path / "cameras" / "intrinsics.npy", intrinsics)

    return damage


def _nan_camera(path: Path) -> None:
    extrinsics = np.load(path / "cameras" / "extrinsics.npy")
    extrinsics[1, 2, 3] = np.nan
    np.save(path / "cameras" / "extrinsics.npy", extrinsics)


def _truncate(relative: str):
    def damage(path: Path) -> None:
        file = path / relative
        file.write_bytes(file.read_bytes()[:-7])

    return damage


def _huge_manifest(path: Path) -> None:
    text = (path / "manifest.json").read_text()
    (path / "manifest.json").write_text(text + " " * (64 * 1024 * 1024))


def _set_focal(value: float):
    return _intrinsics(lambda k: k[:, 0, 0].__setitem__(slice(None), value))


CASES = {
    "mask-not-png": (_mask(lambda p: p.write_bytes(b"GIF89a" + bytes(40))), "is not a PNG"),
    "mask-wrong-size": (_mask(lambda p: Image.new("L", (10, 10)).save(p)), "expected grey PNG"),
    "mask-rgb": (_mask(lambda p: Image.new("RGB", (96, 64)).save(p)), "not 8-bit grey"),
    "mask-16-bit": (_mask(lambda p: Image.new("I;16", (96, 64)).save(p)), "not 8-bit grey"),
    "unknown-key": (_edit_manifest(lambda m: m.update(extra=1)), "unknown key 'extra'"),
    "huge-manifest": (_huge_manifest, "larger than 67108864 bytes"),
    "zero-focal": (_set_focal(0.0), "focal length of 0 px"),
    "negative-focal": (_set_focal(-80.0), "focal length of -80 px"),
    "parent-path": (
        _edit_manifest(lambda m: m["files"]["depth"].update(path="../depth.npy")),
        "must be relative",
    ),
    "nan-camera": (_nan_camera, "NaN or infinite"),
    "truncated-array": (_truncate("depth/depth.npy"), "truncated"),
    "truncated-cloud": (_truncate("points/static.ply"), "truncated"),
    "wrong-version": (_edit_manifest(lambda m: m.update(version=2)), "version 2"),
}


def _cli_error(backend_python: str, *arguments: str) -> str:
    script = Path(backend_python).parent / "vggt4d"
    done = subprocess.run(
        [str(script), *arguments], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("error: "), lines
    return lines[-1].removeprefix("error: ")


@pytest.mark.parametrize("case", list(CASES))
def test_every_reader_refuses_a_hostile_bundle_identically(addon, backend_python, tmp_path, case):
    import bpy

    damage, words = CASES[case]
    path = write_synthetic_bundle(tmp_path / "shot.vggt4d", frames=[1, 2, 3])
    damage(path)

    with pytest.raises(bundle_format.BundleError) as addon_error:
        bundle_format.validate_bundle(path)
    with pytest.raises(BackendBundleError) as backend_error:
        backend_validate(path)
    message = str(addon_error.value)
    assert words in message
    assert str(backend_error.value) == message
    assert addon_error.value.code == backend_error.value.code == "bad_bundle"

    assert _cli_error(backend_python, "info", str(path)) == message
    export = ("export", str(path), "--tum", str(tmp_path / "out.txt"))
    assert _cli_error(backend_python, *export) == message
    assert not (tmp_path / "out.txt").exists()

    with pytest.raises(RuntimeError) as report:
        bpy.ops.vggt4d.import_bundle(filepath=str(path / "manifest.json"))
    assert str(report.value).strip().endswith(f": {message}")
    assert "Traceback" not in str(report.value)
    assert not [o for o in bpy.data.objects if o.name.startswith("shot")]
