"""Cue math: streamed statistics against the reference and against the dense §4 formulas."""

import pytest
import torch

from vggt4d.dynamic.cues import (
    CueHooks,
    CueStatistics,
    combine_factors,
    temporal_windows,
)
from vggt4d.model.hooks import AttentionSite
from vggt4d.options import ReconstructOptions


def _dense_factor(q_by_layer, k_by_layer, spec, windows):
    """Spec §4 literally: G(t,i,j) averaged over layers, heads and window frames, then a
    statistic over j and per-frame min-max."""
    x_all = q_by_layer if spec.ref == "q" else k_by_layer
    y_all = q_by_layer if spec.source == "q" else k_by_layer
    S, heads, P, _ = x_all[spec.layers[0]].shape
    maps = torch.empty(S, P, dtype=torch.float64)
    for t in range(S):
        gram = torch.zeros(P, P, dtype=torch.float64)
        for layer in spec.layers:
            for s in windows[t]:
                for h in range(heads):
                    gram += x_all[layer][t, h].double() @ y_all[layer][s, h].double().T
        gram /= len(spec.layers) * heads * len(windows[t])
        if spec.statistic == "mean":
            maps[t] = gram.mean(dim=1)
        elif spec.statistic == "std":
            maps[t] = gram.std(dim=1)
        else:
            maps[t] = gram.var(dim=1)
    low, high = maps.min(1, keepdim=True).values, maps.max(1, keepdim=True).values
    return ((maps - low) / (high - low + 1e-6)).float()


def _random_qk(S, heads, P, D, layers, seed=0):
    generator = torch.Generator().manual_seed(seed)
    q = {layer: torch.randn(S, heads, P, D, generator=generator) for layer in layers}
    k = {layer: torch.randn(S, heads, P, D, generator=generator) for layer in layers}
    return q, k


def test_layer0_factors_match_official(case):
    specs = [spec for spec in ReconstructOptions().factor_specs() if spec.layers == (0,)]
    statistics = CueStatistics(10, specs)
    statistics.add_layer(0, case["global_tok_q_l0"], case["global_tok_k_l0"])
    factors = statistics.factors()
    for name in ("factor_D_mean_kk_l0", "factor_E_std_qk_l0"):
        torch.testing.assert_close(factors[name], case[name].reshape(10, -1), rtol=1e-4, atol=1e-4)


def test_official_factors_combine_to_official_dynamic_map(case):
    specs = ReconstructOptions().factor_specs()
    factors = {spec.name: case[spec.name].reshape(10, -1) for spec in specs}
    torch.testing.assert_close(
        combine_factors(factors, specs), case["dyn_map"].reshape(10, -1), rtol=1e-4, atol=1e-4
    )


@pytest.mark.parametrize("statistic", ["std", "var"])
@pytest.mark.parametrize("num_frames", [2, 3, 9])
def test_streamed_factors_equal_dense_formulas(num_frames, statistic):
    specs = ReconstructOptions(spread_statistic=statistic).factor_specs()
    layers = sorted({layer for spec in specs for layer in spec.layers})
    q, k = _random_qk(num_frames, 2, 12, 4, layers)
    windows = temporal_windows(num_frames, (-6, -4, -2, 2, 4, 6))
    statistics = CueStatistics(num_frames, specs, gram_budget_elements=300)  # 2 frames per chunk
    for layer in layers:
        statistics.add_layer(layer, q[layer], k[layer])
    factors = statistics.factors()
    for spec in specs:
        expected = _dense_factor(q, k, spec, windows)
        torch.testing.assert_close(factors[spec.name], expected, rtol=1e-4, atol=1e-4)
    assert torch.isfinite(statistics.dynamic_map()).all()


def test_windows_are_strided_and_fall_back_to_nearest_frames():
    assert temporal_windows(10, (-6, -4, -2, 2, 4, 6))[1] == [3, 5, 7]
    assert temporal_windows(3, (-6, -4, -2, 2, 4, 6)) == [[2], [0, 2], [0]]
    assert temporal_windows(2, (-6, -4, -2, 2, 4, 6)) == [[1], [0]]
    assert temporal_windows(1, (-6, -4, -2, 2, 4, 6)) == [[]]


def test_missing_layers_raise_a_clear_error():
    statistics = CueStatistics(4, ReconstructOptions().factor_specs())
    q, k = _random_qk(4, 2, 6, 4, [0])
    statistics.add_layer(0, q[0], k[0])
    with pytest.raises(ValueError, match="factor_A_mean_qq_mid"):
        statistics.factors()


def test_hooks_strip_special_tokens_and_keep_patch_features():
    S, heads, P, D = 4, 2, 6, 4
    specs = [spec for spec in ReconstructOptions().factor_specs() if spec.layers == (0,)]
    hooks = CueHooks(CueStatistics(S, specs))
    q, k = _random_qk(S, heads, P, D, [0])
    special = torch.full((S, heads, 5, D), 1e3)
    packed = {
        name: torch.cat([special, x[0]], dim=2)
        .permute(1, 0, 2, 3)
        .reshape(1, heads, S * (P + 5), D)
        for name, x in (("q", q), ("k", k))
    }
    assert hooks.wants_qk(AttentionSite("global", 0))
    assert not hooks.wants_qk(AttentionSite("frame", 0))
    assert not hooks.wants_qk(AttentionSite("global", 1))
    hooks.on_qk(AttentionSite("global", 0), packed["q"], packed["k"])
    reference = CueStatistics(S, specs)
    reference.add_layer(0, q[0], k[0])
    for name, value in reference.factors().items():
        torch.testing.assert_close(hooks.statistics.factors()[name], value)
    hooks.on_patch_tokens(torch.ones(S, P, 8))
    assert hooks.patch_tokens.shape == (S, P, 8)
