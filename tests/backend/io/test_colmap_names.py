"""COLMAP exports name images after the plate files, so pycolmap finds them; a video's frames
are written under those names; TUM keeps a variable-rate video's real timestamps."""

from pathlib import Path

import cv2
import numpy as np
import pycolmap
import pytest

from tests.backend.conftest import make_bundle_data
from tests.backend.io.shot_videos import drop_frames_filter, index_frame, write_video
from vggt4d.io.exports import export_colmap, export_tum
from vggt4d.io.footage import read_footage


def _bundle_for(footage, tmp_path: Path):
    data = make_bundle_data(frames=len(footage.frames), plate=(footage.width, footage.height))
    data.frames = list(footage.frame_numbers)
    data.source = footage.source_record(tmp_path / "shot.vggt4d")
    return data


def _undistort(model: Path, images: Path, output: Path) -> list[str]:
    pycolmap.undistort_images(output, model, images)
    return sorted(path.name for path in (output / "images").iterdir())


def test_sequence_export_uses_the_plate_file_names(tmp_path: Path) -> None:
    plates = tmp_path / "plates"
    plates.mkdir()
    for number in (1001, 1002, 1003, 1004):
        cv2.imwrite(str(plates / f"plate.{number:04d}.png"), index_frame(number % 10, 64, 48))
    footage = read_footage(plates / "plate.####.png")
    data = _bundle_for(footage, tmp_path)
    model = export_colmap(data, tmp_path / "colmap")
    reconstruction = pycolmap.Reconstruction(model)
    names = sorted(image.name for image in reconstruction.images.values())
    assert names == ["plate.1001.png", "plate.1002.png", "plate.1003.png", "plate.1004.png"]
    assert _undistort(model, plates, tmp_path / "dense") == names


def test_video_export_writes_the_frames_under_the_model_names(tmp_path: Path) -> None:
    frames = [index_frame(index) for index in range(8)]
    video = write_video(tmp_path / "shot.mp4", frames, filters=drop_frames_filter([3]))
    footage = read_footage(video)
    data = _bundle_for(footage, tmp_path)
    model = export_colmap(data, tmp_path / "colmap", write_images=True)
    reconstruction = pycolmap.Reconstruction(model)
    names = sorted(image.name for image in reconstruction.images.values())
    assert names == [f"shot.{number:06d}.png" for number in footage.frame_numbers]
    written = cv2.imread(str(model / "images" / names[4]))[..., ::-1]
    assert np.abs(written.astype(int) - footage.frames[4]).max() <= 1
    assert _undistort(model, model / "images", tmp_path / "dense") == names


def test_tum_uses_the_real_timestamps_of_a_variable_rate_video(tmp_path: Path) -> None:
    frames = [index_frame(index) for index in range(10)]
    video = write_video(tmp_path / "vfr.mp4", frames, filters=drop_frames_filter([2, 5, 6]))
    footage = read_footage(video)
    data = _bundle_for(footage, tmp_path)
    data.fps = 30.0  # a wrong nominal rate must not leak into the timestamps
    lines = export_tum(data, tmp_path / "trajectory.txt").read_text().splitlines()[1:]
    stamps = [float(line.split()[0]) for line in lines]
    assert stamps == pytest.approx([index / 24 for index in (0, 1, 3, 4, 7, 8, 9)], abs=1e-5)
