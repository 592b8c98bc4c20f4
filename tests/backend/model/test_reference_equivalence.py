"""Numerical equivalence with the official VGGT on the tiny random model (tiny_vggt/case_a)."""

from dataclasses import replace

import torch
from torch import Tensor
from torch.testing import assert_close

from vggt4d.model import VGGT, AttentionHooks, AttentionSite, pose_encoding_to_extri_intri

TOLERANCE = {"rtol": 1e-4, "atol": 1e-4}


class _Recorder(AttentionHooks):
    """Keeps global q/k of every layer and the DINOv2 patch tokens (test only)."""

    def __init__(self) -> None:
        self.q: dict[int, Tensor] = {}
        self.k: dict[int, Tensor] = {}
        self.patch_tokens: Tensor | None = None

    def wants_qk(self, site: AttentionSite) -> bool:
        return site.kind == "global"

    def on_qk(self, site: AttentionSite, q: Tensor, k: Tensor) -> None:
        self.q[site.layer] = q.clone()
        self.k[site.layer] = k.clone()

    def on_patch_tokens(self, tokens: Tensor) -> None:
        self.patch_tokens = tokens.clone()


def test_tiny_outputs_match_official(tiny_model: VGGT, tiny_case: dict[str, Tensor]) -> None:
    recorder = _Recorder()
    with torch.no_grad():
        out = tiny_model(tiny_case["images"], hooks=recorder)
    for name in ("pose_enc", "depth", "depth_conf", "world_points", "world_points_conf"):
        assert out[name].shape == tiny_case[name].shape, name
        assert_close(out[name], tiny_case[name], **TOLERANCE, msg=name)
    assert len(out["pose_enc_list"]) == 4
    assert_close(torch.stack(out["pose_enc_list"]), tiny_case["pose_enc_list"], **TOLERANCE)
    assert_close(out["images"], tiny_case["images"][None])

    extrinsics, intrinsics = pose_encoding_to_extri_intri(out["pose_enc"], (154, 210))
    assert_close(extrinsics, tiny_case["extrinsic"], **TOLERANCE)
    assert_close(intrinsics, tiny_case["intrinsic"], **TOLERANCE)

    assert_close(recorder.patch_tokens, tiny_case["dino_patch_tokens"], **TOLERANCE)
    assert sorted(recorder.q) == list(range(6))
    for layer in range(6):
        assert_close(recorder.q[layer], tiny_case[f"global_q_{layer}"], **TOLERANCE)
        assert_close(recorder.k[layer], tiny_case[f"global_k_{layer}"], **TOLERANCE)


def test_tiny_aggregator_layers_match_official(
    tiny_model: VGGT, tiny_case: dict[str, Tensor]
) -> None:
    with torch.no_grad():
        layers = tiny_model.aggregator(tiny_case["images"][None], keep_layers=(0, 5))
    assert sorted(layers) == [0, 5]
    assert_close(layers[0], tiny_case["aggregated_tokens_layer0"], **TOLERANCE)
    assert_close(layers[5], tiny_case["aggregated_tokens_layer5"], **TOLERANCE)


def test_head_subset(tiny_model: VGGT, tiny_case: dict[str, Tensor]) -> None:
    with torch.no_grad():
        camera_only = tiny_model(tiny_case["images"], heads=("camera",))
    assert set(camera_only) == {"pose_enc", "pose_enc_list", "images"}
    assert_close(camera_only["pose_enc"], tiny_case["pose_enc"], **TOLERANCE)


def test_frame_chunking_does_not_change_results(
    tiny_model: VGGT, tiny_case: dict[str, Tensor]
) -> None:
    # Chunks of 3 frames over S=4: one full chunk and one partial chunk.
    config = tiny_model.config
    config = replace(config, depth_head=replace(config.depth_head, frames_chunk_size=3))
    chunked = VGGT(config).eval()
    chunked.load_state_dict(tiny_model.state_dict())
    with torch.no_grad():
        out = chunked(tiny_case["images"], heads=("depth",))
    assert_close(out["depth"], tiny_case["depth"], **TOLERANCE)
    assert_close(out["depth_conf"], tiny_case["depth_conf"], **TOLERANCE)


def test_bfloat16_weights_run_close_to_float32(
    tiny_model: VGGT, tiny_case: dict[str, Tensor]
) -> None:
    half = VGGT(tiny_model.config).eval()
    half.load_state_dict(tiny_model.state_dict())
    half = half.to(torch.bfloat16)
    with torch.no_grad():
        out = half(tiny_case["images"], heads=("camera", "depth"))
    assert out["depth"].dtype == torch.bfloat16
    assert_close(out["pose_enc"].float(), tiny_case["pose_enc"], rtol=0.05, atol=0.05)
    assert_close(out["depth"].float(), tiny_case["depth"], rtol=0.1, atol=0.05)
