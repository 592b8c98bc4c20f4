"""Building blocks whose attribute names are checkpoint key segments (attn, mlp, ls1, ...)."""

from vggt4d.model.layers.attention import Attention
from vggt4d.model.layers.block import Block
from vggt4d.model.layers.layer_scale import LayerScale
from vggt4d.model.layers.mlp import Mlp
from vggt4d.model.layers.rope import RopeTables, apply_rope, frame_rope_tables

__all__ = [
    "Attention",
    "Block",
    "LayerScale",
    "Mlp",
    "RopeTables",
    "apply_rope",
    "frame_rope_tables",
]
