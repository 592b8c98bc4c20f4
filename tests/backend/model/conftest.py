"""Fixtures shared by the model tests: the tiny reference models and their recorded cases."""

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from vggt4d.model import VGGT


def _load(directory: Path) -> VGGT:
    model = VGGT.from_config(directory / "config.json").eval()
    model.load_state_dict(load_file(directory / "weights.safetensors"))
    return model


@pytest.fixture(scope="session")
def tiny_model(fixtures_dir: Path) -> VGGT:
    return _load(fixtures_dir / "tiny_vggt")


@pytest.fixture(scope="session")
def tiny_case(fixtures_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(fixtures_dir / "tiny_vggt" / "case_a.safetensors")


@pytest.fixture(scope="session")
def tiny4d_model(fixtures_dir: Path) -> VGGT:
    return _load(fixtures_dir / "tiny_vggt4d")


@pytest.fixture(scope="session")
def tiny4d_case(fixtures_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(fixtures_dir / "tiny_vggt4d" / "case.safetensors")
