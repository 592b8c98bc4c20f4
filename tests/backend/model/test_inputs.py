"""Bad images are refused with a sentence that says what is wrong."""

import pytest
import torch

from vggt4d.errors import InputError
from vggt4d.model import VGGT


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (torch.rand(2, 3, 28, 30), "multiples of 14"),
        (torch.rand(3, 28, 28), r"\[S, 3, H, W\]"),
        (torch.rand(1, 1, 2, 3, 28, 28), r"\[S, 3, H, W\]"),
        (torch.rand(2, 4, 28, 28), "3 colour channels"),
        (torch.rand(2, 3, 28, 28) * 255, r"\[0, 1\]"),
        (torch.rand(2, 3, 28, 28) - 0.5, r"\[0, 1\]"),
        (torch.full((2, 3, 28, 28), float("nan")), r"\[0, 1\]"),
        (torch.zeros(2, 3, 28, 28, dtype=torch.uint8), "floating point"),
        (torch.rand(0, 3, 28, 28), "at least one frame"),
    ],
)
def test_bad_images_raise_input_error(tiny_model: VGGT, images: torch.Tensor, message: str) -> None:
    with pytest.raises(InputError, match=message):
        tiny_model(images)


def test_unknown_head_name_is_refused(tiny_model: VGGT) -> None:
    with pytest.raises(ValueError, match="unknown heads"):
        tiny_model(torch.rand(1, 3, 28, 28), heads=("camera", "track"))
