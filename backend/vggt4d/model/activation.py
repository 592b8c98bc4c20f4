"""The output activations the heads' configs name (``trans_act``, ``activation``, ...)."""

from __future__ import annotations

import torch
from torch import Tensor


def activate(x: Tensor, kind: str) -> Tensor:
    """Apply the activation a head config names; ``inv_log`` is sign(x) * (e^|x| - 1)."""
    if kind == "linear":
        return x
    if kind == "relu":
        return torch.relu(x)
    if kind == "exp":
        return torch.exp(x)
    if kind == "expp1":
        return 1 + torch.exp(x)
    if kind == "inv_log":
        return torch.sign(x) * torch.expm1(x.abs())
    raise ValueError(f"unknown head activation {kind!r}")
