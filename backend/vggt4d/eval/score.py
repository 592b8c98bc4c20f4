"""Score one bundle against one sequence's ground truth: match frames, run every metric the
ground truth allows, and flatten the result into the report's keys.

Frames are matched by plate frame number. Masks are compared at the ground truth's resolution
(the bundle's plate masks resized nearest-neighbour when the sizes differ), inside the part of
the plate the model saw (a crop hides the rest; VGGT4D's `eval_mask.py` crops the truth the same
way), or, with `mask_resolution="model"`, at the model's input resolution as VGGT4D's
`eval_mask.py` does: both masks sampled (nearest) at each model pixel centre through the
plate-to-model mapping, model pixels off the plate (padding) void. Depth is compared at the
ground truth's resolution: the model-resolution prediction is sampled bilinearly at each true
pixel's centre through the bundle's plate-to-model mapping.
"""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vggt4d.errors import InputError
from vggt4d.eval.camera import CameraErrors, camera_errors
from vggt4d.eval.depth import DepthScores, depth_scores
from vggt4d.eval.groundtruth import GroundTruth
from vggt4d.eval.masks import MaskScores, mask_scores
from vggt4d.geometry import homogeneous, invert_se3
from vggt4d.io.bundle import BundleData
from vggt4d.io.bundle_format import MANIFEST

MIN_CAMERA_FRAMES = 3
MASK_RESOLUTIONS = ("plate", "model")
# Report keys in table order; each is None when the ground truth lacks what it needs.
METRIC_KEYS = (
    "ate_rmse",
    "rpe_trans",
    "rpe_rot_deg",
    "mask_J_mean",
    "mask_J_recall",
    "mask_F_mean",
    "mask_F_recall",
    "depth_abs_rel",
    "depth_delta_1_25",
)


@dataclass
class Evaluation:
    """Everything measured on one bundle; `*_frames` are the plate frames each part used."""

    sequence: str
    layout: str
    frames: list[int] = field(default_factory=list)  # every frame of the bundle
    mask_resolution: str = "plate"
    camera: CameraErrors | None = None
    camera_frames: list[int] = field(default_factory=list)
    masks: MaskScores | None = None
    mask_frames: list[int] = field(default_factory=list)
    depth: DepthScores | None = None
    depth_frames: list[int] = field(default_factory=list)
    solve: dict[str, Any] = field(default_factory=dict)  # the manifest's `solve`, if any
    notes: list[str] = field(default_factory=list)

    def values(self) -> dict[str, Any]:
        """The flat report: every key of METRIC_KEYS (None when not measured), frame counts,
        the Sim(3) and depth scales, and `solve_*` figures when the bundle has a solve."""
        camera, masks, depth = self.camera, self.masks, self.depth
        values: dict[str, Any] = {
            "sequence": self.sequence,
            "layout": self.layout,
            "mask_resolution": self.mask_resolution,
            "ate_rmse": camera and camera.ate_rmse,
            "rpe_trans": camera and camera.rpe_trans,
            "rpe_rot_deg": camera and camera.rpe_rot_deg,
            "mask_J_mean": masks and masks.j_mean,
            "mask_J_recall": masks and masks.j_recall,
            "mask_F_mean": masks and masks.f_mean,
            "mask_F_recall": masks and masks.f_recall,
            "depth_abs_rel": depth and depth.abs_rel,
            "depth_delta_1_25": depth and depth.delta_1_25,
            "camera_frames": len(self.camera_frames),
            "mask_frames": len(self.mask_frames),
            "depth_frames": len(self.depth_frames),
            "sim3_scale": camera and camera.scale,
            "depth_scale": depth and depth.scale,
        }
        values.update(_flatten("solve", self.solve))
        for key, value in values.items():  # JSON has no NaN: an undefined figure is null
            if isinstance(value, float) and not math.isfinite(value):
                values[key] = None
        values["notes"] = list(self.notes)
        return values


