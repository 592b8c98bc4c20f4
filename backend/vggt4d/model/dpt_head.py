"""DPT dense head (``depth_head.*`` and ``point_head.*``): four token layers -> per-pixel maps.

For each chosen aggregator layer: patch tokens, shared LayerNorm, 1x1 ``projects.i``, UV
embedding (x0.1), ``resize_layers.i`` (x4, x2, identity, /2). Then the RefineNet-style fusion
(``scratch``), ``output_conv1``, bilinear resize to the input size (align_corners=True), the UV
embedding again, ``output_conv2`` and the activations. Frames go through in chunks of
``frames_chunk_size`` (results do not depend on the chunking).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vggt4d.model.activation import activate
from vggt4d.model.config import DPTHeadConfig
from vggt4d.model.dpt_fusion import FeatureFusionBlock, uv_embedding

POS_EMBED_SCALE = 0.1


class _Scratch(nn.Module):
    """Container whose attribute names are the ``scratch.*`` checkpoint keys."""

    def __init__(self, config: DPTHeadConfig) -> None:
        super().__init__()
        features = config.features
        for index, channels in enumerate(config.out_channels, start=1):
            conv = nn.Conv2d(channels, features, 3, padding=1, bias=False)
            setattr(self, f"layer{index}_rn", conv)
        self.refinenet1 = FeatureFusionBlock(features)
        self.refinenet2 = FeatureFusionBlock(features)
        self.refinenet3 = FeatureFusionBlock(features)
        self.refinenet4 = FeatureFusionBlock(features, has_residual=False)
        self.output_conv1 = nn.Conv2d(features, features // 2, 3, padding=1)
        # Slot 1 is a ReLU without weights, hence keys ``output_conv2.0`` and ``output_conv2.2``.
        self.output_conv2 = nn.Sequential(
            nn.Conv2d(features // 2, config.head_features_2, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(config.head_features_2, config.output_dim, 1),
        )


class DPTHead(nn.Module):
    """Returns ``(prediction [B, S, H, W, output_dim-1], confidence [B, S, H, W])``."""

    def __init__(self, config: DPTHeadConfig, dim_in: int, patch_size: int) -> None:
        super().__init__()
        self.config = config
        self.patch_size = patch_size
        channels = config.out_channels
        self.norm = nn.LayerNorm(dim_in)
        self.projects = nn.ModuleList(nn.Conv2d(dim_in, c, 1) for c in channels)
        self.resize_layers = nn.ModuleList(
            (
                nn.ConvTranspose2d(channels[0], channels[0], kernel_size=4, stride=4),
                nn.ConvTranspose2d(channels[1], channels[1], kernel_size=2, stride=2),
                nn.Identity(),  # no keys: resize_layers.2 is absent from the checkpoint
                nn.Conv2d(channels[3], channels[3], kernel_size=3, stride=2, padding=1),
            )
        )
        self.scratch = _Scratch(config)

    def forward(
        self, layers: dict[int, Tensor], image_hw: tuple[int, int], patch_start_idx: int
    ) -> tuple[Tensor, Tensor]:
        """layers: aggregator outputs {index: [B, S, P, 2C]} (needs ``intermediate_layer_idx``)."""
        selected = [layers[index] for index in self.config.intermediate_layer_idx]
        S = selected[0].shape[1]
        chunk = self.config.frames_chunk_size
        if chunk <= 0 or chunk >= S:
            return self._forward_frames(selected, image_hw, patch_start_idx)
        parts = [
            self._forward_frames(
                [tokens[:, start : start + chunk] for tokens in selected],
                image_hw,
                patch_start_idx,
            )
            for start in range(0, S, chunk)
        ]
        return torch.cat([p[0] for p in parts], dim=1), torch.cat([p[1] for p in parts], dim=1)

    def _with_uv(self, x: Tensor, image_hw: tuple[int, int]) -> Tensor:
        if not self.config.pos_embed:
            return x
        H, W = image_hw
        embedding = uv_embedding(x.shape[1], x.shape[2], x.shape[3], W / H, x)
        return x + POS_EMBED_SCALE * embedding

    def _forward_frames(
        self, selected: list[Tensor], image_hw: tuple[int, int], patch_start_idx: int
    ) -> tuple[Tensor, Tensor]:
        B, S = selected[0].shape[:2]
        grid_h, grid_w = (size // self.patch_size for size in image_hw)
        features = []
        for index, tokens in enumerate(selected):
            x = tokens[:, :, patch_start_idx:].to(self.norm.weight.dtype)
            x = self.norm(x.reshape(B * S, grid_h * grid_w, -1))
            x = x.transpose(1, 2).reshape(B * S, -1, grid_h, grid_w)
            x = self._with_uv(self.projects[index](x), image_hw)
            features.append(self.resize_layers[index](x))
        x = self._fuse(features)
        out_hw = tuple(
            int(size * self.patch_size / self.config.down_ratio) for size in (grid_h, grid_w)
        )
        x = F.interpolate(x, size=out_hw, mode="bilinear", align_corners=True)
        x = self.scratch.output_conv2(self._with_uv(x, image_hw))
        x = x.permute(0, 2, 3, 1)
        prediction = activate(x[..., :-1], self.config.activation)
        confidence = activate(x[..., -1], self.config.conf_activation)
        return (
            prediction.reshape(B, S, *prediction.shape[1:]),
            confidence.reshape(B, S, *confidence.shape[1:]),
        )

    def _fuse(self, features: list[Tensor]) -> Tensor:
        scratch = self.scratch
        layer1 = scratch.layer1_rn(features[0])
        layer2 = scratch.layer2_rn(features[1])
        layer3 = scratch.layer3_rn(features[2])
        layer4 = scratch.layer4_rn(features[3])
        features.clear()
        x = scratch.refinenet4(layer4, size=layer3.shape[2:])
        x = scratch.refinenet3(x, layer3, size=layer2.shape[2:])
        x = scratch.refinenet2(x, layer2, size=layer1.shape[2:])
        x = scratch.refinenet1(x, layer1)
        return scratch.output_conv1(x)
