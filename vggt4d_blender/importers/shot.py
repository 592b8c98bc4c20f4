"""Import one result bundle as one collection: root empty, camera, clouds, masks, compositor."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import bpy
import numpy as np

from ..bundle_format import (
    Bundle,
    describe_connectivity,
    describe_lens_check,
    describe_smoothing,
    read_bundle,
    read_dynamic_points,
    read_static_points,
    read_tracks,
)
from ..properties import DEFAULT_TRACK_MARKERS
from . import camera, dynamics, markers, masks, points, seams
from .datablocks import ROOT_TAG, link_object, replace_shot, tag


@dataclass(frozen=True)
class ImportSettings:
    """What to import; the operator's properties map one to one onto these fields."""

    confidence_threshold: float = 0.0
    point_budget: int = 0  # 0 = every point
    import_static: bool = True
    import_dynamic: bool = True
    import_masks: bool = True
    plate_background: bool = True
    set_scene: bool = True  # fps, frame range, render size, active camera
    sensor_size: float = 36.0
    track_markers: int = DEFAULT_TRACK_MARKERS  # solve tracks as clip markers; 0: none


@dataclass
class ImportResult:
    """Names and counts for the operator's report and for callers (the job panel)."""

    shot: str
    collection: str
    camera: str
    frames: int
    static_points: int = 0
    dynamic_points: int = 0
    masks: int = 0
    seams: int = 0  # timeline markers at the seams of a shot run in chunks
    track_markers: int = 0  # solve tracks imported as tracking markers on the plate clip
    tracks_available: int = 0  # tracks the solve stored
    plate: str | None = None
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    solve_error_px: float | None = None  # median reprojection error of the camera solve
    worst_frames: list[tuple[int, float]] = field(default_factory=list)  # (frame, mean px)
    smoothing: str = ""  # what the temporal smoothing did to the camera path, or empty
    coverage: str = ""  # the frames the solve could not tie together, or empty
    lens: str = ""  # the warning for a lens-free solve of a lens-distorted plate, or empty

    def summary(self) -> str:
        return (
            f"Imported {self.shot}: {self.frames} camera keys, {self.static_points} static "
            f"points, {self.dynamic_points} moving points, {self.masks} masks"
            + (f", {self.seams} seam markers" if self.seams else "")
            + (
                f", {self.track_markers} of {self.tracks_available} solve tracks as markers"
                if self.track_markers
                else ""
            )
            + f" in {self.seconds:.2f} s"
            + (f"; solve error {self.solve_error_px:.2f} px" if self.solve_error_px else "")
        )

    def import_warnings(self) -> list[str]:
        """What importing from disk reports as warnings: ``warnings``, then the lens warning
        (after a job, the job's log has already given that one)."""
        return [*self.warnings, self.lens] if self.lens else list(self.warnings)

    def worst_frames_text(self) -> str:
        """``1012: 0.41 px, 1013: 0.38 px`` (the frames to look at first), or empty."""
        return ", ".join(f"{frame}: {error:.2f} px" for frame, error in self.worst_frames)


def import_bundle(
    context: bpy.types.Context, bundle_path: str | Path, settings: ImportSettings | None = None
) -> ImportResult:
    """Import the bundle at ``bundle_path`` (folder or manifest.json) into ``context.scene``.

    All or nothing: every file is read and checked before the scene changes, and any failure
    while building leaves the scene exactly as it was (``datablocks.replace_shot``).
    Re-importing a shot replaces everything the previous import of that shot created.
    Raises ``BundleError`` when the bundle breaks docs/bundle.md.
    """
    started = time.perf_counter()
    settings = settings or ImportSettings()
    bundle = read_bundle(bundle_path)
    static = read_static_points(bundle) if settings.import_static else None
    dynamic = read_dynamic_points(bundle) if settings.import_dynamic else None
    tracks = read_tracks(bundle) if settings.track_markers > 0 else None
    with replace_shot(context.scene, bundle.shot_name):
        result = _build_shot(context.scene, bundle, settings, static, dynamic, tracks)
        _show_solve(context.scene, result)
    seams.remove_seam_markers(context.scene, bundle.shot_name)
    result.seams = seams.mark_seams(context.scene, bundle)
    result.seconds = time.perf_counter() - started
    return result


def import_failure(bundle_path: str | Path, error: Exception) -> str:
    """The one-sentence report for an import that raised ``error`` (the scene is unchanged).

    ``BundleError`` and ``OSError`` describe the bundle; anything else is a bug, logged with
    its traceback by the caller and named here without one.
    """
    from ..bundle_format import BundleError

    if isinstance(error, BundleError | OSError):
        return f"Cannot import {bundle_path}: {error}"
    return (
        f"Cannot import {bundle_path}: internal error ({type(error).__name__}: {error}); the "
        "scene was left unchanged, details are in the system console"
    )


