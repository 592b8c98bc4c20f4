"""One reconstruction job: footage path in, result bundle out.

Both shells (the command line and the job server) call `run_job`. It is orchestration only:
the order of the stages, the overall progress estimate (`_ProgressTracker`) and what goes into
the manifest. Timing, cancellation and the out-of-memory sentence come from the one stage
context, `vggt4d.stages.Stages`; file reading lives in `vggt4d.io`.
"""

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from vggt4d import pipeline
from vggt4d.chunks import Chunk, check_chunking, plan_chunks
from vggt4d.errors import InputError, OutOfMemoryError
from vggt4d.io.bundle import BundleData, ShotData, validate_bundle, write_bundle
from vggt4d.io.bundle_format import (
    describe_connectivity,
    describe_focal,
    describe_focal_switch,
    describe_lens_check,
    describe_locked_off,
)
from vggt4d.io.footage import MAX_FRAME_NUMBER, Footage, FrameRange, open_footage, read_footage
from vggt4d.io.masks import read_artist_masks
from vggt4d.long_shot import LongShot, discard_resume_state, run_long_shot
from vggt4d.memory import largest_chunk
from vggt4d.model import VGGT
from vggt4d.option_types import check_values, options_from_json
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
from vggt4d.solve.bundle_solve import apply_solve, solve_bundle
from vggt4d.solve.camera_solve import SolveOptions
from vggt4d.stages import Stages
from vggt4d.weights import describe_weights, load_model

DEFAULT_WEIGHTS = "facebook/VGGT-1B"
# Rough share of the run time of each stage on a GPU (pass 1/2 dominate); only the ETA uses them.
# In run order: the footage is opened (and its first frame read) before the model loads, and
# decoded in full only once the model says whether the shot fits in one pass.
STAGE_WEIGHTS = {
    "ingest": 0.01,
    "load_model": 0.07,
    "preprocess": 0.07,
    "pass1": 0.30,
    "cues": 0.05,
    "clustering": 0.05,
    "pass2": 0.30,
    "refinement": 0.08,
    "pointcloud": 0.04,
    "plate": 0.02,  # the camera solve's stages (docs/solve.md); `plate` only when re-solving
    "tracking": 0.05,
    "adjustment": 0.06,
    "bundle": 0.03,
}
_SOLVE_STAGES = ("tracking", "adjustment")
# A long shot runs the VGGT4D stages once per chunk, inside one "chunks" stage.
CHUNK_STAGES = ("pass1", "cues", "clustering", "pass2", "refinement")
STAGE_WEIGHTS["chunks"] = sum(STAGE_WEIGHTS[stage] for stage in CHUNK_STAGES)

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
    solve: the camera solve on the plate after the reconstruction (docs/solve.md); None
        keeps the network's cameras.
    chunk_size / overlap: frames per VGGT4D pass on a long shot and frames shared by
        neighbouring passes (docs/long_shots.md); "auto" runs one pass when the shot fits
        the device's memory, else the largest chunk that fits (`vggt4d.memory`).
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
    solve: SolveOptions | None = field(default_factory=SolveOptions)
    chunk_size: int | str = "auto"
    overlap: int = 8

    def __post_init__(self) -> None:
        """Refuse bad values here, before any work, with a message naming the option."""
        if self.chunk_size == "auto":
            check_chunking(2 * self.overlap, self.overlap)
        else:
            check_chunking(self.chunk_size, self.overlap)
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
        check_values(self, choices={"preprocess_mode": JOB_MODES})
        if not isinstance(self.weights, str) or not isinstance(self.device, str):
            raise InputError("weights and device must be strings.")

    def to_dict(self) -> dict[str, Any]:
        values = {item.name: getattr(self, item.name) for item in fields(self)}
        values["reconstruct"] = self.reconstruct.to_dict()
        values["solve"] = None if self.solve is None else self.solve.to_dict()
        return values

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "JobOptions":
        """Build from JSON-like data; unknown keys and wrong types are refused (InputError)
        so typos do not pass silently and nothing fails after the model ran."""
        return cls(**options_from_json(cls, data, "job options"))


