"""``ReconstructOptions``: every VGGT4D option and the one place its default is written."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from vggt4d.dynamic.cues import FactorSpec
from vggt4d.option_types import check_values, options_from_json


@dataclass(frozen=True)
class ReconstructOptions:
    """Every VGGT4D option, and the only place their defaults are written: the released
    code's values (docs/vggt4d.md lists them with the stage that reads each one).

    The stage modules take these values as arguments (or the whole options object) and have
    no defaults of their own. Bad values raise InputError naming the option.
    """

    refine: bool = True
    refine_method: str = "residual"
    depth_from_pass: int = 1
    artist_mask_mode: str = "union"
    keep_intermediates: bool = False
    window_offsets: tuple[int, ...] = (-6, -4, -2, 2, 4, 6)
    mean_qq_mid_layers: tuple[int, ...] = (3, 4, 5, 6, 7)
    spread_qq_deep_layers: tuple[int, ...] = (18, 19)
    mean_qq_deep_layers: tuple[int, ...] = (17, 18, 19, 20, 21)
    mean_kk_shallow_layers: tuple[int, ...] = (0,)
    spread_qk_shallow_layers: tuple[int, ...] = (0,)
    spread_statistic: str = "std"
    kmeans_backend: str = "sklearn"
    feature_clusters: int = 64
    kmeans_token_budget: int = 100_000
    otsu_classes: tuple[int, ...] = (2, 3, 4)
    masked_blocks: tuple[int, ...] = (0, 1, 2, 3, 4)
    refine_neighbourhood: int = 32
    sor_neighbors: int = 20
    sor_std_ratio: float = 2.5
    refine_clusters: int = 30
    visibility_tolerance: float = 0.01
    min_static_fraction: float = 0.05
    residual_threshold: float = 0.1
    gradient_threshold: float = 0.05
    seed: int = 42

    def __post_init__(self) -> None:
        check_values(
            self,
            choices={
                "refine_method": ("residual", "gradient"),
                "depth_from_pass": (1, 2),
                "artist_mask_mode": ("union", "replace"),
                "spread_statistic": ("std", "var"),
                "kmeans_backend": ("sklearn", "torch"),
            },
            at_least=dict.fromkeys(
                ("feature_clusters", "refine_clusters", "refine_neighbourhood"), 1
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples become lists)."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in asdict(self).items()
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ReconstructOptions:
        """Inverse of ``to_dict``; unknown keys and wrong types are refused (InputError) so
        typos do not pass silently."""
        return cls(**options_from_json(cls, values, "VGGT4D options"))

    def factor_specs(self) -> tuple[FactorSpec, ...]:
        """The five factors of the released score ``(1-A)(1-B) C (1-D) E``, named like the
        reference, with this object's layers and spread statistic."""
        spread = self.spread_statistic
        return (
            FactorSpec("factor_A_mean_qq_mid", "q", "q", self.mean_qq_mid_layers, "mean", True),
            FactorSpec("factor_B_std_qq_deep", "q", "q", self.spread_qq_deep_layers, spread, True),
            FactorSpec("factor_C_mean_qq_deep", "q", "q", self.mean_qq_deep_layers, "mean", False),
            FactorSpec("factor_D_mean_kk_l0", "k", "k", self.mean_kk_shallow_layers, "mean", True),
            FactorSpec(
                "factor_E_std_qk_l0", "q", "k", self.spread_qk_shallow_layers, spread, False
            ),
        )
