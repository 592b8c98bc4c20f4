"""Ground truth of one sequence, whatever layout it came in, and the generic layout's reader.

Every loader returns a `GroundTruth` keyed by plate frame numbers, the numbers a bundle made
from that sequence's images carries. Poses are world_from_cam 4x4 (camera-to-world) with
OpenCV camera axes (x right, y down, z forward), in the ground truth's own units; masks are
read lazily.

The generic layout is a folder with
* `trajectory.txt`: TUM format `timestamp tx ty tz qx qy qz qw`, camera-to-world, with the
  timestamps `vggt4d export --tum` writes for the bundle's footage: frame number / fps for an
  image sequence, the real presentation time for a video (`vggt4d.io.exports.tum_timestamps`);
* optional `masks/`: one PNG per frame, the frame number as the last digits of the name,
  non-zero = moving;
* optional `depth/`: one `.npy` (float depth in the trajectory's units, 0 or NaN = unknown) or
  16-bit PNG (millimetres, 0 = unknown) per frame, named the same way.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from evo.core.sync import matching_time_indices
from evo.tools.file_interface import FileInterfaceException, read_tum_trajectory_file

from vggt4d.errors import InputError
from vggt4d.io.masks import numbered_files

LAYOUTS = ("generic", "davis", "sintel", "tum", "bonn")
# What a folder of each layout is and holds: the one source of every "not that layout" sentence.
LAYOUT_FILES = {
    "generic": ("generic", "a generic ground-truth folder", "trajectory.txt, masks/ or depth/"),
    "tum": ("TUM / Bonn", "a TUM RGB-D or Bonn sequence folder", "rgb.txt and groundtruth.txt"),
    "davis": (
        "DAVIS",
        "a DAVIS dataset root",
        "JPEGImages/480p/<sequence>/ and Annotations/480p/<sequence>/",
    ),
    "sintel": (
        "Sintel",
        "a Sintel dataset root",
        "camdata_left/<sequence>/ or training/camdata_left/<sequence>/",
    ),
}
TUM_LINE = "`timestamp tx ty tz qx qy qz qw` (camera-to-world, as `vggt4d export --tum` writes)"
_FRAME_TOLERANCE = 0.25  # of the shortest frame interval, when matching timestamps to frames


def _no_reader(path: Path) -> np.ndarray:
    raise InputError(f"No reader for {path}.")


def _mask_without_void(path: Path) -> tuple[np.ndarray, None]:
    return read_binary_mask(path), None


@dataclass(frozen=True)
class GroundTruth:
    """One sequence's ground truth. `read_mask(path)` gives (moving bool [H, W], void bool
    [H, W] or None); `read_depth(path)` gives float64 [H, W] depth, 0 or NaN = unknown."""

    name: str
    layout: str
    poses: dict[int, np.ndarray] = field(default_factory=dict)  # float64 [4, 4] each
    mask_files: dict[int, Path] = field(default_factory=dict)
    depth_files: dict[int, Path] = field(default_factory=dict)
    image_files: dict[int, Path] = field(default_factory=dict)
    read_mask: Callable[[Path], tuple[np.ndarray, np.ndarray | None]] = _mask_without_void
    read_depth: Callable[[Path], np.ndarray] = _no_reader
    max_depth: float | None = None  # the benchmark's depth cap, in pose units
    pose_units: str = "m"


def detect_layout(path: Path) -> str:
    """Guess the layout of a ground-truth folder from the files it holds."""
    if (path / "trajectory.txt").is_file():
        return "generic"
    if (path / "groundtruth.txt").is_file() and (path / "rgb.txt").is_file():
        return "bonn" if "bonn" in path.name.lower() else "tum"
    if (path / "JPEGImages").is_dir():
        return "davis"
    if (path / "camdata_left").is_dir() or (path / "training" / "camdata_left").is_dir():
        return "sintel"
    raise InputError(
        f"Cannot tell the layout of {path}: expected "
        + ", ".join(f"{files} ({tag})" for tag, _, files in LAYOUT_FILES.values())
        + ". Name it with --layout."
    )


def layout_files(layout: str) -> tuple[str, str]:
    """(what a folder of `layout` is, the files it holds), for error sentences."""
    family = "davis" if layout.startswith("davis") else "tum" if layout == "bonn" else layout
    _, what, files = LAYOUT_FILES[family]
    return what, files


def not_that_layout(path: Path, layout: str) -> InputError:
    """The error for a folder given as `layout` that does not hold that layout's files."""
    what, files = layout_files(layout)
    return InputError(f"{path} is not {what}: expected {files}.")


