"""Preprocessing matches the official loader bit for bit; the plate mapping matches the pixels."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from vggt4d.errors import InputError
from vggt4d.preprocess import (
    PlateMapping,
    load_and_preprocess_images,
    preprocess_frames,
    preprocess_with_mappings,
)

LANDSCAPE = "landscape_160x100.png"
PORTRAIT = "portrait_90x150_rgba.png"


@pytest.fixture(scope="module")
def reference(fixtures_dir):
    return load_file(fixtures_dir / "preprocess" / "preprocess_ref.safetensors")


@pytest.mark.parametrize(
    ("key", "names", "mode"),
    [
        ("crop_landscape_only_u8", [LANDSCAPE], "crop"),
        ("crop_landscape_portrait_u8", [LANDSCAPE, PORTRAIT], "crop"),
        ("pad_landscape_portrait_u8", [LANDSCAPE, PORTRAIT], "pad"),
    ],
)
def test_official_loader_is_reproduced_exactly(fixtures_dir, reference, key, names, mode):
    paths = [fixtures_dir / "preprocess" / name for name in names]
    images = load_and_preprocess_images(paths, mode)
    expected = reference[key].float() / 255
    assert images.dtype == torch.float32
    assert images.shape == expected.shape
    assert torch.equal(images, expected)


def test_mixed_sizes_shift_the_mapping_by_the_common_padding(fixtures_dir):
    paths = [fixtures_dir / "preprocess" / name for name in (LANDSCAPE, PORTRAIT)]
    images, mappings = preprocess_with_mappings(paths, "crop")
    landscape = mappings[0]
    # 160x100 -> 518x322, padded to 518x518: 98 white rows above, 98 below.
    assert (landscape.model_width, landscape.model_height) == (518, 518)
    assert landscape.offset_y == 98
    assert torch.all(images[0, :, :98] == 1.0)
    assert torch.all(images[0, :, 98 + 322 :] == 1.0)
    # the portrait is cropped: 90x150 -> 518x868, rows 175..693 kept.
    assert mappings[1].offset_y == -175


def test_frames_match_the_file_loader(fixtures_dir, tmp_path):
    rgba = Image.open(fixtures_dir / "preprocess" / PORTRAIT)
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    frame = np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    Image.fromarray(frame).save(tmp_path / "frame.png")
    for mode in ("crop", "pad"):
        images, mapping = preprocess_frames([frame, frame], mode)
        expected = load_and_preprocess_images([tmp_path / "frame.png"] * 2, mode)
        assert torch.equal(images, expected)
        assert (mapping.plate_width, mapping.plate_height) == (90, 150)


def _blob_frame(width: int, height: int, centre: tuple[int, int]) -> np.ndarray:
    """A dark Gaussian blob on white (like the padding), centred on the plate pixel ``centre``."""
    ys, xs = np.mgrid[0:height, 0:width]
    blob = np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * 6.0**2))
    return np.repeat(255 - (blob * 255).round().astype(np.uint8)[..., None], 3, axis=2)


def _centroid(image: torch.Tensor) -> np.ndarray:
    """Darkness centroid of a [3, H, W] image in continuous coordinates (centres at i + 0.5)."""
    weight = 1.0 - image[0].double().numpy()
    weight = np.where(weight > 0.02, weight, 0.0)
    ys, xs = np.mgrid[0 : weight.shape[0], 0 : weight.shape[1]]
    total = weight.sum()
    return np.array([((xs + 0.5) * weight).sum() / total, ((ys + 0.5) * weight).sum() / total])


@pytest.mark.parametrize(
    ("width", "height", "mode", "centre"),
    [
        (320, 180, "crop", (70, 120)),
        (180, 320, "crop", (120, 200)),  # portrait: vertical crop offset
        (180, 320, "pad", (50, 90)),  # portrait: horizontal padding
        (320, 180, "pad", (250, 40)),
    ],
)
def test_plate_pixel_centre_maps_to_where_the_resize_puts_it(width, height, mode, centre):
    images, mapping = preprocess_frames([_blob_frame(width, height, centre)], mode)
    expected = mapping.points_to_model(np.array(centre) + 0.5)
    assert np.allclose(_centroid(images[0]), expected, atol=0.02)
    assert np.allclose(mapping.points_to_plate(expected), np.array(centre) + 0.5)


def _plate_camera(width: int, height: int) -> np.ndarray:
    return np.array([[0.9 * width, 0, width / 2], [0, 0.9 * width, height / 2], [0, 0, 1.0]])


def _model_view_half_extent(width: int, height: int, mode: str) -> tuple[float, float]:
    """Half width/height, in plate pixels, of what the model image shows (from first principles)."""
    if mode == "pad" and height > width:
        scale = 518 / height
        scale_x = round(width * scale / 14) * 14 / width
        scale_y = 518 / height
    else:
        scale_x = 518 / width
        scale_y = round(height * scale_x / 14) * 14 / height
    model_height = 518 if mode == "pad" else min(518, round(height * scale_y))
    return 259 / scale_x, model_height / 2 / scale_y


@pytest.mark.parametrize(
    ("width", "height", "mode"),
    [(1920, 1080, "crop"), (1080, 1920, "crop"), (1080, 1920, "pad"), (1920, 1080, "pad")],
)
def test_model_intrinsics_map_back_to_the_plate_camera(width, height, mode):
    mapping = preprocess_frames([np.zeros((height, width, 3), np.uint8)], mode)[1]
    plate_camera = _plate_camera(width, height)
    # What VGGT reports for this view: focal lengths from the field of view, centre (W/2, H/2).
    half_w, half_h = _model_view_half_extent(width, height, mode)
    fov_w = 2 * math.atan(half_w / plate_camera[0, 0])
    fov_h = 2 * math.atan(half_h / plate_camera[1, 1])
    model_w, model_h = mapping.model_width, mapping.model_height
    model_camera = np.array(
        [
            [(model_w / 2) / math.tan(fov_w / 2), 0, model_w / 2],
            [0, (model_h / 2) / math.tan(fov_h / 2), model_h / 2],
            [0, 0, 1],
        ]
    )
    batch = torch.tensor(np.stack([model_camera] * 3), dtype=torch.float32)
    assert np.abs(mapping.intrinsics_to_plate(model_camera) - plate_camera).max() < 1e-3
    assert np.abs(mapping.intrinsics_to_plate(batch) - plate_camera).max() < 1e-3 * width
    assert np.allclose(mapping.intrinsics_to_model(plate_camera), model_camera)


def _disc(width: int, height: int, radius: float) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width]
    return (xs + 0.5 - width / 2) ** 2 + (ys + 0.5 - height / 2) ** 2 < radius**2


def _iou(first: np.ndarray, second: np.ndarray) -> float:
    return (first & second).sum() / (first | second).sum()


@pytest.mark.parametrize(
    ("width", "height", "mode"),
    [(1280, 720, "crop"), (720, 1280, "crop"), (720, 1280, "pad"), (200, 150, "pad")],
)
def test_mask_round_trip_keeps_a_large_blob(width, height, mode):
    mapping = preprocess_frames([np.zeros((height, width, 3), np.uint8)], mode)[1]
    plate_mask = _disc(width, height, 0.3 * min(width, height))
    model_mask = mapping.mask_to_model(plate_mask)
    assert model_mask.shape == (mapping.model_height, mapping.model_width)
    assert model_mask.any() and not model_mask.all()
    back = mapping.mask_to_plate(model_mask)
    assert back.dtype == bool and back.shape == (height, width)
    assert _iou(back, plate_mask) > 0.95


def test_crop_turns_off_the_plate_outside_the_model_view():
    mapping = preprocess_frames([np.zeros((1280, 720, 3), np.uint8)], "crop")[1]
    on_plate = mapping.mask_to_plate(np.ones((518, 518), bool))
    # 720x1280 -> 518x924, rows 203..721 kept: plate rows [203, 721) / (924/1280).
    first, last = 203 / (924 / 1280), 721 / (924 / 1280)
    rows = np.flatnonzero(on_plate.any(axis=1))
    assert abs(rows[0] - first) <= 1 and abs(rows[-1] + 1 - last) <= 1
    assert on_plate[rows[0] : rows[-1] + 1].all()


def test_pad_keeps_the_padding_off():
    mapping = preprocess_frames([np.zeros((1280, 720, 3), np.uint8)], "pad")[1]
    on_model = mapping.mask_to_model(np.ones((1280, 720), bool))
    # 720x1280 -> 294x518, 112 white columns left and right.
    assert mapping.offset_x == 112
    assert not on_model[:, :112].any() and not on_model[:, 112 + 294 :].any()
    assert on_model[:, 112 : 112 + 294].all()


def test_mapping_round_trips_through_json():
    mapping = preprocess_frames([np.zeros((100, 160, 3), np.uint8)], "crop")[1]
    assert PlateMapping.from_dict(json.loads(json.dumps(mapping.to_dict()))) == mapping


def test_bad_input_is_refused():
    frame = np.zeros((100, 160, 3), np.uint8)
    with pytest.raises(InputError, match="one resolution"):
        preprocess_frames([frame, np.zeros((90, 160, 3), np.uint8)])
    with pytest.raises(InputError, match="uint8"):
        preprocess_frames([frame.astype(np.float32)])
    with pytest.raises(InputError, match="mode"):
        preprocess_frames([frame], "stretch")
    with pytest.raises(InputError, match="No frames"):
        preprocess_frames([])
    with pytest.raises(InputError, match="mask"):
        preprocess_frames([frame])[1].mask_to_plate(np.ones((10, 10), bool))
