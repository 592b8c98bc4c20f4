"""Dynamic cue: Gram statistics of global-attention q/k over a strided temporal window.

Implements the cue of docs/vggt4d.md ("The dynamic cue"; released code), streamed as its
"Memory" section describes: the statistics are
accumulated while the global attention blocks run, so no layer's q/k is kept beyond the
moment it is used (except one cached layer for a spread factor spanning two layers) and
no [S*P, S*P] matrix is ever formed.

For reference frame t, token i and source position j, the Gram average is
``G(t,i,j) = 1/(|L|*H*|W(t)|) * sum_{l,h,s in W(t)} x[l,t,h,i] . y[l,s,h,j]``. Because the sum
over window frames is linear, ``G(t,i,j) = 1/(|L|*H) * sum_{l,h} x[l,t,h,i] . ybar[l,t,h,j]``
with ``ybar`` the window-averaged source vectors. Mean factors need only the per-frame
token means of ``ybar`` (O(S*P)); spread factors form one [P, P] Gram per reference frame,
a few frames at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from vggt4d.dynamic.normalization import min_max_per_frame
from vggt4d.model.hooks import AttentionHooks, AttentionSite


@dataclass(frozen=True)
class FactorSpec:
    """One cue factor: which vectors are dotted, over which layers, and the statistic over j.

    ``ref`` is the vector of the reference token ("q" or "k"), ``source`` that of the source
    tokens; ``statistic`` is "mean", "std" (unbiased, released code) or "var" (paper).
    ``inverted`` marks factors that enter the score as ``1 - n(factor)``. The released five
    come from ``ReconstructOptions.factor_specs``.
    """

    name: str
    ref: str
    source: str
    layers: tuple[int, ...]
    statistic: str
    inverted: bool


def temporal_windows(num_frames: int, offsets: Sequence[int]) -> list[list[int]]:
    """Source frames of each reference frame: ``{t + d : d in offsets} ∩ [0, S-1]``, t excluded.

    Deviation from the released code (which yields NaN maps): an empty window falls back to
    the nearest existing frames (both neighbours when they are equally near).
    """
    windows = []
    for t in range(num_frames):
        window = sorted({t + d for d in offsets if d != 0 and 0 <= t + d < num_frames})
        if not window and num_frames > 1:
            others = [s for s in range(num_frames) if s != t]
            nearest = min(abs(s - t) for s in others)
            window = [s for s in others if abs(s - t) == nearest]
        windows.append(window)
    return windows


def combine_factors(factors: dict[str, torch.Tensor], specs: Sequence[FactorSpec]) -> torch.Tensor:
    """Dynamic score: min-max of the product of the (inverted where marked) normalised factors."""
    score = torch.ones_like(factors[specs[0].name])
    for spec in specs:
        factor = factors[spec.name]
        score = score * ((1.0 - factor) if spec.inverted else factor)
    return min_max_per_frame(score)


class _WindowIndex:
    """Padded window indices and weights so that window averages are one gather and a sum."""

    def __init__(self, windows: list[list[int]], device: torch.device) -> None:
        width = max(1, max((len(w) for w in windows), default=1))
        index = torch.zeros(len(windows), width, dtype=torch.long)
        weight = torch.zeros(len(windows), width, dtype=torch.float32)
        for t, window in enumerate(windows):
            for slot, s in enumerate(window):
                index[t, slot] = s
                weight[t, slot] = 1.0 / len(window)
        self.index = index.to(device)
        self.weight = weight.to(device)

    def average(self, values: torch.Tensor, frames: slice | None = None) -> torch.Tensor:
        """Window average of per-frame values [S, ...] for the reference frames in ``frames``."""
        frames = frames or slice(None)
        index, weight = self.index[frames], self.weight[frames]
        gathered = values[index]  # [T, width, ...]
        shape = (*weight.shape, *([1] * (values.dim() - 1)))
        return (gathered * weight.reshape(shape)).sum(dim=1)


class CueStatistics:
    """Accumulates the factor statistics layer by layer from patch-only global q/k.

    Feed ``add_layer(layer, q, k)`` with q, k float [S, heads, P, head_dim] (patch rows only)
    in increasing layer order, then call ``factors()`` and ``dynamic_map()``.
    ``peak_bytes`` counts the tensors this object holds plus its largest transient (window
    averages and the Gram chunk), so the caller can check that memory grows linearly with S.
    """

    def __init__(
        self,
        num_frames: int,
        specs: Sequence[FactorSpec],
        window_offsets: Sequence[int] = (-6, -4, -2, 2, 4, 6),
        gram_budget_elements: int = 1 << 22,
    ) -> None:
        self.num_frames = num_frames
        self.specs = tuple(specs)
        self.windows = temporal_windows(num_frames, window_offsets)
        self.gram_budget_elements = gram_budget_elements
        self._sums: dict[str, torch.Tensor] = {}
        self._cache: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {}
        self._window: _WindowIndex | None = None
        self._num_heads = 0
        self.peak_bytes = 0

    @property
    def layers(self) -> set[int]:
        """Every global layer whose q/k some factor needs."""
        return {layer for spec in self.specs for layer in spec.layers}

    def add_layer(self, layer: int, q: torch.Tensor, k: torch.Tensor) -> None:
        """Use this layer's patch q/k [S, heads, P, head_dim] for every factor that needs it."""
        vectors = {"q": q.float(), "k": k.float()}
        if self._window is None:
            self._window = _WindowIndex(self.windows, q.device)
        self._num_heads = q.shape[1]
        transient = sum(v.numel() * 4 for v in vectors.values())
        for spec in self.specs:
            if layer not in spec.layers:
                continue
            ref, source = vectors[spec.ref], vectors[spec.source]
            if spec.statistic == "mean":
                transient = max(transient, self._add_mean(spec, ref, source))
            else:
                transient = max(transient, self._add_spread(spec, layer, ref, source))
        self._record_peak(transient)

    def _add_mean(self, spec: FactorSpec, ref: torch.Tensor, source: torch.Tensor) -> int:
        """acc[t, i] += sum_h ref[t,h,i] . mean over window frames and positions of source."""
        token_means = source.mean(dim=2)  # [S, heads, D]
        window_means = self._window.average(token_means)
        contribution = torch.einsum("shpd,shd->sp", ref, window_means)
        self._accumulate(spec.name, contribution)
        return 2 * token_means.numel() * 4 + contribution.numel() * 4

    def _add_spread(
        self, spec: FactorSpec, layer: int, ref: torch.Tensor, source: torch.Tensor
    ) -> int:
        """Cache this layer (clone) until the factor's last layer, then reduce Gram chunks."""
        cached = self._cache.setdefault(spec.name, [])
        if layer != max(spec.layers):
            kept_ref = ref.clone()  # the model's q/k buffer must not stay alive
            kept_source = kept_ref if spec.ref == spec.source else source.clone()
            cached.append((kept_ref, kept_source))
            return 0
        pairs = [*cached, (ref, source)]
        S, heads, P, D = ref.shape
        chunk = max(1, self.gram_budget_elements // (P * P))
        spread = torch.empty(S, P, dtype=torch.float32, device=ref.device)
        transient = 0
        for start in range(0, S, chunk):
            frames = slice(start, min(S, start + chunk))
            refs = torch.cat(
                [r[frames].permute(0, 2, 1, 3).reshape(-1, P, heads * D) for r, _ in pairs], -1
            )
            sources = torch.cat(
                [
                    self._window.average(s, frames).permute(0, 2, 1, 3).reshape(-1, P, heads * D)
                    for _, s in pairs
                ],
                -1,
            )
            gram = torch.bmm(refs, sources.transpose(1, 2)) / (len(pairs) * heads)
            values = gram.std(dim=2) if spec.statistic == "std" else gram.var(dim=2)
            spread[frames] = values
            transient = max(transient, (refs.numel() + sources.numel() + gram.numel()) * 4)
        self._cache.pop(spec.name, None)
        self._sums[spec.name] = spread
        return transient

    def _accumulate(self, name: str, contribution: torch.Tensor) -> None:
        if name in self._sums:
            self._sums[name] += contribution
        else:
            self._sums[name] = contribution

    def _record_peak(self, transient: int) -> None:
        held = sum(t.numel() * t.element_size() for t in self._sums.values())
        held += sum(
            a.numel() * 4 + (0 if a is b else b.numel() * 4)
            for pairs in self._cache.values()
            for a, b in pairs
        )
        self.peak_bytes = max(self.peak_bytes, held + transient)

    def factors(self) -> dict[str, torch.Tensor]:
        """Per-frame min-max normalised factor maps, float32 [S, P], named like the reference."""
        missing = [spec.name for spec in self.specs if spec.name not in self._sums]
        if missing:
            raise ValueError(f"Cue statistics are incomplete: no q/k reached {', '.join(missing)}.")
        result = {}
        for spec in self.specs:
            scale = 1.0 if spec.statistic != "mean" else 1.0 / (len(spec.layers) * self._num_heads)
            result[spec.name] = min_max_per_frame(self._sums[spec.name] * scale)
        return result

    def dynamic_map(self, factors: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Dynamic score D_t in [0, 1], float32 [S, P]."""
        return combine_factors(factors or self.factors(), self.specs)


class CueHooks(AttentionHooks):
    """Pass-1 hooks: stream the cue statistics and keep the patch-embed features.

    ``on_layer(layer)`` runs after each global block's q/k is used (progress and cancel
    checks); ``seconds`` is the time spent here, so the caller can bill it to the cue stage.
    """

    def __init__(
        self,
        statistics: CueStatistics,
        special_tokens: int = 5,
        on_layer: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__()
        self.statistics = statistics
        self.special_tokens = special_tokens
        self.on_layer = on_layer
        self.patch_tokens: torch.Tensor | None = None
        self.seconds = 0.0
        self._wanted = statistics.layers

    def wants_qk(self, site: AttentionSite) -> bool:
        return site.kind == "global" and site.layer in self._wanted

    def on_qk(self, site: AttentionSite, q: torch.Tensor, k: torch.Tensor) -> None:
        start = time.perf_counter()
        with torch.no_grad():
            self.statistics.add_layer(site.layer, self._patches(q), self._patches(k))
        self.seconds += time.perf_counter() - start
        if self.on_layer is not None:
            self.on_layer(site.layer)

    def on_patch_tokens(self, tokens: torch.Tensor) -> None:
        self.patch_tokens = tokens.detach().float()

    def _patches(self, x: torch.Tensor) -> torch.Tensor:
        """[1, heads, S*(5+P), D] frame-major -> patch rows [S, heads, P, D]."""
        if x.shape[0] != 1:
            raise ValueError("VGGT4D cue mining runs on one sequence at a time (batch size 1).")
        S = self.statistics.num_frames
        _, heads, tokens, D = x.shape
        x = x.reshape(heads, S, tokens // S, D)[:, :, self.special_tokens :]
        return x.permute(1, 0, 2, 3)
