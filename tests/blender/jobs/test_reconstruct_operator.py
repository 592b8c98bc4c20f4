"""The Reconstruct operator's failure paths in real bpy: reports, never tracebacks.

Headless bpy has no event loop, so ``INVOKE_DEFAULT`` cannot start a modal operator; the
operator's ``execute`` (the blocking path for background mode) shares ``_start`` with invoke.
"""

import pytest


def _preferences(bpy, addon):
    return bpy.context.preferences.addons[addon].preferences


def test_bad_interpreter_is_an_error_report(addon, tmp_path):
    import bpy

    _preferences(bpy, addon).python_path = str(tmp_path / "missing" / "python")
    bpy.context.scene.vggt4d.footage_path = str(tmp_path / "shot.mp4")
    with pytest.raises(RuntimeError, match="Backend Python not found") as caught:
        bpy.ops.vggt4d.reconstruct()
    assert "Traceback" not in str(caught.value)
    assert bpy.context.scene.vggt4d.status_state == "failed"


def test_missing_footage_is_an_error_report(addon):
    import bpy

    with pytest.raises(RuntimeError, match="Choose the footage") as caught:
        bpy.ops.vggt4d.reconstruct()
    assert "Traceback" not in str(caught.value)


def test_setup_refuses_to_download_when_online_access_is_off(addon):
    import bpy

    assert not bpy.app.online_access  # the bpy wheel starts with online access off
    with pytest.raises(RuntimeError, match="Online access is off"):
        bpy.ops.vggt4d.setup_backend()
    assert not bpy.context.window_manager.vggt4d_backend.busy


def test_check_backend_with_a_bad_interpreter_reports(addon, tmp_path):
    import bpy

    _preferences(bpy, addon).python_path = str(tmp_path / "python")
    with pytest.raises(RuntimeError, match="Backend Python not found"):
        bpy.ops.vggt4d.check_backend()
    assert "Backend Python not found" in bpy.context.window_manager.vggt4d_backend.report


def test_a_file_saved_during_a_job_reopens_ready_to_run(addon, tmp_path):
    import bpy

    settings = bpy.context.scene.vggt4d
    settings.status_state, settings.cancel_requested = "running", True
    path = tmp_path / "saved_while_running.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))
    settings = bpy.context.scene.vggt4d
    assert settings.status_state == "failed" and not settings.cancel_requested
    assert "Interrupted" in settings.status_message
    assert bpy.ops.vggt4d.reconstruct.poll()


def test_modal_progress_helpers_run_on_the_real_window_manager(addon):
    """What the modal operator does around each tick, on headless Blender's one window."""
    import importlib

    import bpy

    reconstruct = importlib.import_module(f"{addon}.jobs.reconstruct")
    job = importlib.import_module(f"{addon}.jobs.job")
    context = bpy.context
    assert context.window is not None and context.workspace is not None
    timer = reconstruct.start_progress(context)
    assert abs(timer.time_step - reconstruct.TIMER_INTERVAL_S) < 1e-6
    status = job.JobStatus(state="running", stage="pass1", fraction=0.4, message="pass1 40%")
    reconstruct.show_progress(context, status)
    reconstruct.end_progress(context, timer)
