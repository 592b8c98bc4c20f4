"""Hook API: q/k shapes per site, key masks as explicit token dropping, mask layouts."""

import pytest
import torch
from torch import Tensor
from torch.testing import assert_close

from vggt4d.model import VGGT, AttentionHooks, AttentionSite
from vggt4d.model.layers import Attention, frame_rope_tables


def _explicit_drop_attention(attention: Attention, x: Tensor, keep: Tensor, rope) -> Tensor:
    """Reference: remove the dropped tokens from K and V, then plain softmax attention."""
    captured: list[Tensor] = []
    attention(x, rope, on_qk=lambda q, k: captured.extend((q, k)))
    q, k = captured
    B, N, C = x.shape
    v = attention.qkv(x).reshape(B, N, 3, attention.num_heads, -1)[:, :, 2].transpose(1, 2)
    rows = []
    for b in range(B):
        kept_k, kept_v = k[b][:, keep[b]], v[b][:, keep[b]]
        weights = torch.softmax(q[b] @ kept_k.transpose(-1, -2) / q.shape[-1] ** 0.5, dim=-1)
        rows.append((weights @ kept_v).transpose(0, 1).reshape(N, C))
    return attention.proj(torch.stack(rows))


@pytest.mark.parametrize("batch", [1, 3])
def test_key_mask_equals_explicit_token_dropping(batch: int) -> None:
    torch.manual_seed(0)
    attention = Attention(32, num_heads=4, qk_norm=True)
    rope = frame_rope_tables(3, 4, num_special=5, head_dim=8, base=100.0)
    x = torch.randn(batch, 17, 32)
    keep = torch.rand(batch, 17) > 0.4
    keep[:, :5] = True  # special tokens stay, as VGGT4D does
    with torch.no_grad():
        masked = attention(x, rope, key_mask=keep[:, None, None, :])
        reference = _explicit_drop_attention(attention, x, keep, rope)
        unmasked = attention(x, rope)
    assert_close(masked, reference, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(masked, unmasked, atol=1e-3)


class _Probe(AttentionHooks):
    """Records q/k shapes everywhere and the global-0 q; masks the sites it is given."""

    def __init__(self, masks: dict[AttentionSite, Tensor] | None = None) -> None:
        self.masks = masks or {}
        self.shapes: dict[AttentionSite, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        self.global0_q: Tensor | None = None

    def wants_qk(self, site: AttentionSite) -> bool:
        return True

    def on_qk(self, site: AttentionSite, q: Tensor, k: Tensor) -> None:
        self.shapes[site] = (tuple(q.shape), tuple(k.shape))
        if site == AttentionSite("global", 0):
            self.global0_q = q.clone()

    def key_keep_mask(self, site: AttentionSite) -> Tensor | None:
        return self.masks.get(site)


S, H, W = 3, 28, 42
P = 5 + (H // 14) * (W // 14)


def _images() -> Tensor:
    return torch.rand(S, 3, H, W, generator=torch.Generator().manual_seed(1))


def test_qk_shapes_follow_site_layout(tiny_model: VGGT) -> None:
    probe = _Probe()
    with torch.no_grad():
        tiny_model(_images(), hooks=probe, heads=("camera",))
    assert len(probe.shapes) == 2 * tiny_model.aggregator.depth
    heads, head_dim = 4, 16
    for site, (q_shape, k_shape) in probe.shapes.items():
        expected = (S, heads, P, head_dim) if site.kind == "frame" else (1, heads, S * P, head_dim)
        assert q_shape == k_shape == expected, site


def test_all_true_mask_and_default_hooks_change_nothing(tiny_model: VGGT) -> None:
    images = _images()
    everything = torch.ones(S, P, dtype=torch.bool)
    masks = {
        AttentionSite(kind, layer): everything for kind in ("frame", "global") for layer in range(6)
    }
    with torch.no_grad():
        plain = tiny_model(images)
        with_default_hooks = tiny_model(images, hooks=AttentionHooks())
        all_kept = tiny_model(images, hooks=_Probe(masks))
    for name in ("pose_enc", "depth", "world_points"):
        assert torch.equal(plain[name], with_default_hooks[name])
        assert_close(plain[name], all_kept[name], rtol=1e-5, atol=1e-5)


def test_frame_mask_rows_are_frames(tiny_model: VGGT) -> None:
    """Dropping keys of frame 1 in frame block 0 changes frame 1's tokens and no other frame's."""
    keep = torch.ones(S, P, dtype=torch.bool)
    keep[1, 5:12] = False
    images = _images()
    plain, masked = _Probe(), _Probe({AttentionSite("frame", 0): keep})
    with torch.no_grad():
        tiny_model(images, hooks=plain, heads=("camera",))
        tiny_model(images, hooks=masked, heads=("camera",))
    per_frame_change = (
        (masked.global0_q - plain.global0_q).abs().reshape(4, S, P, 16).amax((0, 2, 3))
    )
    assert per_frame_change[1] > 1e-3
    assert per_frame_change[0] == 0 and per_frame_change[2] == 0


@pytest.mark.parametrize(
    ("site", "mask"),
    [
        (AttentionSite("frame", 0), torch.ones(S, P - 1, dtype=torch.bool)),
        (AttentionSite("global", 2), torch.ones(1, S * P, dtype=torch.bool)),
        (AttentionSite("global", 3), torch.ones(S, P)),
    ],
)
def test_malformed_masks_are_refused(tiny_model: VGGT, site: AttentionSite, mask: Tensor) -> None:
    with pytest.raises(ValueError, match=r"key_keep_mask at .*\[B\*S, P\]"):
        tiny_model(_images(), hooks=_Probe({site: mask}), heads=("camera",))


def test_batched_sequences_equal_separate_runs(tiny_model: VGGT) -> None:
    """B=2: each sequence has its own first frame, and mask rows follow [B*S] order."""
    images = torch.rand(2, S, 3, H, W, generator=torch.Generator().manual_seed(2))
    keep = torch.rand(2 * S, P, generator=torch.Generator().manual_seed(3)) > 0.3
    keep[:, :5] = True
    masks = {AttentionSite(kind, 0): keep for kind in ("frame", "global")}
    with torch.no_grad():
        batched = tiny_model(images, hooks=_Probe(masks))
        for b in range(2):
            single_masks = {site: mask[b * S : (b + 1) * S] for site, mask in masks.items()}
            single = tiny_model(images[b], hooks=_Probe(single_masks))
            for name in ("pose_enc", "depth", "world_points_conf"):
                assert_close(batched[name][b], single[name][0], rtol=1e-4, atol=1e-4)


class _TokenCatcher(AttentionHooks):
    def on_patch_tokens(self, tokens: Tensor) -> None:
        self.tokens = tokens


def test_reused_patch_tokens_give_identical_outputs(tiny_model: VGGT) -> None:
    """A second (masked) pass may skip the backbone with the first pass's patch tokens."""
    images = _images()
    keep = torch.rand(S, P, generator=torch.Generator().manual_seed(4)) > 0.3
    keep[:, :5] = True
    masks = {AttentionSite(kind, layer): keep for kind in ("frame", "global") for layer in (0, 1)}
    catcher = _TokenCatcher()
    with torch.no_grad():
        tiny_model(images, hooks=catcher, heads=("camera",))
        fresh = tiny_model(images, hooks=_Probe(masks))
        reused = tiny_model(images, hooks=_Probe(masks), patch_tokens=catcher.tokens)
    for name in ("pose_enc", "depth", "world_points"):
        assert torch.equal(fresh[name], reused[name])


def test_patch_tokens_of_other_images_are_refused(tiny_model: VGGT) -> None:
    tokens = torch.zeros(S, (H // 14) * (W // 14) + 1, 64)
    with pytest.raises(ValueError, match="patch_tokens must be"):
        tiny_model(_images(), heads=("camera",), patch_tokens=tokens)
