"""The numpy PNG writer reads back bit-exact with an independent decoder (Pillow)."""

import numpy as np
import pytest
from PIL import Image

from vggt4d_blender.jobs.png import write_grey_png


def test_bool_mask_round_trips_as_0_255_grey(tmp_path):
    rng = np.random.default_rng(0)
    mask = rng.random((37, 53)) > 0.5
    path = write_grey_png(tmp_path / "mask.000001.png", mask)
    with Image.open(path) as image:
        assert image.mode == "L" and image.size == (53, 37)
        np.testing.assert_array_equal(np.asarray(image), mask.astype(np.uint8) * 255)


def test_rejects_colour_images(tmp_path):
    with pytest.raises(ValueError, match="uint8 or bool"):
        write_grey_png(tmp_path / "x.png", np.zeros((4, 4, 3), dtype=np.uint8))
