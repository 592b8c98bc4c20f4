"""Camera head: iterative refinement of a 9-number pose encoding per frame.

Each iteration conditions the (always the same) token-normed camera tokens with AdaLN on an
embedding of the current estimate, runs a small transformer over the S camera tokens (attention
across frames, no QK-norm, no RoPE) and adds a predicted delta. The estimate fed back is the
**raw** accumulator (FoV before its ReLU); the emitted encodings are activated.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vggt4d.model.activation import activate
from vggt4d.model.config import CameraHeadConfig
from vggt4d.model.layers import Block, Mlp

POSE_ENCODING_DIM = 9  # translation (3), quaternion xyzw (4), fov_h, fov_w


class CameraHead(nn.Module):
    """Keys ``camera_head.{trunk, token_norm, trunk_norm, empty_pose_tokens, embed_pose,
    poseLN_modulation.1, pose_branch}``."""

    def __init__(self, config: CameraHeadConfig, dim_in: int) -> None:
        super().__init__()
        self.config = config
        self.trunk = nn.Sequential(
            *(
                Block(dim_in, config.num_heads, config.mlp_ratio, config.layerscale_init, 1e-5)
                for _ in range(config.trunk_depth)
            )
        )
        self.token_norm = nn.LayerNorm(dim_in)
        self.trunk_norm = nn.LayerNorm(dim_in)
        self.empty_pose_tokens = nn.Parameter(torch.zeros(1, 1, POSE_ENCODING_DIM))
        self.embed_pose = nn.Linear(POSE_ENCODING_DIM, dim_in)
        # Slot 0 is a SiLU without weights, hence the key ``poseLN_modulation.1``.
        self.poseLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim_in, 3 * dim_in))
        self.adaln_norm = nn.LayerNorm(dim_in, elementwise_affine=False, eps=1e-6)
        self.pose_branch = Mlp(dim_in, dim_in // 2, POSE_ENCODING_DIM)

    def forward(self, tokens: Tensor) -> list[Tensor]:
        """tokens: last aggregator output [B, S, P, 2C] -> activated encodings, one [B, S, 9]
        per iteration."""
        camera_tokens = self.token_norm(tokens[:, :, 0].to(self.token_norm.weight.dtype))
        B, S, _ = camera_tokens.shape
        normed = self.adaln_norm(camera_tokens)
        raw: Tensor | None = None
        encodings = []
        for _ in range(self.config.num_iterations):
            if raw is None:
                condition = self.embed_pose(self.empty_pose_tokens.expand(B, S, -1))
            else:
                condition = self.embed_pose(raw.detach())
            shift, scale, gate = self.poseLN_modulation(condition).chunk(3, dim=-1)
            x = gate * (normed * (1 + scale) + shift) + camera_tokens
            delta = self.pose_branch(self.trunk_norm(self.trunk(x)))
            raw = delta if raw is None else raw + delta
            encodings.append(self._activate_encoding(raw))
        return encodings

    def _activate_encoding(self, raw: Tensor) -> Tensor:
        translation = activate(raw[..., :3], self.config.trans_act)
        quaternion = activate(raw[..., 3:7], self.config.quat_act)
        field_of_view = activate(raw[..., 7:], self.config.fl_act)
        return torch.cat((translation, quaternion, field_of_view), dim=-1)
