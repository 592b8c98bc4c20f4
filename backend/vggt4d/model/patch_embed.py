"""DINOv2 ViT with register tokens, used by the aggregator as its patch embedding.

Token order per image is ``[cls, registers, patches]``. The learned position embedding covers
``cls`` and a square patch grid (37x37 for 518 px); for any other input size the grid is
resized with bicubic interpolation **with antialias** to an explicit output size (VGGT builds
DINOv2 with ``interpolate_offset=0`` and ``interpolate_antialias=True``, not the hub defaults),
in float32. Registers are inserted after the position embedding is added, so they get none.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vggt4d.model.config import PatchEmbedConfig
from vggt4d.model.layers import Block


class ConvPatchEmbed(nn.Module):
    """Non-overlapping patch projection; key ``patch_embed.patch_embed.proj``."""

    def __init__(self, patch_size: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, images: Tensor) -> Tensor:
        """images: [N, 3, H, W] -> tokens [N, h*w, C], row-major over the patch grid."""
        return self.proj(images).flatten(2).transpose(1, 2)


class DinoV2PatchEmbed(nn.Module):
    """DINOv2-reg backbone returning the final-normed patch tokens (``x_norm_patchtokens``)."""

    def __init__(
        self, config: PatchEmbedConfig, img_size: int, patch_size: int, embed_dim: int
    ) -> None:
        super().__init__()
        self.config = config
        grid = img_size // patch_size
        self.patch_embed = ConvPatchEmbed(patch_size, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + grid * grid, embed_dim))
        self.register_tokens = nn.Parameter(torch.zeros(1, config.num_register_tokens, embed_dim))
        # Unused at inference but part of the checkpoint (DINOv2's masked-token training).
        self.mask_token = nn.Parameter(torch.zeros(1, embed_dim))
        self.blocks = nn.ModuleList(
            Block(
                embed_dim,
                config.num_heads,
                config.mlp_ratio,
                config.layerscale_init,
                config.norm_eps,
                qkv_bias=config.qkv_bias,
                proj_bias=config.proj_bias,
                ffn_bias=config.ffn_bias,
            )
            for _ in range(config.depth)
        )
        self.norm = nn.LayerNorm(embed_dim, eps=config.norm_eps)

    def _position_embedding(self, grid_h: int, grid_w: int, dtype: torch.dtype) -> Tensor:
        """Position embedding [1, 1 + grid_h*grid_w, C] for a grid_h x grid_w patch grid."""
        stored = self.pos_embed.shape[1] - 1
        side = math.isqrt(stored)
        if grid_h == grid_w == side:
            return self.pos_embed.to(dtype)
        cls_part = self.pos_embed[:, :1]
        patch_part = self.pos_embed[:, 1:].float().reshape(1, side, side, -1).permute(0, 3, 1, 2)
        offset = self.config.interpolate_offset
        if offset:
            scale = ((grid_h + offset) / side, (grid_w + offset) / side)
            resized = F.interpolate(
                patch_part,
                scale_factor=scale,
                mode="bicubic",
                antialias=self.config.interpolate_antialias,
            )
        else:
            resized = F.interpolate(
                patch_part,
                size=(grid_h, grid_w),
                mode="bicubic",
                antialias=self.config.interpolate_antialias,
            )
        patch_part = resized.permute(0, 2, 3, 1).reshape(1, grid_h * grid_w, -1)
        return torch.cat((cls_part.float(), patch_part), dim=1).to(dtype)

    def forward(self, images: Tensor) -> Tensor:
        """images: normalised [N, 3, H, W] -> patch tokens [N, h*w, C]."""
        N, _, H, W = images.shape
        patch_size = self.patch_embed.proj.kernel_size[0]
        x = self.patch_embed(images)
        x = torch.cat((self.cls_token.expand(N, -1, -1), x), dim=1)
        x = x + self._position_embedding(H // patch_size, W // patch_size, x.dtype)
        registers = self.register_tokens.expand(N, -1, -1)
        x = torch.cat((x[:, :1], registers, x[:, 1:]), dim=1)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)[:, 1 + self.register_tokens.shape[1] :]
