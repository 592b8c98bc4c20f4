"""Re-solve with my masks in real bpy against the real backend subprocess: the artist's masks
go to the server's ``solve`` request and the shot comes back with the solved cameras.

The shot is rendered by Blender with known cameras (tests/backend/solve/blender_shot.py) and
bundled with network-like camera errors (focal +5 %), so the solve visibly moves the camera.
The operator runs through its blocking ``execute`` (the background-mode path), which ticks the
same ``JobRunner`` the modal timer does.
"""

import json
import shutil

import numpy as np
import pytest

from tests.backend.solve.blender_shot import render_shot
from tests.backend.solve.shot_bundle import network_estimate, write_shot_bundle
from vggt4d.io.bundle import read_bundle

FRAMES = 8


@pytest.fixture
def unsolved(tmp_path):
    """The bundle: rendered before the add-on is enabled (rendering resets bpy)."""
    shot = render_shot(tmp_path / "render", frame_count=FRAMES)
    return write_shot_bundle(shot, network_estimate(shot), tmp_path / "cache")


def _square_mask(bpy):
    """A small Mask datablock on the plate (something moving the network missed)."""
    mask = bpy.data.masks.new(name="Artist")
    spline = mask.layers.new(name="Layer").splines.new()
    spline.use_cyclic = True
    spline.points.add(3)
    corners = [(0.05, 0.45), (0.15, 0.45), (0.15, 0.55), (0.05, 0.55)]
    for point, corner in zip(spline.points, corners, strict=True):
        point.co = point.handle_left = point.handle_right = corner
    return mask


def _camera_path(scene) -> tuple[np.ndarray, np.ndarray]:
    """The active camera's world matrices [S, 4, 4] and lens (mm) [S] at every plate frame."""
    matrices, lenses = [], []
    for frame in range(1001, 1001 + FRAMES):
        scene.frame_set(frame)
        matrices.append(np.array(scene.camera.matrix_world))
        lenses.append(scene.camera.data.lens)
    return np.array(matrices), np.array(lenses)


@pytest.mark.slow
def test_resolve_button_solves_with_the_masks_and_reimports(
    unsolved, addon, backend_python, tmp_path
):
    import bpy

    from vggt4d_blender.importers.shot import import_bundle

    bundle = unsolved
    scene = bpy.context.scene
    preferences = bpy.context.preferences.addons[addon].preferences
    preferences.python_path = backend_python
    import_bundle(bpy.context, bundle)
    settings = scene.vggt4d
    settings.bundle_path = str(bundle)
    assert not bpy.ops.vggt4d.resolve_with_masks.poll()  # no masks chosen yet
    # The artist's masks replace the refined ones: the refined clip as edited, plus a roto.
    refined = bundle / "masks" / "refined" / "mask.001001.png"
    settings.artist_mask_clip = bpy.data.movieclips.load(str(refined))
    settings.artist_mask = _square_mask(bpy)
    assert settings.solve_error < 0  # the network's cameras: no solve yet
    path_before, lens_before = _camera_path(scene)
    objects_before = [o.name for o in bpy.data.objects]
    manifest_before = (bundle / "manifest.json").read_text()

    # A plate that went missing: one sentence, the bundle and the scene untouched.
    shutil.move(tmp_path / "cache" / "plate", tmp_path / "plate-moved")
    with pytest.raises(RuntimeError) as failure:
        bpy.ops.vggt4d.resolve_with_masks()
    assert "Traceback" not in str(failure.value)
    assert str(failure.value).startswith("Error: The plate ")
    assert "of this bundle is missing: put it back" in str(failure.value)
    assert settings.status_state == "failed" and settings.solve_error < 0
    assert (bundle / "manifest.json").read_text() == manifest_before
    np.testing.assert_array_equal(_camera_path(scene)[0], path_before)
    shutil.move(tmp_path / "plate-moved", tmp_path / "cache" / "plate")

    settings.smooth_camera = 1.0  # the panel's smoothing reaches the solve
    assert bpy.ops.vggt4d.resolve_with_masks() == {"FINISHED"}

    assert settings.status_state == "done" and settings.status_message == "Solve finished"
    solve = json.loads((bundle / "manifest.json").read_text())["solve"]
    assert solve["artist_mask_frames"] == list(range(1001, 1001 + FRAMES))
    network_masks = json.loads((bundle / "manifest.json").read_text())["files"]["network_masks"]
    assert len(network_masks["paths"]) == FRAMES  # the network's masks stay recoverable
    assert solve["smoothing"]["strength"] == 1.0
    assert solve["smoothing"]["cost_px"]["median"] <= solve["smoothing"]["budget_px"]
    latest = sorted(bundle.parent.glob("shot.artist-masks-*"))[-1]  # one folder per press
    assert len(list(latest.glob("mask.*.png"))) == FRAMES
    # The re-imported shot shows the solve: its error on the panel, the solved lens and path.
    assert 0.0 <= settings.solve_error < 1.0
    assert settings.solve_error == pytest.approx(solve["reprojection_error_px"]["median"])
    path_after, lens_after = _camera_path(scene)
    solved_focal_px = read_bundle(bundle).intrinsics[:, 0, 0]
    plate_width = scene.render.resolution_x  # sensor fit HORIZONTAL: a landscape plate
    sensor_width = scene.camera.data.sensor_width
    np.testing.assert_allclose(lens_after, solved_focal_px * sensor_width / plate_width, rtol=1e-4)
    assert np.abs(lens_after / lens_before - 1).min() > 0.01  # network focal was +5 %
    assert np.abs(path_after - path_before).max() > 1e-3
    # The shot was replaced, not duplicated (the solve re-fuses the clouds: a moving one too).
    assert [collection.name for collection in bpy.data.collections] == ["shot"]
    assert set(objects_before) <= {obj.name for obj in bpy.data.objects}
    assert not any(obj.name.endswith(".001") for obj in bpy.data.objects)
