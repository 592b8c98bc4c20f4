"""Plates with alpha and tall plates, through a real job on the tiny weights: transparent pixels
and padding give no points, transparent pixels are masked in pass 2 but are not movers,
premultiplied EXR alpha is read."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from vggt4d.io.bundle import read_bundle
from vggt4d.io.footage import read_footage
from vggt4d.job import JobOptions, run_job


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
