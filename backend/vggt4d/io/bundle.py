"""Result bundle version 1: the backend's writer and full reader (layout: docs/bundle.md).

The format itself (limits, validator, light reader) is ``vggt4d.io.bundle_format``, the one
file the Blender add-on ships too; this module adds what only the backend needs: writing
(numpy, json and PIL, never torch) and loading everything into a ``BundleData``. Writing is
atomic (temporary sibling directory, manifest last, one rename) and validated with the
readers' rules before publishing, so a crashed writer or a hostile manifest never passes for
a result. Errors are ``vggt4d.errors.BundleError`` (code ``bad_bundle``).
"""

import contextlib
import glob
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vggt4d.errors import BundleError
from vggt4d.io import bundle_format
from vggt4d.io.bundle_format import FORMAT, MANIFEST, PARTIAL_MARKER, VERSION, mask_path
from vggt4d.io.bundle_lock import bundle_lock
from vggt4d.io.ply import write_ply

_PLATE_KEYS = ("scale_x", "scale_y", "offset_x", "offset_y")
_PATHS = {
    "extrinsics": "cameras/extrinsics.npy",
    "intrinsics": "cameras/intrinsics.npy",
    "depth": "depth/depth.npy",
    "depth_confidence": "depth/confidence.npy",
    "static_points": "points/static.ply",
    "dynamic_points": "points/dynamic.npz",
    "network_extrinsics": "cameras/network_extrinsics.npy",
    "network_intrinsics": "cameras/network_intrinsics.npy",
    "tracks": "solve/tracks.npz",
}
_TRACK_DTYPES = {
    "frame_index": np.int32,
    "track_index": np.int32,
    "xy": np.float32,
    "error_px": np.float32,
    "points": np.float32,
}
_FLOAT16_MAX = float(np.finfo(np.float16).max)


@dataclass
class ShotData:
    """Everything a bundle holds except the per-frame images (depth, confidence, masks): what
    a writer still needs once those are on disk (`PartialBundle`). Cameras are
    camera-from-world (OpenCV axes) with intrinsics in plate pixels."""

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
    plate_pixel_aspect: float = field(default=1.0, kw_only=True)  # pixel width / height
    chunking: dict[str, Any] | None = field(default=None, kw_only=True)  # long shots only
    # A solved bundle (docs/solve.md): the manifest's solve section, the network's cameras
    # (extrinsics/intrinsics above are then the solved ones) and the tracks (TRACK_MEMBERS).
    solve: dict[str, Any] | None = field(default=None, kw_only=True)
    network_extrinsics: np.ndarray | None = field(default=None, kw_only=True)  # [S, 3, 4]
    network_intrinsics: np.ndarray | None = field(default=None, kw_only=True)  # [S, 3, 3]
    tracks: dict[str, np.ndarray] | None = field(default=None, kw_only=True)
    # The network's refined masks, bool [S, H, W], kept once artist masks replaced some of
    # them (`refined_masks` then holds the artist's; docs/bundle.md). None otherwise.
    network_masks: np.ndarray | None = field(default=None, kw_only=True)


@dataclass
class BundleData(ShotData):
    """Everything a bundle holds, in memory. Masks are at plate resolution, depth at model
    resolution."""

    depth: np.ndarray  # float16 [S, h, w]
    depth_conf: np.ndarray  # float16 [S, h, w]
    coarse_masks: np.ndarray  # bool [S, H, W], plate resolution
    refined_masks: np.ndarray  # bool [S, H, W], plate resolution


def write_bundle(path: str | Path, data: BundleData) -> Path:
    """Write `data` as a bundle at `path` atomically and return the final path.

    The bundle is written into `.<name>.partial-<pid>-<random>/` beside `path`, validated with
    the same rules as `read_bundle`, then renamed. An existing bundle at `path` is replaced; any
    other existing file or non-empty directory is refused rather than deleted (`check_output`).
    """
    final = check_output(path)
    temporary = final.parent / _partial_name(final, "")
    temporary.mkdir()
    try:
        frames = PartialBundle(temporary, data.frames, data.model_height, data.model_width)
        frames.write_frames(0, data.depth, data.depth_conf, data.coarse_masks, data.refined_masks)
        frames.publish(final, data)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return final


