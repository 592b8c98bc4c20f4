"""The result bundle format, version 1 (docs/bundle.md): limits, validator and reader.

This one file is the format for both sides. The backend imports it as
``vggt4d.io.bundle_format``; the Blender add-on imports the very same file as
``vggt4d_blender.bundle_format`` (a symbolic link in the repository that build.py replaces
with a copy in the extension), with ``bundle_schema.json`` beside it. So it imports only the
standard library and numpy, never torch, PIL or bpy, and nothing from either package.

Every rule a reader checks lives here, so ``vggt4d info``, ``vggt4d export`` and the Blender
importer refuse a bundle with the same ``BundleError`` (code ``bad_bundle``) and the same
sentence. The writer (``vggt4d.io.bundle``) stays in the backend and validates what it wrote
with these rules before publishing it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

FORMAT = "vggt4d-bundle"
VERSION = 1
MANIFEST = "manifest.json"
SCHEMA_FILE = "bundle_schema.json"
PARTIAL_MARKER = ".partial-"
"""Folders named ``.<bundle>.partial-<random>`` are bundles a writer has not finished."""
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
MAX_PLY_HEADER_BYTES = 64 * 1024
MAX_POINTS = 2_000_000_000
FOCAL_RANGE = (1e-3, 1e3)
"""Focal length over the plate's longer side: from a 0.04 mm to a 36 m lens on a 36 mm sensor."""
MAX_PRINCIPAL_OFFSET = 100
"""Principal points may lie at most this many plate sides from the origin."""
MAX_DISTANCE = 1e9
"""Largest camera translation accepted (bundle units); beyond it Blender's float32 breaks down."""
ARRAY_FILES = ("extrinsics", "intrinsics", "depth", "depth_confidence")
MASK_FILES = ("coarse_masks", "refined_masks")
NETWORK_MASKS = "network_masks"
"""Optional: the network's refined masks, kept once artist masks replaced some (docs/bundle.md)."""
DYNAMIC_MEMBERS = ("positions", "colors", "frame_offsets")
SOLVE_FILES = ("network_extrinsics", "network_intrinsics", "tracks")
"""Files a solved bundle has (docs/solve.md): the network's cameras and the solve's tracks."""
TRACK_MEMBERS = ("frame_index", "track_index", "xy", "error_px", "points")
PLY_FIELDS = (
    ("x", "<f4", "float"),
    ("y", "<f4", "float"),
    ("z", "<f4", "float"),
    ("red", "u1", "uchar"),
    ("green", "u1", "uchar"),
    ("blue", "u1", "uchar"),
)
PLY_CONFIDENCE = ("confidence", "<f4", "float")
PLY_FORMAT_LINE = "format binary_little_endian 1.0"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class BundleError(Exception):
    """A result bundle that is incomplete, malformed or hostile; the message is for people."""

    code = "bad_bundle"


@dataclass(frozen=True)
class Bundle:
    """A validated bundle: manifest facts plus the camera arrays (the rest loads on demand).

    Cameras are cam-from-world (OpenCV axes) with intrinsics in plate pixels whose origin is
    the top-left corner of the plate (``vggt4d.geometry`` conventions).
    """

    path: Path
    manifest: dict[str, Any]
    frames: np.ndarray  # int64 [S] plate frame numbers
    plate_width: int
    plate_height: int
    fps: float
    extrinsics: np.ndarray  # float64 [S, 3, 4] cam_from_world
    intrinsics: np.ndarray  # float64 [S, 3, 3] plate pixels
    refined_masks: list[Path]
    coarse_masks: list[Path]
    pixel_aspect: float = 1.0  # the plate's sample aspect ratio: pixel width / height

    @property
    def shot_name(self) -> str:
        """Folder name without the conventional ``.vggt4d`` suffix."""
        name = self.path.name
        return name[: -len(".vggt4d")] if name.endswith(".vggt4d") else name

    def file_path(self, key: str) -> Path:
        """The file ``files.<key>.path`` names (already checked to lie inside the bundle)."""
        return self.path / self.manifest["files"][key]["path"]


def mask_path(kind: str, frame: int) -> str:
    """Relative path of the ``kind`` ("coarse", "refined" or "network") mask of plate frame
    ``frame``."""
    return f"masks/{kind}/mask.{frame:06d}.png"


