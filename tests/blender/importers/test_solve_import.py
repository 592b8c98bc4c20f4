"""A solved bundle in Blender: solve error on the panel, the lens on the plate's Movie Clip,
and bundles without a solve import as before."""

import numpy as np
import pytest

from tests.blender.importers.conftest import write_plate
from tests.importers.bundle_factory import make_bundle_data, with_solve
from vggt4d.io.bundle import write_bundle
from vggt4d_blender.bundle_format import describe_lens_check
from vggt4d_blender.importers.shot import ImportSettings, import_bundle


def _solved(data, k1=-0.12, k2=0.03, k3=0.0):
    per_frame = [0.1, 0.4, None, 0.2][: len(data.frames)]
    return with_solve(data, per_frame, k1=k1, k2=k2, k3=k3)


@pytest.fixture
def plate_pattern(tmp_path):
    return write_plate(tmp_path / "plate", [1001, 1002, 1003, 1004], 96, 64)


def test_solved_bundle_shows_its_error_and_lens(addon, tmp_path, plate_pattern):
    import bpy

    data = _solved(
        make_bundle_data(frames=[1001, 1002, 1003, 1004], source_path=str(plate_pattern))
    )
    path = write_bundle(tmp_path / "solved.vggt4d", data)
    result = import_bundle(bpy.context, path, ImportSettings(import_masks=False))
    assert result.solve_error_px == pytest.approx(0.12)
    assert result.worst_frames[0] == (1002, pytest.approx(0.4))
    assert "solve error 0.12 px" in result.summary()
    settings = bpy.context.scene.vggt4d
    assert settings.solve_error == pytest.approx(0.12)
    assert settings.solve_worst.startswith("1002: 0.40 px")
    assert settings.solve_smoothing == ""  # this solve was not smoothed
    clip = bpy.data.movieclips[result.plate]
    lens = clip.tracking.camera
    assert lens.distortion_model == "POLYNOMIAL"
    assert (lens.k1, lens.k2, lens.k3) == pytest.approx((-0.12, 0.03, 0.0))
    focal_pixels = lens.focal_length * clip.size[0] / lens.sensor_width
    assert focal_pixels == pytest.approx(np.median(data.intrinsics[:, 0, 0]), rel=1e-5)
    assert result.track_markers == len(clip.tracking.tracks) == 2
    assert "2 of 2 solve tracks as markers" in result.summary()


def test_track_markers_are_optional_and_need_the_plate(addon, tmp_path, plate_pattern):
    import bpy

    data = _solved(
        make_bundle_data(frames=[1001, 1002, 1003, 1004], source_path=str(plate_pattern))
    )
    path = write_bundle(tmp_path / "solved.vggt4d", data)
    result = import_bundle(bpy.context, path, ImportSettings(import_masks=False, track_markers=0))
    assert result.track_markers == 0 and "markers" not in result.summary()
    assert len(bpy.data.movieclips[result.plate].tracking.tracks) == 0
    result = import_bundle(bpy.context, path, ImportSettings(track_markers=1))
    assert result.track_markers == 1 and result.tracks_available == 2
    assert [t.name for t in bpy.data.movieclips[result.plate].tracking.tracks] == ["Track.000000"]
    result = import_bundle(bpy.context, path, ImportSettings(plate_background=False))
    assert result.track_markers == 0
    assert any("no tracking markers" in warning for warning in result.warnings)


def test_bundle_without_a_solve_imports_unchanged(addon, tmp_path, plate_pattern):
    import bpy

    data = make_bundle_data(frames=[1001, 1002, 1003, 1004], source_path=str(plate_pattern))
    path = write_bundle(tmp_path / "plain.vggt4d", data)
    bpy.context.scene.vggt4d.solve_error = 0.5
    result = import_bundle(bpy.context, path, ImportSettings(import_masks=False))
    assert result.solve_error_px is None and result.worst_frames == []
    assert bpy.context.scene.vggt4d.solve_error < 0
    lens = bpy.data.movieclips[result.plate].tracking.camera
    assert (lens.k1, lens.k2, lens.k3) == (0.0, 0.0, 0.0)
    assert len(bpy.data.movieclips[result.plate].tracking.tracks) == 0
    assert result.frames == 4 and result.static_points > 0


