"""The VGGT network: aggregator plus camera, depth and point heads (no track head)."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from vggt4d.errors import InputError
from vggt4d.model.aggregator import Aggregator
from vggt4d.model.camera_head import CameraHead
from vggt4d.model.checkpoint import filter_checkpoint_keys
from vggt4d.model.config import VGGTConfig
from vggt4d.model.dpt_head import DPTHead
from vggt4d.model.hooks import AttentionHooks
from vggt4d.model.precision import autocast_dtype

HEAD_NAMES = ("camera", "depth", "point")


class VGGT(nn.Module):
    """VGGT with checkpoint-compatible names; ``VGGT()`` is VGGT-1B.

    A head disabled in the config is simply not built (its keys are absent), like the official
    ``enable_*`` flags.
    """

    def __init__(self, config: VGGTConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or VGGTConfig()
        self.aggregator = Aggregator(config)
        dim_in = config.token_dim
        self.camera_head = (
            CameraHead(config.camera_head, dim_in) if config.camera_head.enabled else None
        )
        self.point_head = (
            DPTHead(config.point_head, dim_in, config.patch_size)
            if config.point_head.enabled
            else None
        )
        self.depth_head = (
            DPTHead(config.depth_head, dim_in, config.patch_size)
            if config.depth_head.enabled
            else None
        )

    @classmethod
    def from_config(cls, config: VGGTConfig | str | Path | Mapping[str, Any]) -> VGGT:
        """Build from a ``VGGTConfig``, a ``config.json`` path or its parsed dict."""
        if not isinstance(config, VGGTConfig):
            config = VGGTConfig.from_json(config)
        return cls(config)

    def load_checkpoint_state(self, state_dict: Mapping[str, Tensor], assign: bool = False) -> None:
        """Strictly load a checkpoint after dropping only the allowlisted ``track_head.*`` keys.

        ``assign=True`` adopts the given tensors instead of copying (for a model built on the
        meta device).
        """
        self.load_state_dict(filter_checkpoint_keys(state_dict), strict=True, assign=assign)

    def forward(
        self,
        images: Tensor,
        hooks: AttentionHooks | None = None,
        heads: Collection[str] = HEAD_NAMES,
        precision: torch.dtype | None = None,
        patch_tokens: Tensor | None = None,
    ) -> dict[str, Any]:
        """images: float [S, 3, H, W] or [B, S, 3, H, W] in [0, 1], H and W multiples of 14.

        Returns (batch dim always present) ``pose_enc`` [B, S, 9], ``pose_enc_list`` (one
        [B, S, 9] per refinement iteration), ``depth`` [B, S, H, W, 1], ``depth_conf``
        [B, S, H, W], ``world_points`` [B, S, H, W, 3], ``world_points_conf`` [B, S, H, W] for
        the requested heads that the model has, and ``images`` [B, S, 3, H, W].
        ``precision``: the aggregator's autocast dtype; None = ``autocast_dtype(device)``
        (float32 on CPU). Heads always run in float32 with autocast disabled.
        ``patch_tokens``: the DINOv2 patch tokens of these images from an earlier pass
        ([B*S, h*w, C], as ``AttentionHooks.on_patch_tokens`` receives them); skips the backbone.
        """
        images = self._check_images(images)
        unknown = set(heads) - set(HEAD_NAMES)
        if unknown:
            raise ValueError(f"unknown heads {sorted(unknown)}; choose from {HEAD_NAMES}")
        camera = self.camera_head if "camera" in heads else None
        dense = {
            name: head
            for name, head in (("depth", self.depth_head), ("point", self.point_head))
            if name in heads and head is not None
        }
        keep = {d for head in dense.values() for d in head.config.intermediate_layer_idx}
        if camera is not None:
            keep.add(self.aggregator.depth - 1)

        with self._autocast(images.device, precision):
            layers = self.aggregator(
                images, keep_layers=keep, hooks=hooks, patch_tokens=patch_tokens
            )

        predictions: dict[str, Any] = {}
        with torch.autocast(images.device.type, enabled=False):
            if camera is not None:
                encodings = camera(layers[self.aggregator.depth - 1])
                predictions["pose_enc"] = encodings[-1]
                predictions["pose_enc_list"] = encodings
            image_hw = (images.shape[-2], images.shape[-1])
            start = self.aggregator.patch_start_idx
            if "depth" in dense:
                depth, depth_conf = dense["depth"](layers, image_hw, start)
                predictions["depth"] = depth
                predictions["depth_conf"] = depth_conf
            if "point" in dense:
                points, points_conf = dense["point"](layers, image_hw, start)
                predictions["world_points"] = points
                predictions["world_points_conf"] = points_conf
        predictions["images"] = images
        return predictions

    @staticmethod
    def _autocast(
        device: torch.device, precision: torch.dtype | None
    ) -> contextlib.AbstractContextManager:
        dtype = precision or autocast_dtype(device)
        if dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=dtype)

    def _check_images(self, images: Tensor) -> Tensor:
        """Validate the input and add the batch dimension; raises InputError with the reason."""
        if not isinstance(images, Tensor) or images.dim() not in (4, 5):
            shape = list(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise InputError(
                f"images must be a [S, 3, H, W] or [B, S, 3, H, W] tensor, got {shape}"
            )
        if images.dim() == 4:
            images = images.unsqueeze(0)
        B, S, channels, H, W = images.shape
        if channels != 3:
            raise InputError(f"images must have 3 colour channels, got {channels}")
        if not images.is_floating_point():
            raise InputError(f"images must be floating point in [0, 1], got {images.dtype}")
        patch = self.config.patch_size
        if H % patch or W % patch or H == 0 or W == 0:
            raise InputError(
                f"image height and width must be positive multiples of {patch}, got {H}x{W}"
            )
        if B == 0 or S == 0:
            raise InputError("images must contain at least one frame")
        low, high = (value.item() for value in torch.aminmax(images))
        if not (low >= 0 and high <= 1):  # also false for NaN, which aminmax propagates
            raise InputError(
                "image values must lie in [0, 1] (not normalised, not 0-255, no NaN); "
                f"got min {low:.4g}, max {high:.4g}"
            )
        return images
