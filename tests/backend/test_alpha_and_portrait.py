"""Plates with alpha and tall plates, through a real job on the tiny weights: transparent pixels
and padding give no points, transparent pixels are masked in pass 2 but are not movers, in one
pass and in chunks, from RGBA image sequences and from video with alpha; premultiplied EXR
alpha is read."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.backend.io.shot_videos import write_alpha_video
from vggt4d import pipeline
from vggt4d.io.bundle import read_bundle
from vggt4d.io.footage import read_footage
from vggt4d.job import JobOptions, run_job

STRIP_FRAMES, STRIP_CUT = 8, 200  # thin RGBA plates: columns from STRIP_CUT on are cut out


def _texture(height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = (rng.random((height // 4, width // 4, 3)) * 200).astype(np.uint8)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


def _white_share(colors: np.ndarray) -> float:
    return float((colors >= 250).all(axis=1).mean()) if len(colors) else 0.0


def _run(footage: str, output: Path, weights: Path) -> tuple[object, list[str]]:
    logs: list[tuple[str, str]] = []
    options = JobOptions(weights=str(weights), confidence_percentile=0.0)
    bundle = run_job(footage, output, options, log=lambda level, text: logs.append((level, text)))
    return read_bundle(bundle), [text for _level, text in logs]


def _cutout_plates(directory: Path) -> str:
    """Three RGBA frames whose right half is fully transparent (alpha 0)."""
    directory.mkdir()
    for number in range(1, 4):
        rgba = np.dstack([_texture(56, 296, number), np.full((56, 296), 255, np.uint8)])
        rgba[:, 148:, 3] = 0  # the right half is cut out
        assert cv2.imwrite(str(directory / f"cutout.{number:04d}.png"), rgba)
    return str(directory / "cutout.####.png")


def test_transparent_half_gives_no_points_and_is_no_mover(tmp_path: Path, tiny_weights: Path):
    footage = _cutout_plates(tmp_path / "plates")
    data, logs = _run(footage, tmp_path / "cutout.vggt4d", tiny_weights)
    assert any("50% of the plate is transparent" in text for text in logs)
    assert _white_share(data.static_colors) == 0.0
    assert _white_share(data.dynamic_colors) == 0.0
    assert len(data.static_points) > 0
    # not a mover: neither mask (the matte the add-on shows) touches the cut-out half
    assert not data.refined_masks[:, :, 148:].any()
    assert not data.coarse_masks[:, :, 148:].any()


def test_portrait_plate_is_reconstructed_whole_without_padding_points(
    tmp_path: Path, tiny_weights: Path
):
    plates = tmp_path / "portrait"
    plates.mkdir()
    for number in range(1, 4):
        cv2.imwrite(str(plates / f"phone.{number:04d}.png"), _texture(160, 90, number))
    data, logs = _run(str(plates / "phone.####.png"), tmp_path / "phone.vggt4d", tiny_weights)
    assert data.preprocess_mode == "pad"  # the default keeps the whole plate
    assert not any("Crop mode leaves" in text for text in logs)
    assert data.plate_to_model["offset_y"] == 0.0 and data.plate_to_model["offset_x"] > 0
    assert _white_share(data.static_colors) == 0.0  # the white padding gives no points


def test_premultiplied_exr_alpha_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENCV_IO_ENABLE_OPENEXR", "1")  # for writing the fixture
    rgba = np.zeros((32, 48, 4), np.float32)
    rgba[:, :24] = (0.2, 0.2, 0.2, 1.0)  # opaque grey on the left (BGRA order)
    rgba[:, 24:] = (0.05, 0.05, 0.05, 0.25)  # premultiplied, mostly transparent on the right
    assert cv2.imwrite(str(tmp_path / "render.0001.exr"), rgba)
    footage = read_footage(tmp_path / "render.0001.exr")
    assert footage.transparent is not None
    assert footage.transparent[0][:, 24:].all() and not footage.transparent[0][:, :24].any()
    left, right = footage.frames[0][0, 0], footage.frames[0][0, 40]
    assert tuple(left) == (124, 124, 124)  # linear 0.2 in sRGB
    # premultiplied over white: 0.05 + (1 - 0.25) = 0.8 linear
    assert tuple(right) == (231, 231, 231)


def _strip_frames() -> list[np.ndarray]:
    """Thin RGBA frames (16x296: a 518x28 model input, cheap) with a transparent right third."""
    frames = []
    for number in range(1, STRIP_FRAMES + 1):
        rgba = np.dstack([_texture(16, 296, number), np.full((16, 296), 255, np.uint8)])
        rgba[:, STRIP_CUT:, 3] = 0
        frames.append(rgba)
    return frames


def _run_recording(
    footage: str, output: Path, weights: Path, monkeypatch: pytest.MonkeyPatch, **options
) -> tuple[object, list[str], list[np.ndarray]]:
    """A job without camera solve; also what each VGGT4D pass got as transparent pixels."""
    passes: list[np.ndarray] = []
    reconstruct = pipeline.reconstruct

    def recording(*args, transparent=None, **kwargs):
        passes.append(transparent)
        return reconstruct(*args, transparent=transparent, **kwargs)

    logs: list[str] = []
    job = JobOptions(weights=str(weights), confidence_percentile=0.0, solve=None, **options)
    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "reconstruct", recording)
        bundle = run_job(footage, output, job, log=lambda _level, text: logs.append(text))
    return read_bundle(bundle), logs, passes


def _check_cut_out(data, logs: list[str]) -> None:
    """No point on the cut-out (composited white), no mover there, and the user is told."""
    assert any("32% of the plate is transparent" in text for text in logs)
    assert len(data.static_points) > 0
    assert _white_share(data.static_colors) == 0.0
    assert _white_share(data.dynamic_colors) == 0.0
    assert not data.refined_masks[:, :, STRIP_CUT:].any()
    assert not data.coarse_masks[:, :, STRIP_CUT:].any()


def test_chunked_rgba_sequence_honours_alpha_like_one_pass(
    tmp_path: Path, tiny_weights: Path, monkeypatch: pytest.MonkeyPatch
):
    plates = tmp_path / "plates"
    plates.mkdir()
    for number, rgba in enumerate(_strip_frames(), start=1):
        assert cv2.imwrite(str(plates / f"strip.{number:04d}.png"), rgba)
    footage = str(plates / "strip.####.png")
    chunked, chunked_logs, chunk_passes = _run_recording(
        footage, tmp_path / "chunked.vggt4d", tiny_weights, monkeypatch, chunk_size=4, overlap=2
    )
    single, single_logs, (single_pass,) = _run_recording(
        footage, tmp_path / "single.vggt4d", tiny_weights, monkeypatch
    )
    assert single.chunking is None
    spans = [(c["first_frame"], c["last_frame"]) for c in chunked.chunking["chunks"]]
    assert spans == [(1, 4), (3, 6), (5, 8)]
    # every chunk's passes mask exactly the one-pass run's transparent pixels of its frames
    assert single_pass is not None and single_pass[:, :, -100:].all()
    for (first, last), transparent in zip(spans, chunk_passes, strict=True):
        assert np.array_equal(transparent, single_pass[first - 1 : last])
    for data, logs in ((chunked, chunked_logs), (single, single_logs)):
        _check_cut_out(data, logs)


def test_chunked_video_with_alpha_honours_it(
    tmp_path: Path, tiny_weights: Path, monkeypatch: pytest.MonkeyPatch
):
    frames = _strip_frames()
    for rgba in frames:
        rgba[:, STRIP_CUT:, :3] = (255, 0, 255)  # magenta under alpha 0: never in the points
    video = write_alpha_video(tmp_path / "strip", frames, "prores_4444")
    data, logs, passes = _run_recording(
        str(video), tmp_path / "strip.vggt4d", tiny_weights, monkeypatch, chunk_size=4, overlap=2
    )
    assert len(data.chunking["chunks"]) == 3 and len(passes) == 3
    assert all(transparent is not None and transparent[:, :, -100:].all() for transparent in passes)
    _check_cut_out(data, logs)
    for colors in (data.static_colors, data.dynamic_colors):
        assert not ((colors[:, 0] > 245) & (colors[:, 1] < 10) & (colors[:, 2] > 245)).any()
