"""One reconstruction job: footage path in, result bundle out.

Both shells (the command line and the job server) call `run_job`. It is orchestration only:
the order of the stages, the overall progress estimate (`_ProgressTracker`) and what goes into
the manifest. Timing, cancellation and the out-of-memory sentence come from the one stage
context, `vggt4d.stages.Stages`; file reading lives in `vggt4d.io`.
"""

import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from vggt4d import pipeline
from vggt4d.errors import InputError
from vggt4d.io.bundle import BundleData, write_bundle
from vggt4d.io.footage import MAX_FRAME_NUMBER, Footage, FrameRange, read_footage
from vggt4d.io.masks import read_artist_masks
from vggt4d.option_types import options_from_json
from vggt4d.pipeline import ReconstructOptions
from vggt4d.pointcloud import CloudOptions, PointClouds, build_point_clouds
from vggt4d.preflight import check_job_paths
from vggt4d.preprocess import (
    JOB_MODES,
    PlateMapping,
    preprocess_frames,
    resolve_mode,
    unseen_rows,
)
from vggt4d.stages import Stages
from vggt4d.weights import describe_weights, load_model

DEFAULT_WEIGHTS = "facebook/VGGT-1B"
# Rough share of the run time of each stage on a GPU (pass 1/2 dominate); only the ETA uses them.
STAGE_WEIGHTS = {
    "ingest": 0.06,
    "preprocess": 0.02,
    "load_model": 0.07,
    "pass1": 0.30,
    "cues": 0.05,
    "clustering": 0.05,
    "pass2": 0.30,
    "refinement": 0.08,
    "pointcloud": 0.04,
    "bundle": 0.03,
}

_FIRST_TIMED_STAGE = "pass1"
LogCallback = Callable[[str, str], None]  # (level "info" | "warning", message)


