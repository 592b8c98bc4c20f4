"""Loaders for the public benchmarks' own layouts, as their archives unpack.

* DAVIS-2016 / 2017 (davischallenge.org): `JPEGImages/480p/<seq>/00000.jpg`,
  `Annotations/480p/<seq>/00000.png` (2016: grey 0/255; 2017: palette indices, one per
  object, 255 = void) and for 2017 `Annotations_unsupervised/480p/<seq>/`. All objects merge
  into one moving mask, as VGGT4D's `eval_mask.py` does. Frame numbers are the file numbers
  (00000 -> 0), as `vggt4d reconstruct JPEGImages/480p/<seq>` numbers them.
* MPI Sintel (sintel.is.tue.mpg.de, the complete and the depth/camera training archives
  unpacked into one `training/`): `final/<seq>/frame_0001.png`, `camdata_left/<seq>/*.cam`
  (intrinsics, then the 3x4 world-to-camera extrinsics), `depth/<seq>/*.dpt`, and, where
  present, MonST3R's `dynamic_label_perfect/<seq>/*.png` motion masks.
* TUM RGB-D (cvg.cit.tum.de/data/datasets/rgbd-dataset) and Bonn RGB-D Dynamic
  (www.ipb.uni-bonn.de/data/rgbd-dynamic-dataset, the same format): a sequence folder with
  `rgb.txt`, `depth.txt`, `groundtruth.txt`. Frames are numbered 1.. in `rgb.txt` order; each is
  given the ground-truth pose and depth image nearest in time, within 0.02 s (the rule of
  the benchmark's `associate.py`). Depth PNGs are 16-bit, 5000 per metre.
"""

from pathlib import Path

import numpy as np
from evo.core.sync import matching_time_indices
from PIL import Image

from vggt4d.errors import InputError
from vggt4d.eval.groundtruth import (
    GroundTruth,
    detect_layout,
    load_generic,
    not_that_layout,
    read_image,
    read_tum_poses,
)
from vggt4d.geometry import homogeneous, invert_se3
from vggt4d.io.masks import numbered_files

# The 14 dynamic Sintel sequences of MonST3R's camera-pose evaluation, kept by later papers.
SINTEL_SEQUENCES = (
    "alley_2", "ambush_4", "ambush_5", "ambush_6", "cave_2", "cave_4", "market_2",
    "market_5", "market_6", "shaman_3", "sleeping_1", "sleeping_2", "temple_2", "temple_3",
)  # fmt: skip
VIDEO_DEPTH_CAP = 70.0  # metres, the video-depth protocol's cap for Sintel and Bonn
_SINTEL_TAG = 202021.25  # first float of every .cam and .dpt file
_TUM_MAX_DIFFERENCE = 0.02  # seconds
_TUM_DEPTH_SCALE = 5000.0  # 16-bit value per metre


def load_ground_truth(
    path: str | Path,
    layout: str | None = None,
    sequence: str | None = None,
    frame_times: dict[int, float] | None = None,
) -> GroundTruth:
    """Load one sequence. DAVIS and Sintel take the dataset root and `sequence`; TUM, Bonn and
    the generic layout take the sequence folder. `frame_times` ({frame: TUM timestamp} of the
    bundle, `vggt4d.io.exports.tum_timestamps`) places the generic layout's trajectory."""
    folder = Path(path)
    if not folder.is_dir():
        raise InputError(f"The ground truth {folder} is not a folder.")
    layout = layout or detect_layout(folder)
    if layout == "generic":
        return load_generic(folder, frame_times or {})
    if layout in ("tum", "bonn"):
        return load_tum(folder, layout)
    if layout not in ("davis", "davis2016", "davis2017", "sintel"):
        raise InputError(f"Unknown ground-truth layout {layout!r}.")
    available = _existing_sequences(folder, layout)
    if not available:
        raise not_that_layout(folder, layout)
    if sequence is None or sequence not in available:
        given = "no --sequence" if sequence is None else f"no sequence {sequence!r}"
        shown = ", ".join(available[:12]) + (", ..." if len(available) > 12 else "")
        raise InputError(f"{folder} ({layout}) has {given}; it has: {shown or 'none'}.")
    if layout == "sintel":
        return load_sintel(folder, sequence)
    return load_davis(folder, sequence, year=2017 if layout == "davis2017" else 2016)


