"""Our VGGT re-implementation: module tree and attribute names mirror the checkpoint keys.

See docs/model.md for the public API, the hook API and the conventions kept from the official
implementation.
"""

from vggt4d.model.checkpoint import IGNORED_CHECKPOINT_PREFIXES, filter_checkpoint_keys
from vggt4d.model.config import (
    AggregatorConfig,
    CameraHeadConfig,
    DPTHeadConfig,
    PatchEmbedConfig,
    VGGTConfig,
)
from vggt4d.model.hooks import AttentionHooks, AttentionSite
from vggt4d.model.pose_encoding import extri_intri_to_pose_encoding, pose_encoding_to_extri_intri
from vggt4d.model.precision import autocast_dtype
from vggt4d.model.vggt import VGGT

__all__ = [
    "IGNORED_CHECKPOINT_PREFIXES",
    "VGGT",
    "AggregatorConfig",
    "AttentionHooks",
    "AttentionSite",
    "CameraHeadConfig",
    "DPTHeadConfig",
    "PatchEmbedConfig",
    "VGGTConfig",
    "autocast_dtype",
    "extri_intri_to_pose_encoding",
    "filter_checkpoint_keys",
    "pose_encoding_to_extri_intri",
]
