"""Checkpoint keys we accept and drop on purpose.

The track head is not implemented; its weights (``track_head.*``, 65.9 M parameters in
VGGT-1B) are dropped through this explicit allowlist. Every other key must match exactly.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

IGNORED_CHECKPOINT_PREFIXES: tuple[str, ...] = ("track_head.",)


def filter_checkpoint_keys(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Return ``state_dict`` without the keys under ``IGNORED_CHECKPOINT_PREFIXES``."""
    return {
        key: value
        for key, value in state_dict.items()
        if not key.startswith(IGNORED_CHECKPOINT_PREFIXES)
    }
