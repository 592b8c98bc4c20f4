"""Plate frame N is the picture Blender shows at frame N: variable-rate and rotated phone
videos read by the backend, checked against Blender's own video decoding (a sequencer
render of the same file)."""

import numpy as np
import pytest

from tests.backend.io.shot_videos import drop_frames_filter, index_frame, write_video
from vggt4d.io.footage import read_footage


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
    for number, plate in zip(footage.frame_numbers, footage.frames, strict=True):
        assert plate.shape == shown[number].shape
        assert np.abs(plate.astype(int) - shown[number]).max() <= 3, number