def frame_number_span(file_name: str) -> tuple[int, int] | None:
    """Where a per-frame file's frame number sits in its name: the last run of digits before
    the extension (``plate_v2.001001.png`` -> the span of ``001001``); None without digits.

    The one frame-number convention of the project: image sequences, artist masks, bundle
    masks and ground truth files are all matched to plate frames with it.
    """
    stem_end = file_name.rfind(".") if "." in file_name.lstrip(".") else len(file_name)
    end = stem_end
    while end > 0 and not file_name[end - 1].isdigit():
        end -= 1
    start = end
    while start > 0 and file_name[start - 1].isdigit():
        start -= 1
    return (start, end) if start < end else None


# Image files a plate folder is searched for (`find_plate`).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".dpx", ".bmp", ".webp")


def find_plate(
    source: dict[str, Any], bundle_dir: str | Path, first: int
) -> tuple[Path, Path, int] | None:
    """Where a bundle's plate is now, or None: (the location to read, as the manifest's
    ``source`` names it; the file of its first frame; that file's plate frame number).

    Looked for at ``source.path``, then at ``source.path_relative_to_bundle`` from the bundle
    folder (a project moved or opened on another machine). A sequence may be a folder, a ``#``
    or printf pattern, a glob or one file (found when its frame ``first``, else any, exists);
    a video starts at ``source.frame_start`` (default 1). For the add-on and the re-solve.
    """
    places = [str(source.get("path", ""))]
    relative = source.get("path_relative_to_bundle")
    if isinstance(relative, str) and relative:
        places.append(os.path.normpath(Path(bundle_dir).absolute() / relative))
    for place in places:
        found = _footage_at(place, source, first)
        if found is not None:
            return (Path(place), *found)
    return None


def _footage_at(text: str, source: dict, first: int) -> tuple[Path, int] | None:
    if source.get("kind") == "video":
        path = Path(text)
        return (path, int(source.get("frame_start", 1))) if path.is_file() else None
    for candidate in _sequence_candidates(text, first):
        number = frame_number(candidate.name)
        if candidate.is_file() and number is not None:
            return candidate, number
    return None


def _sequence_candidates(text: str, first: int) -> list[Path]:
    path = Path(text)
    if "#" in path.name:
        name = re.sub(r"#+", lambda run: f"{first:0{len(run.group())}d}", path.name)
        return [path.with_name(name)]
    if re.search(r"%0?\d*d", path.name):
        return [path.with_name(path.name % first)]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    elif any(mark in path.name for mark in "*?["):
        files = sorted(path.parent.glob(path.name))
    else:
        files = [path]
    return sorted(files, key=lambda p: frame_number(p.name) != first)


def frame_number(file_name: str) -> int | None:
    """The plate frame number a file stands for (see ``frame_number_span``), or None."""
    span = frame_number_span(file_name)
    return int(file_name[span[0] : span[1]]) if span else None


def ply_dtype(with_confidence: bool) -> np.dtype:
    """The vertex record of the bundle's static PLY (little-endian, packed)."""
    fields = (*PLY_FIELDS, PLY_CONFIDENCE) if with_confidence else PLY_FIELDS
    return np.dtype([(name, code) for name, code, _kind in fields])


def ply_header(count: int, with_confidence: bool) -> bytes:
    """The exact header the readers accept for ``count`` vertices."""
    fields = (*PLY_FIELDS, PLY_CONFIDENCE) if with_confidence else PLY_FIELDS
    lines = ["ply", PLY_FORMAT_LINE, f"element vertex {count}"]
    lines += [f"property {kind} {name}" for name, _code, kind in fields]
    return ("\n".join([*lines, "end_header"]) + "\n").encode("ascii")


def bundle_directory(path: str | Path) -> Path:
    """Accept the bundle folder or its manifest.json; refuse unfinished (partial) folders."""
    path = Path(path)
    directory = path.parent if path.name == MANIFEST else path
    if directory.name.startswith(".") and PARTIAL_MARKER in directory.name:
        raise BundleError(
            f"{directory} is an unfinished bundle, still being written (or its writer was "
            "interrupted); wait for the job to end"
        )
    if not (directory / MANIFEST).is_file():
        validate_contents(directory)  # raises: no manifest
    return directory


def validate_bundle(path: str | Path) -> dict[str, Any]:
    """Check every rule of docs/bundle.md without loading the large arrays; return the manifest.

    Raises BundleError naming the first broken rule.
    """
    return validate_contents(bundle_directory(path))


