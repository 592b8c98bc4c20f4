"""``reconstruct`` end to end on the tiny reference case, options and edge cases."""

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from vggt4d.errors import CancelledError, InputError
from vggt4d.model import VGGT
from vggt4d.pipeline import STAGES, Reconstruction, ReconstructOptions, reconstruct

CASE_DIR = Path(__file__).parents[1] / "fixtures" / "tiny_vggt4d"


@pytest.fixture(scope="module")
def case():
    return load_file(CASE_DIR / "case.safetensors")


@pytest.fixture(scope="module")
def model():
    model = VGGT.from_config(CASE_DIR / "config.json")
    model.load_checkpoint_state(load_file(CASE_DIR / "weights.safetensors"))
    return model.eval()


@pytest.fixture(scope="module")
def default_run(case, model) -> Reconstruction:
    return reconstruct(case["images"], model, ReconstructOptions(keep_intermediates=True))


def iou(a, b) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def test_end_to_end_matches_official_fields(case, default_run):
    found = default_run.intermediates
    for name in (
        "factor_A_mean_qq_mid",
        "factor_B_std_qq_deep",
        "factor_C_mean_qq_deep",
        "factor_D_mean_kk_l0",
        "factor_E_std_qk_l0",
        "dyn_map",
        "enc_feat",
        "cluster_map",
        "pose_enc",
        "pose_enc_pass2",
    ):
        np.testing.assert_allclose(
            found[name], case[name].numpy(), rtol=1e-4, atol=1e-4, err_msg=name
        )
    np.testing.assert_array_equal(found["cluster_labels"], case["cluster_labels"].numpy())
    assert found["otsu_threshold"] == pytest.approx(case["otsu_threshold"].item(), abs=1e-4)
    assert iou(found["coarse_mask"], case["coarse_mask_official"].numpy()) >= 0.999
    assert iou(default_run.coarse_masks, case["coarse_mask_official"].numpy()) >= 0.999
    assert iou(default_run.refined_masks, case["refined_mask_official"].numpy()) >= 0.95


