"""Multi-head self-attention with a fused qkv projection, optional QK-norm and 2-D RoPE.

Attention always goes through ``F.scaled_dot_product_attention``: the attention matrix is never
materialised by our code. Two optional inputs serve VGGT4D and cost nothing when absent:
``key_mask`` (bool, broadcast to [B', 1, 1, N], True = key/value kept; dropped keys get zero
weight and the softmax renormalises over the rest) and ``on_qk`` (called with q and k after
QK-norm and RoPE; the model keeps no reference to them afterwards).
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn

from vggt4d.model.layers.rope import RopeTables, apply_rope

QKCallback = Callable[[Tensor, Tensor], None]


class Attention(nn.Module):
    """``qkv`` rows are [q; k; v], each split into contiguous per-head slices."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        qkv_bias: bool = True,
        proj_bias: bool = True,
        qk_norm: bool = False,
        norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        # QK-norm: one LayerNorm over head_dim shared by all heads (no keys when disabled).
        self.q_norm = nn.LayerNorm(self.head_dim, eps=norm_eps) if qk_norm else nn.Identity()
        self.k_norm = nn.LayerNorm(self.head_dim, eps=norm_eps) if qk_norm else nn.Identity()
        self.proj = nn.Linear(dim, dim, bias=proj_bias)

    def forward(
        self,
        x: Tensor,
        rope: RopeTables | None = None,
        key_mask: Tensor | None = None,
        on_qk: QKCallback | None = None,
    ) -> Tensor:
        """x: [B', N, C] -> [B', N, C]."""
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        q = self.q_norm(q)
        k = self.k_norm(k)
        if rope is not None:
            q = apply_rope(q, rope)
            k = apply_rope(k, rope)
        if on_qk is not None:
            on_qk(q, k)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask)
        return self.proj(out.transpose(1, 2).reshape(B, N, C))