def check_output(path: str | Path) -> Path:
    """The absolute bundle path, once it is sure a bundle can be written there; call it before
    any long work. Refuses (BundleError) a path that is a file or a folder that is not a bundle,
    or a parent folder that cannot be created or written. Removes unfinished bundles
    (`.<name>.partial-<pid>-*`) that killed writers of this path left behind.
    """
    final = Path(os.path.abspath(Path(path).expanduser()))
    if final.exists() and not _is_replaceable(final):
        raise BundleError(
            f"refusing to write the bundle to {final}: it exists and is not a VGGT4D bundle; "
            "choose another output path"
        )
    blocking = next((folder for folder in final.parents if folder.exists()), None)
    if blocking is not None and not blocking.is_dir():
        raise BundleError(
            f"cannot write the bundle to {final}: {blocking} is a file, not a folder; "
            "choose an output path inside a folder"
        )
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        probe = final.parent / _partial_name(final, "probe-")
        probe.mkdir()
        probe.rmdir()
    except OSError as error:
        raise BundleError(
            f"cannot write the bundle to {final}: {error.strerror or error}; "
            "choose a folder you can write to"
        ) from error
    _remove_stale_partials(final)
    return final


def _partial_name(final: Path, kind: str) -> str:
    """`.<name>.partial-<kind><pid>-<random>`: the pid tells a live writer from a dead one."""
    return f".{final.name}{PARTIAL_MARKER}{kind}{os.getpid()}-{secrets.token_hex(6)}"