def test_end_to_end_outputs_compose_pass1_and_pass2(case, default_run):
    result = default_run
    close = {"rtol": 1e-4, "atol": 1e-4}
    np.testing.assert_allclose(result.extrinsics, case["extrinsic_pass2"].numpy(), **close)
    np.testing.assert_allclose(result.intrinsics, case["intrinsic"].numpy(), **close)
    np.testing.assert_allclose(result.depth, case["depth"].numpy(), **close)
    np.testing.assert_allclose(result.depth_conf, case["depth_conf"].numpy(), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(result.images, case["images"].permute(0, 2, 3, 1).numpy())
    assert result.world_points.shape == (10, 98, 154, 3)
    # World points are depth unprojected at pixel centres: reprojecting gives the pixel back.
    rotation, translation = result.extrinsics[:, :, :3], result.extrinsics[:, :, 3]
    camera = np.einsum("sij,shwj->shwi", rotation, result.world_points) + translation[:, None, None]
    pixels = np.einsum("sij,shwj->shwi", result.intrinsics, camera)
    np.testing.assert_allclose(pixels[0, 3, 5, :2] / pixels[0, 3, 5, 2], [5.5, 3.5], atol=1e-3)
    np.testing.assert_allclose(camera[..., 2], result.depth, rtol=1e-4, atol=1e-4)
    assert set(result.timings) == set(STAGES) and all(v >= 0 for v in result.timings.values())
    assert result.warnings == []


def test_intermediates_are_empty_unless_asked(case, model):
    result = reconstruct(case["images"][:4], model, ReconstructOptions(refine=False))
    assert result.intermediates == {}
    np.testing.assert_array_equal(result.refined_masks, result.coarse_masks)


def test_depth_from_pass_two(case, model):
    result = reconstruct(
        case["images"],
        model,
        ReconstructOptions(depth_from_pass=2, refine=False, keep_intermediates=True),
    )
    np.testing.assert_allclose(result.depth, case["depth_pass2"].numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(result.intermediates["depth_pass2"], result.depth)


def test_options_round_trip_and_reject_unknown_keys():
    options = ReconstructOptions(refine_method="gradient", window_offsets=(-1, 1))
    assert ReconstructOptions.from_dict(options.to_dict()) == options
    with pytest.raises(InputError, match="refine_metod"):
        ReconstructOptions.from_dict({"refine_metod": "residual"})
    with pytest.raises(InputError, match="kmeans_backend"):
        ReconstructOptions(kmeans_backend="faiss")


@pytest.mark.parametrize("mode", ["union", "replace"])
def test_artist_masks_are_honoured_and_never_removed(case, model, mode):
    painted = np.zeros((98, 154), dtype=bool)
    painted[10:40, 100:150] = True
    result = reconstruct(
        case["images"][:6],
        model,
        ReconstructOptions(artist_mask_mode=mode, keep_intermediates=True),
        artist_masks={2: painted},
    )
    mined = result.intermediates["coarse_mask"]
    expected = (mined[2] | painted) if mode == "union" else painted
    np.testing.assert_array_equal(result.coarse_masks[2], expected)
    np.testing.assert_array_equal(result.coarse_masks[[0, 1, 3, 4, 5]], mined[[0, 1, 3, 4, 5]])
    assert result.refined_masks[2][painted].all()


def test_transparent_pixels_are_masked_in_pass_2_but_are_no_movers(case, model):
    images = case["images"][:4]
    transparent = np.zeros((4, 98, 154), dtype=bool)
    transparent[:, :, 77:] = True  # the right half is cut out
    plain = reconstruct(images, model, ReconstructOptions(keep_intermediates=True))
    cut = reconstruct(
        images,
        model,
        ReconstructOptions(artist_mask_mode="replace", keep_intermediates=True),
        artist_masks={1: np.zeros((98, 154), dtype=bool)},
        transparent=transparent,
    )
    assert plain.coarse_masks[:, :, 77:].any()  # the mined masks reach into that half
    assert not cut.coarse_masks[:, :, 77:].any() and not cut.refined_masks[:, :, 77:].any()
    mined = plain.intermediates["coarse_mask"]
    np.testing.assert_array_equal(cut.coarse_masks[[0, 2, 3], :, :77], mined[[0, 2, 3], :, :77])
    assert not cut.coarse_masks[1].any()  # the artist's empty mask replaced frame 1's
    # pass 2 dropped the cut-out's tokens: its cameras differ from the plain run's
    assert not np.allclose(cut.extrinsics, plain.extrinsics, atol=1e-5)
    with pytest.raises(InputError, match="transparent-pixel masks"):
        reconstruct(images, model, transparent=transparent[:3])


def test_artist_mask_for_missing_frame_is_rejected(case, model):
    with pytest.raises(InputError, match="frame 7"):
        reconstruct(case["images"][:4], model, artist_masks={7: np.zeros((98, 154), bool)})


def test_single_frame_is_static_with_a_warning(case, model):
    result = reconstruct(case["images"][:1], model)
    assert not result.coarse_masks.any() and not result.refined_masks.any()
    assert result.warnings and "single frame" in result.warnings[0]
    assert result.extrinsics.shape == (1, 3, 4)


@pytest.mark.parametrize("frames", [2, 3])
def test_very_short_shots_have_finite_maps(case, model, frames):
    result = reconstruct(
        case["images"][:frames], model, ReconstructOptions(keep_intermediates=True)
    )
    assert np.isfinite(result.intermediates["dyn_map"]).all()
    assert np.isfinite(result.extrinsics).all() and np.isfinite(result.world_points).all()
    assert result.coarse_masks.shape == (frames, 98, 154)


def test_static_shot_and_portrait_input(model):
    generator = torch.Generator().manual_seed(3)
    frame = torch.rand(1, 3, 56, 28, generator=generator)
    images = (frame + 0.01 * torch.randn(4, 3, 56, 28, generator=generator)).clamp(0, 1)
    result = reconstruct(images, model, ReconstructOptions(keep_intermediates=True))
    # 4 frames x 8 patches = 32 tokens < 64 clusters: one cluster per token.
    assert sorted(np.unique(result.intermediates["cluster_labels"])) == list(range(32))
    assert result.depth.shape == (4, 56, 28) and np.isfinite(result.depth).all()
    assert result.refined_masks.shape == (4, 56, 28)


def test_cancellation_stops_at_a_boundary(case, model):
    calls = []

    def should_cancel() -> bool:
        return "clustering" in calls

    with pytest.raises(CancelledError, match="Cancelled by the user"):
        reconstruct(
            case["images"][:4],
            model,
            progress=lambda stage, _: calls.append(stage),
            should_cancel=should_cancel,
        )
    assert "pass2" not in calls


def test_progress_reports_every_stage(case, model):
    seen = []
    reconstruct(
        case["images"][:4], model, progress=lambda stage, fraction: seen.append((stage, fraction))
    )
    assert [stage for stage in STAGES if (stage, 1.0) in seen] == list(STAGES)


def test_model_with_too_few_blocks_is_rejected(case):
    import json

    config = json.loads((CASE_DIR / "config.json").read_text())
    config["aggregator"]["depth"] = 8
    config["depth_head"]["intermediate_layer_idx"] = [1, 3, 5, 7]
    config["point_head"]["intermediate_layer_idx"] = [1, 3, 5, 7]
    shallow = VGGT.from_config(config).eval()
    with pytest.raises(InputError, match="8 attention blocks"):
        reconstruct(case["images"][:4], shallow)
