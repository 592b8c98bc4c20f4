"""The add-on's numpy reader accepts what the backend writes and refuses broken bundles."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.importers.bundle_factory import write_synthetic_bundle
from vggt4d.io.bundle import read_bundle as backend_read_bundle
from vggt4d_blender import bundle_format as bundle


@pytest.fixture(scope="module")
def good_bundle(tmp_path_factory) -> Path:
    return write_synthetic_bundle(tmp_path_factory.mktemp("bundles") / "shot.vggt4d")


@pytest.fixture
def broken(good_bundle, tmp_path) -> Path:
    copy = tmp_path / "broken.vggt4d"
    shutil.copytree(good_bundle, copy)
    return copy


def _edit_manifest(path: Path, edit) -> None:
    manifest = json.loads((path / "manifest.json").read_text())
    edit(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


def test_reads_what_the_backend_writes(good_bundle):
    expected = backend_read_bundle(good_bundle)
    result = bundle.read_bundle(good_bundle / "manifest.json")
    assert result.shot_name == "shot"
    assert result.frames.tolist() == expected.frames
    np.testing.assert_array_equal(result.extrinsics, expected.extrinsics)
    np.testing.assert_array_equal(result.intrinsics, expected.intrinsics)
    positions, colors, confidence = bundle.read_static_points(result)
    np.testing.assert_array_equal(positions, expected.static_points)
    np.testing.assert_array_equal(colors, expected.static_colors)
    np.testing.assert_array_equal(confidence, expected.static_confidence)
    dynamic, _colors, offsets = bundle.read_dynamic_points(result)
    np.testing.assert_array_equal(dynamic, expected.dynamic_points)
    np.testing.assert_array_equal(offsets, expected.dynamic_frame_offsets)
    assert result.refined_masks[0].name == "mask.000001.png"


def _wrong_version(m):
    m["version"] = 2


def _parent_path(m):
    m["files"]["extrinsics"]["path"] = "../outside.npy"


def _wrong_shape(m):
    m["files"]["intrinsics"]["shape"] = [4, 3, 4]


def _wrong_dtype(m):
    m["files"]["extrinsics"]["dtype"] = "float32"


def _unsorted_frames(m):
    m["frames"] = [1, 3, 2, 4]


def _missing_files(m):
    del m["files"]


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (_wrong_version, "version 2"),
        (_parent_path, ".."),
        (_wrong_shape, "expected float64 [4, 3, 3]"),
        (_wrong_dtype, "expected float64"),
        (_unsorted_frames, "increasing"),
        (_missing_files, "'files'"),
    ],
)
def test_bad_manifests_raise_bundle_error(broken, edit, words):
    _edit_manifest(broken, edit)
    with pytest.raises(bundle.BundleError) as caught:
        bundle.read_bundle(broken)
    assert words in str(caught.value)


def test_missing_manifest(tmp_path):
    with pytest.raises(bundle.BundleError, match=r"no manifest\.json"):
        bundle.read_bundle(tmp_path)


def test_partial_directory_is_refused(broken):
    partial = broken.parent / ".shot.vggt4d.partial-abc123"
    broken.rename(partial)
    with pytest.raises(bundle.BundleError, match="still being written"):
        bundle.read_bundle(partial)


def test_missing_mask_and_truncated_files(broken):
    (broken / "masks/refined/mask.000003.png").unlink()
    with pytest.raises(bundle.BundleError, match="missing"):
        bundle.read_bundle(broken)


def test_truncated_ply_and_npy(broken):
    ply = broken / "points/static.ply"
    ply.write_bytes(ply.read_bytes()[:-5])
    with pytest.raises(bundle.BundleError, match="truncated"):
        bundle.read_bundle(broken)


def test_wrong_npy_content(broken):
    np.save(broken / "cameras/extrinsics.npy", np.zeros((4, 3, 4), np.float32))
    with pytest.raises(bundle.BundleError, match="float32"):
        bundle.read_bundle(broken)


def test_wrong_dynamic_offsets(broken):
    path = broken / "points/dynamic.npz"
    with np.load(path) as archive:
        arrays = dict(archive)
    arrays["frame_offsets"] = arrays["frame_offsets"][::-1].copy()
    np.savez(path, **arrays)
    with pytest.raises(bundle.BundleError, match="frame_offsets"):
        bundle.read_bundle(broken)


def _absolute_path(m):
    m["files"]["depth"]["path"] = "/etc/passwd"


def _backslash_path(m):
    m["files"]["depth"]["path"] = "depth\\depth.npy"


def _count_mismatch(m):
    m["counts"]["dynamic_points"] += 1


def _mask_count(m):
    m["files"]["refined_masks"]["paths"].pop()


def _mask_size(m):
    m["files"]["coarse_masks"]["width"] += 1


@pytest.mark.parametrize(
    "edit",
    [
        _wrong_version,
        _parent_path,
        _wrong_shape,
        _wrong_dtype,
        _unsorted_frames,
        _missing_files,
        _absolute_path,
        _backslash_path,
        _count_mismatch,
        _mask_count,
        _mask_size,
    ],
)
def test_backend_and_addon_refuse_the_same_manifests(broken, edit):
    from vggt4d.errors import BundleError as BackendBundleError
    from vggt4d.io.bundle import validate_bundle as backend_validate

    _edit_manifest(broken, edit)
    with pytest.raises(BackendBundleError):
        backend_validate(broken)
    with pytest.raises(bundle.BundleError):
        bundle.validate_bundle(broken)
