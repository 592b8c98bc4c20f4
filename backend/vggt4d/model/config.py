"""One frozen configuration that owns every VGGT hyper-parameter.

The defaults are VGGT-1B (facebook/VGGT-1B, ``vggt1b_manifest.json``). ``VGGTConfig.from_json``
reads the schema of the reference ``config.json`` files (``tiny_vggt``, ``tiny_vggt4d``): every
model hyper-parameter is read, unknown keys (notes, the ``vggt4d`` section, totals) are ignored,
and values our implementation does not support (another attention order, a feature-only DPT
head, ...) raise ``ValueError`` instead of being silently dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class PatchEmbedConfig:
    """DINOv2-with-registers ViT used as the patch embedding (ViT-L/14 for VGGT-1B).

    ``kind="conv"`` is the official aggregator's other choice: a bare 14x14 patch projection
    (key ``aggregator.patch_embed.proj``) that small test models use; the ViT fields are unused.
    """

    kind: str = "dinov2"
    depth: int = 24
    num_heads: int = 16
    mlp_ratio: float = 4.0
    num_register_tokens: int = 4
    interpolate_antialias: bool = True
    interpolate_offset: float = 0.0
    layerscale_init: float = 1.0
    norm_eps: float = 1e-6
    qkv_bias: bool = True
    proj_bias: bool = True
    ffn_bias: bool = True


@dataclass(frozen=True)
class AggregatorConfig:
    """Alternating frame/global attention blocks (one frame block then one global block)."""

    depth: int = 24
    num_heads: int = 16
    mlp_ratio: float = 4.0
    num_register_tokens: int = 4
    qkv_bias: bool = True
    proj_bias: bool = True
    ffn_bias: bool = True
    qk_norm: bool = True
    rope_freq: float = 100.0
    layerscale_init: float = 0.01
    norm_eps: float = 1e-5

    @property
    def patch_start_idx(self) -> int:
        """Index of the first patch token in a frame: camera token + register tokens."""
        return 1 + self.num_register_tokens


@dataclass(frozen=True)
class CameraHeadConfig:
    """Camera head: AdaLN-modulated trunk over the camera tokens, iterative refinement."""

    enabled: bool = True
    trunk_depth: int = 4
    num_heads: int = 16
    mlp_ratio: float = 4.0
    layerscale_init: float = 0.01
    trans_act: str = "linear"
    quat_act: str = "linear"
    fl_act: str = "relu"
    num_iterations: int = 4


@dataclass(frozen=True)
class DPTHeadConfig:
    """Dense prediction head (depth: 2 channels + exp; points: 4 channels + inv_log)."""

    enabled: bool = True
    output_dim: int = 4
    activation: str = "inv_log"
    conf_activation: str = "expp1"
    features: int = 256
    out_channels: tuple[int, int, int, int] = (256, 512, 1024, 1024)
    intermediate_layer_idx: tuple[int, int, int, int] = (4, 11, 17, 23)
    pos_embed: bool = True
    down_ratio: int = 1
    head_features_2: int = 32
    frames_chunk_size: int = 8


def _depth_head_default() -> DPTHeadConfig:
    return DPTHeadConfig(output_dim=2, activation="exp")


@dataclass(frozen=True)
class VGGTConfig:
    """All hyper-parameters of a VGGT model; ``VGGTConfig()`` is VGGT-1B."""

    img_size: int = 518
    patch_size: int = 14
    embed_dim: int = 1024
    patch_embed: PatchEmbedConfig = field(default_factory=PatchEmbedConfig)
    aggregator: AggregatorConfig = field(default_factory=AggregatorConfig)
    camera_head: CameraHeadConfig = field(default_factory=CameraHeadConfig)
    depth_head: DPTHeadConfig = field(default_factory=_depth_head_default)
    point_head: DPTHeadConfig = field(default_factory=DPTHeadConfig)

    def __post_init__(self) -> None:
        if self.img_size % self.patch_size:
            raise ValueError(f"img_size {self.img_size} is not a multiple of {self.patch_size}")
        for name in ("depth_head", "point_head"):
            head: DPTHeadConfig = getattr(self, name)
            for index in head.intermediate_layer_idx:
                if not 0 <= index < self.aggregator.depth:
                    raise ValueError(
                        f"{name}.intermediate_layer_idx {index} outside the "
                        f"{self.aggregator.depth} aggregator blocks"
                    )

    @property
    def token_dim(self) -> int:
        """Width of an aggregator output: frame and global tokens concatenated."""
        return 2 * self.embed_dim

    @classmethod
    def from_json(cls, source: str | Path | Mapping[str, Any]) -> VGGTConfig:
        """Read a reference ``config.json`` (path or already-parsed dict)."""
        if isinstance(source, Mapping):
            data: Mapping[str, Any] = source
        else:
            data = json.loads(Path(source).read_text(encoding="utf-8"))
        return _config_from_mapping(data)


def _pick(cls: type, section: Mapping[str, Any], renames: Mapping[str, str]) -> dict[str, Any]:
    """Keep the keys of ``section`` that are fields of ``cls`` (after renaming), as field types."""
    names = {item.name for item in fields(cls)}
    picked: dict[str, Any] = {}
    for key, value in section.items():
        name = renames.get(key, key)
        if name in names:
            picked[name] = tuple(value) if isinstance(value, list) else value
    return picked


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(f"unsupported VGGT config: {message}")


def _config_from_mapping(data: Mapping[str, Any]) -> VGGTConfig:
    top = _pick(VGGTConfig, data, {})
    for section in ("patch_embed", "aggregator", "camera_head", "depth_head", "point_head"):
        top.pop(section, None)
    embed_dim = top.get("embed_dim", VGGTConfig.embed_dim)
    patch_size = top.get("patch_size", VGGTConfig.patch_size)
    img_size = top.get("img_size", VGGTConfig.img_size)

    aggregator = dict(data.get("aggregator", {}))
    _require(
        tuple(aggregator.pop("aa_order", ("frame", "global"))) == ("frame", "global"),
        "aa_order must be ['frame', 'global']",
    )
    _require(aggregator.pop("aa_block_size", 1) == 1, "aa_block_size must be 1")
    aggregator_config = AggregatorConfig(
        **_pick(AggregatorConfig, aggregator, {"layerscale_init_values": "layerscale_init"})
    )
    _require(
        aggregator.get("patch_start_idx", aggregator_config.patch_start_idx)
        == aggregator_config.patch_start_idx,
        "patch_start_idx must be 1 + num_register_tokens",
    )

    patch = dict(data.get("patch_embed", {}))
    patch_type = str(patch.get("type", "dinov2")).lower()
    _require(
        patch_type.startswith(("conv", "dinov2")),
        f"patch_embed.type {patch_type!r} is not supported (dinov2... or conv)",
    )
    patch["kind"] = "conv" if patch_type.startswith("conv") else "dinov2"
    _require(patch.get("embed_dim", embed_dim) == embed_dim, "patch_embed.embed_dim != embed_dim")
    _require(patch.get("patch_size", patch_size) == patch_size, "patch_embed.patch_size differs")
    _require(patch.get("img_size", img_size) == img_size, "patch_embed.img_size differs")
    _require(
        patch.get("pos_embed_grid", img_size // patch_size) == img_size // patch_size,
        "patch_embed.pos_embed_grid must be img_size / patch_size",
    )
    _require(not patch.get("qk_norm", False), "patch_embed.qk_norm is not supported")
    _require(patch.get("ffn_layer", "mlp") == "mlp", "patch_embed.ffn_layer must be 'mlp'")
    _require(patch.get("block_chunks", 0) == 0, "patch_embed.block_chunks must be 0")
    patch_config = PatchEmbedConfig(
        **_pick(PatchEmbedConfig, patch, {"layerscale_init_values": "layerscale_init"})
    )

    camera = dict(data.get("camera_head", {}))
    _require(
        camera.get("pose_encoding_type", "absT_quaR_FoV") == "absT_quaR_FoV",
        "camera_head.pose_encoding_type must be absT_quaR_FoV",
    )
    _check_dim_in("camera_head", camera, embed_dim)
    camera_config = CameraHeadConfig(
        **_pick(CameraHeadConfig, camera, {"init_values": "layerscale_init"})
    )

    heads = {}
    for name, default in (("depth_head", _depth_head_default()), ("point_head", DPTHeadConfig())):
        section = dict(data.get(name, {}))
        _require(not section.get("feature_only", False), f"{name}.feature_only is not supported")
        _require(section.get("patch_size", patch_size) == patch_size, f"{name}.patch_size differs")
        _check_dim_in(name, section, embed_dim)
        values = {**_pick(DPTHeadConfig, default.__dict__, {}), **_pick(DPTHeadConfig, section, {})}
        heads[name] = DPTHeadConfig(**values)

    return VGGTConfig(
        **top,
        patch_embed=patch_config,
        aggregator=aggregator_config,
        camera_head=camera_config,
        **heads,
    )


def _check_dim_in(name: str, section: Mapping[str, Any], embed_dim: int) -> None:
    _require(
        section.get("dim_in", 2 * embed_dim) == 2 * embed_dim,
        f"{name}.dim_in must be 2 * embed_dim",
    )
