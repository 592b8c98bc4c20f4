"""Read and validate a result bundle (docs/bundle.md) with numpy alone; never imports bpy.

The add-on may not import the backend, so this module re-states the bundle rules the backend's
writer follows: a bundle that breaks any of them raises ``BundleError`` with a sentence the
import operator shows as its report, never a traceback.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

FORMAT = "vggt4d-bundle"
VERSION = 1
MAX_FRAMES = 100_000
MAX_FRAME_NUMBER = 1_048_574
"""Blender's last scene frame (MAXFRAME): keys and clips cannot go beyond it."""
FPS_RANGE = (1e-3, 100_000.0)
FOCAL_RANGE = (1e-3, 1e3)
"""Focal length over the plate's longer side: from a 0.04 mm to a 36 m lens on a 36 mm sensor."""
MAX_DISTANCE = 1e9
"""Largest camera translation accepted (bundle units); beyond it Blender's float32 breaks down."""
MAX_SIDE = 32_768
MAX_POINTS = 2_000_000_000
ARRAY_FILES = ("extrinsics", "intrinsics", "depth", "depth_confidence")
MASK_FILES = ("coarse_masks", "refined_masks")
DYNAMIC_MEMBERS = ("positions", "colors", "frame_offsets")
PLY_FIELDS = [
    ("x", "<f4", "float"),
    ("y", "<f4", "float"),
    ("z", "<f4", "float"),
    ("red", "u1", "uchar"),
    ("green", "u1", "uchar"),
    ("blue", "u1", "uchar"),
]
PLY_CONFIDENCE = ("confidence", "<f4", "float")


class BundleError(Exception):
    """A result bundle that is incomplete, malformed or hostile (backend code: ``bad_bundle``)."""

    code = "bad_bundle"


@dataclass(frozen=True)
class Bundle:
    """A validated bundle: manifest facts plus the camera arrays (points load on demand)."""

    path: Path
    manifest: dict[str, Any]
    frames: np.ndarray  # int64 [S] plate frame numbers
    plate_width: int
    plate_height: int
    fps: float
    extrinsics: np.ndarray  # float64 [S, 3, 4] camera-from-world, OpenCV axes
    intrinsics: np.ndarray  # float64 [S, 3, 3] plate pixels
    refined_masks: list[Path] = field(default_factory=list)
    coarse_masks: list[Path] = field(default_factory=list)

    @property
    def shot_name(self) -> str:
        """Folder name without the conventional ``.vggt4d`` suffix."""
        name = self.path.name
        return name[: -len(".vggt4d")] if name.endswith(".vggt4d") else name

    def file_path(self, key: str) -> Path:
        return self.path / self.manifest["files"][key]["path"]


def bundle_directory(path: str | Path) -> Path:
    """Accept the bundle folder or its manifest.json; refuse partial (temporary) folders."""
    path = Path(path)
    directory = path.parent if path.name == "manifest.json" else path
    if directory.name.startswith(".") and ".partial-" in directory.name:
        raise BundleError(f"{directory} is a bundle still being written; wait for the job to end")
    if not (directory / "manifest.json").is_file():
        raise BundleError(f"{directory} has no manifest.json: not a VGGT4D result bundle")
    return directory


def validate_bundle(path: str | Path) -> dict[str, Any]:
    """Check every rule of docs/bundle.md without loading the big arrays; return the manifest."""
    directory = bundle_directory(path)
    manifest = _read_manifest(directory)
    _check_header(manifest)
    frame_count = _check_frames(manifest)
    width, height = _side(manifest, "plate", "width"), _side(manifest, "plate", "height")
    model_width = _side(manifest, "model_input", "width")
    model_height = _side(manifest, "model_input", "height")
    files = _mapping(manifest, "files")
    expected_shapes = {
        "extrinsics": (frame_count, 3, 4),
        "intrinsics": (frame_count, 3, 3),
        "depth": (frame_count, model_height, model_width),
        "depth_confidence": (frame_count, model_height, model_width),
    }
    expected_dtypes = {
        "extrinsics": "float64",
        "intrinsics": "float64",
        "depth": "float16",
        "depth_confidence": "float16",
    }
    for key in ARRAY_FILES:
        entry = _mapping(files, key)
        _check_npy(directory, entry, key, expected_dtypes[key], expected_shapes[key])
    for key in MASK_FILES:
        _check_masks(directory, _mapping(files, key), key, frame_count, width, height)
    counts = _mapping(manifest, "counts")
    if counts.get("frames") != frame_count:
        raise BundleError(f"counts.frames {counts.get('frames')!r} != {frame_count} frames")
    _check_static(directory, _mapping(files, "static_points"), counts.get("static_points"))
    dynamic_count = _check_dynamic(directory, _mapping(files, "dynamic_points"), frame_count)
    if counts.get("dynamic_points") != dynamic_count:
        raise BundleError(f"counts.dynamic_points disagrees with the {dynamic_count} points")
    return manifest