def validate_contents(directory: Path) -> dict[str, Any]:
    """``validate_bundle`` for a folder whatever its name: the writer checks its unfinished
    (partial) folder with it before publishing."""
    if not (directory / MANIFEST).is_file():
        raise BundleError(
            f"{directory} is not a bundle: manifest.json is missing (found no manifest.json)"
        )
    manifest = _load_manifest(directory)
    frames, files, counts = manifest["frames"], manifest["files"], manifest["counts"]
    frame_count = len(frames)
    if any(later <= earlier for earlier, later in itertools.pairwise(frames)):
        raise BundleError("'frames' must be strictly increasing")
    if counts["frames"] != frame_count:
        raise BundleError(f"counts.frames {counts['frames']} != {frame_count} frames")
    plate, model_input = manifest["plate"], manifest["model_input"]
    model_size = (model_input["height"], model_input["width"])
    expected = {
        "extrinsics": ("float64", (frame_count, 3, 4)),
        "intrinsics": ("float64", (frame_count, 3, 3)),
        "depth": ("float16", (frame_count, *model_size)),
        "depth_confidence": ("float16", (frame_count, *model_size)),
    }
    for key, (dtype, shape) in expected.items():
        _check_npy(directory, files[key], key, dtype, shape)
    _check_cameras(_load_cameras(directory, files), plate["width"], plate["height"])
    _check_dynamic(directory, files["dynamic_points"], frame_count, counts["dynamic_points"])
    _check_static(directory, files["static_points"], counts["static_points"])
    for key in (*MASK_FILES, NETWORK_MASKS):
        if key in files:
            _check_masks(directory, files[key], key, frame_count, plate["width"], plate["height"])
    _check_solve(directory, manifest)
    return manifest


def read_bundle(path: str | Path) -> Bundle:
    """Validate the bundle and load its cameras; points load through the read_* functions."""
    directory = bundle_directory(path)
    manifest = validate_bundle(directory)
    files, plate = manifest["files"], manifest["plate"]
    extrinsics, intrinsics = _load_cameras(directory, files)
    return Bundle(
        path=directory,
        manifest=manifest,
        frames=np.asarray(manifest["frames"], dtype=np.int64),
        plate_width=int(plate["width"]),
        plate_height=int(plate["height"]),
        fps=float(plate["fps"]),
        extrinsics=extrinsics,
        intrinsics=intrinsics,
        refined_masks=[directory / relative for relative in files["refined_masks"]["paths"]],
        coarse_masks=[directory / relative for relative in files["coarse_masks"]["paths"]],
        pixel_aspect=float(plate.get("pixel_aspect", 1.0)),
    )


def read_array(bundle: Bundle, key: str) -> np.ndarray:
    """One of ``ARRAY_FILES`` (e.g. the float16 depth maps [S, h, w]), as declared."""
    return _load_npy(bundle.file_path(key))


def read_static_points(bundle: Bundle) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Static cloud -> positions float32 [N, 3], colours uint8 [N, 3], confidence float32 [N].

    A PLY without a confidence property gets confidence 1 everywhere (the writer allows it),
    which any threshold keeps.
    """
    positions, colors, confidence = read_ply(bundle.file_path("static_points"))
    if confidence is None:
        confidence = np.ones(len(positions), dtype=np.float32)
    return positions, colors, confidence


def read_dynamic_points(bundle: Bundle) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Moving points -> positions float32 [M, 3], colours uint8 [M, 3], offsets int64 [S + 1]
    (frame i owns rows ``offsets[i]:offsets[i + 1]``)."""
    path = bundle.file_path("dynamic_points")
    with _npz_errors(path), _open_npz(path) as archive:
        return archive["positions"], archive["colors"], archive["frame_offsets"]


