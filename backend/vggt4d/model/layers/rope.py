"""2-D rotary position embedding as VGGT applies it to q and k (after QK-norm).

Head dimensions are split in two halves: the first is rotated by the patch row y, the second by
the patch column x. Within a half of size D', frequencies are ``base ** (-2k / D')``, the angle
vector is duplicated ``[theta, theta]`` and the rotation is the rotate-half form
``x * cos + [-x2, x1] * sin`` (not interleaved pairs). Positions are ``(row + 1, col + 1)``; the
special tokens sit at ``(0, 0)``, so their rotation is the identity. Global attention reuses each
frame's own grid: there is no time index.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class RopeTables:
    """Cosine and sine of the rotation angle per token and head channel, float32 [N, head_dim]."""

    cos: Tensor
    sin: Tensor

    def repeat_frames(self, num_frames: int) -> RopeTables:
        """Tables for ``num_frames`` frames concatenated frame-major (global attention)."""
        return RopeTables(self.cos.repeat(num_frames, 1), self.sin.repeat(num_frames, 1))


def _axis_angles(positions: Tensor, half_dim: int, base: float) -> Tensor:
    exponents = torch.arange(0, half_dim, 2, device=positions.device).float() / half_dim
    inverse_frequency = 1.0 / (base**exponents)
    angles = positions.float()[:, None] * inverse_frequency[None, :]
    return torch.cat((angles, angles), dim=-1)


def frame_rope_tables(
    grid_h: int,
    grid_w: int,
    num_special: int,
    head_dim: int,
    base: float,
    device: torch.device | None = None,
) -> RopeTables:
    """Tables for one frame: ``num_special`` tokens at (0, 0), then the patch grid row-major."""
    rows = torch.arange(grid_h, device=device).repeat_interleave(grid_w) + 1
    cols = torch.arange(grid_w, device=device).repeat(grid_h) + 1
    special = torch.zeros(num_special, dtype=rows.dtype, device=device)
    rows = torch.cat((special, rows))
    cols = torch.cat((special, cols))
    half = head_dim // 2
    angles = torch.cat((_axis_angles(rows, half, base), _axis_angles(cols, half, base)), dim=-1)
    return RopeTables(angles.cos(), angles.sin())


def _rotate_halves(x: Tensor) -> Tensor:
    """Within each axis half ``[x1, x2]`` return ``[-x2, x1]``."""
    quarters = x.unflatten(-1, (2, 2, x.shape[-1] // 4))
    first, second = quarters.unbind(dim=-2)
    return torch.stack((-second, first), dim=-2).flatten(-3)


def apply_rope(x: Tensor, tables: RopeTables) -> Tensor:
    """Rotate ``x`` [B', heads, N, head_dim] with tables [N, head_dim]."""
    cos = tables.cos.to(x.dtype)
    sin = tables.sin.to(x.dtype)
    return x * cos + _rotate_halves(x) * sin