def evaluate(
    bundle: BundleData,
    truth: GroundTruth,
    bundle_path: Path | None = None,
    mask_resolution: str = "plate",
) -> Evaluation:
    """Score `bundle` against `truth` (module docstring); `mask_resolution` is "plate" or
    "model". Raises InputError when the two share no frame at all, which almost always means
    the wrong sequence or frame numbering."""
    if mask_resolution not in MASK_RESOLUTIONS:
        raise InputError(f"mask_resolution must be one of {MASK_RESOLUTIONS}.")
    shared = set(bundle.frames) & (
        set(truth.poses) | set(truth.mask_files) | set(truth.depth_files)
    )
    if not shared:
        raise InputError(
            f"The bundle (frames {bundle.frames[0]}..{bundle.frames[-1]}) and the ground truth "
            f"{truth.name} share no frame number; check the sequence and its frame numbering."
        )
    evaluation = Evaluation(
        sequence=truth.name,
        layout=truth.layout,
        frames=list(bundle.frames),
        mask_resolution=mask_resolution,
    )
    index = {frame: position for position, frame in enumerate(bundle.frames)}
    _score_camera(evaluation, bundle, truth, index)
    _score_masks(evaluation, bundle, truth, index)
    _score_depth(evaluation, bundle, truth, index)
    if bundle_path is not None:
        evaluation.solve = _solve_section(bundle_path)
    return evaluation


def bundle_world_from_cam(bundle: BundleData) -> np.ndarray:
    """float64 [S, 4, 4] world_from_cam poses of the bundle's cameras."""
    return homogeneous(invert_se3(np.asarray(bundle.extrinsics, dtype=np.float64)))


def visible_box(bundle: BundleData, shape: tuple[int, int]) -> tuple[slice, slice]:
    """Rows and columns of an image of `shape` ([H, W] over the plate) whose pixel centres the
    model saw, from the plate-to-model mapping (a crop hides plate borders; padding hides none)."""
    height, width = shape
    mapping = bundle.plate_to_model
    spans = []
    for size, plate_size, model_size, axis in (
        (width, bundle.plate_width, bundle.model_width, "x"),
        (height, bundle.plate_height, bundle.model_height, "y"),
    ):
        centres = (np.arange(size) + 0.5) * plate_size / size
        model = mapping[f"scale_{axis}"] * centres + mapping[f"offset_{axis}"]
        inside = np.nonzero((model >= 0) & (model <= model_size))[0]
        spans.append(slice(int(inside[0]), int(inside[-1]) + 1) if len(inside) else slice(0, 0))
    return spans[1], spans[0]


