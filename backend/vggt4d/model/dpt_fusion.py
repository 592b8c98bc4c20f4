"""DPT fusion pieces (``scratch.*`` keys): residual conv units, fusion blocks, UV embedding."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ResidualConvUnit(nn.Module):
    """``relu -> conv3x3 -> relu -> conv3x3`` plus a skip.

    The official unit applies an in-place ReLU to its input first, so the skip adds
    ``relu(x)``, not ``x``; we keep that on purpose (missing it changes results massively).
    """

    def __init__(self, features: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, 3, padding=1)
        self.conv2 = nn.Conv2d(features, features, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.relu(x)
        return self.conv2(torch.relu(self.conv1(x))) + x


class FeatureFusionBlock(nn.Module):
    """``prev + RCU1(skip)`` (when it has a skip), RCU2, bilinear resize, 1x1 ``out_conv``.

    Resizes use ``align_corners=True`` like the official head; with no size the map doubles.
    """

    def __init__(self, features: int, has_residual: bool = True) -> None:
        super().__init__()
        if has_residual:
            self.resConfUnit1 = ResidualConvUnit(features)
        self.resConfUnit2 = ResidualConvUnit(features)
        self.out_conv = nn.Conv2d(features, features, 1)

    def forward(
        self, previous: Tensor, skip: Tensor | None = None, size: tuple[int, int] | None = None
    ) -> Tensor:
        x = previous if skip is None else previous + self.resConfUnit1(skip)
        x = self.resConfUnit2(x)
        if size is None:
            size = (x.shape[-2] * 2, x.shape[-1] * 2)
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=True)
        return self.out_conv(x)


def uv_embedding(channels: int, height: int, width: int, aspect: float, like: Tensor) -> Tensor:
    """Sin/cos embedding [channels, height, width] of a centred UV grid.

    x spans +-aspect/sqrt(aspect^2+1) * (width-1)/width, y spans +-1/sqrt(aspect^2+1) *
    (height-1)/height; channels are ``[sin(x w), cos(x w), sin(y w), cos(y w)]`` with
    ``w_k = 100 ** (-k / (channels/4))`` computed in float64 and cast to float32.
    """
    diagonal = (aspect**2 + 1.0) ** 0.5
    span_x = aspect / diagonal * (width - 1) / width
    span_y = 1.0 / diagonal * (height - 1) / height
    x = torch.linspace(-span_x, span_x, width, dtype=like.dtype, device=like.device)
    y = torch.linspace(-span_y, span_y, height, dtype=like.dtype, device=like.device)
    quarter = channels // 4
    omega = torch.arange(quarter, dtype=torch.float64, device=like.device) / quarter
    omega = (1.0 / 100.0**omega).to(like.dtype)
    angle_x = x[:, None] * omega[None, :]  # [width, quarter]
    angle_y = y[:, None] * omega[None, :]  # [height, quarter]
    embed_x = torch.cat((angle_x.sin(), angle_x.cos()), dim=-1).T[:, None, :]
    embed_y = torch.cat((angle_y.sin(), angle_y.cos()), dim=-1).T[:, :, None]
    return torch.cat(
        (embed_x.expand(-1, height, -1), embed_y.expand(-1, -1, width)), dim=0
    ).contiguous()
