"""Videos as artists shoot them: phone rotation, variable frame rate, anamorphic pixels, clips
starting at 1001 and damaged files, on real files written by the ffmpeg binary."""

import numpy as np
import pytest

from tests.backend.io.shot_videos import (
    drop_frames_filter,
    frame_index,
    index_frame,
    write_video,
)
from vggt4d.io.footage import FrameRange, read_footage
from vggt4d.preprocess import preprocess_frames, resolve_mode, unseen_rows


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_rotated_phone_video_comes_out_upright(tmp_path, rotation):
    frames = [index_frame(index) for index in range(4)]
    path = write_video(tmp_path / "phone.mp4", frames, rotation=rotation)
    footage = read_footage(path)
    turns = (rotation // 90) % 4
    assert footage.rotation == 90 * turns
    upright = np.rot90(frames[2], turns)
    assert (footage.width, footage.height) == (upright.shape[1], upright.shape[0])
    assert np.abs(footage.frames[2].astype(int) - upright).max() <= 2
    source = footage.source_record(tmp_path / "shot.vggt4d")
    assert source["rotation"] == 90 * turns


def test_variable_frame_rate_is_numbered_by_timestamp(tmp_path):
    frames = [index_frame(index) for index in range(12)]
    dropped = [2, 5, 6]
    path = write_video(tmp_path / "vfr.mp4", frames, filters=drop_frames_filter(dropped))
    footage = read_footage(path)
    kept = [index for index in range(12) if index not in dropped]
    assert footage.frame_numbers == [1 + index for index in kept]  # Blender's numbers
    assert [frame_index(frame) for frame in footage.frames] == kept
    assert footage.timestamps == pytest.approx([index / 24 for index in kept], abs=1e-4)
    assert footage.variable_rate and footage.fps == 24.0
    assert len(footage.warnings) == 1 and "variable frame rate" in footage.warnings[0]
    source = footage.source_record(tmp_path / "shot.vggt4d")
    assert source["variable_frame_rate"] is True
    assert source["timestamps"] == pytest.approx([index / 24 for index in kept], abs=1e-4)


def test_constant_rate_video_says_nothing(tmp_path):
    path = write_video(tmp_path / "cfr.mp4", [index_frame(index) for index in range(5)])
    footage = read_footage(path)
    assert footage.frame_numbers == [1, 2, 3, 4, 5]
    assert not footage.variable_rate and footage.warnings == []


def test_movie_clip_starting_at_1001_keeps_its_numbers(tmp_path):
    path = write_video(tmp_path / "clip.mp4", [index_frame(index) for index in range(6)])
    footage = read_footage(path, FrameRange(1002, 1004), first_video_frame=1001)
    assert footage.frame_numbers == [1002, 1003, 1004]
    assert [frame_index(frame) for frame in footage.frames] == [1, 2, 3]
    assert footage.source_record(tmp_path / "b.vggt4d")["frame_start"] == 1001


def test_anamorphic_video_is_desqueezed_for_the_model(tmp_path):
    frames = [index_frame(index, width=96, height=64) for index in range(3)]
    path = write_video(tmp_path / "anamorphic.mp4", frames, filters="setsar=2/1")
    footage = read_footage(path)
    assert footage.pixel_aspect == 2.0 and (footage.width, footage.height) == (96, 64)
    images, mapping = preprocess_frames(footage.frames, "crop", footage.pixel_aspect)
    # the display picture is 192x64 (3:1): the model image keeps that shape
    assert images.shape[-1] == 518 and images.shape[-2] == round(64 * 518 / 192 / 14) * 14
    assert mapping.scale_x / mapping.scale_y == pytest.approx(2.0, rel=0.05)


def test_portrait_plate_is_padded_by_default_and_crop_reports_the_cut():
    portrait = [np.full((160, 90, 3), 128, np.uint8)]
    assert resolve_mode("auto", 90, 160) == "pad"
    assert resolve_mode("auto", 160, 90) == "crop"
    _images, padded = preprocess_frames(portrait)
    assert unseen_rows(padded) == (0, 0)
    _images, cropped = preprocess_frames(portrait, "crop")
    top, bottom = unseen_rows(cropped)
    assert top + bottom == pytest.approx(0.44 * 160, abs=2)


def test_damaged_video_warns_once_without_ffmpeg_noise(tmp_path, capfd):
    frames = [index_frame(index % 12) for index in range(48)]
    path = write_video(tmp_path / "damaged.mp4", frames)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 2000] = bytes(range(256)) * 7 + bytes(208)
    path.write_bytes(bytes(data))
    capfd.readouterr()
    footage = read_footage(path)
    captured = capfd.readouterr()
    numbers = footage.frame_numbers
    assert 10 < len(numbers) < 48
    # every frame kept is the right picture (none concealed from broken references)
    assert [frame_index(frame) for frame in footage.frames] == [(n - 1) % 12 for n in numbers]
    assert captured.err == "" and captured.out == ""  # no FFmpeg decoder lines
    assert len(footage.warnings) == 1 and "damaged" in footage.warnings[0]


def test_footage_paths_are_stored_normalised(tmp_path, monkeypatch):
    """`../in/shot.mp4` from another folder: the manifest keeps a clean absolute path and the
    path relative to the bundle, with no `..` left in the absolute one."""
    (tmp_path / "in").mkdir()
    (tmp_path / "work").mkdir()
    write_video(tmp_path / "in" / "shot.mp4", [index_frame(index) for index in range(2)])
    monkeypatch.chdir(tmp_path / "work")
    source = read_footage("../in/shot.mp4").source_record("../out/shot.vggt4d")
    assert source["path"] == str(tmp_path / "in" / "shot.mp4")
    assert source["path_relative_to_bundle"] == "../../in/shot.mp4"
