"""Result bundle version 1: the directory the Blender importer reads (layout: docs/bundle.md).

Numpy, json and PIL only, never torch: the add-on re-implements the same rules with numpy, and
farm scripts or tests can write a bundle without the model. Writing is atomic (temporary
sibling directory, manifest last, one rename), and reading validates before loading anything
large, so a crashed writer or a hostile manifest never passes for a result.
"""

import itertools
import json
import math
import os
import secrets
import shutil
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image

from vggt4d.errors import BundleError
from vggt4d.io.ply import read_ply, read_ply_header, write_ply

FORMAT = "vggt4d-bundle"
VERSION = 1
MANIFEST = "manifest.json"
PARTIAL_MARKER = ".partial-"
_MAX_MANIFEST_BYTES = 64 * 1024 * 1024
_PLATE_KEYS = ("scale_x", "scale_y", "offset_x", "offset_y")
_DYNAMIC_MEMBERS = ("positions", "colors", "frame_offsets")
_PATHS = {
    "extrinsics": "cameras/extrinsics.npy",
    "intrinsics": "cameras/intrinsics.npy",
    "depth": "depth/depth.npy",
    "depth_confidence": "depth/confidence.npy",
    "static_points": "points/static.ply",
    "dynamic_points": "points/dynamic.npz",
}
_FLOAT16_MAX = float(np.finfo(np.float16).max)


@dataclass
class BundleData:
    """Everything a bundle holds, in memory. Masks are at plate resolution, depth at model
    resolution; cameras are camera-from-world (OpenCV axes) with intrinsics in plate pixels."""

    source: dict[str, Any]
    plate_width: int
    plate_height: int
    fps: float
    frames: list[int]
    model_width: int
    model_height: int
    preprocess_mode: str
    plate_to_model: dict[str, float]
    extrinsics: np.ndarray  # float64 [S, 3, 4]
    intrinsics: np.ndarray  # float64 [S, 3, 3], plate pixels
    depth: np.ndarray  # float16 [S, h, w]
    depth_conf: np.ndarray  # float16 [S, h, w]
    coarse_masks: np.ndarray  # bool [S, H, W], plate resolution
    refined_masks: np.ndarray  # bool [S, H, W], plate resolution
    static_points: np.ndarray  # float32 [N, 3]
    static_colors: np.ndarray  # uint8 [N, 3]
    static_confidence: np.ndarray  # float32 [N]
    dynamic_points: np.ndarray  # float32 [M, 3]
    dynamic_colors: np.ndarray  # uint8 [M, 3]
    dynamic_frame_offsets: np.ndarray  # int64 [S + 1]
    model: dict[str, Any]
    options: dict[str, Any]
    timings: dict[str, float]
    software: dict[str, str]


def mask_path(kind: str, frame: int) -> str:
    """Relative path of the `kind` ("coarse" or "refined") mask of plate frame `frame`."""
    return f"masks/{kind}/mask.{frame:06d}.png"


def write_bundle(path: str | Path, data: BundleData) -> Path:
    """Write `data` as a bundle at `path` atomically and return the final path.

    The bundle is written into `.<name>.partial-<random>/` beside `path`, validated with the
    same rules as `read_bundle`, then renamed. An existing bundle at `path` is replaced; any
    other existing file or non-empty directory is refused rather than deleted.
    """
    final = Path(path).absolute()
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists() and not _is_replaceable(final):
        raise BundleError(f"refusing to overwrite {final}: it exists and is not a VGGT4D bundle")
    temporary = final.parent / f".{final.name}{PARTIAL_MARKER}{secrets.token_hex(6)}"
    temporary.mkdir()
    try:
        _write_contents(temporary, data)
        _validate_directory(temporary)
        _publish(temporary, final)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return final


def validate_bundle(path: str | Path) -> dict[str, Any]:
    """Check a bundle without loading its large arrays; return the manifest or raise BundleError."""
    root = Path(path)
    if root.name.startswith(".") and PARTIAL_MARKER in root.name:
        raise BundleError(f"{root} is an unfinished bundle (a writer was interrupted)")
    return _validate_directory(root)