@dataclass(frozen=True)
class ProgressUpdate:
    """Where a job is: `fraction` of the whole job (never decreases), `eta_s` when known;
    on a long shot, `chunk` of `chunks` (1-based) is the chunk running."""

    stage: str
    stage_fraction: float
    fraction: float
    eta_s: float | None
    chunk: int | None = None
    chunks: int | None = None


class _ProgressTracker:
    """Turns (stage, stage fraction) into an overall fraction with per-stage weights and an ETA
    extrapolated from the pace of the model stages (the chunks of a long shot that a resumed
    run skips do not count)."""

    def __init__(self, stages: list[str], report: Callable[[ProgressUpdate], None] | None):
        self._report = report
        self._fraction = 0.0
        self._timed_from: tuple[float, float] | None = None
        self.plan(stages)

    def plan(self, stages: list[str]) -> None:
        """Set (or change, once the job knows it runs in chunks) the stages of the run."""
        total = sum(STAGE_WEIGHTS[stage] for stage in stages)
        self._starts, start = {}, 0.0
        for stage in stages:
            self._starts[stage] = start
            start += STAGE_WEIGHTS[stage] / total
        self._total = total

    def update(
        self, stage: str, stage_fraction: float, chunk: int | None = None, chunks: int | None = None
    ) -> None:
        stage_fraction = min(max(float(stage_fraction), 0.0), 1.0)
        if stage in self._starts:
            share = STAGE_WEIGHTS[stage] / self._total
            self._fraction = max(self._fraction, self._starts[stage] + share * stage_fraction)
        if self._report is None:
            return
        if stage in (_FIRST_TIMED_STAGE, "chunks") and self._timed_from is None:
            self.restart_clock()
        self._report(
            ProgressUpdate(
                stage, stage_fraction, min(self._fraction, 1.0), self._eta(), chunk, chunks
            )
        )

    def restart_clock(self) -> None:
        """Measure the pace from here (the first model stage, or the first chunk that runs)."""
        self._timed_from = (time.monotonic(), self._fraction)

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
    A long shot run in chunks that is cancelled or killed resumes from its last finished
    chunk when run again with the same input, options and output (docs/long_shots.md).
    """
    options = options or JobOptions()
    output = check_job_paths(input_path, output_path)  # fail fast, before any decoding
    skipped = {"chunks", "plate"} | (set() if options.reconstruct.refine else {"refinement"})
    skipped |= set(_SOLVE_STAGES) if options.solve is None else set()
    stages = [name for name in STAGE_WEIGHTS if name not in skipped]
    tracker = _ProgressTracker(stages, progress)
    run = Stages(tracker.update, should_cancel)
    job = _Job(Path(input_path), output, options, run, tracker, log or _ignore)
    return _run(job)


def run_solve(
    bundle_path: str | Path,
    options: SolveOptions | None = None,
    masks_dir: str | None = None,
    progress: Callable[[ProgressUpdate], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    log: LogCallback | None = None,
    network_masks: bool = False,
) -> Path:
    """Re-solve the cameras of the bundle at `bundle_path` in place from its plate (no model:
    `vggt4d.solve.bundle_solve.solve_bundle`), with job-style progress and cancellation;
    `network_masks` puts the network's masks back first (drops the artist's)."""
    tracker = _ProgressTracker(["plate", *_SOLVE_STAGES, "pointcloud", "bundle"], progress)
    run = Stages(tracker.update, should_cancel)
    bundle = solve_bundle(bundle_path, options, masks_dir, run.report, network_masks)
    if log is not None:
        manifest = validate_bundle(bundle)
        _report_solve(manifest["solve"], manifest["frames"], log)
    return bundle


def _report_solve(solve: dict[str, Any], frames: list[int], report: LogCallback) -> None:
    """Log a finished solve: its error and coverage, and a warning when the plate looks
    lens-distorted or a zoom was solved per frame."""
    report("info", _solve_message(solve, frames))
    warning = describe_lens_check(solve)
    if warning:
        report("warning", f"Lens: {warning}.")
    switch = describe_focal_switch(solve)
    if switch:
        report("warning", f"Focal: {switch}.")
    locked = describe_locked_off(solve)
    if locked:
        report("info", f"Camera: {locked}.")
    focal_note = describe_focal(solve)
    if focal_note:
        report("warning", f"Focal: {focal_note}.")


def _solve_message(solve: dict[str, Any], frames: list[int]) -> str:
    errors = solve["reprojection_error_px"]
    smoothing = solve.get("smoothing")
    coverage = describe_connectivity(solve, frames)
    smoothed = (
        f" Path smoothed at strength {smoothing['strength_used']:g} for "
        f"{smoothing['cost_px']['median']:+.3f} px."
        if smoothing
        else ""
    )
    return (
        f"Camera solve: {solve['tracks']} tracks, median error {errors['median']:.3f} px "
        f"(network cameras: {errors['network_median']:.2f} px).{smoothed}"
        + (f" {coverage}" if coverage else "")
    )


def _ignore(_level: str, _message: str) -> None:
    """The log callback when nobody listens."""


@dataclass
class _Job:
    """One run's inputs and its stage context."""

    input_path: Path
    output_path: Path
    options: JobOptions
    run: Stages
    tracker: _ProgressTracker
    report: LogCallback