def _remove_stale_partials(final: Path) -> None:
    """Delete `final`'s unfinished bundles whose writer process (on this machine) is gone."""
    prefix = f".{final.name}{PARTIAL_MARKER}"
    for candidate in final.parent.glob(f"{glob.escape(prefix)}*"):
        fields = candidate.name[len(prefix) :].removeprefix("old-").split("-")
        if len(fields) == 2 and fields[0].isdigit() and not _process_alive(int(fields[0])):
            shutil.rmtree(candidate, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but belongs to someone else
        return True
    return True


class PartialBundle:
    """A bundle directory filled frame range by frame range, then published as a whole.

    Long shots write each chunk's depth, confidence and masks as soon as the chunk is done, so
    memory holds one chunk, not the shot. The directory is never a bundle until `publish`
    writes the manifest and renames it; a writer that was killed leaves the frames it wrote,
    and reopening the same directory (same frames and model size) keeps them.
    """

    def __init__(self, root: Path, frames: list[int], model_height: int, model_width: int):
        self.root = Path(root)
        self.frames = [int(frame) for frame in frames]
        shape = (len(self.frames), model_height, model_width)
        for name in ("depth", "depth_confidence"):
            target = self.root / _PATHS[name]
            target.parent.mkdir(parents=True, exist_ok=True)
            if not _is_npy(target, np.float16, shape):
                np.lib.format.open_memmap(target, "w+", np.float16, shape).flush()
        for kind in ("coarse", "refined"):
            (self.root / "masks" / kind).mkdir(parents=True, exist_ok=True)

    def write_frames(
        self,
        start: int,
        depth: np.ndarray,
        depth_conf: np.ndarray,
        coarse_masks: np.ndarray,
        refined_masks: np.ndarray,
    ) -> None:
        """Frames `start..start+len(depth)-1`: depth and confidence float [n, h, w] at model
        resolution (stored as float16), masks bool [n, H, W] at plate resolution."""
        count = len(depth)
        if not len(depth_conf) == len(coarse_masks) == len(refined_masks) == count:
            raise BundleError("depth, confidence and masks must cover the same frames")
        if start < 0 or start + count > len(self.frames):
            raise BundleError(f"frames {start}..{start + count - 1} are outside the bundle")
        for name, values in (("depth", depth), ("depth_confidence", depth_conf)):
            stored = np.load(self.root / _PATHS[name], mmap_mode="r+", allow_pickle=False)
            stored[start : start + count] = _to_float16(values)
            stored.flush()
            del stored
        for kind, masks in (("coarse", coarse_masks), ("refined", refined_masks)):
            masks = np.asarray(masks)
            if masks.ndim != 3:
                raise BundleError(f"{kind} masks {masks.shape} must be [S, H, W]")
            for frame, mask in zip(self.frames[start : start + count], masks, strict=True):
                _save_mask(self.root / mask_path(kind, frame), mask)

    def publish(self, path: str | Path, data: ShotData) -> Path:
        """Write everything but the frames, validate, and rename into place at `path`."""
        final = check_output(path)
        if [int(frame) for frame in data.frames] != self.frames:
            raise BundleError("the shot's frames differ from the frames written")
        _write_shot_files(self.root, data)
        with _as_backend_error():
            bundle_format.validate_contents(self.root)
        _publish(self.root, final)
        return final


def validate_bundle(path: str | Path) -> dict[str, Any]:
    """Check a bundle without loading its large arrays; return the manifest or raise BundleError."""
    with _as_backend_error():
        return bundle_format.validate_bundle(path)


def read_bundle(path: str | Path) -> BundleData:
    """Validate and load a bundle, masks decoded to bool at plate resolution."""
    with _as_backend_error():
        bundle = bundle_format.read_bundle(path)
        manifest, files = bundle.manifest, bundle.manifest["files"]
        with np.load(bundle.file_path("dynamic_points"), allow_pickle=False) as archive:
            dynamic = {name: archive[name] for name in bundle_format.DYNAMIC_MEMBERS}
        static_points, static_colors, static_confidence = bundle_format.read_static_points(bundle)
        model_input = manifest["model_input"]
        return BundleData(
            source=manifest["source"],
            plate_width=bundle.plate_width,
            plate_height=bundle.plate_height,
            fps=bundle.fps,
            frames=list(manifest["frames"]),
            model_width=model_input["width"],
            model_height=model_input["height"],
            preprocess_mode=model_input["mode"],
            plate_to_model={key: float(manifest["plate_to_model"][key]) for key in _PLATE_KEYS},
            extrinsics=bundle.extrinsics,
            intrinsics=bundle.intrinsics,
            depth=bundle_format.read_array(bundle, "depth"),
            depth_conf=bundle_format.read_array(bundle, "depth_confidence"),
            coarse_masks=_read_masks(bundle.path, files["coarse_masks"]["paths"]),
            refined_masks=_read_masks(bundle.path, files["refined_masks"]["paths"]),
            network_masks=(
                _read_masks(bundle.path, files["network_masks"]["paths"])
                if "network_masks" in files
                else None
            ),
            static_points=static_points,
            static_colors=static_colors,
            static_confidence=static_confidence,
            dynamic_points=dynamic["positions"],
            dynamic_colors=dynamic["colors"],
            dynamic_frame_offsets=dynamic["frame_offsets"],
            model=manifest["model"],
            options=manifest["options"],
            timings=manifest["timings"],
            software=manifest["software"],
            plate_pixel_aspect=bundle.pixel_aspect,
            chunking=manifest.get("chunking"),
            **_read_solve(bundle),
        )


def _read_solve(bundle: bundle_format.Bundle) -> dict[str, Any]:
    """The solve fields of BundleData (empty for a bundle without a solve)."""
    if "solve" not in bundle.manifest:
        return {}
    return {
        "solve": bundle.manifest["solve"],
        "network_extrinsics": bundle_format.read_array(bundle, "network_extrinsics"),
        "network_intrinsics": bundle_format.read_array(bundle, "network_intrinsics"),
        "tracks": bundle_format.read_tracks(bundle),
    }


@contextlib.contextmanager
def _as_backend_error() -> Iterator[None]:
    """The format module's BundleError as the backend's (a VGGT4DError: same code, sentence)."""
    try:
        yield
    except bundle_format.BundleError as error:
        if isinstance(error, BundleError):
            raise
        raise BundleError(str(error)) from error


def _read_masks(root: Path, paths: list[str]) -> np.ndarray:
    masks = []
    for relative in paths:
        with Image.open(root / relative) as image:
            masks.append(bundle_format.mask_from_pixels(np.asarray(image), relative))
    return np.stack(masks)


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
    directory rename cannot replace a non-empty directory on every platform). Under the
    bundle's lock: a bundle another process is rewriting is refused (`bundle_lock`)."""
    with bundle_lock(final):
        _replace(temporary, final)


def _replace(temporary: Path, final: Path) -> None:
    if not final.exists():
        os.rename(temporary, final)
        return
    retired = final.parent / _partial_name(final, "old-")
    os.rename(final, retired)
    try:
        os.rename(temporary, final)
    except OSError:
        os.rename(retired, final)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def _is_npy(path: Path, dtype: Any, shape: tuple[int, ...]) -> bool:
    """Whether `path` is an .npy of exactly this dtype and shape (a frame store to reopen)."""
    try:
        stored = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return False
    return stored.dtype == np.dtype(dtype) and stored.shape == shape