def read_bundle(path: str | Path) -> BundleData:
    """Validate and load a bundle."""
    root = Path(path)
    manifest = validate_bundle(root)
    files = manifest["files"]
    arrays = {
        name: np.load(root / files[name]["path"], allow_pickle=False)
        for name in ("extrinsics", "intrinsics", "depth", "depth_confidence")
    }
    with np.load(root / files["dynamic_points"]["path"], allow_pickle=False) as archive:
        dynamic = {name: archive[name] for name in _DYNAMIC_MEMBERS}
    static_points, static_colors, static_confidence = read_ply(
        root / files["static_points"]["path"]
    )
    plate, model_input = manifest["plate"], manifest["model_input"]
    return BundleData(
        source=manifest["source"],
        plate_width=plate["width"],
        plate_height=plate["height"],
        fps=float(plate["fps"]),
        frames=list(manifest["frames"]),
        model_width=model_input["width"],
        model_height=model_input["height"],
        preprocess_mode=model_input["mode"],
        plate_to_model={key: float(manifest["plate_to_model"][key]) for key in _PLATE_KEYS},
        extrinsics=arrays["extrinsics"],
        intrinsics=arrays["intrinsics"],
        depth=arrays["depth"],
        depth_conf=arrays["depth_confidence"],
        coarse_masks=_read_masks(root, files["coarse_masks"]["paths"]),
        refined_masks=_read_masks(root, files["refined_masks"]["paths"]),
        static_points=static_points,
        static_colors=static_colors,
        static_confidence=(
            static_confidence
            if static_confidence is not None
            else np.ones(len(static_points), np.float32)
        ),
        dynamic_points=dynamic["positions"],
        dynamic_colors=dynamic["colors"],
        dynamic_frame_offsets=dynamic["frame_offsets"],
        model=manifest["model"],
        options=manifest["options"],
        timings=manifest["timings"],
        software=manifest["software"],
    )


# ---- writing -------------------------------------------------------------------------------


def _is_replaceable(path: Path) -> bool:
    if not path.is_dir() or path.is_symlink():
        return False
    if not any(path.iterdir()):
        return True
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == FORMAT


def _publish(temporary: Path, final: Path) -> None:
    """Rename the finished directory into place; an old bundle is moved aside first (a
    directory rename cannot replace a non-empty directory on every platform)."""
    if not final.exists():
        os.rename(temporary, final)
        return
    retired = final.parent / f".{final.name}{PARTIAL_MARKER}old-{secrets.token_hex(6)}"
    os.rename(final, retired)
    try:
        os.rename(temporary, final)
    except OSError:
        os.rename(retired, final)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def _write_contents(root: Path, data: BundleData) -> None:
    frame_count = len(data.frames)
    arrays = {
        "extrinsics": np.asarray(data.extrinsics, dtype=np.float64),
        "intrinsics": np.asarray(data.intrinsics, dtype=np.float64),
        "depth": _to_float16(data.depth),
        "depth_confidence": _to_float16(data.depth_conf),
    }
    files: dict[str, Any] = {}
    for name, array in arrays.items():
        relative = _PATHS[name]
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        np.save(root / relative, np.ascontiguousarray(array), allow_pickle=False)
        files[name] = {"path": relative, "dtype": array.dtype.name, "shape": list(array.shape)}
    for kind, masks in (("coarse", data.coarse_masks), ("refined", data.refined_masks)):
        files[f"{kind}_masks"] = _write_masks(root, kind, data.frames, masks)
    (root / "points").mkdir(exist_ok=True)
    static_count = len(data.static_points)
    write_ply(
        root / _PATHS["static_points"],
        np.asarray(data.static_points, np.float32),
        np.asarray(data.static_colors, np.uint8),
        np.asarray(data.static_confidence, np.float32),
    )
    files["static_points"] = {
        "path": _PATHS["static_points"],
        "format": "ply",
        "count": static_count,
    }
    dynamic = {
        "positions": np.asarray(data.dynamic_points, np.float32),
        "colors": np.asarray(data.dynamic_colors, np.uint8),
        "frame_offsets": np.asarray(data.dynamic_frame_offsets, np.int64),
    }
    np.savez(root / _PATHS["dynamic_points"], **dynamic)
    files["dynamic_points"] = {
        "path": _PATHS["dynamic_points"],
        "arrays": {
            name: {"dtype": array.dtype.name, "shape": list(array.shape)}
            for name, array in dynamic.items()
        },
    }
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "source": data.source,
        "plate": {"width": data.plate_width, "height": data.plate_height, "fps": data.fps},
        "frames": [int(frame) for frame in data.frames],
        "model_input": {
            "width": data.model_width,
            "height": data.model_height,
            "mode": data.preprocess_mode,
        },
        "plate_to_model": {key: float(data.plate_to_model[key]) for key in _PLATE_KEYS},
        "model": data.model,
        "options": data.options,
        "timings": data.timings,
        "software": data.software,
        "counts": {
            "frames": frame_count,
            "static_points": static_count,
            "dynamic_points": len(dynamic["positions"]),
        },
        "files": files,
    }
    text = json.dumps(manifest, indent=2, default=_json_default, allow_nan=False)
    (root / MANIFEST).write_text(text + "\n", encoding="utf-8")