@dataclass
class ShotArrays:
    """Cameras of every frame (intrinsics in model pixels) and the clouds of the shot."""

    extrinsics: np.ndarray
    intrinsics: np.ndarray
    clouds: PointClouds


def _run(job: _Job) -> Path:
    options, run, report = job.options, job.run, job.report
    with run.stage("ingest"):
        reader = open_footage(job.input_path, **_footage_selection(options))
        footage = reader.footage
        for warning in footage.warnings:
            report("warning", warning)
        mode = resolve_mode(
            options.preprocess_mode, footage.width, footage.height, footage.pixel_aspect
        )
        _, mapping = preprocess_frames(footage.frames, mode, footage.pixel_aspect)
        _warn_unseen_rows(mapping, footage.height, report)

    with run.stage("load_model"):
        weights = describe_weights(options.weights)
        if weights.get("test_weights"):
            report("warning", untrained_weights_warning(options.weights))
        model = load_model(options.weights, device=options.device)
        device = next(model.parameters()).device
        chunks = _plan(options, len(reader), model, mapping, report)

    cloud_options = CloudOptions(
        confidence_percentile=options.confidence_percentile,
        confidence_threshold=options.confidence_threshold,
        max_static_points=options.point_budget,
    )
    if len(chunks) == 1:
        footage, mapping, shot, per_frame = _single_pass(job, model, mode, cloud_options)
        chunking = None
    else:
        with run.stage("preprocess"):
            artist_masks = _artist_masks(options.masks_dir, footage, mapping, report)
        solving = ["plate", *_SOLVE_STAGES] if options.solve is not None else []
        job.tracker.plan(["ingest", "load_model", "preprocess", "chunks", "bundle", *solving])
        long_shot = LongShot(reader, mapping, mode, model, options.reconstruct, cloud_options,
                             artist_masks or {}, chunks)  # fmt: skip
        stitched = run_long_shot(
            long_shot,
            job.output_path,
            _fingerprint(job, footage, weights),
            _chunk_progress(job.tracker, len(chunks), options.reconstruct.refine),
            run.should_cancel,
            report,
        )
        run.timings.update(stitched.timings)
        shot = ShotArrays(stitched.extrinsics, stitched.intrinsics, stitched.clouds)
        if stitched.transparent_share is not None:
            report("info", _transparency_note(stitched.transparent_share))
        chunking = stitched.chunking
    del model

    provenance = {
        "model": {key: weights[key] for key in ("source", "sha256", "test_weights")},
        "options": options.to_dict(),
        "timings": {stage: round(float(seconds), 4) for stage, seconds in run.timings.items()},
        "software": software_versions(device),
    }
    data = _shot_data(footage, job.output_path, mapping, mode, shot, provenance, chunking)
    if chunking is None:
        whole = BundleData(**_fields_of(data), **per_frame)
        if options.solve is not None:
            whole = _solve(whole, footage, options.solve, run, report)
        with run.stage("bundle"):
            bundle = write_bundle(job.output_path, whole)
    else:
        with run.stage("bundle"):
            bundle = stitched.frames.publish(job.output_path, data)
            discard_resume_state(job.output_path)
        if options.solve is not None:
            _solve_stitched(bundle, options.solve, run, report)
    report("info", f"Wrote {bundle}.")
    return bundle


