"""Per-channel residual-branch scale (``ls1.gamma`` / ``ls2.gamma`` in the checkpoint)."""

import torch
from torch import Tensor, nn


class LayerScale(nn.Module):
    """Multiply a residual branch by a learned vector; the init value only matters for training."""

    def __init__(self, dim: int, init_value: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), init_value))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gamma