def _to_float16(array: np.ndarray) -> np.ndarray:
    """float16 halves the size; values beyond its range (rare confidences) are clipped, not inf."""
    return np.clip(np.asarray(array, np.float32), -_FLOAT16_MAX, _FLOAT16_MAX).astype(np.float16)


def _write_masks(root: Path, kind: str, frames: list[int], masks: np.ndarray) -> dict[str, Any]:
    masks = np.asarray(masks)
    if masks.ndim != 3 or len(masks) != len(frames):
        raise BundleError(f"{kind} masks {masks.shape} must be [S={len(frames)}, H, W]")
    (root / "masks" / kind).mkdir(parents=True, exist_ok=True)
    paths = []
    for frame, mask in zip(frames, masks, strict=True):
        relative = mask_path(kind, int(frame))
        image = Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L")
        image.save(root / relative, format="PNG", compress_level=1)
        paths.append(relative)
    return {"paths": paths, "width": int(masks.shape[2]), "height": int(masks.shape[1])}


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# ---- validation ----------------------------------------------------------------------------


def _validate_directory(root: Path) -> dict[str, Any]:
    manifest = _load_manifest(root)
    frames, files = manifest["frames"], manifest["files"]
    frame_count = len(frames)
    if any(later <= earlier for earlier, later in itertools.pairwise(frames)):
        raise BundleError(f"{root}: frame numbers are not strictly increasing")
    counts = manifest["counts"]
    if counts["frames"] != frame_count:
        raise BundleError(f"{root}: counts.frames {counts['frames']} != {frame_count} frames")
    plate, model_input = manifest["plate"], manifest["model_input"]
    model_size = [model_input["height"], model_input["width"]]
    expected = {
        "extrinsics": ("float64", [frame_count, 3, 4]),
        "intrinsics": ("float64", [frame_count, 3, 3]),
        "depth": ("float16", [frame_count, *model_size]),
        "depth_confidence": ("float16", [frame_count, *model_size]),
    }
    for name, (dtype, shape) in expected.items():
        entry = files[name]
        _check_declared(root, name, entry, dtype, shape)
        with _resolve(root, entry["path"]).open("rb") as stream:
            _check_npy(stream, entry, f"{root}/{entry['path']}", os.fstat(stream.fileno()).st_size)
    for name in ("extrinsics", "intrinsics"):
        cameras = np.load(_resolve(root, files[name]["path"]), allow_pickle=False)
        if not np.isfinite(cameras).all():
            raise BundleError(f"{root}: {name} contains NaN or infinite values")
    _check_dynamic(root, files["dynamic_points"], frame_count, counts["dynamic_points"])
    static = files["static_points"]
    static_count, _, _ = read_ply_header(_resolve(root, static["path"]))
    if not static_count == static["count"] == counts["static_points"]:
        raise BundleError(f"{root}: static point counts disagree ({static_count} in the PLY)")
    for kind in ("coarse_masks", "refined_masks"):
        _check_masks(root, kind, files[kind], plate["width"], plate["height"], frame_count)
    return manifest


def _load_manifest(root: Path) -> dict[str, Any]:
    manifest_path = root / MANIFEST
    if not root.is_dir() or not manifest_path.is_file():
        raise BundleError(f"{root} is not a bundle: {MANIFEST} is missing")
    if manifest_path.stat().st_size > _MAX_MANIFEST_BYTES:
        raise BundleError(f"{manifest_path} is larger than {_MAX_MANIFEST_BYTES} bytes")
    _resolve(root, MANIFEST)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise BundleError(f"{manifest_path} is not valid JSON: {error}") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{manifest_path} is not a {FORMAT} manifest")
    if manifest.get("version") != VERSION:
        raise BundleError(
            f"{root} is bundle version {manifest.get('version')!r}; "
            f"this reader understands version {VERSION}"
        )
    schema = json.loads(resources.files("vggt4d.io").joinpath("bundle_schema.json").read_text())
    _check_schema(manifest, schema, schema, "manifest")
    return manifest


