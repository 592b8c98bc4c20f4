"""Attention hooks: how VGGT4D reads q/k and masks keys without touching the model code.

Subclass ``AttentionHooks``, override what you need and pass the instance with
``model(images, hooks=...)``. The default methods do nothing, and ``hooks=None`` adds no work at
all. Sites are the aggregator's attention blocks: ``AttentionSite("frame", l)`` and
``AttentionSite("global", l)`` for AA block ``l`` in ``0..depth-1`` (frame block ``l`` runs
before global block ``l``).

* ``wants_qk(site)`` -> ``on_qk(site, q, k)``: q and k after QK-norm **and** RoPE,
  ``[B', heads, N, head_dim]``. Frame blocks: ``B' = B*S``, ``N = P``. Global blocks: ``B' = B``,
  ``N = S*P`` in frame-major order. ``P`` counts every token of a frame: camera, registers
  (``patch_start_idx = 5`` special tokens) and patches. The model keeps no reference to q/k after
  the call, so a hook can reduce them to statistics in place and let them go; store them only if
  you need them (they are large: ``S*P*C`` numbers per site). Their dtype is what attention
  sees: float32 without autocast, possibly the autocast dtype under it; accumulate in float32.
* ``key_keep_mask(site)`` -> bool ``[B*S, P]`` or ``None``: ``True`` keeps a token as a key/value
  for every query; ``False`` removes it from K and V and the softmax renormalises over the rest
  (an additive -inf logit bias). The model builds ``[B*S, 1, 1, P]`` for frame blocks and
  ``[B, 1, 1, S*P]`` for global blocks. Keeping at least one key per frame (VGGT4D keeps the 5
  special tokens) is the caller's job: a query with no key left produces NaN.
* ``on_patch_tokens(tokens)``: DINOv2 ``x_norm_patchtokens`` ``[B*S, h*w, C]`` right after the
  patch embedding (VGGT4D's clustering features).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import Tensor


@dataclass(frozen=True)
class AttentionSite:
    """One attention block of the aggregator."""

    kind: Literal["frame", "global"]
    layer: int


class AttentionHooks:
    """Subclass and override. Attach with ``model(images, hooks=...)``. Defaults do nothing."""

    def wants_qk(self, site: AttentionSite) -> bool:
        """Return True to receive ``on_qk`` for this site."""
        return False

    def on_qk(self, site: AttentionSite, q: Tensor, k: Tensor) -> None:
        """q, k: [B', heads, N, head_dim] after QK-norm and RoPE (see the module docstring)."""

    def key_keep_mask(self, site: AttentionSite) -> Tensor | None:
        """bool [B*S, P], True = token stays a key/value; None = no masking at this site."""
        return None

    def on_patch_tokens(self, tokens: Tensor) -> None:
        """DINOv2 normalised patch tokens [B*S, h*w, C]."""
