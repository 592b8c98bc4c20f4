"""Result bundle: round trip, atomic replacement, and a validator that refuses hostile input."""

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from vggt4d.errors import BundleError
from vggt4d.io.bundle import (
    BundleData,
    mask_path,
    read_bundle,
    validate_bundle,
    write_bundle,
)


@pytest.fixture
def written(tmp_path: Path, bundle_data: Callable[..., BundleData]) -> Path:
    return write_bundle(tmp_path / "shot.vggt4d", bundle_data())


def edit_manifest(bundle: Path, change: Callable[[dict], None]) -> None:
    manifest_path = bundle / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    change(manifest)
    manifest_path.write_text(json.dumps(manifest))


def test_round_trip_keeps_every_field(written: Path, bundle_data) -> None:
    original = bundle_data()
    loaded = read_bundle(written)
    for name, value in vars(original).items():
        restored = getattr(loaded, name)
        if isinstance(value, np.ndarray):
            expected_dtype = np.float16 if name.startswith("depth") else value.dtype
            assert restored.dtype == expected_dtype, name
            np.testing.assert_array_equal(restored, value.astype(expected_dtype), err_msg=name)
        else:
            assert restored == value, name
    assert loaded.extrinsics.dtype == np.float64
    assert loaded.refined_masks.dtype == bool


def test_manifest_lists_everything_with_counts(written: Path) -> None:
    manifest = validate_bundle(written)
    assert manifest["format"] == "vggt4d-bundle" and manifest["version"] == 1
    assert manifest["frames"] == [1001, 1003, 1005]
    assert manifest["counts"] == {"frames": 3, "static_points": 40, "dynamic_points": 12}
    assert manifest["plate"] == {"width": 64, "height": 48, "fps": 24.0, "pixel_aspect": 1.0}
    assert manifest["model_input"] == {"width": 32, "height": 24, "mode": "crop"}
    assert manifest["files"]["depth"] == {
        "path": "depth/depth.npy",
        "dtype": "float16",
        "shape": [3, 24, 32],
    }
    assert manifest["files"]["refined_masks"]["paths"][2] == mask_path("refined", 1005)
    assert (written / "masks/refined/mask.001005.png").is_file()


def test_rewrite_replaces_and_leaves_no_temporary(written: Path, bundle_data) -> None:
    data = bundle_data(frames=2)
    write_bundle(written, data)
    assert validate_bundle(written)["counts"]["frames"] == 2
    assert sorted(path.name for path in written.parent.iterdir()) == ["shot.vggt4d"]


def test_failed_write_keeps_old_bundle_and_cleans_up(written: Path, bundle_data) -> None:
    data = bundle_data(frames=2)
    data.refined_masks = data.refined_masks[:1]  # fails after arrays were already written
    with pytest.raises(BundleError):
        write_bundle(written, data)
    assert validate_bundle(written)["counts"]["frames"] == 3
    assert sorted(path.name for path in written.parent.iterdir()) == ["shot.vggt4d"]


def test_refuses_to_overwrite_something_else(tmp_path: Path, bundle_data) -> None:
    other = tmp_path / "photos"
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"not ours")
    with pytest.raises(BundleError, match="not a VGGT4D bundle"):
        write_bundle(other, bundle_data())
    assert (other / "holiday.jpg").read_bytes() == b"not ours"


def test_partial_directory_is_never_a_bundle(written: Path) -> None:
    partial = written.parent / ".shot.vggt4d.partial-1234"
    written.rename(partial)
    with pytest.raises(BundleError, match="unfinished"):
        validate_bundle(partial)


def test_directory_without_manifest_is_not_a_bundle(written: Path) -> None:
    (written / "manifest.json").unlink()
    with pytest.raises(BundleError, match=r"manifest\.json is missing"):
        validate_bundle(written)


def set_path(name: str, value: str) -> Callable[[dict], None]:
    return lambda manifest: manifest["files"][name].update(path=value)


