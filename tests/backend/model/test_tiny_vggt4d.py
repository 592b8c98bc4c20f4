"""The 24-block tiny VGGT4D model: pass-1 outputs and the official masked pass 2."""

import torch
from torch import Tensor
from torch.testing import assert_close

from vggt4d.model import VGGT, AttentionHooks, AttentionSite, pose_encoding_to_extri_intri

PASS1_TOLERANCE = {"rtol": 1e-4, "atol": 2e-5}
MASKED_LAYERS = range(5)  # VGGT4D masks AA blocks 0..4, frame and global


class _Pass1Recorder(AttentionHooks):
    def __init__(self) -> None:
        self.q: Tensor | None = None
        self.k: Tensor | None = None
        self.patch_tokens: Tensor | None = None

    def wants_qk(self, site: AttentionSite) -> bool:
        return site == AttentionSite("global", 0)

    def on_qk(self, site: AttentionSite, q: Tensor, k: Tensor) -> None:
        self.q, self.k = q.clone(), k.clone()

    def on_patch_tokens(self, tokens: Tensor) -> None:
        self.patch_tokens = tokens.clone()


class _DropDynamicKeys(AttentionHooks):
    def __init__(self, keep: Tensor) -> None:
        self.keep = keep

    def key_keep_mask(self, site: AttentionSite) -> Tensor | None:
        return self.keep if site.layer in MASKED_LAYERS else None


def _patch_rows(x: Tensor, frames: int, start: int) -> Tensor:
    """[1, heads, S*P, d] global-layout q/k -> [S, heads, patches, d]."""
    heads, _, dim = x.shape[1:]
    return x[0].reshape(heads, frames, -1, dim)[:, :, start:].transpose(0, 1)


def test_pass1_matches_official(tiny4d_model: VGGT, tiny4d_case: dict[str, Tensor]) -> None:
    images = tiny4d_case["images"]
    recorder = _Pass1Recorder()
    with torch.no_grad():
        out = tiny4d_model(images, hooks=recorder)
    assert_close(out["pose_enc"][0], tiny4d_case["pose_enc"], **PASS1_TOLERANCE)
    assert_close(out["depth"][0, ..., 0], tiny4d_case["depth"], **PASS1_TOLERANCE)
    assert_close(out["depth_conf"][0], tiny4d_case["depth_conf"], rtol=1e-4, atol=1e-4)
    assert_close(out["world_points"][0], tiny4d_case["world_points"], rtol=1e-4, atol=1e-4)
    assert_close(
        out["world_points_conf"][0], tiny4d_case["world_points_conf"], rtol=1e-4, atol=1e-4
    )
    extrinsics, intrinsics = pose_encoding_to_extri_intri(out["pose_enc"][0], images.shape[-2:])
    assert_close(extrinsics, tiny4d_case["extrinsic"], **PASS1_TOLERANCE)
    assert_close(intrinsics, tiny4d_case["intrinsic"], rtol=1e-5, atol=1e-5)
    assert_close(recorder.patch_tokens, tiny4d_case["enc_feat"], rtol=1e-4, atol=1e-4)
    start = tiny4d_model.aggregator.patch_start_idx
    frames = images.shape[0]
    assert_close(
        _patch_rows(recorder.q, frames, start), tiny4d_case["global_tok_q_l0"], rtol=0, atol=1e-4
    )
    assert_close(
        _patch_rows(recorder.k, frames, start), tiny4d_case["global_tok_k_l0"], rtol=0, atol=1e-4
    )


def test_masked_pass2_matches_official(tiny4d_model: VGGT, tiny4d_case: dict[str, Tensor]) -> None:
    dynamic = tiny4d_case["token_mask_pass2"]
    special = torch.ones(
        dynamic.shape[0], tiny4d_model.aggregator.patch_start_idx, dtype=torch.bool
    )
    keep = torch.cat((special, ~dynamic), dim=1)
    with torch.no_grad():
        out = tiny4d_model(tiny4d_case["images"], hooks=_DropDynamicKeys(keep))
    assert_close(out["pose_enc"][0], tiny4d_case["pose_enc_pass2"], **PASS1_TOLERANCE)
    assert_close(out["depth"][0, ..., 0], tiny4d_case["depth_pass2"], **PASS1_TOLERANCE)
    # The masking must matter here, or this test would prove nothing.
    assert (tiny4d_case["pose_enc_pass2"] - tiny4d_case["pose_enc"]).abs().max() > 1e-4