def list_sequences(root: str | Path, layout: str) -> list[str]:
    """Sequence names of a benchmark root: DAVIS's val split (`ImageSets`), the Sintel subset
    above (every sequence when none of it is there), every TUM / Bonn sequence folder."""
    root = Path(root)
    if layout.startswith("davis"):
        return _davis_split(root, "2017" if layout == "davis2017" else "2016")
    if layout == "sintel":
        names = _existing_sequences(root, layout)
        subset = [name for name in SINTEL_SEQUENCES if name in names]
        return subset or names
    if layout in ("tum", "bonn"):
        candidates = [root, *sorted(p for p in root.iterdir() if p.is_dir())]
        return [str(p) for p in candidates if (p / "groundtruth.txt").is_file()]
    raise InputError(f"Unknown benchmark layout {layout!r}.")


def load_davis(root: Path, sequence: str, year: int = 2016) -> GroundTruth:
    """One DAVIS sequence (module docstring); 2017 prefers the unsupervised annotations."""
    folders = ["Annotations_unsupervised", "Annotations"] if year == 2017 else ["Annotations"]
    masks: dict[int, Path] = {}
    for name in folders:
        masks = numbered_files(root / name / "480p" / sequence, (".png",))
        if masks:
            break
    if not masks:
        raise InputError(f"{root} has no annotations for {sequence} ({' or '.join(folders)}).")
    return GroundTruth(
        name=sequence,
        layout=f"davis{year}",
        mask_files=masks,
        image_files=numbered_files(root / "JPEGImages" / "480p" / sequence, (".jpg", ".png")),
        read_mask=_read_davis_mask,
    )


def load_sintel(root: Path, sequence: str, image_pass: str = "final") -> GroundTruth:
    """One Sintel training sequence: poses from camdata_left, depth, optional motion masks."""
    training = _sintel_training(root)
    cameras = numbered_files(training / "camdata_left" / sequence, (".cam",))
    return GroundTruth(
        name=sequence,
        layout="sintel",
        poses={number: _read_sintel_pose(path) for number, path in cameras.items()},
        mask_files=numbered_files(training / "dynamic_label_perfect" / sequence, (".png",)),
        depth_files=numbered_files(training / "depth" / sequence, (".dpt",)),
        image_files=numbered_files(training / image_pass / sequence, (".png",)),
        read_depth=_read_sintel_depth,
        max_depth=VIDEO_DEPTH_CAP,
    )


def load_tum(folder: Path, layout: str = "tum") -> GroundTruth:
    """One TUM RGB-D or Bonn sequence folder (module docstring)."""
    if not ((folder / "rgb.txt").is_file() and (folder / "groundtruth.txt").is_file()):
        raise not_that_layout(folder, layout)
    stamps, names = _read_file_list(folder / "rgb.txt")
    frames = np.arange(1, len(stamps) + 1)
    truth_stamps, world_from_cam = read_tum_poses(folder / "groundtruth.txt")
    ours, theirs = matching_time_indices(stamps, truth_stamps, _TUM_MAX_DIFFERENCE)
    poses = {int(frames[i]): world_from_cam[j] for i, j in zip(ours, theirs, strict=True)}
    if not poses:
        raise InputError(
            f"None of the {len(truth_stamps)} poses of {folder / 'groundtruth.txt'} lies within "
            f"{_TUM_MAX_DIFFERENCE} s of a frame of rgb.txt: expected both files of one recording."
        )
    depth_files = {}
    if (folder / "depth.txt").is_file():
        depth_stamps, depth_names = _read_file_list(folder / "depth.txt")
        ours, theirs = matching_time_indices(stamps, depth_stamps, _TUM_MAX_DIFFERENCE)
        depth_files = {
            int(frames[i]): folder / depth_names[j] for i, j in zip(ours, theirs, strict=True)
        }
    return GroundTruth(
        name=folder.name,
        layout=layout,
        poses=poses,
        depth_files=depth_files,
        image_files={int(frame): folder / name for frame, name in zip(frames, names, strict=True)},
        read_depth=_read_tum_depth,
        max_depth=VIDEO_DEPTH_CAP if layout == "bonn" else None,
    )