def _resolve(root: Path, relative: str) -> Path:
    """The file `relative` names, refusing absolute paths, `..`, backslashes and anything
    (symlinks included) that resolves outside the bundle."""
    parts = relative.split("/")
    if (
        relative.startswith("/")
        or "\\" in relative
        or ":" in relative
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise BundleError(f"{root}: path {relative!r} must be relative, without '..' or '\\'")
    base = root.resolve()
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        raise BundleError(f"{root}: path {relative!r} points outside the bundle")
    if not target.is_file():
        raise BundleError(f"{root}: {relative} is missing")
    return target


def _check_declared(root: Path, name: str, entry: dict, dtype: str, shape: list[int]) -> None:
    if entry["dtype"] != dtype or list(entry["shape"]) != shape:
        raise BundleError(
            f"{root}: {name} is declared {entry['dtype']} {entry['shape']}, "
            f"expected {dtype} {shape}"
        )


def _check_npy(stream: BinaryIO, entry: dict, label: str, size: int) -> None:
    """Read only the .npy header: dtype, shape and the exact byte size must match `entry`."""
    try:
        version = np.lib.format.read_magic(stream)
        read_header = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }[version]
        shape, _, dtype = read_header(stream)
    except (ValueError, KeyError, OSError) as error:
        raise BundleError(f"{label} is not a valid .npy file: {error}") from error
    if dtype != np.dtype(entry["dtype"]) or list(shape) != list(entry["shape"]):
        raise BundleError(
            f"{label} is {dtype} {list(shape)}, declared {entry['dtype']} {entry['shape']}"
        )
    expected_size = stream.tell() + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if size != expected_size:
        raise BundleError(f"{label} is {size} bytes, expected {expected_size}")


def _check_dynamic(root: Path, entry: dict, frame_count: int, point_count: int) -> None:
    label = f"{root}/{entry['path']}"
    expected = {
        "positions": ("float32", [point_count, 3]),
        "colors": ("uint8", [point_count, 3]),
        "frame_offsets": ("int64", [frame_count + 1]),
    }
    for name, (dtype, shape) in expected.items():
        _check_declared(root, f"dynamic_points.{name}", entry["arrays"][name], dtype, shape)
    try:
        with zipfile.ZipFile(_resolve(root, entry["path"])) as archive:
            members = {info.filename: info for info in archive.infolist()}
            if sorted(members) != sorted(f"{name}.npy" for name in _DYNAMIC_MEMBERS):
                raise BundleError(f"{label} holds {sorted(members)}, expected {_DYNAMIC_MEMBERS}")
            for name in _DYNAMIC_MEMBERS:
                info = members[f"{name}.npy"]
                with archive.open(info) as stream:
                    _check_npy(stream, entry["arrays"][name], f"{label}:{name}", info.file_size)
            with archive.open("frame_offsets.npy") as stream:
                offsets = np.lib.format.read_array(stream, allow_pickle=False)
    except zipfile.BadZipFile as error:
        raise BundleError(f"{label} is not a valid .npz file: {error}") from error
    if offsets[0] != 0 or offsets[-1] != point_count or np.any(np.diff(offsets) < 0):
        raise BundleError(f"{label}: frame_offsets must rise from 0 to {point_count}")


def _check_masks(
    root: Path, kind: str, entry: dict, width: int, height: int, frame_count: int
) -> None:
    if len(entry["paths"]) != frame_count:
        raise BundleError(f"{root}: {len(entry['paths'])} {kind} for {frame_count} frames")
    if (entry["width"], entry["height"]) != (width, height):
        raise BundleError(f"{root}: {kind} are {entry['width']}x{entry['height']}, not the plate")
    for relative in entry["paths"]:
        try:
            with Image.open(_resolve(root, relative)) as image:
                size, mode, file_format = image.size, image.mode, image.format
        except OSError as error:
            raise BundleError(f"{root}: {relative} is not a readable PNG") from error
        if file_format != "PNG" or mode != "L" or size != (width, height):
            raise BundleError(
                f"{root}: {relative} is {file_format} {mode} {size}, expected grey PNG "
                f"{(width, height)}"
            )


def _read_masks(root: Path, paths: list[str]) -> np.ndarray:
    masks = []
    for relative in paths:
        with Image.open(_resolve(root, relative)) as image:
            pixels = np.asarray(image)
        if not np.isin(pixels, (0, 255)).all():
            raise BundleError(f"{root}: {relative} has values other than 0 and 255")
        masks.append(pixels == 255)
    return np.stack(masks)


def _check_schema(value: Any, schema: dict, root_schema: dict, where: str) -> None:
    """The subset of JSON Schema that bundle_schema.json uses ($ref to $defs, type, const,
    enum, required, properties, additionalProperties, items, bounds, lengths)."""
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


def _check_bounds(value: Any, schema: dict, where: str) -> None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise BundleError(f"{where} must be finite")
        if "minimum" in schema and value < schema["minimum"]:
            raise BundleError(f"{where} = {value} is below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise BundleError(f"{where} = {value} is above {schema['maximum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            raise BundleError(f"{where} = {value} must be above {schema['exclusiveMinimum']}")
    if isinstance(value, str | list):
        if len(value) < schema.get("minLength", schema.get("minItems", 0)):
            raise BundleError(f"{where} is too short")
        if len(value) > schema.get("maxLength", schema.get("maxItems", len(value))):
            raise BundleError(f"{where} is too long")