def _footage_selection(options: JobOptions) -> dict[str, Any]:
    """The arguments of `open_footage` / `read_footage` that pick the job's frames."""
    return {
        "frames": FrameRange.parse(options.frames) if options.frames else None,
        "max_frames": options.max_frames,
        "first_video_frame": options.video_frame_start,
    }


def _single_pass(
    job: _Job, model: VGGT, mode: str, cloud_options: CloudOptions
) -> tuple[Footage, PlateMapping, ShotArrays, dict[str, np.ndarray]]:
    """The whole shot in one VGGT4D pass (it fits in memory): the decoded footage, its
    mapping, cameras and clouds, and the per-frame arrays at bundle resolution."""
    options, run, report = job.options, job.run, job.report
    with run.stage("preprocess"):
        footage = read_footage(
            job.input_path, progress=run.reporter("preprocess"), **_footage_selection(options)
        )
        report("info", f"Read {len(footage.frames)} frames of {footage.width}x{footage.height}.")
        images, mapping = preprocess_frames(footage.frames, mode, footage.pixel_aspect)
        artist_masks = _artist_masks(options.masks_dir, footage, mapping, report)
        transparent = mapping.transparent_to_model(footage.transparent)
        excluded = mapping.no_picture(len(footage.frames), transparent)
        if footage.transparent is not None:
            share = float(np.mean([clear.mean() for clear in footage.transparent]))
            report("info", _transparency_note(share))
    device = next(model.parameters()).device
    reconstruction = pipeline.reconstruct(
        images.to(device),
        model,
        options.reconstruct,
        artist_masks=artist_masks,
        transparent=transparent,
        progress=run.progress,
        should_cancel=run.should_cancel,
    )
    for warning in reconstruction.warnings:
        report("warning", warning)
    run.timings.update(reconstruction.timings)
    with run.stage("pointcloud"):
        clouds = build_point_clouds(reconstruction, cloud_options, excluded)
    per_frame = {
        "depth": reconstruction.depth,
        "depth_conf": reconstruction.depth_conf,
        "coarse_masks": mapping.masks_to_plate(reconstruction.coarse_masks, footage.transparent),
        "refined_masks": mapping.masks_to_plate(reconstruction.refined_masks, footage.transparent),
    }
    shot = ShotArrays(reconstruction.extrinsics, reconstruction.intrinsics, clouds)
    return footage, mapping, shot, per_frame


def _warn_unseen_rows(mapping: PlateMapping, plate_height: int, report: LogCallback) -> None:
    top, bottom = unseen_rows(mapping)
    if top or bottom:
        report(
            "warning",
            f"Crop mode leaves {top + bottom} of the plate's {plate_height} rows out of "
            f"the reconstruction (top {top}, bottom {bottom}): no camera solve, points or "
            "masks come from them. Use preprocess mode auto or pad to keep the whole plate.",
        )


def _plan(
    options: JobOptions, frame_count: int, model: VGGT, mapping: PlateMapping, report: LogCallback
) -> list[Chunk]:
    """The chunks to run: one pass when the shot fits, else chunks of the chosen size."""
    if options.chunk_size == "auto":
        size = largest_chunk(model, mapping.model_height, mapping.model_width)
        if size >= frame_count:
            return [Chunk(0, 0, frame_count, 0, frame_count)]
        if size < 2 * options.overlap:
            raise OutOfMemoryError(
                f"Only {size} frames fit in this device's memory at a time, too few for an "
                f"overlap of {options.overlap}: use a smaller overlap, a shorter range or a "
                "larger frame stride."
            )
        report("info", f"{frame_count} frames do not fit in memory at once.")
    else:
        size = int(options.chunk_size)
    chunks = plan_chunks(frame_count, size, options.overlap)
    if len(chunks) > 1:
        report("info", f"{len(chunks)} chunks of {size} frames overlapping by {options.overlap}.")
    return chunks


def _fingerprint(job: _Job, footage: Footage, weights: dict[str, Any]) -> dict[str, Any]:
    """What makes two long runs the same run (a state left by one is resumed by the other)."""
    return {
        "input": os.path.abspath(job.input_path),
        "frames": footage.frame_numbers,
        "options": job.options.to_dict(),
        "weights": weights["sha256"],
        "version": package_version(),
    }


