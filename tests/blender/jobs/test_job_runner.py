"""Reconstruct end to end in real bpy against the real backend subprocess (tiny weights).

Headless bpy has no event loop, so a modal timer never fires. The operator's modal method only
adds the timer, the progress bar and the status text around ``JobRunner.tick``; these tests
call ``tick`` in a loop exactly as each TIMER event would. The Cancel button is driven through
``scene.vggt4d.cancel_requested`` (what ``vggt4d.cancel`` sets). Re-run with my masks and the
error report go through the operators' blocking ``execute`` (their background-mode path).
"""

import importlib
import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _configure(bpy, addon, python, video, weights, cache):
    preferences = bpy.context.preferences.addons[addon].preferences
    preferences.python_path = python
    preferences.weights_source = str(weights)
    preferences.device = "cpu"
    preferences.cache_dir = str(cache)
    settings = bpy.context.scene.vggt4d
    settings.footage_kind = "FILE"
    settings.footage_path = str(video)
    settings.max_frames = 2
    settings.refine = False
    return settings


def _runner(bpy, addon):
    runner_module = importlib.import_module(f"{addon}.jobs.runner")
    return runner_module.JobRunner.for_context(bpy.context)


def _drive(runner, context, until=None, timeout_s=300.0):
    """Tick like the modal timer; returns [(seconds the tick took, stage, fraction)]."""
    history = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        started = time.perf_counter()
        finished = runner.tick(context)
        history.append((time.perf_counter() - started, runner.status.stage, runner.status.fraction))
        if finished or (until is not None and until(runner.status)):
            return history
        time.sleep(0.05)
    raise TimeoutError(f"job still {runner.status.state} after {timeout_s} s")


def _square_mask(bpy):
    """Mask space square over plate pixels x 24..72, y 16..48 of a 96x64 plate."""
    mask = bpy.data.masks.new(name="Artist")
    spline = mask.layers.new(name="Layer").splines.new()
    spline.use_cyclic = True
    spline.points.add(3)
    corners = [(0.25, 0.5 - 1 / 6), (0.75, 0.5 - 1 / 6), (0.75, 0.5 + 1 / 6), (0.25, 0.5 + 1 / 6)]
    for point, corner in zip(spline.points, corners, strict=True):
        point.co = point.handle_left = point.handle_right = corner
    return mask


@pytest.mark.slow
def test_reconstruct_imports_then_reruns_with_artist_masks(
    addon, backend_python, video, tiny_weights, tmp_path
):
    import bpy

    settings = _configure(bpy, addon, backend_python, video, tiny_weights, tmp_path / "cache")
    runner = _runner(bpy, addon)
    runner.start()
    assert settings.status_state == "running"
    history = _drive(runner, bpy.context)

    assert runner.status.state == "done", runner.status.message
    fractions = [fraction for _, _, fraction in history]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    stages = {stage for _, stage, _ in history}
    assert {"pass1", "pass2", "bundle"} <= stages
    assert max(seconds for seconds, _, _ in history[:-1]) < 0.25  # the last tick imports
    bundle = tmp_path / "cache" / "street_shot.vggt4d"
    assert settings.bundle_path == str(bundle) and settings.status_progress == 1.0
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert len(manifest["frames"]) == 2 and manifest["options"]["reconstruct"]["refine"] is False
    assert runner.imported.frames == 2
    assert runner.imported.collection in bpy.data.collections
    levels = [level for level, _ in runner.take_reports()]
    assert "INFO" in levels and "ERROR" not in levels
    objects_before = len(bpy.data.objects)

    settings.artist_mask = _square_mask(bpy)
    assert bpy.ops.vggt4d.rerun_with_masks() == {"FINISHED"}

    manifest = json.loads((bundle / "manifest.json").read_text())
    masks_dir = Path(manifest["options"]["masks_dir"])
    assert masks_dir.parent == bundle.parent and masks_dir.name.startswith("street_shot.artist-")
    for frame in manifest["frames"]:
        with Image.open(masks_dir / f"mask.{frame:06d}.png") as image:
            artist = np.asarray(image) > 127
        with Image.open(bundle / "masks" / "coarse" / f"mask.{frame:06d}.png") as image:
            coarse = np.asarray(image) > 127
        assert artist[16:48, 24:72].all() and artist.sum() == 32 * 48
        assert coarse[18:46, 26:70].all()  # union mode keeps the artist's region
    assert len(bpy.data.objects) == objects_before  # the shot was replaced, not duplicated


@pytest.mark.slow
def test_cancel_button_stops_the_backend(addon, backend_python, video, tiny_weights, tmp_path):
    import bpy

    settings = _configure(bpy, addon, backend_python, video, tiny_weights, tmp_path / "cache")
    runner = _runner(bpy, addon)
    runner.start()
    _drive(runner, bpy.context, until=lambda status: status.stage not in ("", "starting"))
    assert bpy.ops.vggt4d.cancel() == {"FINISHED"}  # what the panel's Cancel button runs
    _drive(runner, bpy.context)
    assert runner.status.state == "cancelled"
    assert settings.status_state == "cancelled"
    assert ("WARNING", "Reconstruction cancelled") in runner.take_reports()
    assert not (tmp_path / "cache" / "street_shot.vggt4d").exists()
    assert not runner.job.client.running


def test_backend_error_becomes_an_operator_report(addon, backend_python, tiny_weights, tmp_path):
    import bpy

    settings = _configure(
        bpy, addon, backend_python, tmp_path / "missing.mp4", tiny_weights, tmp_path / "cache"
    )
    settings.bundle_path = str(tmp_path / "cache" / "earlier.vggt4d")
    with pytest.raises(RuntimeError, match=r"missing\.mp4") as caught:
        bpy.ops.vggt4d.reconstruct()
    assert "Traceback" not in str(caught.value)
    assert settings.status_state == "failed"
    assert settings.bundle_path == str(tmp_path / "cache" / "earlier.vggt4d")  # still re-runnable
