"""Reconstruct, Cancel, "Re-run with my masks" and "Re-solve with my masks": the modal
operator and its buttons.

The operator owns only the timer, Esc, the window manager's progress and the status bar;
``JobRunner`` does the per-tick work (see runner.py).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import bpy
from bpy.props import BoolProperty, StringProperty

from .backend_client import BackendError
from .job import JobStatus
from .runner import JobRunner

log = logging.getLogger(__name__)
RUNNING_STATES = frozenset({"running", "cancelling"})
TIMER_INTERVAL_S = 0.1


def _tag_redraw(context: bpy.types.Context) -> None:
    screen = context.screen
    if screen is None:
        return
    for area in screen.areas:
        if area.type in {"VIEW_3D", "CLIP_EDITOR"}:
            area.tag_redraw()


def start_progress(context: bpy.types.Context) -> bpy.types.Timer:
    """The modal operator's timer, and the window manager's progress indicator."""
    window_manager = context.window_manager
    timer = window_manager.event_timer_add(TIMER_INTERVAL_S, window=context.window)
    window_manager.progress_begin(0, 100)
    return timer


def show_progress(context: bpy.types.Context, status: JobStatus) -> None:
    """Progress indicator and status-bar text for one tick (the panel reads scene.vggt4d)."""
    context.window_manager.progress_update(int(status.fraction * 100))
    if context.workspace is not None:
        context.workspace.status_text_set(
            f"VGGT4D: {status.stage} {status.fraction:.0%} - {status.message} (Esc to cancel)"
        )
    _tag_redraw(context)


def end_progress(context: bpy.types.Context, timer: bpy.types.Timer | None) -> None:
    """Undo start_progress and show_progress."""
    window_manager = context.window_manager
    if timer is not None:
        window_manager.event_timer_remove(timer)
    window_manager.progress_end()
    if context.workspace is not None:
        context.workspace.status_text_set(None)
    _tag_redraw(context)


@bpy.app.handlers.persistent
def reset_stale_status(_filepath: str) -> None:
    """A file saved during a job still says "running": no job survives a file load, so
    clear that state, or Reconstruct would stay greyed out in that file forever."""
    for scene in bpy.data.scenes:
        settings = scene.vggt4d
        if settings.status_state in RUNNING_STATES:
            settings.status_state = "failed"
            settings.status_message = "Interrupted: the file was saved while a job ran"
        settings.cancel_requested = False


class VGGT4D_OT_reconstruct(bpy.types.Operator):
    """Reconstruct cameras, depth, points and dynamic masks from the footage (Esc cancels)"""

    bl_idname = "vggt4d.reconstruct"
    bl_label = "Reconstruct"

    masks_dir: StringProperty(
        name="Artist Masks", subtype="DIR_PATH", options={"HIDDEN", "SKIP_SAVE"}
    )
    solve_only: BoolProperty(
        name="Solve Only",
        description="Re-solve the imported shot's cameras from its plate instead of "
        "reconstructing the footage",
        options={"HIDDEN", "SKIP_SAVE"},
    )

    _runner: JobRunner | None = None
    _timer: bpy.types.Timer | None = None

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        scene = context.scene
        return scene is not None and scene.vggt4d.status_state not in RUNNING_STATES

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        runner = self._start(context)
        if runner is None:
            return {"CANCELLED"}
        self._runner = runner
        self._timer = start_progress(context)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        """Blocking run for background mode and scripts, where no event loop drives a timer."""
        runner = self._start(context)
        if runner is None:
            return {"CANCELLED"}
        try:
            while not runner.tick(context):
                time.sleep(TIMER_INTERVAL_S)
        finally:
            runner.close()
        self._report_all(runner)
        return {"FINISHED"} if runner.status.state == "done" else {"CANCELLED"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        runner = self._runner
        if event.type == "ESC" and event.value == "PRESS":
            runner.cancel()
            return {"RUNNING_MODAL"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        finished = runner.tick(context)
        show_progress(context, runner.status)
        self._report_all(runner)
        if not finished:
            return {"PASS_THROUGH"}
        end_progress(context, self._timer)
        self._timer = None
        return {"FINISHED"} if runner.status.state == "done" else {"CANCELLED"}

    def cancel(self, context: bpy.types.Context) -> None:
        """Blender ends the operator (file load, quit): stop the backend too."""
        if self._runner is not None:
            self._runner.close()
        end_progress(context, self._timer)
        self._timer = None

    def _start(self, context: bpy.types.Context) -> JobRunner | None:
        masks_dir = Path(self.masks_dir) if self.masks_dir else None
        try:
            runner = JobRunner.for_context(context, masks_dir, self.solve_only)
            runner.start()
        except BackendError as error:
            log.exception("Could not start the job")
            context.scene.vggt4d.status_state = "failed"
            context.scene.vggt4d.status_message = str(error)
            self.report({"ERROR"}, str(error))
            return None
        return runner

    def _report_all(self, runner: JobRunner) -> None:
        for level, message in runner.take_reports():
            self.report({level}, message)


class VGGT4D_OT_cancel(bpy.types.Operator):
    """Stop the running reconstruction at its next stage boundary; press again to stop the
    backend at once"""

    bl_idname = "vggt4d.cancel"
    bl_label = "Cancel"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        scene = context.scene
        return scene is not None and scene.vggt4d.status_state in RUNNING_STATES

    def execute(self, context: bpy.types.Context) -> set[str]:
        context.scene.vggt4d.cancel_requested = True
        return {"FINISHED"}


class _WithArtistMasks:
    """Write the artist's masks as per-frame PNGs, then run ``vggt4d.reconstruct`` with them:
    a full reconstruction, or with ``solve_only`` only the camera solve of the imported shot."""

    solve_only = False

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        scene = context.scene
        if scene is None:
            return False
        settings = scene.vggt4d
        sources = (settings.artist_mask_clip, settings.artist_mask_image, settings.artist_mask)
        has_masks = any(source is not None for source in sources)
        return (
            bool(settings.bundle_path) and has_masks and settings.status_state not in RUNNING_STATES
        )

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        folder = self._write_masks(context)
        if folder is None:
            return {"CANCELLED"}
        return self._run("INVOKE_DEFAULT", folder)

    def execute(self, context: bpy.types.Context) -> set[str]:
        """Blocking, like Reconstruct's execute: for background mode and scripts."""
        folder = self._write_masks(context)
        if folder is None:
            return {"CANCELLED"}
        return self._run("EXEC_DEFAULT", folder)

    def _run(self, mode: str, folder: Path) -> set[str]:
        """Run ``vggt4d.reconstruct`` with the masks; its error comes back from bpy.ops as a
        RuntimeError: report its sentence, never a traceback of this operator."""
        try:
            return bpy.ops.vggt4d.reconstruct(
                mode, masks_dir=str(folder), solve_only=self.solve_only
            )
        except RuntimeError as error:
            self.report({"ERROR"}, str(error).splitlines()[0].removeprefix("Error: "))
            return {"CANCELLED"}

    def _write_masks(self, context: bpy.types.Context) -> Path | None:
        from ..bundle_format import BundleError
        from .artist_masks import ArtistMaskError, export_artist_masks

        try:
            folder, count = export_artist_masks(context, context.scene.vggt4d)
        except (ArtistMaskError, BundleError, OSError) as error:
            log.exception("Could not write the artist masks")
            self.report({"ERROR"}, str(error))
            return None
        self.report({"INFO"}, f"Wrote {count} artist masks to {folder}")
        return folder


class VGGT4D_OT_rerun_with_masks(_WithArtistMasks, bpy.types.Operator):
    """Write the edited mask clip or images and the Mask datablock as per-frame PNGs, then
    reconstruct again with them as artist masks"""

    bl_idname = "vggt4d.rerun_with_masks"
    bl_label = "Re-run with My Masks"


class VGGT4D_OT_resolve_with_masks(_WithArtistMasks, bpy.types.Operator):
    """Write the edited masks as per-frame PNGs, then re-solve the imported shot's cameras
    from its plate with them (seconds: no model runs) and re-import the shot"""

    bl_idname = "vggt4d.resolve_with_masks"
    bl_label = "Re-solve with My Masks"
    solve_only = True


classes = (
    VGGT4D_OT_reconstruct,
    VGGT4D_OT_cancel,
    VGGT4D_OT_rerun_with_masks,
    VGGT4D_OT_resolve_with_masks,
)