def _chunk_progress(
    tracker: _ProgressTracker, count: int, refine: bool
) -> Callable[[int, str, float], None]:
    """(chunk index, VGGT4D stage, stage fraction) -> the "chunks" stage's fraction."""
    stages = [stage for stage in CHUNK_STAGES if refine or stage != "refinement"]
    total = sum(STAGE_WEIGHTS[stage] for stage in stages)
    starts = {
        stage: sum(STAGE_WEIGHTS[earlier] for earlier in stages[:position])
        for position, stage in enumerate(stages)
    }
    first_reported: list[int] = []

    def update(index: int, stage: str, fraction: float) -> None:
        if not first_reported:
            first_reported.append(index)
            tracker.update("chunks", index / count, index + 1, count)
            tracker.restart_clock()  # a resumed run's first chunks took no time
        within = (starts.get(stage, 0.0) + STAGE_WEIGHTS.get(stage, 0.0) * fraction) / total
        tracker.update("chunks", (index + min(within, 1.0)) / count, index + 1, count)

    return update


def _solve(
    data: BundleData, footage: Footage, options: SolveOptions, run: Stages, report: LogCallback
) -> BundleData:
    """The camera solve on the decoded plate; a plate it cannot track (flat, tiny, fully
    masked) keeps the network's cameras, with a warning."""

    def progress(stage: str, fraction: float) -> None:
        if stage == "pointcloud":  # the re-aligned clouds: the job counted that stage already
            run.check_cancel()
        else:
            run.report(stage, fraction)

    try:
        solved = apply_solve(
            data, footage.frames, options, transparent=footage.transparent, progress=progress
        )
    except InputError as error:
        report("warning", f"Camera solve skipped, the network's cameras are kept: {error}")
        return data
    _report_solve(solved.solve, solved.frames, report)
    return solved


def _solve_stitched(bundle: Path, options: SolveOptions, run: Stages, report: LogCallback) -> None:
    """One camera solve over the whole stitched shot, re-solving its published bundle in place
    (`solve_bundle`): plate tracks run across the seams and one bundle adjustment spans every
    chunk. A plate it cannot track keeps the stitched network cameras, with a warning."""
    try:
        solve_bundle(bundle, options, None, run.report)
    except InputError as error:
        report("warning", f"Camera solve skipped, the network's cameras are kept: {error}")
        return
    manifest = validate_bundle(bundle)
    _report_solve(manifest["solve"], manifest["frames"], report)


def _shot_data(
    footage: Footage,
    output_path: Path,
    mapping: PlateMapping,
    mode: str,
    shot: ShotArrays,
    provenance: dict[str, dict[str, Any]],
    chunking: dict[str, Any] | None,
) -> ShotData:
    """Cameras moved onto the plate, the clouds, and the model/options/timings/software dicts
    of the manifest (everything but the per-frame images)."""
    return ShotData(
        source=footage.source_record(output_path),
        plate_width=footage.width,
        plate_pixel_aspect=footage.pixel_aspect,
        plate_height=footage.height,
        fps=float(footage.fps),
        frames=list(footage.frame_numbers),
        model_width=mapping.model_width,
        model_height=mapping.model_height,
        preprocess_mode=mode,
        plate_to_model=mapping.plate_to_model(),
        extrinsics=np.asarray(shot.extrinsics, np.float64),
        intrinsics=mapping.intrinsics_to_plate(shot.intrinsics),
        **vars(shot.clouds),
        **provenance,
        chunking=chunking,
    )


def _fields_of(data: ShotData) -> dict[str, Any]:
    """A dataclass's fields as keyword arguments (no deep copy, unlike `asdict`)."""
    return {item.name: getattr(data, item.name) for item in fields(data)}


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


def _transparency_note(share: float) -> str:
    """What a job tells the user about a plate with alpha; ``share`` is the transparent part
    (alpha < 0.5) of the plate's pixels over the shot. Pass 2 masks those pixels so a cut-out
    never passes for white static scenery, without calling them movers."""
    return (
        f"{share:.0%} of the plate is transparent (alpha < 0.5): masked in pass 2, left "
        "without points and out of the moving-object masks."
    )


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