def load_generic(path: str | Path, frame_times: dict[int, float]) -> GroundTruth:
    """Read the generic layout (module docstring). `frame_times` maps the bundle's frame
    numbers to its TUM timestamps; each frame takes the trajectory pose nearest in time, within
    a quarter of the shortest frame interval."""
    folder = Path(path)
    trajectory = folder / "trajectory.txt"
    poses = {}
    if trajectory.is_file() and frame_times:
        stamps, world_from_cam = read_tum_poses(trajectory)
        frames = sorted(frame_times)
        times = np.array([frame_times[frame] for frame in frames])
        gaps = np.diff(np.sort(times))
        tolerance = _FRAME_TOLERANCE * (gaps[gaps > 0].min() if np.any(gaps > 0) else 1.0)
        ours, theirs = matching_time_indices(times, np.sort(stamps), tolerance)
        order = np.argsort(stamps)
        poses = {frames[i]: world_from_cam[order[j]] for i, j in zip(ours, theirs, strict=True)}
        if not poses:
            raise InputError(
                f"{trajectory}: no timestamp is a frame time of the bundle "
                f"({times[0]:.6g}..{times[-1]:.6g} s); write it as `vggt4d export --tum` does."
            )
    masks = numbered_files(folder / "masks", (".png",))
    depth = numbered_files(folder / "depth", (".npy", ".png"))
    if not (poses or masks or depth):
        raise InputError(f"{folder} has no trajectory.txt, masks/ or depth/: nothing to score.")
    return GroundTruth(
        name=folder.name,
        layout="generic",
        poses=poses,
        mask_files=masks,
        depth_files=depth,
        read_depth=_read_generic_depth,
    )


def read_tum_poses(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A TUM trajectory file -> (timestamps float64 [N], world_from_cam float64 [N, 4, 4]).
    InputError when it cannot be read or holds no pose."""
    try:
        lines = path.read_text(errors="replace").splitlines()
        if not any(line.strip() and not line.lstrip().startswith("#") for line in lines):
            raise InputError(
                f"The trajectory {path} holds no poses: expected one line per frame, {TUM_LINE}."
            )
        trajectory = read_tum_trajectory_file(path)
    except (FileInterfaceException, OSError, ValueError) as error:
        raise InputError(
            f"Cannot read the TUM trajectory {path} ({error}): expected one line per frame, "
            f"{TUM_LINE}."
        ) from error
    return np.asarray(trajectory.timestamps), np.stack(trajectory.poses_se3)


def read_image(path: Path, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    """Any image file cv2 reads (non-ASCII paths too); InputError when it cannot."""
    image = cv2.imdecode(np.fromfile(path, dtype=np.uint8), flags)
    if image is None:
        raise InputError(f"Cannot read the image {path}.")
    return image


def read_binary_mask(path: Path) -> np.ndarray:
    """A mask image -> bool [H, W]: non-zero = moving. Grey or colour: any non-zero channel;
    with an alpha channel that varies, the alpha (a matte); with a constant alpha, the colour."""
    image = read_image(path)
    if image.ndim == 2:
        return image > 0
    if image.shape[2] == 4 and image[..., 3].min() != image[..., 3].max():
        return image[..., 3] > 0
    return image[..., :3].any(axis=2)


def _read_generic_depth(path: Path) -> np.ndarray:
    if path.suffix.lower() == ".npy":
        depth = np.load(path, allow_pickle=False).astype(np.float64)
    else:
        image = read_image(path)
        if image.dtype != np.uint16 or image.ndim != 2:
            raise InputError(f"{path} must be a 16-bit grey PNG of depth in millimetres.")
        depth = image.astype(np.float64) / 1000.0
    if depth.ndim != 2:
        raise InputError(f"{path} must hold one [H, W] depth map, not {depth.shape}.")
    return depth
