"""Finding the plate from the manifest's source and mapping its frames onto scene frames."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.blender.importers.conftest import write_plate
from vggt4d_blender.bundle_format import read_bundle
from vggt4d_blender.importers.camera import plate_file
from vggt4d_blender.importers.shot import ImportSettings, import_bundle


@pytest.mark.parametrize("form", ["folder", "hashes", "printf", "glob", "file"])
def test_sequence_source_forms_find_the_first_reconstructed_frame(
    factory_blender, bundle_dir, tmp_path, form
):
    pattern = write_plate(tmp_path / "plate", [1001, 1002, 1003], 96, 64)
    source = {
        "folder": pattern.parent,
        "hashes": pattern,
        "printf": pattern.parent / "plate.%04d.png",
        "glob": pattern.parent / "plate.*.png",
        "file": pattern.parent / "plate.1002.png",
    }[form]
    bundle = read_bundle(bundle_dir(f"plate_{form}", frames=[1002, 1003], source_path=str(source)))
    path, number = plate_file(bundle)
    assert (path.name, number) == ("plate.1002.png", 1002)


def test_video_plate_starts_at_the_manifest_frame_start(factory_blender, bundle_dir, tmp_path):
    bpy = factory_blender
    video = tmp_path / "plate.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 24.0, (96, 64))
    for value in (0, 100, 200):
        writer.write(np.full((64, 96, 3), value, np.uint8))
    writer.release()
    path = bundle_dir("video", frames=[1, 2, 3], source_path=str(video))
    manifest = path / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"image_sequence"', '"video"'))
    result = import_bundle(bpy.context, path, ImportSettings(import_masks=False))
    clip = bpy.data.movieclips[result.plate]
    assert clip.source == "MOVIE" and clip.frame_start == 1


def test_changing_fx_over_fy_warns_with_the_error_in_pixels(factory_blender, bundle_dir):
    bpy = factory_blender
    path = bundle_dir("aspect")
    intrinsics_path = path / "cameras" / "intrinsics.npy"
    intrinsics = np.load(intrinsics_path)
    intrinsics[-1, 1, 1] *= 1.05
    np.save(intrinsics_path, intrinsics)
    result = import_bundle(bpy.context, path, ImportSettings(plate_background=False))
    assert len(result.warnings) == 1 and "focal lengths disagree" in result.warnings[0]
    assert "up to 1.19 px" in result.warnings[0]  # (sqrt(1.05) - 1) * 96 / 2


def test_moved_project_finds_the_plate_relative_to_the_bundle(factory_blender, tmp_path):
    """Footage and bundle move together (another machine, a renamed project folder): the
    manifest's absolute path is gone, its path relative to the bundle still works."""
    import shutil

    from tests.importers.bundle_factory import make_bundle_data
    from vggt4d.io.bundle import write_bundle
    from vggt4d.io.footage import read_footage

    project = tmp_path / "project"
    write_plate(project / "footage", [1001, 1002], 96, 64)
    data = make_bundle_data(frames=[1001, 1002])
    bundle = project / "bundles" / "shot.vggt4d"
    footage = read_footage(project / "footage" / "plate.####.png")
    data.source = footage.source_record(bundle)  # what a job writes
    assert data.source["path_relative_to_bundle"] == "../../footage/plate.####.png"
    write_bundle(bundle, data)
    moved = Path(shutil.move(project, tmp_path / "moved"))
    result = import_bundle(
        factory_blender.context, moved / "bundles" / "shot.vggt4d", ImportSettings()
    )
    clip = factory_blender.data.movieclips[result.plate]
    assert clip.filepath.endswith("moved/footage/plate.1001.png") and clip.frame_start == 1001
    background = factory_blender.data.objects[result.camera].data.background_images[0]
    assert background.frame_method == "STRETCH"
