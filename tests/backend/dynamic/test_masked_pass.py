"""Pass 1 (with the cue hooks) and pass 2 (masked keys) of the tiny model against the reference."""

import torch

from vggt4d.dynamic.cues import CueHooks, CueStatistics
from vggt4d.dynamic.masked_pass import MaskedAttentionHooks, dynamic_patches, token_keep_mask
from vggt4d.model import pose_encoding_to_extri_intri
from vggt4d.options import ReconstructOptions

NETWORK = {"rtol": 1e-4, "atol": 1e-4}

OPTIONS = ReconstructOptions()


def test_token_mask_matches_official(case):
    assert torch.equal(dynamic_patches(case["coarse_mask_official"]), case["token_mask_pass2"])
    keep = token_keep_mask(case["coarse_mask_official"])
    assert keep.shape == (10, 5 + 77) and keep[:, :5].all()


def test_pass1_outputs_features_and_factors(case, tiny_model):
    statistics = CueStatistics(10, OPTIONS.factor_specs())
    hooks = CueHooks(statistics)
    with torch.no_grad():
        outputs = tiny_model(case["images"], hooks=hooks)
    torch.testing.assert_close(outputs["pose_enc"][0], case["pose_enc"], **NETWORK)
    torch.testing.assert_close(outputs["depth"][0, ..., 0], case["depth"], **NETWORK)
    torch.testing.assert_close(outputs["depth_conf"][0], case["depth_conf"], **NETWORK)
    torch.testing.assert_close(outputs["world_points"][0], case["world_points"], **NETWORK)
    torch.testing.assert_close(hooks.patch_tokens, case["enc_feat"], **NETWORK)
    factors = statistics.factors()
    for name, value in factors.items():
        torch.testing.assert_close(value, case[name].reshape(10, -1), **NETWORK)
    torch.testing.assert_close(
        statistics.dynamic_map(factors), case["dyn_map"].reshape(10, -1), **NETWORK
    )
    extrinsics, intrinsics = pose_encoding_to_extri_intri(outputs["pose_enc"], (98, 154))
    torch.testing.assert_close(extrinsics[0], case["extrinsic"], **NETWORK)
    torch.testing.assert_close(intrinsics[0], case["intrinsic"], **NETWORK)


def test_pass2_given_official_coarse_mask(case, tiny_model):
    hooks = MaskedAttentionHooks(
        token_keep_mask(case["coarse_mask_official"]), OPTIONS.masked_blocks
    )
    with torch.no_grad():
        outputs = tiny_model(case["images"], hooks=hooks, heads=("camera", "depth"))
    torch.testing.assert_close(outputs["pose_enc"][0], case["pose_enc_pass2"], **NETWORK)
    torch.testing.assert_close(outputs["depth"][0, ..., 0], case["depth_pass2"], **NETWORK)
    extrinsics, _ = pose_encoding_to_extri_intri(outputs["pose_enc"], (98, 154))
    torch.testing.assert_close(extrinsics[0], case["extrinsic_pass2"], **NETWORK)


def test_cue_memory_grows_linearly_with_frames(case, tiny_model):
    """Bytes the cue hook holds plus its largest transient (window averages, Gram chunk, the
    float32 copy of one layer's q/k) and the kept patch features, at S = 8 and S = 32."""
    peaks = {}
    for frames in (8, 32):
        images = case["images"][torch.arange(frames) % 10]
        statistics = CueStatistics(frames, OPTIONS.factor_specs())
        hooks = CueHooks(statistics)
        with torch.no_grad():
            tiny_model(images, hooks=hooks, heads=())
        features = hooks.patch_tokens.numel() * hooks.patch_tokens.element_size()
        peaks[frames] = statistics.peak_bytes + features
    assert peaks[32] / peaks[8] <= 4.4, peaks
