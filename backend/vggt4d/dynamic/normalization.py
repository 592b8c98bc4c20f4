"""Per-frame min-max normalisation shared by the cue and clustering stages."""

from __future__ import annotations

import torch

NORM_EPS = 1e-6


def min_max_per_frame(values: torch.Tensor) -> torch.Tensor:
    """``(a - min) / (max - min + 1e-6)`` over each frame's tokens; values [S, ...].

    The eps keeps constant frames finite (they map to 0) instead of dividing by zero.
    """
    flat = values.reshape(values.shape[0], -1)
    low = flat.min(dim=1, keepdim=True).values
    high = flat.max(dim=1, keepdim=True).values
    return ((flat - low) / (high - low + NORM_EPS)).reshape(values.shape)
