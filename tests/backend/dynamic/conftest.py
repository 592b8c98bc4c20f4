"""Fixtures for the VGGT4D stage tests: the official reference case of tiny_vggt4d."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

CASE_DIR = Path(__file__).parents[2] / "fixtures" / "tiny_vggt4d"


@pytest.fixture(scope="session")
def case() -> dict[str, torch.Tensor]:
    """Every tensor of case.safetensors (official fp32 outputs of each stage)."""
    return load_file(CASE_DIR / "case.safetensors")


@pytest.fixture(scope="session")
def case_meta() -> dict:
    return json.loads((CASE_DIR / "case_meta.json").read_text())


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks (1.0 when both are empty)."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


@pytest.fixture(scope="session")
def tiny_model():
    """The tiny 24-block VGGT of the reference case, fp32, eval mode."""
    from vggt4d.model import VGGT

    model = VGGT.from_config(CASE_DIR / "config.json")
    model.load_checkpoint_state(load_file(CASE_DIR / "weights.safetensors"))
    return model.eval()
