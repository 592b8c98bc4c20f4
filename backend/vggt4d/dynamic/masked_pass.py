"""Pass 2: remove dynamic patch tokens from keys and values in the early attention blocks.

docs/vggt4d.md, stage `pass2` (released code): a patch is dynamic when any of its pixels is in
the coarse mask (max-pool 14x14 > 0.5); in AA blocks 0-4, frame and global attention alike,
every query attends only to the other tokens. The 5 special tokens of each frame always stay, so
no query is left without keys."""

from __future__ import annotations

from collections.abc import Collection

import torch
import torch.nn.functional as F

from vggt4d.model.hooks import AttentionHooks, AttentionSite


def dynamic_patches(masks: torch.Tensor, patch_size: int = 14) -> torch.Tensor:
    """bool [S, h*w] (row-major): patches with at least one dynamic pixel.

    masks: bool [S, H, W] at model resolution (H, W multiples of ``patch_size``).
    """
    pooled = F.max_pool2d(masks.float()[:, None], patch_size, patch_size)
    return (pooled > 0.5).flatten(1)


def token_keep_mask(
    masks: torch.Tensor, patch_size: int = 14, special_tokens: int = 5
) -> torch.Tensor:
    """bool [S, special + h*w], True = the token stays a key/value (special tokens always do)."""
    dynamic = dynamic_patches(masks, patch_size)
    special = torch.ones(dynamic.shape[0], special_tokens, dtype=torch.bool, device=dynamic.device)
    return torch.cat([special, ~dynamic], dim=1)


class MaskedAttentionHooks(AttentionHooks):
    """Hands the model the key-keep mask in the masked blocks and nothing elsewhere."""

    def __init__(self, keep: torch.Tensor, blocks: Collection[int]) -> None:
        super().__init__()
        self.keep = keep
        self.blocks = frozenset(blocks)

    def key_keep_mask(self, site: AttentionSite) -> torch.Tensor | None:
        return self.keep if site.layer in self.blocks else None