@dataclass(frozen=True)
class JobOptions:
    """Everything a job can be asked to do; `to_dict` goes into the manifest and the protocol.

    frames: "START:END:STRIDE" in plate frame numbers (see FrameRange.parse), None = all.
    video_frame_start: the plate number of a video's first frame (a Blender Movie Clip that
        starts at 1001 gives 1001); image sequences keep the numbers in their file names.
    masks_dir: a folder of artist masks at plate resolution, one image per frame, matched to
        plate frame numbers by the last number in the file name (`mask.001001.png`).
    confidence_percentile / confidence_threshold / point_budget: point cloud filters
        (see `vggt4d.pointcloud.CloudOptions`).
    reconstruct: the VGGT4D options (refinement on/off is `reconstruct.refine`).
    """

    frames: str | None = None
    video_frame_start: int = 1
    max_frames: int | None = None
    weights: str = DEFAULT_WEIGHTS
    device: str = "auto"
    masks_dir: str | None = None
    preprocess_mode: str = "auto"
    confidence_percentile: float = 25.0
    confidence_threshold: float | None = None
    point_budget: int | None = 2_000_000
    reconstruct: ReconstructOptions = field(default_factory=ReconstructOptions)

    def __post_init__(self) -> None:
        """Refuse bad values here, before any work, with a message naming the option."""
        if self.frames is not None:
            FrameRange.parse(self.frames)
        if not 0 <= self.video_frame_start <= MAX_FRAME_NUMBER:
            raise InputError(
                f"video_frame_start must be in 0..{MAX_FRAME_NUMBER}, got {self.video_frame_start}."
            )
        for name in ("max_frames", "point_budget"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise InputError(f"{name} must be a whole number of 1 or more, got {value!r}.")
        if not 0.0 <= self.confidence_percentile < 100.0:
            raise InputError(
                f"confidence_percentile must be in [0, 100), got {self.confidence_percentile!r}."
            )
        if self.preprocess_mode not in JOB_MODES:
            raise InputError(
                f"preprocess_mode must be one of {JOB_MODES}, got {self.preprocess_mode!r}."
            )
        if not isinstance(self.weights, str) or not isinstance(self.device, str):
            raise InputError("weights and device must be strings.")

    def to_dict(self) -> dict[str, Any]:
        values = {item.name: getattr(self, item.name) for item in fields(self)}
        values["reconstruct"] = self.reconstruct.to_dict()
        return values

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "JobOptions":
        """Build from JSON-like data; unknown keys and wrong types are refused (InputError)
        so typos do not pass silently and nothing fails after the model ran."""
        return cls(**options_from_json(cls, data, "job options"))


@dataclass(frozen=True)
class ProgressUpdate:
    """Where a job is: `fraction` of the whole job (never decreases), `eta_s` when known."""

    stage: str
    stage_fraction: float
    fraction: float
    eta_s: float | None


class _ProgressTracker:
    """Turns (stage, stage fraction) into an overall fraction with per-stage weights and an ETA
    extrapolated from the pace of the model stages."""

    def __init__(self, stages: list[str], report: Callable[[ProgressUpdate], None] | None):
        total = sum(STAGE_WEIGHTS[stage] for stage in stages)
        self._starts, start = {}, 0.0
        for stage in stages:
            self._starts[stage] = start
            start += STAGE_WEIGHTS[stage] / total
        self._total = total
        self._report = report
        self._fraction = 0.0
        self._timed_from: tuple[float, float] | None = None

    def update(self, stage: str, stage_fraction: float) -> None:
        stage_fraction = min(max(float(stage_fraction), 0.0), 1.0)
        if stage in self._starts:
            share = STAGE_WEIGHTS[stage] / self._total
            self._fraction = max(self._fraction, self._starts[stage] + share * stage_fraction)
        if self._report is None:
            return
        if stage == _FIRST_TIMED_STAGE and self._timed_from is None:
            self._timed_from = (time.monotonic(), self._fraction)
        self._report(ProgressUpdate(stage, stage_fraction, min(self._fraction, 1.0), self._eta()))

    def _eta(self) -> float | None:
        """Seconds left, extrapolated from the model stages' own pace: reading footage and
        loading weights say little about how long the passes take, so there is no ETA
        (None) until the first pass has made progress."""
        if self._timed_from is None:
            return None
        started, fraction = self._timed_from
        done = self._fraction - fraction
        if done <= 1e-3:
            return None
        return (time.monotonic() - started) * (1.0 - self._fraction) / done


def run_job(
    input_path: str | Path,
    output_path: str | Path,
    options: JobOptions | None = None,
    progress: Callable[[ProgressUpdate], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    log: LogCallback | None = None,
) -> Path:
    """Reconstruct `input_path` (video or image sequence) into a bundle at `output_path`.

    Raises the typed errors of `vggt4d.errors`; CancelledError at the next stage or chunk
    boundary once `should_cancel()` is true; a device out-of-memory becomes OutOfMemoryError.
    """
    options = options or JobOptions()
    output = check_job_paths(input_path, output_path)  # fail fast, before any decoding
    stages = [name for name in STAGE_WEIGHTS if name != "refinement" or options.reconstruct.refine]
    tracker = _ProgressTracker(stages, progress)
    run = Stages(tracker.update, should_cancel)
    return _run(Path(input_path), output, options, run, log or _ignore)


def _ignore(_level: str, _message: str) -> None:
    """The log callback when nobody listens."""


def _run(
    input_path: Path, output_path: Path, options: JobOptions, run: Stages, report: LogCallback
) -> Path:
    with run.stage("ingest"):
        frame_range = FrameRange.parse(options.frames) if options.frames else None
        footage = read_footage(
            input_path,
            frame_range,
            options.max_frames,
            run.reporter("ingest"),
            first_video_frame=options.video_frame_start,
        )
        for warning in footage.warnings:
            report("warning", warning)
        report("info", f"Read {len(footage.frames)} frames of {footage.width}x{footage.height}.")

    with run.stage("preprocess"):
        mode = resolve_mode(
            options.preprocess_mode, footage.width, footage.height, footage.pixel_aspect
        )
        images, mapping = preprocess_frames(footage.frames, mode, footage.pixel_aspect)
        top, bottom = unseen_rows(mapping)
        if top or bottom:
            report(
                "warning",
                f"Crop mode leaves {top + bottom} of the plate's {footage.height} rows out of "
                f"the reconstruction (top {top}, bottom {bottom}): no camera solve, points or "
                "masks come from them. Use preprocess mode auto or pad to keep the whole plate.",
            )
        artist_masks = _artist_masks(options.masks_dir, footage, mapping, report)
        excluded, artist_masks = _excluded_pixels(footage, mapping, artist_masks, report)

    with run.stage("load_model"):
        weights = describe_weights(options.weights)
        if weights.get("test_weights"):
            report("warning", untrained_weights_warning(options.weights))
        model = load_model(options.weights, device=options.device)
        device = next(model.parameters()).device

    reconstruction = pipeline.reconstruct(
        images.to(device),
        model,
        options.reconstruct,
        artist_masks=artist_masks,
        progress=run.progress,
        should_cancel=run.should_cancel,
    )
    del model
    for warning in reconstruction.warnings:
        report("warning", warning)
    run.timings.update(reconstruction.timings)

    with run.stage("pointcloud"):
        cloud_options = CloudOptions(
            confidence_percentile=options.confidence_percentile,
            confidence_threshold=options.confidence_threshold,
            max_static_points=options.point_budget,
        )
        clouds = build_point_clouds(reconstruction, cloud_options, excluded)

    with run.stage("bundle"):
        provenance = {
            "model": {key: weights[key] for key in ("source", "sha256", "test_weights")},
            "options": options.to_dict(),
            "timings": {stage: round(float(seconds), 4) for stage, seconds in run.timings.items()},
            "software": software_versions(device),
        }
        data = _bundle_data(
            footage, output_path, mapping, options, reconstruction, clouds, provenance
        )
        bundle = write_bundle(output_path, data)
    report("info", f"Wrote {bundle}.")
    return bundle


def _bundle_data(
    footage: Footage,
    output_path: Path,
    mapping: PlateMapping,
    options: JobOptions,
    reconstruction: pipeline.Reconstruction,
    clouds: PointClouds,
    provenance: dict[str, dict[str, Any]],
) -> BundleData:
    """Cameras and masks moved onto the plate, the clouds, and the model/options/timings/
    software dicts of the manifest."""
    return BundleData(
        source=footage.source_record(output_path),
        plate_width=footage.width,
        plate_pixel_aspect=footage.pixel_aspect,
        plate_height=footage.height,
        fps=float(footage.fps),
        frames=list(footage.frame_numbers),
        model_width=mapping.model_width,
        model_height=mapping.model_height,
        preprocess_mode=resolve_mode(
            options.preprocess_mode, footage.width, footage.height, footage.pixel_aspect
        ),
        plate_to_model=mapping.plate_to_model(),
        extrinsics=np.asarray(reconstruction.extrinsics, np.float64),
        intrinsics=mapping.intrinsics_to_plate(reconstruction.intrinsics),
        depth=reconstruction.depth,
        depth_conf=reconstruction.depth_conf,
        coarse_masks=mapping.masks_to_plate(reconstruction.coarse_masks),
        refined_masks=mapping.masks_to_plate(reconstruction.refined_masks),
        **provenance,
        **asdict(clouds),
    )


def untrained_weights_warning(source: str) -> str:
    """What to tell a user whose weights are the untrained test model."""
    return (
        f"The weights {source!r} are untrained test weights: the results are meaningless. "
        f"Use the real model with --weights {DEFAULT_WEIGHTS} (downloaded from Hugging Face on "
        "first use, about 5 GB) or a local copy of it."
    )


def package_version() -> str:
    """The installed vggt4d version (read from the package metadata, like vggt4d.__version__,
    which an editable install can skip when it maps the package as a namespace)."""
    try:
        return version("vggt4d")
    except PackageNotFoundError:
        return "0.0.0+unknown"


def software_versions(device: torch.device) -> dict[str, str]:
    """Versions and device recorded in the manifest."""
    versions = {
        "vggt4d": package_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "python": platform.python_version(),
        "device": str(device),
    }
    if device.type == "cuda":
        versions["cuda_device"] = torch.cuda.get_device_name(device)
    return versions


def _excluded_pixels(
    footage: Footage,
    mapping: PlateMapping,
    artist_masks: dict[int, np.ndarray] | None,
    report: LogCallback,
) -> tuple[np.ndarray, dict[int, np.ndarray] | None]:
    """Model pixels that give no points: padding around the plate and transparent plate pixels
    (alpha < 0.5), bool [S, H, W]. Transparent pixels are also masked in pass 2 like an
    artist mask (united with any), so a cut-out never passes for white static scenery."""
    excluded = np.repeat(mapping.outside_plate()[None], len(footage.frames), axis=0)
    if footage.transparent is None:
        return excluded, artist_masks
    masks = dict(artist_masks or {})
    for index, clear in enumerate(footage.transparent):
        if clear.any():
            model = mapping.mask_to_model(clear)
            excluded[index] |= model
            masks[index] = masks[index] | model if index in masks else model
    share = float(np.mean([clear.mean() for clear in footage.transparent]))
    report(
        "info",
        f"{share:.0%} of the plate is transparent (alpha < 0.5): masked, and left without points.",
    )
    return excluded, masks


def _artist_masks(
    directory: str | None, footage: Footage, mapping: PlateMapping, report: LogCallback
) -> dict[int, np.ndarray] | None:
    """The artist masks of ``directory`` -> {frame index: bool [H, W] model resolution}."""
    if directory is None:
        return None
    masks = read_artist_masks(directory, footage.frame_numbers, footage.width, footage.height)
    if not masks:
        report("warning", f"No mask in {directory} matches the frame numbers; masks ignored.")
        return None
    report("info", f"Using {len(masks)} artist masks from {directory}.")
    return {index: mapping.mask_to_model(mask) for index, mask in masks.items()}