def _write_shot_files(root: Path, data: ShotData) -> None:
    """Cameras, clouds and, last, the manifest; the frame files must already be in `root`."""
    frame_count = len(data.frames)
    files: dict[str, Any] = {}
    for name in ("depth", "depth_confidence"):
        shape = [frame_count, data.model_height, data.model_width]
        files[name] = {"path": _PATHS[name], "dtype": "float16", "shape": shape}
    for kind in ("coarse", "refined"):
        files[f"{kind}_masks"] = {
            "paths": [mask_path(kind, int(frame)) for frame in data.frames],
            "width": data.plate_width,
            "height": data.plate_height,
        }
    for name in ("extrinsics", "intrinsics"):
        files[name] = _save_npy(root, name, np.asarray(getattr(data, name), dtype=np.float64))
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
    files["dynamic_points"] = _save_npz(root, "dynamic_points", dynamic)
    if data.solve is not None:
        files.update(_write_solve(root, data))
    if data.network_masks is not None:
        files["network_masks"] = _write_network_masks(root, data)
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "source": data.source,
        "plate": {
            "width": data.plate_width,
            "height": data.plate_height,
            "fps": data.fps,
            "pixel_aspect": float(data.plate_pixel_aspect),
        },
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
        **({"solve": data.solve} if data.solve is not None else {}),
        "files": files,
    }
    if data.chunking is not None:
        manifest["chunking"] = data.chunking
    text = json.dumps(manifest, indent=2, default=_json_default, allow_nan=False)
    (root / MANIFEST).write_text(text + "\n", encoding="utf-8")


def _write_solve(root: Path, data: ShotData) -> dict[str, Any]:
    """Write the network cameras and the tracks; return their `files` entries."""
    if data.network_extrinsics is None or data.network_intrinsics is None or data.tracks is None:
        raise BundleError("a solved bundle needs the network cameras and the tracks")
    files: dict[str, Any] = {}
    for name in ("network_extrinsics", "network_intrinsics"):
        files[name] = _save_npy(root, name, np.asarray(getattr(data, name), dtype=np.float64))
    tracks = {name: np.asarray(data.tracks[name], dtype) for name, dtype in _TRACK_DTYPES.items()}
    files["tracks"] = _save_npz(root, "tracks", tracks)
    return files


def _write_network_masks(root: Path, data: ShotData) -> dict[str, Any]:
    """Write the network's masks (`ShotData.network_masks`); return their `files` entry."""
    masks = np.asarray(data.network_masks, bool)
    if masks.shape != (len(data.frames), data.plate_height, data.plate_width):
        raise BundleError(f"network masks {masks.shape} must be [S, H, W] at plate size")
    (root / "masks" / "network").mkdir(parents=True, exist_ok=True)
    for frame, mask in zip(data.frames, masks, strict=True):
        _save_mask(root / mask_path("network", int(frame)), mask)
    paths = [mask_path("network", int(frame)) for frame in data.frames]
    return {"paths": paths, "width": data.plate_width, "height": data.plate_height}


def _save_mask(path: Path, mask: np.ndarray) -> None:
    """A bool [H, W] mask as the bundle's 8-bit grey PNG (0 or 255)."""
    image = Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L")
    image.save(path, format="PNG", compress_level=1)


def _save_npy(root: Path, name: str, array: np.ndarray) -> dict[str, Any]:
    """Write the array of file `name` (`_PATHS`); return its `files` entry."""
    relative = _PATHS[name]
    (root / relative).parent.mkdir(parents=True, exist_ok=True)
    np.save(root / relative, np.ascontiguousarray(array), allow_pickle=False)
    return {"path": relative, "dtype": array.dtype.name, "shape": list(array.shape)}


def _save_npz(root: Path, name: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Write the arrays of file `name` (`_PATHS`) into one .npz; return its `files` entry."""
    relative = _PATHS[name]
    (root / relative).parent.mkdir(parents=True, exist_ok=True)
    np.savez(root / relative, **arrays)
    return {
        "path": relative,
        "arrays": {
            key: {"dtype": array.dtype.name, "shape": list(array.shape)}
            for key, array in arrays.items()
        },
    }


def _to_float16(array: np.ndarray) -> np.ndarray:
    """float16 halves the size; values beyond its range (rare confidences) are clipped, not inf."""
    return np.clip(np.asarray(array, np.float32), -_FLOAT16_MAX, _FLOAT16_MAX).astype(np.float16)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
