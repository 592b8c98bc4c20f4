"""Re-solving a bundle in place from its plate: manifest section, stored tracks, network
cameras kept, re-aligned cloud, artist masks, and bundles without a solve."""

import json
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from tests.backend.solve.conftest import trajectory_error
from tests.backend.solve.shot_bundle import network_estimate, write_shot_bundle
from vggt4d.cli import main
from vggt4d.errors import BundleError, InputError
from vggt4d.io import bundle_format
from vggt4d.io.bundle import read_bundle
from vggt4d.solve.adjust import project
from vggt4d.solve.bundle_solve import apply_solve, solve_bundle


@pytest.fixture(scope="module")
def solved(shot, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bundle_solve")
    network = network_estimate(shot)
    path = write_shot_bundle(shot, network, folder)
    stages = []
    solve_bundle(path, progress=lambda stage, fraction: stages.append(stage))
    return path, network, stages


def test_solve_bundle_rewrites_cameras_and_records_the_solve(shot, solved):
    path, network, stages = solved
    data = read_bundle(path)
    assert {"plate", "tracking", "adjustment", "pointcloud", "bundle"} <= set(stages)
    np.testing.assert_array_equal(data.network_extrinsics, network.extrinsics)
    np.testing.assert_array_equal(data.network_intrinsics, network.intrinsics)
    assert trajectory_error(data.extrinsics, shot.extrinsics) < 0.1 * trajectory_error(
        network.extrinsics, shot.extrinsics
    )
    solve = data.solve
    assert solve["reprojection_error_px"]["median"] <= 0.25
    assert len(solve["reprojection_error_px"]["per_frame"]) == len(data.frames)
    assert solve["distortion"]["model"] == "polynomial"
    # The lens check solves a polynomial lens on this undistorted plate: the prior keeps k2, k3
    # from bending to noise (before it: k2 -1.98 on a dolly, k3 1835 on a zoom).
    check = solve["lens_check"]
    assert abs(check["k2"]) < 0.05 and abs(check["k3"]) < 0.05 and not check["distorted"], check
    assert solve["focal"]["determined"] and solve["focal"]["std_percent"] < 1.0, solve["focal"]
    assert solve["tracks"] == len(data.tracks["points"]) > 100
    assert solve["observations"] == len(data.tracks["xy"])
    assert "solve" in data.timings
    # The stored tracks reproject onto their 2-D positions through the stored cameras.
    tracks = data.tracks
    frame, points = tracks["frame_index"], tracks["points"][tracks["track_index"]]
    camera = np.einsum("nij,nj->ni", data.extrinsics[frame, :, :3], points)
    camera += data.extrinsics[frame, :, 3]
    pixels = project(
        camera,
        data.intrinsics[frame][:, [0, 1], [0, 1]],
        data.intrinsics[frame][:, :2, 2],
        np.zeros(3),
    )
    assert np.median(np.linalg.norm(pixels - tracks["xy"], axis=1)) < 0.3


def test_blender_solver_agrees_on_the_imported_markers(solved):
    """Second opinion: the solve's tracks imported as Movie Clip markers (with the solved lens)
    re-solved by Blender's own tracker (libmv). Measured: ours 0.029 px median, 0.037 px mean;
    Blender 0.037 px on the 1000 imported tracks."""
    import bpy

    from tests.blender.importers.blender_solver import solve_with_blender
    from vggt4d_blender.importers.shot import ImportSettings, import_bundle

    path, _, _ = solved
    bpy.ops.wm.read_factory_settings(use_empty=True)
    result = import_bundle(bpy.context, path, ImportSettings(import_masks=False))
    ours = read_bundle(path).solve["reprojection_error_px"]
    assert result.track_markers == min(1000, read_bundle(path).solve["tracks"])
    blender_error = solve_with_blender(bpy, bpy.data.movieclips[result.plate])
    assert blender_error < 0.3
    assert blender_error < 2 * ours["mean"]


def test_realigned_cloud_lies_on_the_solved_points(solved):
    path, _, _ = solved
    data = read_bundle(path)
    from scipy.spatial import cKDTree

    distance, _ = cKDTree(data.static_points).query(data.tracks["points"])
    scene_size = np.ptp(data.tracks["points"], axis=0).max()
    assert np.median(distance) < 0.01 * scene_size
    assert len(data.dynamic_points) > 0  # the movers' pixels became moving points


def test_re_solve_starts_from_the_network_not_the_last_solve(solved):
    path, network, _ = solved
    before = read_bundle(path)
    solve_bundle(path)
    after = read_bundle(path)
    np.testing.assert_array_equal(after.network_extrinsics, network.extrinsics)
    # The same solve again (up to float16 depth and which observations the rounds drop).
    network_error = trajectory_error(network.extrinsics, before.extrinsics)
    assert trajectory_error(after.extrinsics, before.extrinsics) < 0.1 * network_error
    np.testing.assert_allclose(after.intrinsics, before.intrinsics, rtol=1e-2)
    np.testing.assert_allclose(after.depth, before.depth, rtol=2e-2)


def test_artist_mask_keeps_tracks_off_and_changes_only_its_frame(shot, solved, tmp_path):
    path, _, _ = solved
    before = read_bundle(path)
    height, width = shot.plates.shape[1:3]
    matte = np.zeros((height, width), np.uint8)
    matte[: height // 2, : width // 2] = 255  # the artist mattes out the top-left quarter
    frame_number = before.frames[5]
    Image.fromarray(matte).save(tmp_path / f"mask.{frame_number:06d}.png")
    solve_bundle(path, masks_dir=tmp_path)
    after = read_bundle(path)
    assert after.solve["artist_mask_frames"] == [frame_number]
    np.testing.assert_array_equal(after.refined_masks[5], matte > 0)
    others = [index for index in range(len(after.frames)) if index != 5]
    np.testing.assert_array_equal(after.refined_masks[others], before.refined_masks[others])
    in_frame = after.tracks["frame_index"] == 5
    xy = after.tracks["xy"][in_frame]
    assert len(xy) > 20
    assert not np.any((xy[:, 0] < width / 2) & (xy[:, 1] < height / 2))
    # The network's masks stay recoverable; a plain re-solve keeps the artist's and the record.
    np.testing.assert_array_equal(after.network_masks, before.refined_masks)
    solve_bundle(path)
    again = read_bundle(path)
    assert again.solve["artist_mask_frames"] == [frame_number]
    np.testing.assert_array_equal(again.refined_masks, after.refined_masks)
    np.testing.assert_array_equal(again.network_masks, before.refined_masks)
    xy = again.tracks["xy"][again.tracks["frame_index"] == 5]
    assert not np.any((xy[:, 0] < width / 2) & (xy[:, 1] < height / 2))
    # Asked to, the solve goes back to the network's masks.
    assert main(["solve", str(path), "--network-masks"]) == 0
    reset = read_bundle(path)
    assert reset.solve["artist_mask_frames"] == [] and reset.network_masks is None
    np.testing.assert_array_equal(reset.refined_masks, before.refined_masks)
    assert after.solve["reprojection_error_px"]["median"] <= 0.25
    assert trajectory_error(after.extrinsics, before.extrinsics) < 0.01


def test_unsolved_bundle_still_validates_and_reads(shot, tmp_path):
    path = write_shot_bundle(shot, network_estimate(shot), tmp_path)
    manifest = bundle_format.validate_bundle(path)
    assert "solve" not in manifest
    assert bundle_format.read_tracks(bundle_format.read_bundle(path)) is None
    assert read_bundle(path).solve is None


def test_validator_refuses_a_solve_without_its_files(solved, tmp_path):
    import shutil

    path, _, _ = solved
    copy = tmp_path / "copy.vggt4d"
    shutil.copytree(path, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    del manifest["files"]["tracks"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(bundle_format.BundleError, match="tracks"):
        bundle_format.validate_bundle(copy)


def test_validator_checks_the_smoothing_section(solved, tmp_path):
    import shutil

    path, _, _ = solved
    copy = tmp_path / "copy.vggt4d"
    shutil.copytree(path, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    jitter = {"position": 0.01, "position_relative": 0.02, "rotation_deg": 0.03}
    frame_count = len(manifest["frames"])
    manifest["solve"]["smoothing"] = {
        "strength": 1.0,
        "strength_used": 0.1,
        "limited_frames": [0, frame_count - 1],
        "budget_px": 0.05,
        "cost_px": {"median": -0.001, "worst_frame": 0.04},
        "jitter": {"before": jitter, "after": jitter},
    }
    (copy / "manifest.json").write_text(json.dumps(manifest))
    bundle_format.validate_bundle(copy)
    manifest["solve"]["smoothing"]["limited_frames"] = [frame_count]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(bundle_format.BundleError, match="limited_frames"):
        bundle_format.validate_bundle(copy)
    del manifest["solve"]["smoothing"]["cost_px"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(bundle_format.BundleError, match="cost_px"):
        bundle_format.validate_bundle(copy)


def test_validator_checks_the_connectivity_section(solved, tmp_path):
    import shutil

    path, _, _ = solved
    copy = tmp_path / "copy.vggt4d"
    shutil.copytree(path, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    last = len(manifest["frames"]) - 1
    assert manifest["solve"]["connectivity"]["segments"] == [[0, last]]
    for bad, match in (
        ({"segments": [[0, 5], [5, last]]}, "ascending, disjoint"),
        ({"kept_frames": [last + 1]}, "must lie in"),
        ({"worse_frames": [2]}, "among its kept_frames"),
    ):
        section = {**manifest["solve"]["connectivity"], **bad}
        (copy / "manifest.json").write_text(
            json.dumps({**manifest, "solve": {**manifest["solve"], "connectivity": section}})
        )
        with pytest.raises(bundle_format.BundleError, match=match):
            bundle_format.validate_bundle(copy)
    del manifest["solve"]["connectivity"]  # a bundle solved before it existed
    (copy / "manifest.json").write_text(json.dumps(manifest))
    bundle_format.validate_bundle(copy)


def test_missing_plate_is_a_clear_error(shot, tmp_path):
    import shutil

    path = write_shot_bundle(shot, network_estimate(shot), tmp_path)
    shutil.rmtree(tmp_path / "plate")
    with pytest.raises(InputError, match="plate"):
        solve_bundle(path)
    assert read_bundle(path).solve is None  # the bundle is untouched


def test_masks_folder_without_a_matching_mask_is_refused(solved, tmp_path):
    path, _, _ = solved
    with pytest.raises(InputError, match="No mask"):
        solve_bundle(path, masks_dir=tmp_path)
    assert BundleError  # the bundle stays readable
    read_bundle(path)


def test_padding_and_transparent_pixels_give_no_points_after_a_solve(shot, tmp_path):
    """The solve rebuilds the clouds: padding around the plate (black where the plate is
    warped to the model) and transparent plate pixels (painted magenta here) give no point,
    as in the job."""
    data = read_bundle(write_shot_bundle(shot, network_estimate(shot), tmp_path))
    pad = 8  # model columns of padding on each side
    data = replace(
        data,
        model_width=data.model_width + 2 * pad,
        plate_to_model={**data.plate_to_model, "offset_x": float(pad)},
        depth=np.pad(data.depth, ((0, 0), (0, 0), (pad, pad)), mode="edge"),
        depth_conf=np.pad(data.depth_conf, ((0, 0), (0, 0), (pad, pad)), mode="edge"),
    )
    cut = 80  # plate columns left of this are transparent
    plates = np.maximum(shot.plates, 24)  # nothing black on the plate itself
    plates[:, :, :cut] = (255, 0, 255)
    transparent = [np.zeros(plate.shape[:2], bool) for plate in plates]
    for clear in transparent:
        clear[:, :cut] = True
    solved = apply_solve(data, list(plates), transparent=transparent)

    magenta = (255, 0, 255)
    assert len(solved.static_points) > 0 and len(solved.dynamic_points) > 0
    assert not (np.abs(solved.static_colors.astype(int) - magenta).max(axis=1) < 40).any()
    assert not (solved.static_colors.max(axis=1) < 12).any()  # no padding point
    width = data.plate_width
    for index in range(len(plates)):  # each moving point lands on an opaque plate pixel
        rows = slice(*solved.dynamic_frame_offsets[index : index + 2])
        cameras = solved.extrinsics[index]
        seen = solved.dynamic_points[rows] @ cameras[:, :3].T + cameras[:, 3]
        pixels = seen @ solved.intrinsics[index].T
        columns = pixels[:, 0] / pixels[:, 2]
        assert ((columns > cut - 1.5) & (columns < width + 0.5)).all()


def test_validator_takes_an_undetermined_lens_check_and_a_focal_switch(solved, tmp_path):
    import shutil

    path, _, _ = solved
    copy = tmp_path / "copy.vggt4d"
    shutil.copytree(path, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    solve = manifest["solve"]
    solve["lens_check"] = {"median_px": 0.1, "distorted": False, "determined": False}
    solve["focal_switch"] = {"network_spread": 1.8, "asked": "shared", "used": "per-frame"}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    bundle_format.validate_bundle(copy)
    assert bundle_format.describe_lens_check(solve) is None
    assert "1.80x" in bundle_format.describe_focal_switch(solve)
    solve["lens_check"] = {"k3": 1835.0, "median_px": 0.1, "distorted": False}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(bundle_format.BundleError, match="k3"):
        bundle_format.validate_bundle(copy)


def test_a_moved_project_reads_its_image_sequence_plate_relative_to_the_bundle(shot, tmp_path):
    """The manifest's absolute `plate.####.png` is gone after the move; the path relative to the
    bundle finds it (as the add-on's import does: one `find_plate` for both)."""
    import shutil

    from vggt4d.solve.bundle_solve import read_plates

    folder = tmp_path / "before"
    path = write_shot_bundle(shot, network_estimate(shot), folder)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["source"]["path_relative_to_bundle"] = "../plate/plate.####.png"
    (path / "manifest.json").write_text(json.dumps(manifest))
    moved = tmp_path / "after"
    shutil.move(folder, moved)
    bundle = moved / path.name
    plates, transparent = read_plates(read_bundle(bundle), bundle)
    np.testing.assert_array_equal(np.stack(plates), shot.plates)  # exactly the bundle's frames
    assert transparent is None


def test_a_plate_of_another_size_is_said_in_one_plain_sentence(shot, tmp_path):
    path = write_shot_bundle(shot, network_estimate(shot), tmp_path)
    for file in (tmp_path / "plate").iterdir():
        Image.open(file).resize((64, 36)).save(file)
    height, width = shot.plates.shape[1:3]
    with pytest.raises(InputError) as refused:
        solve_bundle(path)
    assert str(refused.value).endswith(
        f"no longer matches the bundle: it is 64x36 instead of {width}x{height}."
    ), refused.value
