"""Plate frame N is the picture Blender shows at frame N: variable-rate and rotated phone
videos read by the backend, checked against Blender's own video decoding (a sequencer
render of the same file)."""

import json

import numpy as np
import pytest

from tests.backend.io.shot_videos import drop_frames_filter, index_frame, write_video
from tests.importers.bundle_factory import write_synthetic_bundle
from vggt4d.io.footage import read_footage
from vggt4d_blender.importers.shot import ImportSettings, import_bundle


def _blender_frames(bpy, path, frames: list[int]) -> dict[int, np.ndarray]:
    """What Blender shows of the video at each scene frame (a movie strip at frame 1)."""
    from PIL import Image

    scene = bpy.context.scene
    clip = bpy.data.movieclips.load(str(path))
    scene.render.resolution_x, scene.render.resolution_y = clip.size[:]
    scene.render.resolution_percentage = 100
    scene.view_settings.view_transform = "Standard"
    scene.render.image_settings.file_format = "PNG"
    editor = scene.sequence_editor_create()
    strips = editor.strips if hasattr(editor, "strips") else editor.sequences
    strips.new_movie("plate", str(path), 1, 1)
    shown = {}
    for frame in frames:
        scene.frame_set(frame)
        scene.render.filepath = str(path.with_name(f"shown.{frame:04d}.png"))
        bpy.ops.render.render(write_still=True)
        with Image.open(scene.render.filepath) as image:
            shown[frame] = np.asarray(image.convert("RGB"))
    return shown


@pytest.mark.parametrize(
    ("filters", "rotation"),
    [(drop_frames_filter([2, 5, 6]), None), (None, 90), (drop_frames_filter([1, 3]), -90)],
    ids=["variable-rate", "rotated", "both"],
)
def test_plate_frames_match_what_blender_shows(factory_blender, tmp_path, filters, rotation):
    frames = [index_frame(index) for index in range(10)]
    path = write_video(tmp_path / "phone.mp4", frames, filters=filters, rotation=rotation)
    footage = read_footage(path)
    shown = _blender_frames(factory_blender, path, footage.frame_numbers)
    first = footage.frame_numbers[0]
    if rotation and shown[first].shape[:2] == footage.frames[0].shape[1::-1]:
        pytest.xfail("this Blender ignores rotation metadata: the importer refuses such a plate")
    for number, plate in zip(footage.frame_numbers, footage.frames, strict=True):
        assert plate.shape == shown[number].shape
        assert np.abs(plate.astype(int) - shown[number]).max() <= 3, number


def test_a_rotated_video_is_an_upright_plate_or_a_warning(factory_blender, tmp_path):
    """The backend reads a phone video upright. Where Blender shows it upright too, it is the
    plate; where Blender ignores the rotation (4.2, 4.3), the plate would be sideways: no plate,
    no leftover clip, and the report says why."""
    bpy = factory_blender
    video = write_video(tmp_path / "phone.mp4", [index_frame(i) for i in range(3)], rotation=90)
    upright = read_footage(video).frames[0].shape
    bundle = write_synthetic_bundle(
        tmp_path / "phone.vggt4d", frames=[1, 2, 3], width=upright[1], height=upright[0]
    )
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["source"] = {"path": str(video), "kind": "video", "frame_start": 1, "rotation": 90}
    (bundle / "manifest.json").write_text(json.dumps(manifest))

    result = import_bundle(bpy.context, bundle, ImportSettings(import_masks=False))
    clips = list(bpy.data.movieclips)
    shown = _blender_frames(bpy, video, [1])[1].shape
    sideways = [w for w in result.warnings if "ignores the video's rotation (90 degrees)" in w]
    if shown == upright:
        assert result.plate is not None and not sideways
        assert tuple(bpy.data.movieclips[result.plate].size) == (upright[1], upright[0])
    else:
        assert shown == (upright[1], upright[0], 3)
        assert result.plate is None and len(sideways) == 1
        assert clips == []