def read_bundle(path: str | Path) -> Bundle:
    """Validate the bundle and load its cameras; points load through the read_* functions."""
    directory = bundle_directory(path)
    manifest = validate_bundle(directory)
    files = manifest["files"]
    extrinsics = _load_npy(directory / files["extrinsics"]["path"])
    intrinsics = _load_npy(directory / files["intrinsics"]["path"])
    width, height = int(manifest["plate"]["width"]), int(manifest["plate"]["height"])
    _check_cameras(extrinsics, intrinsics, width, height)
    return Bundle(
        path=directory,
        manifest=manifest,
        frames=np.asarray(manifest["frames"], dtype=np.int64),
        plate_width=width,
        plate_height=height,
        fps=float(manifest["plate"]["fps"]),
        extrinsics=extrinsics,
        intrinsics=intrinsics,
        refined_masks=[directory / p for p in files["refined_masks"]["paths"]],
        coarse_masks=[directory / p for p in files["coarse_masks"]["paths"]],
    )


def _check_cameras(extrinsics: np.ndarray, intrinsics: np.ndarray, width: int, height: int) -> None:
    """Refuse cameras Blender cannot hold: NaN, absurd focal lengths, principal points or
    translations (a focal of 1e300 px would become an infinite lens)."""
    if not (np.isfinite(extrinsics).all() and np.isfinite(intrinsics).all()):
        raise BundleError("the bundle's cameras contain NaN or infinite values")
    side = max(width, height)
    focal = intrinsics[:, [0, 1], [0, 1]] / side
    low, high = FOCAL_RANGE
    if (focal < low).any() or (focal > high).any():
        worst = float(focal.max() if (focal > high).any() else focal.min()) * side
        raise BundleError(
            f"a focal length of {worst:.3g} px is not a usable lens for a {width}x{height} "
            f"plate (expected {low * side:.3g} to {high * side:.3g} px)"
        )
    centre = intrinsics[:, :2, 2]
    if (np.abs(centre) > 100 * side).any():
        raise BundleError("the bundle's principal point lies absurdly far outside the plate")
    if (np.abs(extrinsics[:, :, 3]) > MAX_DISTANCE).any():
        raise BundleError(f"a camera lies more than {MAX_DISTANCE:g} units from the origin")


def read_static_points(bundle: Bundle) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Static cloud -> positions float32 [N, 3], colours uint8 [N, 3], confidence float32 [N].

    A PLY without a confidence property gets confidence 1 everywhere (the backend's writer
    allows it), which any threshold keeps.
    """
    path = bundle.file_path("static_points")
    count, dtype, offset = _ply_header(path)
    try:
        records = np.fromfile(path, dtype=dtype, count=count, offset=offset)
    except (OSError, ValueError) as error:
        raise BundleError(f"{path.name} cannot be read: {error}") from error
    if len(records) != count:
        raise BundleError(f"{path.name} is truncated")
    positions = np.empty((count, 3), dtype=np.float32)
    colors = np.empty((count, 3), dtype=np.uint8)
    for column, name in enumerate(("x", "y", "z")):
        positions[:, column] = records[name]
    for column, name in enumerate(("red", "green", "blue")):
        colors[:, column] = records[name]
    if "confidence" in dtype.names:
        return positions, colors, np.ascontiguousarray(records["confidence"])
    return positions, colors, np.ones(count, dtype=np.float32)


def read_dynamic_points(bundle: Bundle) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Moving points -> positions float32 [M, 3], colours uint8 [M, 3], offsets int64 [S+1]."""
    path = bundle.file_path("dynamic_points")
    with _npz_errors(path), _open_npz(path) as archive:
        return archive["positions"], archive["colors"], archive["frame_offsets"]


@contextlib.contextmanager
def _npz_errors(path: Path) -> Iterator[None]:
    """Turn whatever a damaged .npz raises while it is read into one BundleError."""
    try:
        yield
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise BundleError(f"{path.name} is damaged and cannot be read: {error}") from error


def _open_npz(path: Path) -> np.lib.npyio.NpzFile:
    if not zipfile.is_zipfile(path):
        raise BundleError(f"{path.name} is not a .npz (zip) archive")
    return np.load(path, allow_pickle=False)


