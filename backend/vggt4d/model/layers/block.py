"""Pre-norm transformer block shared by DINOv2, the aggregator and the camera trunk."""

from __future__ import annotations

from torch import Tensor, nn

from vggt4d.model.layers.attention import Attention, QKCallback
from vggt4d.model.layers.layer_scale import LayerScale
from vggt4d.model.layers.mlp import Mlp
from vggt4d.model.layers.rope import RopeTables


class Block(nn.Module):
    """``x + ls1(attn(norm1(x)))`` then ``x + ls2(mlp(norm2(x)))``.

    ``norm_eps`` differs per family on purpose: 1e-6 in DINOv2, 1e-5 (PyTorch's default) in
    the aggregator and camera trunk; QK-norm LayerNorms always use 1e-5.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float,
        layerscale_init: float,
        norm_eps: float,
        qkv_bias: bool = True,
        proj_bias: bool = True,
        ffn_bias: bool = True,
        qk_norm: bool = False,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = Attention(dim, num_heads, qkv_bias, proj_bias, qk_norm, norm_eps=1e-5)
        self.ls1 = LayerScale(dim, layerscale_init)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), bias=ffn_bias)
        self.ls2 = LayerScale(dim, layerscale_init)

    def forward(
        self,
        x: Tensor,
        rope: RopeTables | None = None,
        key_mask: Tensor | None = None,
        on_qk: QKCallback | None = None,
    ) -> Tensor:
        """x: [B', N, C] -> [B', N, C]; see ``Attention.forward`` for the optional inputs."""
        x = x + self.ls1(self.attn(self.norm1(x), rope, key_mask, on_qk))
        return x + self.ls2(self.mlp(self.norm2(x)))
