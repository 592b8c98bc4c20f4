"""The per-tick work of a reconstruct run, on the Blender side.

The modal operator only owns the timer and the window manager's progress; everything else
(start the backend, apply events to ``scene.vggt4d``, import the bundle at the end) is here so
that a headless test can call ``tick`` in a loop exactly as the timer does.
"""

from __future__ import annotations

import logging
from pathlib import Path

import bpy

from ..environment import backend_environment
from ..preferences import backend_python, cache_dir, get_preferences
from ..properties import VGGT4D_PG_settings
from .backend_client import BackendClient, BackendError
from .footage_paths import sequence_pattern, shot_name
from .job import JobStatus, ReconstructJob

log = logging.getLogger(__name__)
CANCELLED_MESSAGES = {"reconstruct": "Reconstruction cancelled", "solve": "Solve cancelled"}


def reconstruct_request(context: bpy.types.Context, masks_dir: Path | None = None) -> dict:
    """The ``reconstruct`` request for the scene's settings (docs/protocol.md)."""
    settings = context.scene.vggt4d
    preferences = get_preferences(context)
    footage = footage_path(settings)
    if not footage:
        raise BackendError("Choose the footage to reconstruct first.", code="bad_input")
    bundle = cache_dir(preferences) / f"{shot_name(footage)}.vggt4d"
    frames = None
    if settings.use_frame_range or settings.frame_stride > 1:
        start = settings.frame_start if settings.use_frame_range else ""
        end = settings.frame_end if settings.use_frame_range else ""
        frames = f"{start}:{end}:{settings.frame_stride}"
    options = {
        "frames": frames,
        "video_frame_start": video_frame_start(settings),
        "preprocess_mode": settings.preprocess_mode,
        "max_frames": settings.max_frames or None,
        "weights": preferences.weights_source,
        "device": preferences.device,
        "masks_dir": str(masks_dir) if masks_dir is not None else None,
        "confidence_percentile": settings.confidence_percentile,
        "point_budget": settings.point_budget,
        "reconstruct": {"refine": settings.refine},
        "solve": solve_options(settings),
        "chunk_size": "auto" if settings.chunk_mode == "AUTO" else settings.chunk_size,
        "overlap": settings.overlap,
    }
    return {"input": footage, "output": str(bundle), "options": options}


def solve_request(context: bpy.types.Context, masks_dir: Path | None = None) -> dict:
    """The ``solve`` request for the last reconstruction's bundle, with the panel's solve
    options (docs/protocol.md)."""
    bundle = context.scene.vggt4d.bundle_path
    if not bundle:
        raise BackendError("Reconstruct the shot first.", code="bad_input")
    masks = str(masks_dir) if masks_dir is not None else None
    options = solve_options(context.scene.vggt4d)
    return {"bundle": bpy.path.abspath(bundle), "masks": masks, "options": options}


def solve_options(settings: VGGT4D_PG_settings) -> dict:
    """The camera solve's options from the panel (the backend's defaults for the rest)."""
    return {"smooth": settings.smooth_camera}


def video_frame_start(settings: VGGT4D_PG_settings) -> int:
    """The scene frame a Movie Clip video's first frame sits on (1 for a video file): the
    backend numbers the plate from it, so keys land where the clip shows the frames."""
    clip = settings.clip
    if settings.footage_kind == "CLIP" and clip is not None and clip.source == "MOVIE":
        return max(0, clip.frame_start - clip.frame_offset)
    return 1


def footage_path(settings: VGGT4D_PG_settings) -> str:
    """The absolute footage path the backend should read, or '' when none is set.

    Sequences (chosen as one frame, or a sequence clip) become a ``####`` pattern.
    """
    if settings.footage_kind == "CLIP":
        clip = settings.clip
        if clip is None:
            return ""
        path = bpy.path.abspath(clip.filepath, library=clip.library)
        return sequence_pattern(path) if clip.source == "SEQUENCE" else path
    if settings.footage_kind == "FILE":
        return bpy.path.abspath(settings.footage_path) if settings.footage_path else ""
    return (
        sequence_pattern(bpy.path.abspath(settings.sequence_path)) if settings.sequence_path else ""
    )


class JobRunner:
    """Drive one job: ``start`` once, then ``tick`` until it returns True."""

    def __init__(self, scene: bpy.types.Scene, job: ReconstructJob) -> None:
        self.scene = scene
        self.job = job
        self.reports: list[tuple[str, str]] = []
        self.imported: object | None = None  # the importer's ImportResult once imported

    @classmethod
    def for_context(
        cls, context: bpy.types.Context, masks_dir: Path | None = None, solve_only: bool = False
    ) -> JobRunner:
        """Reconstruct the footage, or with ``solve_only`` re-solve the imported shot's bundle
        from its plate (no model runs); ``masks_dir`` holds the artist's masks."""
        preferences = get_preferences(context)
        client = BackendClient(
            backend_python(preferences), env=backend_environment(bpy.app.online_access)
        )
        if solve_only:
            job = ReconstructJob(client, solve_request(context, masks_dir), kind="solve")
        else:
            job = ReconstructJob(client, reconstruct_request(context, masks_dir))
        return cls(context.scene, job)

    @property
    def status(self) -> JobStatus:
        return self.job.status

    def start(self) -> None:
        """Spawn the backend and send the request; raises BackendError."""
        settings = self.scene.vggt4d
        settings.cancel_requested = False
        self.job.start()
        self._write_status()

    def cancel(self) -> None:
        self.job.cancel()
        self._write_status()

    def tick(self, context: bpy.types.Context) -> bool:
        """Bounded work for one timer tick; True once the job has finished (imported or not)."""
        settings = self.scene.vggt4d
        if settings.cancel_requested:
            settings.cancel_requested = False
            self.job.cancel()
        status = self.job.tick()
        self._write_status()
        if not status.finished:
            return False
        self.reports.extend(("WARNING", warning) for warning in status.warnings)
        if status.state == "done":
            settings.bundle_path = status.bundle or ""
            self._import(context, status.bundle or "")
        elif status.state == "failed":
            self.reports.append(("ERROR", status.message))
        else:
            self.reports.append(("WARNING", CANCELLED_MESSAGES[self.job.kind]))
        return True

    def take_reports(self) -> list[tuple[str, str]]:
        reports, self.reports = self.reports, []
        return reports

    def close(self) -> None:
        self.job.close()

    def _write_status(self) -> None:
        settings = self.scene.vggt4d
        status = self.job.status
        settings.status_state = status.state
        settings.status_stage = status.stage
        settings.status_progress = status.fraction
        settings.status_message = status.message[:1024]

    def _import(self, context: bpy.types.Context, bundle: str) -> None:
        """Import with the importer's defaults (the backend already filtered the points) and
        the panel's number of track markers."""
        from ..importers.shot import (  # heavy: once a bundle exists
            ImportSettings,
            import_bundle,
            import_failure,
        )

        settings = ImportSettings(track_markers=self.scene.vggt4d.track_markers)
        try:
            result = import_bundle(context, bundle, settings)
        except Exception as error:  # a bug: logged, reported in one sentence
            log.exception("Importing %s failed", bundle)
            self.reports.append(
                ("ERROR", f"The bundle was written; {import_failure(bundle, error)}")
            )
            return
        self.imported = result
        self.reports.extend(("WARNING", warning) for warning in result.warnings)
        self.reports.append(("INFO", result.summary()))