def test_smoothed_solve_says_what_the_smoothing_did(addon, tmp_path, plate_pattern):
    import bpy

    data = _solved(
        make_bundle_data(frames=[1001, 1002, 1003, 1004], source_path=str(plate_pattern))
    )
    jitter = {"before": {"position_relative": 0.02, "rotation_deg": 0.041}}
    jitter["after"] = {"position_relative": 0.003, "rotation_deg": 0.026}
    data.solve["smoothing"] = {
        "strength": 1.0,
        "strength_used": 1.0,
        "limited_frames": [],
        "budget_px": 0.05,
        "cost_px": {"median": 0.002, "worst_frame": 0.007},
        "jitter": jitter,
    }
    path = write_bundle(tmp_path / "smoothed.vggt4d", data)
    result = import_bundle(bpy.context, path, ImportSettings(import_masks=False))
    expected = "strength 1 of 1, +0.002 px; jitter 0.041 -> 0.026 deg, 0.020 -> 0.003 of a step"
    assert result.smoothing == bpy.context.scene.vggt4d.solve_smoothing == expected
    data.solve["smoothing"]["strength_used"] = 0.0
    path = write_bundle(tmp_path / "gave_way.vggt4d", data)
    import_bundle(bpy.context, path, ImportSettings(import_masks=False))
    assert bpy.context.scene.vggt4d.solve_smoothing.startswith("gave way at strength 1")


def test_a_solve_in_pieces_says_which_frames_keep_the_network_camera(
    addon, tmp_path, plate_pattern
):
    import bpy

    data = _solved(
        make_bundle_data(frames=[1001, 1002, 1003, 1004], source_path=str(plate_pattern))
    )
    data.solve["connectivity"] = {
        "segments": [[0, 1], [3, 3]],
        "kept_frames": [2],
        "worse_frames": [],
        "min_tracks": 12,
    }
    path = write_bundle(tmp_path / "pieces.vggt4d", data)
    result = import_bundle(bpy.context, path, ImportSettings(import_masks=False))
    expected = (
        "Solved 3 of 4 frames; in 2 unconnected pieces (breaks before frames 1004); "
        "frames 1003 keep the network camera."
    )
    assert result.coverage == bpy.context.scene.vggt4d.solve_coverage == expected
    data.solve["connectivity"]["worse_frames"] = [2]
    path = write_bundle(tmp_path / "worse.vggt4d", data)
    import_bundle(bpy.context, path, ImportSettings(import_masks=False))
    assert bpy.context.scene.vggt4d.solve_coverage.endswith(
        "frames 1003 keep the network camera; the solve did not beat it on 1003."
    )
    data.solve["connectivity"] = {**data.solve["connectivity"], "segments": [[0, 3]]}
    data.solve["connectivity"]["worse_frames"] = []
    data.solve["connectivity"]["kept_frames"] = []
    path = write_bundle(tmp_path / "whole.vggt4d", data)
    import_bundle(bpy.context, path, ImportSettings(import_masks=False))
    assert bpy.context.scene.vggt4d.solve_coverage == ""


def test_a_lens_free_solve_of_a_distorted_plate_warns_on_import(
    addon, tmp_path, plate_pattern, capfd
):
    import bpy

    data = _solved(
        make_bundle_data(frames=[1001, 1002, 1003, 1004], source_path=str(plate_pattern)),
        k1=0.0,
        k2=0.0,
    )
    data.solve["lens_check"] = {
        "k1": -0.108,
        "k2": 0.017,
        "k3": 0.009,
        "median_px": 0.033,
        "distorted": True,
    }
    path = write_bundle(tmp_path / "distorted.vggt4d", data)
    result = import_bundle(bpy.context, path, ImportSettings(import_masks=False))
    expected = describe_lens_check(data.solve)
    assert "drops from 0.120 to 0.033 px (k1 about -0.108)" in expected
    assert result.lens == bpy.context.scene.vggt4d.solve_lens == expected
    assert result.import_warnings()[-1] == expected and expected not in result.warnings
    capfd.readouterr()
    assert bpy.ops.vggt4d.import_bundle(filepath=str(path / "manifest.json")) == {"FINISHED"}
    reported = capfd.readouterr()
    assert f"Warning: {expected}" in reported.out + reported.err
    data.solve["lens_check"]["distorted"] = False
    straight = write_bundle(tmp_path / "straight.vggt4d", data)
    del data.solve["lens_check"]
    unchecked = write_bundle(tmp_path / "unchecked.vggt4d", data)
    for path in (straight, unchecked):
        result = import_bundle(bpy.context, path, ImportSettings(import_masks=False))
        assert result.lens == bpy.context.scene.vggt4d.solve_lens == ""
        assert result.import_warnings() == result.warnings