def _existing_sequences(root: Path, layout: str) -> list[str]:
    if layout == "sintel":
        return sorted(p.name for p in (_sintel_training(root) / "camdata_left").glob("*/"))
    folders = root.glob("Annotations*/480p/*/")
    return sorted({p.name for p in folders})


def _davis_split(root: Path, year: str) -> list[str]:
    """`ImageSets/<year>/val.txt` (names) or the 2016 archive's `ImageSets/480p/val.txt`
    (image and annotation paths); without either, every annotated sequence."""
    names_file, pairs_file = root / "ImageSets" / year / "val.txt", root / "ImageSets/480p/val.txt"
    if names_file.is_file():
        return [line.strip() for line in names_file.read_text().splitlines() if line.strip()]
    if year == "2016" and pairs_file.is_file():
        found = [Path(line.split()[0]).parent.name for line in pairs_file.read_text().splitlines()]
        return list(dict.fromkeys(name for name in found if name))
    return _existing_sequences(root, "davis")


def _read_davis_mask(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Palette PNG: index 0 background, 255 void, anything else an object. Grey PNG (the 2016
    archive): above half range = object."""
    with Image.open(path) as image:
        palette = image.mode == "P"
        values = np.asarray(image)
    if palette:
        return (values != 0) & (values != 255), values == 255
    if values.ndim == 3:
        values = values.max(axis=2)
    return values > 127, None


def _sintel_training(root: Path) -> Path:
    return root if (root / "camdata_left").is_dir() else root / "training"


def _read_sintel_floats(path: Path) -> np.ndarray:
    data = path.read_bytes()
    if len(data) < 4 or np.frombuffer(data[:4], "<f4")[0] != _SINTEL_TAG:
        raise InputError(f"{path} is not a Sintel file (wrong tag).")
    return np.frombuffer(data, np.uint8)[4:]


def _read_sintel_pose(path: Path) -> np.ndarray:
    """A .cam file: tag, intrinsics (9 float64), cam_from_world [R|t] (12 float64) ->
    world_from_cam float64 [4, 4]."""
    body = _read_sintel_floats(path)
    if body.size < 21 * 8:
        raise InputError(f"{path} is too short for a Sintel camera.")
    cam_from_world = body[: 21 * 8].view("<f8")[9:].reshape(3, 4)
    return homogeneous(invert_se3(cam_from_world))


def _read_sintel_depth(path: Path) -> np.ndarray:
    """A .dpt file: tag, width and height (int32), then float32 depth row by row."""
    body = _read_sintel_floats(path)
    width, height = body[:8].view("<i4")
    if body.size != 8 + 4 * width * height:
        raise InputError(f"{path} holds {body.size - 8} bytes, not {width}x{height} floats.")
    return body[8:].view("<f4").reshape(height, width).astype(np.float64)


def _read_tum_depth(path: Path) -> np.ndarray:
    image = read_image(path)
    if image.dtype != np.uint16 or image.ndim != 2:
        raise InputError(f"{path} is not a 16-bit depth image.")
    return image.astype(np.float64) / _TUM_DEPTH_SCALE


def _read_file_list(path: Path) -> tuple[np.ndarray, list[str]]:
    """TUM's `rgb.txt` / `depth.txt`: `timestamp filename` lines, `#` comments."""
    stamps, names = [], []
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 2 and not line.lstrip().startswith("#"):
            try:
                stamps.append(float(fields[0]))
            except ValueError:
                raise InputError(
                    f"{path} has the line {line.strip()!r}: expected `timestamp filename` lines."
                ) from None
            names.append(fields[1])
    if not stamps:
        raise InputError(f"{path} lists no frames: expected `timestamp filename` lines.")
    return np.array(stamps), names