def _build_shot(
    scene: bpy.types.Scene,
    bundle: Bundle,
    settings: ImportSettings,
    static: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    dynamic: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    tracks: dict[str, np.ndarray] | None,
) -> ImportResult:
    shot = bundle.shot_name
    collection = tag(bpy.data.collections.new(shot), shot)
    scene.collection.children.link(collection)
    root = link_object(f"{shot}_root", None, collection, shot)
    root[ROOT_TAG] = True
    root.empty_display_type = "ARROWS"
    shot_camera, warnings = camera.import_camera(bundle, collection, root, settings.sensor_size)
    result = ImportResult(
        shot=shot,
        collection=collection.name,
        camera=shot_camera.name,
        frames=len(bundle.frames),
        warnings=warnings,
        **solve_summary(bundle),
    )
    if bundle.manifest["model"].get("test_weights"):
        _label_untrained(bundle, collection, root, result)
    if static is not None:
        cloud = points.import_static_cloud(
            bundle, static, collection, root, settings.confidence_threshold, settings.point_budget
        )
        result.static_points = len(cloud.data.vertices)
    if dynamic is not None and len(dynamic[0]):  # a locked-off or static shot has none
        moving = dynamics.import_dynamic_points(bundle, dynamic, collection, root)
        result.dynamic_points = len(moving.data.vertices)
    plate_clip = None
    if settings.plate_background:
        plate_clip, why_not = camera.attach_plate(bundle, shot_camera)
        if why_not is not None:
            result.warnings.append(why_not)
    result.plate = plate_clip.name if plate_clip else None
    if tracks is not None:
        _import_markers(bundle, tracks, plate_clip, settings.track_markers, result)
    if settings.import_masks:
        _import_masks(scene, bundle, plate_clip, result)
    if settings.set_scene:
        camera.set_scene_from_plate(scene, bundle, shot_camera)
    return result


UNTRAINED_NOTE = (
    "made with the UNTRAINED TEST WEIGHTS of VGGT4D: the camera and points are meaningless; "
    "reconstruct again with the real model (facebook/VGGT-1B)"
)


def _label_untrained(bundle: Bundle, collection, root, result: ImportResult) -> None:
    """Say so in the saved .blend too: a text datablock, properties and the report."""
    shot = bundle.shot_name
    note = tag(bpy.data.texts.new(f"{shot}_UNTRAINED_WEIGHTS"), shot)
    note.write(f"{shot}: {UNTRAINED_NOTE}.\nBundle: {bundle.path}\n")
    for datablock in (collection, root):
        datablock["vggt4d_untrained_test_weights"] = True
    result.warnings.append(f"{shot} was {UNTRAINED_NOTE}")


def _show_solve(scene: bpy.types.Scene, result: ImportResult) -> None:
    """Put the shot's solve error where the panel shows it (when the add-on is registered)."""
    panel = getattr(scene, "vggt4d", None)
    if panel is None:
        return
    panel.solve_error = -1.0 if result.solve_error_px is None else result.solve_error_px
    panel.solve_worst = result.worst_frames_text()
    panel.solve_smoothing = result.smoothing
    panel.solve_coverage = result.coverage
    panel.solve_lens = result.lens


def solve_summary(bundle: Bundle, worst: int = 3) -> dict:
    """The camera solve's error as Blender's tracker reports it: overall (the median, px) and
    the `worst` frames by mean error, what the path smoothing did, which frames keep the
    network camera and whether the plate looks lens-distorted; empty for a bundle without a
    solve."""
    solve = bundle.manifest.get("solve")
    if solve is None:
        return {}
    errors = solve["reprojection_error_px"]
    per_frame = [
        (int(frame), float(error))
        for frame, error in zip(bundle.frames, errors["per_frame"], strict=True)
        if error is not None
    ]
    per_frame.sort(key=lambda item: -item[1])
    smoothing = solve.get("smoothing")
    return {
        "solve_error_px": float(errors["median"]),
        "worst_frames": per_frame[:worst],
        "smoothing": describe_smoothing(smoothing) if smoothing else "",
        "coverage": describe_connectivity(solve, bundle.frames),
        "lens": describe_lens_check(solve) or "",
    }


def _import_markers(
    bundle: Bundle,
    tracks: dict[str, np.ndarray],
    plate_clip: bpy.types.MovieClip | None,
    limit: int,
    result: ImportResult,
) -> None:
    """The solve's tracks as tracking markers on the plate's Movie Clip, when there is one."""
    if plate_clip is None:
        result.warnings.append(
            "no tracking markers: they go on the plate's Movie Clip, which was not loaded"
        )
        return
    made = markers.import_markers(plate_clip, bundle, tracks, limit)
    result.track_markers, result.tracks_available = made.tracks, made.available


def _import_masks(scene, bundle, plate_clip, result: ImportResult) -> None:
    mask_clip = masks.import_masks(bundle)
    if mask_clip is None:
        return
    result.masks = len(bundle.refined_masks)
    if masks.build_matte_compositor(scene, bundle.shot_name, mask_clip, plate_clip) is None:
        result.warnings.append("the scene already has a compositor; the mask clip was added only")