def read_ply(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """A PLY in the bundle's layout -> (positions float32 [N, 3], colours uint8 [N, 3],
    confidence float32 [N] or None when the file has none)."""
    path = Path(path)
    count, dtype, offset = _read_ply_header(path)
    try:
        records = np.fromfile(path, dtype=dtype, count=count, offset=offset)
    except (OSError, ValueError) as error:
        raise BundleError(f"{path.name} cannot be read: {error}") from error
    if len(records) != count:
        raise BundleError(f"{path.name} is truncated")
    positions = np.stack([records[name] for name in ("x", "y", "z")], axis=1)
    colors = np.stack([records[name] for name in ("red", "green", "blue")], axis=1)
    confidence = records["confidence"].copy() if "confidence" in dtype.names else None
    return positions.astype(np.float32), colors.astype(np.uint8), confidence


def _read_ply_header(path: str | Path) -> tuple[int, np.dtype, int]:
    """Check a PLY's header and exact file size: (point count, vertex dtype, data offset)."""
    path = Path(path)
    with path.open("rb") as stream:
        head = stream.read(MAX_PLY_HEADER_BYTES)
    end = head.find(b"end_header\n")
    if not head.startswith(b"ply\n") or end < 0:
        raise BundleError(f"{path.name} is not a PLY file with a header under 64 KiB")
    offset = end + len(b"end_header\n")
    lines = head[:end].decode("ascii", "replace").splitlines()[1:]
    lines = [line for line in lines if not line.startswith("comment")]
    if not lines or lines[0] != PLY_FORMAT_LINE:
        raise BundleError(f"{path.name} must be binary little-endian PLY")
    element = lines[1].split() if len(lines) > 1 else []
    if len(element) != 3 or element[:2] != ["element", "vertex"] or not element[2].isdigit():
        raise BundleError(f"{path.name} must hold a single 'element vertex N'")
    count = int(element[2])
    for with_confidence in (False, True):
        if ply_header(count, with_confidence)[:-1].decode().split("\n")[3:-1] == lines[2:]:
            dtype = ply_dtype(with_confidence)
            break
    else:
        raise BundleError(f"{path.name} must hold vertices with x y z red green blue [confidence]")
    if count > MAX_POINTS:
        raise BundleError(f"{path.name} declares more than {MAX_POINTS} points")
    size, expected = path.stat().st_size, offset + count * dtype.itemsize
    if size != expected:
        raise BundleError(f"{path.name} is truncated or padded: {size} bytes, expected {expected}")
    return count, dtype, offset


def mask_from_pixels(pixels: np.ndarray, relative: str) -> np.ndarray:
    """Decoded 8-bit mask pixels [H, W] -> bool [H, W]; only 0 and 255 are allowed."""
    if not np.isin(pixels, (0, 255)).all():
        raise BundleError(f"{relative} has values other than 0 and 255")
    return pixels == 255


def _load_schema() -> dict[str, Any]:
    """The manifest's JSON Schema (bundle_schema.json, shipped beside this file)."""
    return json.loads(Path(__file__).with_name(SCHEMA_FILE).read_text(encoding="utf-8"))


def _check_schema(value: Any, schema: dict, root_schema: dict, where: str) -> None:
    """Check ``value`` against the subset of JSON Schema that bundle_schema.json uses ($ref to
    $defs, type, const, enum, required, properties, additionalProperties, items, bounds,
    lengths); raises BundleError naming the first offending entry."""
    if "$ref" in schema:
        schema = root_schema["$defs"][schema["$ref"].removeprefix("#/$defs/")]
    kinds = {
        "object": dict,
        "array": list,
        "string": str,
        "boolean": bool,
        "integer": int,
        "number": (int, float),
    }
    expected_kind = schema.get("type")
    if expected_kind and (
        not isinstance(value, kinds[expected_kind])
        or (isinstance(value, bool) and expected_kind in ("integer", "number"))
    ):
        raise BundleError(f"{where} must be of type {expected_kind}, got {value!r:.80}")
    if "const" in schema and (value != schema["const"] or type(value) is not type(schema["const"])):
        raise BundleError(f"{where} must be {schema['const']!r}, got {value!r:.80}")
    if "enum" in schema and value not in schema["enum"]:
        raise BundleError(f"{where} must be one of {schema['enum']}, got {value!r:.80}")
    _check_bounds(value, schema, where)
    if isinstance(value, dict):
        missing = [key for key in schema.get("required", []) if key not in value]
        if missing:
            raise BundleError(f"{where} is missing {missing}")
        properties = schema.get("properties", {})
        extra_schema = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                _check_schema(item, properties[key], root_schema, f"{where}.{key}")
            elif extra_schema is False:
                raise BundleError(f"{where} has an unknown key {key!r:.80}")
            elif isinstance(extra_schema, dict):
                _check_schema(item, extra_schema, root_schema, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            _check_schema(item, schema["items"], root_schema, f"{where}[{index}]")


# ---- manifest ------------------------------------------------------------------------------


def _load_manifest(directory: Path) -> dict[str, Any]:
    path = _resolve(directory, MANIFEST, "manifest")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise BundleError(f"manifest.json is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise BundleError(f"manifest.json cannot be read as JSON: {error}") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"manifest.json is not a {FORMAT} manifest")
    if manifest.get("version") != VERSION:
        raise BundleError(
            f"the bundle is version {manifest.get('version')!r:.20}; this reader understands "
            f"version {VERSION}: update the add-on and backend, or re-run the reconstruction"
        )
    schema = _load_schema()
    _check_schema(manifest, schema, schema, "manifest")
    return manifest


def _check_bounds(value: Any, schema: dict, where: str) -> None:
    """Numeric bounds and lengths; a schema ``description`` is added to the sentence."""
    reason = f" ({schema['description']})" if "description" in schema else ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise BundleError(f"{where} must be finite{reason}")
        if "minimum" in schema and value < schema["minimum"]:
            raise BundleError(f"{where} = {value:.6g} is below {schema['minimum']}{reason}")
        if "maximum" in schema and value > schema["maximum"]:
            raise BundleError(f"{where} = {value:.6g} is above {schema['maximum']}{reason}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            raise BundleError(
                f"{where} = {value:.6g} must be above {schema['exclusiveMinimum']}{reason}"
            )
    if isinstance(value, str | list):
        unit = "characters" if isinstance(value, str) else "items"
        low = schema.get("minLength", schema.get("minItems", 0))
        high = schema.get("maxLength", schema.get("maxItems"))
        if len(value) < low or (high is not None and len(value) > high):
            limits = f"{low} to {high}" if high is not None else f"at least {low}"
            raise BundleError(f"{where} must hold {limits} {unit}, not {len(value)}{reason}")


# ---- files ---------------------------------------------------------------------------------


def _resolve(directory: Path, relative: str, key: str) -> Path:
    """The file ``relative`` names, refusing absolute paths, ``..``, backslashes, drive letters
    and anything (symbolic links included) that resolves outside the bundle."""
    parts = relative.split("/")
    if (
        relative.startswith("/")
        or "\\" in relative
        or ":" in relative
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise BundleError(f"{key} path {relative!r:.80} must be relative, without '..' or '\\'")
    base = directory.resolve()
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        raise BundleError(f"{key} path {relative!r:.80} points outside the bundle")
    if not target.is_file():
        raise BundleError(f"{key}: {relative} is missing from the bundle")
    return target


def _check_npy(
    directory: Path, entry: dict[str, Any], key: str, dtype: str, shape: tuple[int, ...]
) -> None:
    path = _resolve(directory, entry["path"], f"files.{key}")
    if entry["dtype"] != dtype or tuple(entry["shape"]) != shape:
        raise BundleError(
            f"files.{key} is declared {entry['dtype']} {entry['shape']}, "
            f"expected {dtype} {list(shape)}"
        )
    with path.open("rb") as stream:
        _check_npy_stream(stream, dtype, shape, entry["path"], path.stat().st_size)


def _check_npy_stream(
    stream: BinaryIO, dtype: str, shape: tuple[int, ...], label: str, size: int
) -> None:
    """Read only the .npy header: dtype, shape and the exact byte size must be as expected."""
    actual_dtype, actual_shape = _read_npy_header(stream, label)
    if actual_dtype != np.dtype(dtype) or actual_shape != shape:
        raise BundleError(
            f"{label} holds {actual_dtype} {list(actual_shape)}, expected {dtype} {list(shape)}"
        )
    expected = stream.tell() + int(np.prod(shape, dtype=np.int64)) * actual_dtype.itemsize
    if size != expected:
        raise BundleError(f"{label} is truncated or padded: {size} bytes, expected {expected}")


def _read_npy_header(stream: BinaryIO, label: str) -> tuple[np.dtype, tuple[int, ...]]:
    """dtype and shape from a .npy header, without reading the data."""
    try:
        version = np.lib.format.read_magic(stream)
        reader = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }[version]
        shape, _fortran, dtype = reader(stream)
    except (ValueError, KeyError, OSError, EOFError) as error:
        raise BundleError(f"{label} is not a valid .npy file: {error}") from error
    return dtype, tuple(shape)


def describe_smoothing(smoothing: dict[str, Any]) -> str:
    """One line on what the path smoothing did (a manifest's ``solve.smoothing``), for
    ``vggt4d info`` and the add-on's panel."""
    before, after = smoothing["jitter"]["before"], smoothing["jitter"]["after"]
    if smoothing["strength_used"] == 0:
        return f"gave way at strength {smoothing['strength']:g}: the path is as solved"
    return (
        f"strength {smoothing['strength_used']:g} of {smoothing['strength']:g}, "
        f"{smoothing['cost_px']['median']:+.3f} px; jitter {before['rotation_deg']:.3f} -> "
        f"{after['rotation_deg']:.3f} deg, {before['position_relative']:.3f} -> "
        f"{after['position_relative']:.3f} of a step"
    )


def describe_lens_check(solve: dict[str, Any]) -> str | None:
    """The warning for a solve (a manifest's ``solve``) made without a lens model on a plate
    that looks lens-distorted (its ``lens_check``, docs/solve.md); None otherwise. For
    ``vggt4d info``, the job's log and the add-on."""
    check = solve.get("lens_check")
    if not check or not check["distorted"]:
        return None
    return (
        "the plate looks lens-distorted: with --distortion polynomial the median solve error "
        f"drops from {solve['reprojection_error_px']['median']:.3f} to "
        f"{check['median_px']:.3f} px (k1 about {check['k1']:+.3f}). Re-solve with it: without "
        "a lens model the focal and the points soak the distortion up"
    )


def describe_focal_switch(solve: dict[str, Any]) -> str | None:
    """The warning for a shot solved with a focal per frame although one shared focal was asked
    (a manifest's ``solve.focal_switch``, docs/solve.md); None otherwise. For ``vggt4d info``
    and the job's log."""
    switch = solve.get("focal_switch")
    if not switch:
        return None
    return (
        f"the network's focal length changes {switch['network_spread']:.2f}x over the shot (a "
        "zoom?): solved with --focal per-frame instead of one shared focal; give --focal fixed "
        "to keep the network's"
    )


def describe_focal(solve: dict[str, Any]) -> str | None:
    """The note for a solve (a manifest's ``solve``) whose shot does not determine the shared
    focal (its ``focal``, docs/solve.md: a dolly, a truck, a locked-off shot); None otherwise.
    For ``vggt4d info``, the job's log and the add-on."""
    focal = solve.get("focal")
    if not focal or focal["determined"]:
        return None
    spread = f"+-{focal['std_percent']:.1f} %" if "std_percent" in focal else "anything"
    return (
        f"the shot does not determine the focal length (the tracks allow {spread}): it stays "
        "near the network's. Give --focal fixed with the real lens if you know it"
    )


def describe_locked_off(solve: dict[str, Any]) -> str | None:
    """The note for a shot solved as locked off (a manifest's ``solve.locked_off``,
    docs/solve.md); None otherwise. For ``vggt4d info`` and the job's log."""
    if not solve.get("locked_off"):
        return None
    return (
        "the camera does not move (a locked-off shot): one static camera for every frame, at "
        "the network's mean pose; a still camera cannot determine the focal length, so it is "
        "the network's. Set the real lens in Blender if you know it"
    )


def read_tracks(bundle: Bundle) -> dict[str, np.ndarray] | None:
    """The solve's tracks, or None for a bundle without a solve: ``frame_index`` int32 [N]
    (0..S-1), ``track_index`` int32 [N] (0..T-1), ``xy`` float32 [N, 2] plate pixels,
    ``error_px`` float32 [N] reprojection error, ``points`` float32 [T, 3] world positions."""
    if "solve" not in bundle.manifest:
        return None
    path = bundle.file_path("tracks")
    with _npz_errors(path), _open_npz(path) as archive:
        return {name: archive[name] for name in TRACK_MEMBERS}


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise BundleError(f"{path.name} cannot be read: {error}") from error


def _load_cameras(directory: Path, files: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    extrinsics = _load_npy(directory / files["extrinsics"]["path"])
    intrinsics = _load_npy(directory / files["intrinsics"]["path"])
    return extrinsics, intrinsics


def _check_cameras(cameras: tuple[np.ndarray, np.ndarray], width: int, height: int) -> None:
    """Refuse cameras no tool can use: NaN, zero, negative or absurd focal lengths, principal
    points or translations (a focal of 1e300 px would become an infinite lens)."""
    extrinsics, intrinsics = cameras
    for name, values in (("extrinsics", extrinsics), ("intrinsics", intrinsics)):
        if not np.isfinite(values).all():
            raise BundleError(f"the bundle's {name} contain NaN or infinite values")
    side = max(width, height)
    focal = intrinsics[:, [0, 1], [0, 1]] / side
    low, high = FOCAL_RANGE
    if (focal < low).any() or (focal > high).any():
        worst = float(focal.max() if (focal > high).any() else focal.min()) * side
        raise BundleError(
            f"a focal length of {worst:.3g} px is not a usable lens for a {width}x{height} "
            f"plate (expected {low * side:.3g} to {high * side:.3g} px)"
        )
    if (np.abs(intrinsics[:, :2, 2]) > MAX_PRINCIPAL_OFFSET * side).any():
        raise BundleError("the bundle's principal point lies absurdly far outside the plate")
    if (np.abs(extrinsics[:, :, 3]) > MAX_DISTANCE).any():
        raise BundleError(f"a camera lies more than {MAX_DISTANCE:g} units from the origin")


@contextlib.contextmanager
def _npz_errors(path: Path) -> Iterator[None]:
    """Turn whatever a damaged .npz raises while it is read into one BundleError."""
    try:
        yield
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise BundleError(f"{path.name} is damaged and cannot be read: {error}") from error


def _open_zip(path: Path) -> zipfile.ZipFile:
    if not zipfile.is_zipfile(path):
        raise BundleError(f"{path.name} is not a .npz (zip) archive")
    return zipfile.ZipFile(path)


def _open_npz(path: Path) -> Any:
    _open_zip(path).close()
    return np.load(path, allow_pickle=False)


def _check_dynamic(directory: Path, entry: dict[str, Any], frame_count: int, count: int) -> None:
    expected = {
        "positions": ("float32", (count, 3)),
        "colors": ("uint8", (count, 3)),
        "frame_offsets": ("int64", (frame_count + 1,)),
    }
    offsets = _check_npz(directory, entry, "dynamic_points", expected, ("frame_offsets",))[
        "frame_offsets"
    ]
    if offsets[0] != 0 or offsets[-1] != count or (np.diff(offsets) < 0).any():
        raise BundleError(
            f"{entry['path']}: frame_offsets must rise from 0 to the point count {count}"
        )


def _check_npz(
    directory: Path,
    entry: dict[str, Any],
    key: str,
    expected: dict[str, tuple[str, tuple[int, ...]]],
    load: tuple[str, ...],
) -> dict[str, np.ndarray]:
    """Check the declared and actual member headers of an .npz (never loading the large
    members) and return the small members named in ``load``."""
    label = entry["path"]
    path = _resolve(directory, label, f"files.{key}")
    declared = entry["arrays"]
    with _npz_errors(path), _open_zip(path) as archive:
        members = {info.filename: info for info in archive.infolist()}
        if sorted(members) != sorted(f"{name}.npy" for name in expected):
            raise BundleError(f"{label} holds {sorted(members)}, expected {tuple(expected)}")
        for name, (dtype, shape) in expected.items():
            member = declared[name]
            if member["dtype"] != dtype or tuple(member["shape"]) != shape:
                raise BundleError(
                    f"files.{key}.{name} is declared {member['dtype']} "
                    f"{member['shape']}, expected {dtype} {list(shape)}"
                )
            info = members[f"{name}.npy"]
            with archive.open(info) as stream:
                _check_npy_stream(stream, dtype, shape, f"{label}:{name}", info.file_size)
        loaded = {}
        for name in load:
            with archive.open(f"{name}.npy") as stream:
                loaded[name] = np.lib.format.read_array(stream, allow_pickle=False)
        return loaded


def _check_connectivity(connectivity: dict[str, Any] | None, frame_count: int) -> None:
    """Segments are ascending, disjoint runs of frames; kept frames lie in the shot and the
    frames where the solve lost to the network are among them."""
    if connectivity is None:
        return
    frames = [frame for run in connectivity["segments"] for frame in run]
    frames += connectivity["kept_frames"]
    if any(frame >= frame_count for frame in frames):
        raise BundleError(f"solve.connectivity frames must lie in 0..{frame_count - 1}")
    runs = connectivity["segments"]
    ordered = all(first <= last for first, last in runs) and all(
        before[1] < after[0] for before, after in itertools.pairwise(runs)
    )
    if not ordered:
        raise BundleError("solve.connectivity.segments must be ascending, disjoint runs")
    if not set(connectivity["worse_frames"]) <= set(connectivity["kept_frames"]):
        raise BundleError("solve.connectivity.worse_frames must be among its kept_frames")


def describe_connectivity(solve: dict[str, Any], frames: Sequence[int]) -> str:
    """One sentence on which frames the solve could not help (empty when it solved them all),
    for the CLI, the job log and the add-on panel; frames: the plate frame numbers."""
    connectivity = solve.get("connectivity")
    if not connectivity:
        return ""
    runs, kept = connectivity["segments"], connectivity["kept_frames"]
    if len(runs) <= 1 and not kept:
        return ""
    parts = [f"Solved {len(frames) - len(kept)} of {len(frames)} frames"]
    if len(runs) > 1:
        starts = ", ".join(str(frames[first]) for first, _ in runs[1:])
        parts.append(f"in {len(runs)} unconnected pieces (breaks before frames {starts})")
    if kept:
        parts.append(f"frames {_frame_list(kept, frames)} keep the network camera")
    worse = connectivity["worse_frames"]
    if worse:
        parts.append(f"the solve did not beat it on {_frame_list(worse, frames)}")
    return "; ".join(parts) + "."


def _frame_list(indices: Sequence[int], frames: Sequence[int], shown: int = 8) -> str:
    """Plate frame numbers of shot indices, the first `shown` of them."""
    text = ", ".join(str(frames[index]) for index in indices[:shown])
    return text + (", ..." if len(indices) > shown else "")


def _check_solve(directory: Path, manifest: dict[str, Any]) -> None:
    """A solve section comes with the network cameras and the tracks, and only with them."""
    files, frame_count = manifest["files"], len(manifest["frames"])
    solve = manifest.get("solve")
    present = [key for key in SOLVE_FILES if key in files]
    if solve is None:
        if present:
            raise BundleError(f"files lists {present} but the manifest has no solve section")
        return
    missing = [key for key in SOLVE_FILES if key not in files]
    if missing:
        raise BundleError(f"the solve section needs files {missing}")
    _check_npy(
        directory, files["network_extrinsics"], "network_extrinsics", "float64", (frame_count, 3, 4)
    )
    _check_npy(
        directory, files["network_intrinsics"], "network_intrinsics", "float64", (frame_count, 3, 3)
    )
    errors = solve["reprojection_error_px"]["per_frame"]
    if len(errors) != frame_count or len(solve["depth_scale"]) != frame_count:
        raise BundleError(f"solve.per_frame and solve.depth_scale must list {frame_count} frames")
    if not all(
        error is None
        or (isinstance(error, int | float) and not isinstance(error, bool) and 0 <= error < 1e6)
        for error in errors
    ):
        raise BundleError("solve.reprojection_error_px.per_frame holds pixels >= 0 or null")
    limited = solve.get("smoothing", {}).get("limited_frames", [])
    if any(frame >= frame_count for frame in limited):
        raise BundleError(f"solve.smoothing.limited_frames must lie in 0..{frame_count - 1}")
    _check_connectivity(solve.get("connectivity"), frame_count)
    count, tracks = solve["observations"], solve["tracks"]
    expected = {
        "frame_index": ("int32", (count,)),
        "track_index": ("int32", (count,)),
        "xy": ("float32", (count, 2)),
        "error_px": ("float32", (count,)),
        "points": ("float32", (tracks, 3)),
    }
    loaded = _check_npz(
        directory, files["tracks"], "tracks", expected, ("frame_index", "track_index")
    )
    for name, limit in (("frame_index", frame_count), ("track_index", tracks)):
        values = loaded[name]
        if count and (values.min() < 0 or values.max() >= limit):
            raise BundleError(f"{files['tracks']['path']}: {name} outside 0..{limit - 1}")


def _check_static(directory: Path, entry: dict[str, Any], declared_count: int) -> None:
    path = _resolve(directory, entry["path"], "files.static_points")
    count, _dtype, _offset = _read_ply_header(path)
    if not count == entry["count"] == declared_count:
        raise BundleError(
            f"{entry['path']} holds {count} points; the manifest says {entry['count']} "
            f"(counts.static_points {declared_count})"
        )


def _check_masks(
    directory: Path, entry: dict[str, Any], key: str, frame_count: int, width: int, height: int
) -> None:
    paths = entry["paths"]
    if len(paths) != frame_count:
        raise BundleError(f"files.{key} lists {len(paths)} masks for {frame_count} frames")
    if (entry["width"], entry["height"]) != (width, height):
        raise BundleError(
            f"files.{key} are {entry['width']}x{entry['height']}, not the plate's {width}x{height}"
        )
    for relative in paths:
        _check_mask_png(_resolve(directory, relative, f"files.{key}"), relative, width, height)


def _check_mask_png(path: Path, relative: str, width: int, height: int) -> None:
    """A mask is an 8-bit greyscale PNG at plate size; only its header is read here."""
    with path.open("rb") as stream:
        head = stream.read(33)
    if len(head) < 33 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        raise BundleError(f"{relative} is not a PNG file")
    size = struct.unpack(">II", head[16:24])
    bit_depth, colour_type = head[24], head[25]
    if zlib.crc32(head[12:29]) != struct.unpack(">I", head[29:33])[0]:
        raise BundleError(f"{relative} is a damaged PNG file")
    if (bit_depth, colour_type) != (8, 0) or size != (width, height):
        kind = "8-bit grey" if (bit_depth, colour_type) == (8, 0) else "not 8-bit grey"
        raise BundleError(
            f"{relative} is a {size[0]}x{size[1]} PNG, {kind}; expected grey PNG "
            f"(8-bit, one channel) at {width}x{height}"
        )