def set_mask(value: str) -> Callable[[dict], None]:
    return lambda manifest: manifest["files"]["coarse_masks"]["paths"].__setitem__(0, value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (set_path("depth", "../outside.npy"), "must be relative"),
        (set_path("depth", "/etc/passwd"), "must be relative"),
        (set_path("depth", "depth\\depth.npy"), "must be relative"),
        (set_path("depth", "C:/depth.npy"), "must be relative"),
        (set_mask("masks/../../x.png"), "must be relative"),
        (set_path("depth", "depth/missing.npy"), "missing"),
        (lambda m: m.update(version=2), "version 2.*understands version 1"),
        (lambda m: m.update(format="something"), "not a vggt4d-bundle"),
        (lambda m: m["files"]["extrinsics"].update(shape=[3, 4, 4]), "expected float64"),
        (lambda m: m["files"]["extrinsics"].update(dtype="float32"), "expected float64"),
        (lambda m: m["plate"].update(width=10**9), "above 32768"),
        (lambda m: m["counts"].update(static_points=3 * 10**9), "above 2000000000"),
        (lambda m: m.update(frames=[1001, 1001, 1005]), "strictly increasing"),
        (lambda m: m.update(frames=[1001, 1003]), "counts.frames"),
        (lambda m: m["plate"].update(fps=float("nan")), "finite"),
        (lambda m: m["plate"].update(width=True), "type integer"),
        (lambda m: m.pop("files"), "missing"),
        (lambda m: m.update(extra=1), "unknown key"),
        (lambda m: m["plate"].update(width=65), "not the plate"),
        (lambda m: m["counts"].update(dynamic_points=11), "expected float32"),
    ],
)
def test_validator_rejects_hostile_manifest(written: Path, change, message: str) -> None:
    edit_manifest(written, change)
    with pytest.raises(BundleError, match=message):
        read_bundle(written)


def test_validator_rejects_symlink_out_of_bundle(written: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.npy"
    (written / "depth" / "depth.npy").rename(outside)
    (written / "depth" / "depth.npy").symlink_to(outside)
    with pytest.raises(BundleError, match="outside the bundle"):
        validate_bundle(written)


def test_validator_rejects_file_whose_contents_disagree(written: Path) -> None:
    np.save(written / "cameras" / "intrinsics.npy", np.zeros((3, 3, 3), np.float32))
    with pytest.raises(BundleError, match="float32"):
        validate_bundle(written)


def test_validator_rejects_truncated_array(written: Path) -> None:
    path = written / "depth" / "depth.npy"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(BundleError, match="bytes, expected"):
        validate_bundle(written)


def test_validator_rejects_truncated_point_cloud(written: Path) -> None:
    path = written / "points" / "static.ply"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(BundleError, match="bytes, expected"):
        validate_bundle(written)


def test_validator_rejects_non_finite_cameras(written: Path) -> None:
    extrinsics = np.load(written / "cameras" / "extrinsics.npy")
    extrinsics[1, 0, 3] = np.inf
    np.save(written / "cameras" / "extrinsics.npy", extrinsics)
    with pytest.raises(BundleError, match="infinite"):
        validate_bundle(written)


def test_validator_rejects_bad_frame_offsets(written: Path) -> None:
    archive = written / "points" / "dynamic.npz"
    with np.load(archive) as loaded:
        members = dict(loaded)
    members["frame_offsets"] = members["frame_offsets"][::-1].copy()
    np.savez(archive, **members)
    with pytest.raises(BundleError, match="frame_offsets"):
        validate_bundle(written)


def test_validator_rejects_wrong_mask_size(written: Path) -> None:
    from PIL import Image

    Image.new("L", (10, 10)).save(written / mask_path("refined", 1003))
    with pytest.raises(BundleError, match="expected grey PNG"):
        validate_bundle(written)
