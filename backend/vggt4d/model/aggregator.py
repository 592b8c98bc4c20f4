"""Alternating-attention aggregator: DINOv2 patch tokens + special tokens, frame/global blocks.

Per frame the tokens are ``[camera, registers x4, patches]``. The first frame of every sequence
gets its own camera/register tokens (index 0 of the size-2 axis), all other frames share index 1:
that is how frame 0 becomes the world frame. Block ``l`` is frame attention (within each image,
``[B*S, P, C]``) then global attention (all tokens of a sequence, ``[B, S*P, C]``). Output ``l``
is ``cat(frame_out_l, global_out_l)`` on channels, ``[B, S, P, 2C]``; only the layers a caller
asks for are kept, everything else is freed as the loop goes.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import partial

import torch
from torch import Tensor, nn

from vggt4d.model.config import VGGTConfig
from vggt4d.model.hooks import AttentionHooks, AttentionSite
from vggt4d.model.layers import Block, RopeTables, frame_rope_tables
from vggt4d.model.layers.attention import QKCallback
from vggt4d.model.patch_embed import ConvPatchEmbed, DinoV2PatchEmbed

# ImageNet statistics: the model normalises its [0, 1] input itself.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _first_frame_tokens(token: Tensor, B: int, S: int) -> Tensor:
    """token [1, 2, n, C] -> [B*S, n, C]: index 0 for frame 0 of each sequence, 1 for the rest."""
    first = token[:, :1].expand(B, 1, -1, -1)
    rest = token[:, 1:].expand(B, S - 1, -1, -1)
    return torch.cat((first, rest), dim=1).reshape(B * S, *token.shape[2:])


class Aggregator(nn.Module):
    """Keys ``aggregator.{patch_embed, camera_token, register_token, frame_blocks,
    global_blocks}``."""

    def __init__(self, config: VGGTConfig) -> None:
        super().__init__()
        settings = config.aggregator
        dim = config.embed_dim
        self.patch_size = config.patch_size
        self.patch_start_idx = settings.patch_start_idx
        self.rope_freq = settings.rope_freq
        self.head_dim = dim // settings.num_heads
        self.patch_embed: nn.Module = (
            ConvPatchEmbed(config.patch_size, dim)
            if config.patch_embed.kind == "conv"
            else DinoV2PatchEmbed(config.patch_embed, config.img_size, config.patch_size, dim)
        )
        self.camera_token = nn.Parameter(torch.zeros(1, 2, 1, dim))
        self.register_token = nn.Parameter(torch.zeros(1, 2, settings.num_register_tokens, dim))

        def make_block() -> Block:
            return Block(
                dim,
                settings.num_heads,
                settings.mlp_ratio,
                settings.layerscale_init,
                settings.norm_eps,
                qkv_bias=settings.qkv_bias,
                proj_bias=settings.proj_bias,
                ffn_bias=settings.ffn_bias,
                qk_norm=settings.qk_norm,
            )

        self.frame_blocks = nn.ModuleList(make_block() for _ in range(settings.depth))
        self.global_blocks = nn.ModuleList(make_block() for _ in range(settings.depth))

    @property
    def depth(self) -> int:
        return len(self.frame_blocks)

    def forward(
        self,
        images: Tensor,
        keep_layers: Collection[int],
        hooks: AttentionHooks | None = None,
        patch_tokens: Tensor | None = None,
    ) -> dict[int, Tensor]:
        """images: [B, S, 3, H, W] in [0, 1] -> {layer: [B, S, P, 2C]} for ``keep_layers``.

        ``patch_tokens`` [B*S, h*w, C]: the patch embedding of these same images from an earlier
        pass (``on_patch_tokens``). Masks and hooks act only on the alternating blocks, so a
        second pass can skip the DINOv2 backbone, about a third of VGGT-1B's aggregator.
        """
        keep = set(keep_layers)
        if not keep <= set(range(self.depth)):
            raise ValueError(f"keep_layers {sorted(keep)} outside 0..{self.depth - 1}")
        B, S, _, H, W = images.shape
        if patch_tokens is None:
            patch_tokens = self.embed_patches(images)
            if hooks is not None:
                hooks.on_patch_tokens(patch_tokens)
        else:
            grid = (H // self.patch_size) * (W // self.patch_size)
            expected = (B * S, grid, self.camera_token.shape[-1])
            if tuple(patch_tokens.shape) != expected:
                raise ValueError(
                    f"patch_tokens must be {list(expected)} for these images, "
                    f"got {list(patch_tokens.shape)}"
                )
            patch_tokens = patch_tokens.to(self.camera_token.dtype)
        tokens = torch.cat(
            (
                _first_frame_tokens(self.camera_token, B, S),
                _first_frame_tokens(self.register_token, B, S),
                patch_tokens,
            ),
            dim=1,
        )
        del patch_tokens
        P, C = tokens.shape[1:]
        frame_rope = global_rope = None
        if self.rope_freq > 0:
            frame_rope = frame_rope_tables(
                H // self.patch_size,
                W // self.patch_size,
                self.patch_start_idx,
                self.head_dim,
                self.rope_freq,
                images.device,
            )
            global_rope = frame_rope.repeat_frames(S)

        kept: dict[int, Tensor] = {}
        for layer in range(self.depth):
            frame_site = AttentionSite("frame", layer)
            tokens = self._run(
                self.frame_blocks[layer], tokens, frame_rope, hooks, frame_site, (B * S, P)
            )
            frame_out = tokens.view(B, S, P, C) if layer in keep else None
            global_site = AttentionSite("global", layer)
            tokens = tokens.view(B, S * P, C)
            tokens = self._run(
                self.global_blocks[layer], tokens, global_rope, hooks, global_site, (B * S, P)
            )
            tokens = tokens.view(B * S, P, C)
            if frame_out is not None:
                kept[layer] = torch.cat((frame_out, tokens.view(B, S, P, C)), dim=-1)
        return kept

    def embed_patches(self, images: Tensor) -> Tensor:
        """images [B, S, 3, H, W] in [0, 1] -> DINOv2 patch tokens [B*S, h*w, C].

        ImageNet normalisation happens here, inside the model, as in the official code; the
        input is cast to the weights' dtype so half-precision weights also run without autocast.
        """
        B, S, _, H, W = images.shape
        mean = images.new_tensor(IMAGENET_MEAN).view(1, 1, 3, 1, 1)
        std = images.new_tensor(IMAGENET_STD).view(1, 1, 3, 1, 1)
        normalised = ((images - mean) / std).to(self.camera_token.dtype)
        return self.patch_embed(normalised.reshape(B * S, 3, H, W))

    @staticmethod
    def _run(
        block: Block,
        tokens: Tensor,
        rope: RopeTables | None,
        hooks: AttentionHooks | None,
        site: AttentionSite,
        frame_shape: tuple[int, int],
    ) -> Tensor:
        """Run one block, asking the hooks (if any) for a q/k callback and a key mask."""
        if hooks is None:
            return block(tokens, rope)
        on_qk: QKCallback | None = partial(hooks.on_qk, site) if hooks.wants_qk(site) else None
        keep = hooks.key_keep_mask(site)
        key_mask = None
        if keep is not None:
            if keep.dtype != torch.bool or tuple(keep.shape) != frame_shape:
                raise ValueError(
                    f"key_keep_mask at {site} must be bool {list(frame_shape)} ([B*S, P]), "
                    f"got {keep.dtype} {list(keep.shape)}"
                )
            # frame: [B*S, 1, 1, P]; global: [B, 1, 1, S*P] (frame-major, like the tokens).
            key_mask = keep.to(tokens.device).reshape(tokens.shape[0], 1, 1, -1)
        return block(tokens, rope, key_mask, on_qk)