def model_pixel_samples(
    bundle: BundleData, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For an [H, W] image over the plate: the row index [h] and column index [w] of the pixel
    under each model pixel centre, and bool [h, w], true where that centre is off the plate."""
    height, width = shape
    mapping = bundle.plate_to_model
    x = (np.arange(bundle.model_width) + 0.5 - mapping["offset_x"]) / mapping["scale_x"]
    y = (np.arange(bundle.model_height) + 0.5 - mapping["offset_y"]) / mapping["scale_y"]
    columns = np.floor(x * width / bundle.plate_width).astype(int)
    rows = np.floor(y * height / bundle.plate_height).astype(int)
    outside = ((rows < 0) | (rows >= height))[:, None] | ((columns < 0) | (columns >= width))[None]
    return np.clip(rows, 0, height - 1), np.clip(columns, 0, width - 1), outside


def predicted_depth_at(bundle: BundleData, position: int, shape: tuple[int, int]) -> np.ndarray:
    """The bundle's depth of frame `position`, sampled at the pixel centres of an [H, W] image
    over the plate; NaN where the model did not see."""
    height, width = shape
    mapping = bundle.plate_to_model
    x = (np.arange(width) + 0.5) * bundle.plate_width / width
    y = (np.arange(height) + 0.5) * bundle.plate_height / height
    map_x = mapping["scale_x"] * x + mapping["offset_x"] - 0.5  # model pixel index
    map_y = mapping["scale_y"] * y + mapping["offset_y"] - 0.5
    grid_x, grid_y = np.meshgrid(map_x.astype(np.float32), map_y.astype(np.float32))
    depth = np.asarray(bundle.depth[position], dtype=np.float32)
    sampled = cv2.remap(depth, grid_x, grid_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    outside = (grid_x < -0.5) | (grid_x > depth.shape[1] - 0.5)
    outside |= (grid_y < -0.5) | (grid_y > depth.shape[0] - 0.5)
    return np.where(outside, np.nan, sampled).astype(np.float64)


def _score_camera(
    evaluation: Evaluation, bundle: BundleData, truth: GroundTruth, index: dict[int, int]
) -> None:
    frames = sorted(set(index) & set(truth.poses))
    if not truth.poses:
        return
    if len(frames) < MIN_CAMERA_FRAMES:
        evaluation.notes.append(
            f"camera: only {len(frames)} frame(s) have a true pose; {MIN_CAMERA_FRAMES} needed"
        )
        return
    estimate = bundle_world_from_cam(bundle)[[index[frame] for frame in frames]]
    reference = np.stack([truth.poses[frame] for frame in frames])
    evaluation.camera = camera_errors(reference, estimate, np.array(frames) / bundle.fps)
    evaluation.camera_frames = frames
    if evaluation.camera.ate_rmse is None:
        evaluation.notes.append(
            "camera: the true camera does not move, so no similarity aligns the paths; "
            "ATE and RPE-trans are undefined, RPE-rot is unaligned"
        )
    elif evaluation.camera.straight:
        evaluation.notes.append(
            "camera: a path is straight or motionless, which evo cannot align; the similarity "
            f"was solved without its rank check (scale {evaluation.camera.scale:.4g})"
        )


def _score_masks(
    evaluation: Evaluation, bundle: BundleData, truth: GroundTruth, index: dict[int, int]
) -> None:
    frames = sorted(set(index) & set(truth.mask_files))
    if not frames:
        return
    predictions, truths, voids = [], [], []
    for frame in frames:
        moving, void = truth.read_mask(truth.mask_files[frame])
        predicted = bundle.refined_masks[index[frame]]
        if evaluation.mask_resolution == "model":
            rows, columns, outside = model_pixel_samples(bundle, moving.shape)
            plate_rows, plate_columns, _ = model_pixel_samples(bundle, predicted.shape)
            predictions.append(predicted[np.ix_(plate_rows, plate_columns)] & ~outside)
            truths.append(moving[np.ix_(rows, columns)] & ~outside)
            voids.append(outside if void is None else outside | void[np.ix_(rows, columns)])
            continue
        if predicted.shape != moving.shape:
            _check_same_view(predicted.shape, moving.shape, truth.mask_files[frame])
            size = (moving.shape[1], moving.shape[0])
            resized = f"masks: the bundle's {predicted.shape[1]}x{predicted.shape[0]} masks were "
            resized += f"resized (nearest) to the truth's {size[0]}x{size[1]}"
            if resized not in evaluation.notes:
                evaluation.notes.append(resized)
            predicted = (
                cv2.resize(predicted.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
            )
        rows, columns = visible_box(bundle, moving.shape)
        predictions.append(predicted[rows, columns])
        truths.append(moving[rows, columns])
        voids.append(None if void is None else void[rows, columns])
    evaluation.masks = mask_scores(predictions, truths, voids)
    evaluation.mask_frames = frames


def _check_same_view(plate: tuple[int, ...], truth: tuple[int, ...], path: Path) -> None:
    """Masks of another size are resized, but only between sizes of one view: an aspect ratio
    off by more than a pixel's rounding is another picture, so it is refused (InputError)."""
    (plate_height, plate_width), (truth_height, truth_width) = plate[:2], truth[:2]
    rounding = 1 / min(truth_height, truth_width) + 1 / min(plate_height, plate_width)
    if abs(plate_width * truth_height / (plate_height * truth_width) - 1) > rounding:
        raise InputError(
            f"The ground-truth mask {path} is {truth_width}x{truth_height}, another shape than "
            f"the bundle's {plate_width}x{plate_height} plate: it cannot be the same view."
        )


def _score_depth(
    evaluation: Evaluation, bundle: BundleData, truth: GroundTruth, index: dict[int, int]
) -> None:
    frames = sorted(set(index) & set(truth.depth_files))
    if not frames:
        return
    truths = [truth.read_depth(truth.depth_files[frame]) for frame in frames]
    predictions = [
        predicted_depth_at(bundle, index[frame], depth.shape)
        for frame, depth in zip(frames, truths, strict=True)
    ]
    evaluation.depth = depth_scores(predictions, truths, truth.max_depth)
    if evaluation.depth is None:
        evaluation.notes.append("depth: no pixel has a valid true and predicted depth")
    else:
        evaluation.depth_frames = frames


def _solve_section(bundle_path: Path) -> dict[str, Any]:
    manifest = json.loads((Path(bundle_path) / MANIFEST).read_text(encoding="utf-8"))
    solve = manifest.get("solve")
    return solve if isinstance(solve, dict) else {}


def _flatten(prefix: str, section: dict[str, Any]) -> dict[str, float]:
    """Numeric leaves of a nested section as `prefix_key_subkey` (lists and options skipped)."""
    flat: dict[str, float] = {}
    for key, value in section.items():
        name = f"{prefix}_{key}"
        if isinstance(value, dict) and key != "options":
            flat.update(_flatten(name, value))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = value
    return flat