def _read_manifest(directory: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:
        raise BundleError(f"{directory / 'manifest.json'} cannot be read: {error}") from error
    if not isinstance(manifest, dict):
        raise BundleError("manifest.json must hold a JSON object")
    return manifest


def _check_header(manifest: dict[str, Any]) -> None:
    if manifest.get("format") != FORMAT:
        raise BundleError(f"manifest format is {manifest.get('format')!r}, expected {FORMAT!r}")
    if manifest.get("version") != VERSION:
        raise BundleError(
            f"bundle version {manifest.get('version')!r} is not supported: this add-on reads "
            f"version {VERSION}; update the add-on or re-run the reconstruction"
        )
    fps = _mapping(manifest, "plate").get("fps")
    low, high = FPS_RANGE
    if not isinstance(fps, int | float) or isinstance(fps, bool) or not low <= fps <= high:
        raise BundleError(f"plate fps {fps!r} must be a number from {low:g} to {high:g}")
    frame_start = _mapping(manifest, "source").get("frame_start", 1)
    if not _is_frame_number(frame_start):
        raise BundleError(
            f"source.frame_start {frame_start!r:.40} must be a whole number "
            f"from 0 to {MAX_FRAME_NUMBER} (Blender's last frame)"
        )


def _check_frames(manifest: dict[str, Any]) -> int:
    frames = manifest.get("frames")
    if not isinstance(frames, list) or not 1 <= len(frames) <= MAX_FRAMES:
        raise BundleError(f"'frames' must be a list of 1 to {MAX_FRAMES} plate frame numbers")
    if not all(_is_frame_number(frame) for frame in frames):
        raise BundleError(
            f"'frames' must hold whole numbers from 0 to {MAX_FRAME_NUMBER} (Blender's last frame)"
        )
    if any(b <= a for a, b in itertools.pairwise(frames)):
        raise BundleError("'frames' must be strictly increasing")
    return len(frames)


def _is_frame_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_FRAME_NUMBER


def _mapping(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise BundleError(f"manifest entry '{key}' is missing or not an object")
    return value


def _side(manifest: dict[str, Any], section: str, key: str) -> int:
    value = _mapping(manifest, section).get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_SIDE:
        raise BundleError(f"{section}.{key} = {value!r} must be an integer in 1..{MAX_SIDE}")
    return value


def _resolve(directory: Path, relative: object, key: str) -> Path:
    """A listed file must be a relative path without '..' that stays inside the bundle."""
    _check_relative(relative, key)
    resolved = (directory / relative).resolve()
    if not resolved.is_relative_to(directory.resolve()):
        raise BundleError(f"files.{key} path {relative!r} leaves the bundle folder")
    if not resolved.is_file():
        raise BundleError(f"files.{key}: {relative} is missing from the bundle")
    return resolved


def _check_relative(relative: object, key: str) -> None:
    if not isinstance(relative, str) or not relative:
        raise BundleError(f"files.{key} has no path")
    parts = relative.split("/")
    if relative.startswith("/") or "\\" in relative or ":" in relative or "" in parts:
        raise BundleError(f"files.{key} path {relative!r} must be relative and without '..'")
    if "." in parts or ".." in parts:
        raise BundleError(f"files.{key} path {relative!r} must be relative and without '..'")


def _resolve_files(directory: Path, relatives: list, key: str) -> None:
    """``_resolve`` for many files (one per frame): each folder is resolved once, and a file
    that is not a plain file (a link) gets the full check."""
    inside: dict[str, bool] = {}
    root = directory.resolve()
    for relative in relatives:
        _check_relative(relative, key)
        folder, _, _name = relative.rpartition("/")
        if folder not in inside:
            inside[folder] = (directory / folder).resolve().is_relative_to(root)
        try:
            plain = inside[folder] and stat.S_ISREG(os.lstat(directory / relative).st_mode)
        except OSError:
            plain = False
        if not plain:
            _resolve(directory, relative, key)


def _check_npy(
    directory: Path, entry: dict[str, Any], key: str, dtype: str, shape: tuple[int, ...]
) -> None:
    path = _resolve(directory, entry.get("path"), key)
    if entry.get("dtype") != dtype or tuple(entry.get("shape") or ()) != shape:
        raise BundleError(
            f"files.{key} declares {entry.get('dtype')} {entry.get('shape')}, "
            f"expected {dtype} {list(shape)}"
        )
    actual_dtype, actual_shape, header_size = _npy_header(path)
    if actual_dtype != np.dtype(dtype) or actual_shape != shape:
        raise BundleError(
            f"{entry['path']} holds {actual_dtype} {list(actual_shape)}, "
            f"the manifest declares {dtype} {list(shape)}"
        )
    if path.stat().st_size != header_size + int(np.prod(shape)) * actual_dtype.itemsize:
        raise BundleError(f"{entry['path']} is truncated or padded")


def _npy_header(path: Path) -> tuple[np.dtype, tuple[int, ...], int]:
    try:
        with path.open("rb") as stream:
            dtype, shape = _read_header(stream)
            header_size = stream.tell()
    except (OSError, ValueError) as error:
        raise BundleError(f"{path.name} is not a valid .npy file: {error}") from error
    return dtype, tuple(shape), header_size


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise BundleError(f"{path.name} cannot be read: {error}") from error


def _check_masks(
    directory: Path, entry: dict[str, Any], key: str, frame_count: int, width: int, height: int
) -> None:
    paths = entry.get("paths")
    if not isinstance(paths, list) or len(paths) != frame_count:
        raise BundleError(f"files.{key} must list one mask per frame ({frame_count})")
    if entry.get("width") != width or entry.get("height") != height:
        raise BundleError(f"files.{key} must be at plate resolution {width}x{height}")
    _resolve_files(directory, paths, key)


def _check_static(directory: Path, entry: dict[str, Any], declared_count: object) -> None:
    path = _resolve(directory, entry.get("path"), "static_points")
    if entry.get("format") != "ply":
        raise BundleError("files.static_points must be a binary PLY")
    count, _dtype, _offset = _ply_header(path)
    if not count == entry.get("count") == declared_count:
        raise BundleError(
            f"{entry['path']} holds {count} points, the manifest says {entry.get('count')}"
        )


def _ply_header(path: Path) -> tuple[int, np.dtype, int]:
    """Check the PLY header and exact file size: (point count, vertex dtype, data offset)."""
    with path.open("rb") as stream:
        head = stream.read(64 * 1024)
    end = head.find(b"end_header\n")
    if not head.startswith(b"ply\n") or end < 0:
        raise BundleError(f"{path.name} is not a PLY file")
    offset = end + len(b"end_header\n")
    lines = head[:end].decode("ascii", "replace").splitlines()[1:]
    lines = [line for line in lines if not line.startswith("comment")]
    if not lines or lines[0] != "format binary_little_endian 1.0":
        raise BundleError(f"{path.name} must be binary little-endian PLY")
    element = lines[1].split() if len(lines) > 1 else []
    if len(element) != 3 or element[:2] != ["element", "vertex"] or not element[2].isdigit():
        raise BundleError(f"{path.name} must hold a single 'element vertex N'")
    count = int(element[2])
    for fields in (PLY_FIELDS, [*PLY_FIELDS, PLY_CONFIDENCE]):
        if lines[2:] == [f"property {kind} {name}" for name, _code, kind in fields]:
            break
    else:
        raise BundleError(f"{path.name} must hold vertices with x y z red green blue [confidence]")
    dtype = np.dtype([(name, code) for name, code, _kind in fields])
    if count > MAX_POINTS:
        raise BundleError(f"{path.name} declares more than {MAX_POINTS} points")
    if path.stat().st_size != offset + count * dtype.itemsize:
        raise BundleError(f"{path.name} is truncated or padded")
    return count, dtype, offset


def _check_dynamic(directory: Path, entry: dict[str, Any], frame_count: int) -> int:
    """Check member headers only, so validation never loads the (large) position arrays."""
    path = _resolve(directory, entry.get("path"), "dynamic_points")
    declared = _mapping(entry, "arrays")
    with _npz_errors(path), _open_npz(path) as archive:
        headers = {name: _npy_member_header(archive, name) for name in DYNAMIC_MEMBERS}
        offsets = archive["frame_offsets"]
    count = headers["positions"][1][0] if headers["positions"][1] else -1
    expected = {
        "positions": ("float32", (count, 3)),
        "colors": ("uint8", (count, 3)),
        "frame_offsets": ("int64", (frame_count + 1,)),
    }
    for name, (dtype, shape) in expected.items():
        actual_dtype, actual_shape = headers[name]
        member = _mapping(declared, name)
        if actual_dtype != np.dtype(dtype) or actual_shape != shape:
            raise BundleError(
                f"{entry['path']}:{name} is {actual_dtype} {list(actual_shape)}, "
                f"expected {dtype} {list(shape)}"
            )
        if member.get("dtype") != dtype or tuple(member.get("shape") or ()) != shape:
            raise BundleError(f"files.dynamic_points.{name} declares the wrong dtype or shape")
    if offsets[0] != 0 or offsets[-1] != count or (np.diff(offsets) < 0).any():
        raise BundleError(f"{entry['path']}: frame_offsets must rise from 0 to the point count")
    return count


def _npy_member_header(archive: np.lib.npyio.NpzFile, name: str) -> tuple[np.dtype, tuple]:
    with archive.zip.open(f"{name}.npy") as stream:
        return _read_header(stream)


def _read_header(stream: BinaryIO) -> tuple[np.dtype, tuple[int, ...]]:
    """dtype and shape from a .npy header, without reading the data."""
    major, _minor = np.lib.format.read_magic(stream)
    reader = (
        np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    )
    shape, _fortran, dtype = reader(stream)
    return dtype, tuple(shape)
