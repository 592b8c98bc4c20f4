"""Which dtype the aggregator runs in: the official practice, as one small function."""

from __future__ import annotations

import torch


def autocast_dtype(device: torch.device | str) -> torch.dtype:
    """bfloat16 on CUDA with compute capability >= 8, float16 on older CUDA, float32 elsewhere.

    Weights stay float32; only the aggregator runs under autocast, the heads run in float32.
    """
    device = torch.device(device)
    if device.type != "cuda":
        return torch.float32
    major, _ = torch.cuda.get_device_capability(device)
    return torch.bfloat16 if major >= 8 else torch.float16
