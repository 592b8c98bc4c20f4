"""VGGTConfig: defaults are VGGT-1B, reference config.json files are read completely."""

import json
from pathlib import Path

import pytest

from vggt4d.model import VGGT, VGGTConfig


def test_defaults_are_vggt1b(fixtures_dir: Path) -> None:
    manifest = json.loads((fixtures_dir / "vggt1b_manifest.json").read_text())
    config = VGGTConfig()
    assert (config.img_size, config.patch_size, config.embed_dim) == (518, 14, 1024)
    assert config.aggregator.depth == manifest["aggregator_depth"]
    assert config.aggregator.num_heads == manifest["aggregator_num_heads"]
    assert config.aggregator.patch_start_idx == manifest["patch_start_idx"]
    assert config.patch_embed.depth == manifest["dinov2"]["depth"]
    assert config.camera_head.trunk_depth == manifest["camera_head"]["trunk_depth"]
    for name in ("depth_head", "point_head"):
        head = getattr(config, name)
        expected = manifest[name]
        assert head.output_dim == expected["output_dim"]
        assert head.activation == expected["activation"]
        assert list(head.out_channels) == expected["out_channels"]
        assert list(head.intermediate_layer_idx) == expected["intermediate_layer_idx"]


def test_tiny_vggt4d_config_is_read_completely(fixtures_dir: Path) -> None:
    config = VGGTConfig.from_json(fixtures_dir / "tiny_vggt4d" / "config.json")
    assert config.embed_dim == 64
    assert config.aggregator.depth == 24
    assert config.aggregator.mlp_ratio == 2.0
    assert config.aggregator.layerscale_init == 0.01
    assert config.patch_embed.depth == 2 and config.patch_embed.mlp_ratio == 4
    assert config.camera_head.trunk_depth == 2 and config.camera_head.num_heads == 4
    assert config.depth_head.intermediate_layer_idx == (4, 11, 17, 23)
    assert config.depth_head.features == 32 and config.point_head.output_dim == 4
    assert config.depth_head.activation == "exp"


def test_config_from_dict_and_disabled_heads(fixtures_dir: Path) -> None:
    data = json.loads((fixtures_dir / "tiny_vggt" / "config.json").read_text())
    data["point_head"]["enabled"] = False
    data["unknown_section"] = {"ignored": True}
    model = VGGT.from_config(data)
    assert model.point_head is None
    assert not any(key.startswith("point_head.") for key in model.state_dict())


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("aggregator", "aa_order", ["global", "frame"], "aa_order"),
        ("aggregator", "aa_block_size", 2, "aa_block_size"),
        ("depth_head", "feature_only", True, "feature_only"),
        ("camera_head", "dim_in", 100, "dim_in"),
        ("depth_head", "intermediate_layer_idx", [1, 3, 4, 6], "outside"),
    ],
)
def test_unsupported_values_are_refused(
    fixtures_dir: Path, section: str, key: str, value: object, message: str
) -> None:
    data = json.loads((fixtures_dir / "tiny_vggt" / "config.json").read_text())
    data[section][key] = value
    with pytest.raises(ValueError, match=message):
        VGGTConfig.from_json(data)


def test_conv_patch_embed_config_builds_the_official_bare_projection(fixtures_dir: Path) -> None:
    """patch_embed.type "conv": one 14x14 projection (aggregator.patch_embed.proj), no ViT."""
    import torch
    import torch.nn.functional as F

    from vggt4d.model import AttentionHooks

    data = json.loads((fixtures_dir / "tiny_vggt" / "config.json").read_text())
    data["patch_embed"] = {"type": "conv"}
    model = VGGT.from_config(data).eval()
    keys = {key for key in model.state_dict() if key.startswith("aggregator.patch_embed.")}
    assert keys == {"aggregator.patch_embed.proj.weight", "aggregator.patch_embed.proj.bias"}

    class Catch(AttentionHooks):
        def on_patch_tokens(self, tokens: torch.Tensor) -> None:
            self.tokens = tokens

    images = torch.rand(2, 3, 28, 42, generator=torch.Generator().manual_seed(0))
    catch = Catch()
    with torch.no_grad():
        outputs = model(images, hooks=catch)
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        proj = model.aggregator.patch_embed.proj
        expected = F.conv2d((images - mean) / std, proj.weight, proj.bias, stride=14)
    torch.testing.assert_close(catch.tokens, expected.flatten(2).transpose(1, 2))
    assert outputs["depth"].shape == (1, 2, 28, 42, 1)


def test_unknown_patch_embed_type_is_refused() -> None:
    with pytest.raises(ValueError, match=r"patch_embed\.type"):
        VGGTConfig.from_json({"patch_embed": {"type": "resnet"}})
