"""VGGT4D end to end: one entry point, ``reconstruct``, used by the job runner, CLI and server.

Stages (names used in ``progress`` and ``timings``):
pass1 (VGGT forward, cue statistics streamed from the global blocks), cues (finish the factor
maps), clustering (feature k-means, cluster-averaged score, multi-Otsu -> coarse masks, artist
masks merged), pass2 (aggregator + camera head with dynamic tokens removed in the early
blocks), refinement (per-cluster reprojection test). Order and defaults are the released
code's (docs/vggt4d.md lists our deviations).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from vggt4d.dynamic.clustering import (
    adaptive_multiotsu,
    cluster_average,
    cluster_features_sklearn,
    cluster_features_torch,
    coarse_masks,
    upsample_scores,
)
from vggt4d.dynamic.cues import CueHooks, CueStatistics
from vggt4d.dynamic.masked_pass import MaskedAttentionHooks, token_keep_mask
from vggt4d.dynamic.refinement import refine_masks
from vggt4d.errors import InputError
from vggt4d.geometry import PIXEL_CENTRE_OFFSET, unproject_depth
from vggt4d.model import VGGT, pose_encoding_to_extri_intri
from vggt4d.options import ReconstructOptions
from vggt4d.stages import Stages

STAGES = ("pass1", "cues", "clustering", "pass2", "refinement")


@dataclass
class Reconstruction:
    """Per-frame cameras, depth and masks at model resolution (see docs/vggt4d.md)."""

    images: np.ndarray
    extrinsics: np.ndarray
    intrinsics: np.ndarray
    depth: np.ndarray
    depth_conf: np.ndarray
    world_points: np.ndarray
    coarse_masks: np.ndarray
    refined_masks: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    intermediates: dict[str, Any] = field(default_factory=dict)


class _Run(Stages):
    """One reconstruction: the stage context plus the options and kept intermediates."""

    def __init__(self, options: ReconstructOptions, stages: Stages) -> None:
        super().__init__(stages.progress, stages.should_cancel, stages.workload)
        self.timings.update(dict.fromkeys(STAGES, 0.0))
        self.options = options
        self.intermediates: dict[str, Any] = {}

    def keep(self, **values: Any) -> None:
        """Store intermediates only when asked for (no copies otherwise)."""
        if self.options.keep_intermediates:
            for name, value in values.items():
                self.intermediates[name] = (
                    value.cpu().numpy() if isinstance(value, torch.Tensor) else value
                )


def reconstruct(
    images: torch.Tensor,
    model: VGGT,
    options: ReconstructOptions | None = None,
    *,
    artist_masks: Mapping[int, np.ndarray] | None = None,
    transparent: np.ndarray | None = None,
    progress: Callable[[str, float], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> Reconstruction:
    """Run VGGT4D on images float [S, 3, H, W] in [0, 1] (H, W multiples of 14).

    artist_masks: frame index -> bool [H, W] at model resolution, united with (or replacing)
    the mined masks of those frames; refinement never removes them.
    transparent: bool [S, H, W] at model resolution, pixels with no picture (a cut-out plate's
    alpha < 0.5). Pass 2 masks them like movers, but they are never movers: the coarse and
    refined masks leave them out.
    Raises InputError for unusable input, CancelledError when ``should_cancel()`` turns true,
    OutOfMemoryError.
    """
    options = options or ReconstructOptions()
    images = _check_images(images, model.config.patch_size)
    frames, _, height, width = images.shape
    artist = _check_artist_masks(artist_masks, frames, height, width)
    clear = _check_transparent(transparent, frames, height, width)
    workload = f"on {frames} frames at {width}x{height}"
    run = _Run(options, Stages(progress, should_cancel, workload))
    images = images.to(next(model.parameters()).device)
    return _reconstruct(images, model, run, artist, clear)


def _reconstruct(
    images: torch.Tensor,
    model: VGGT,
    run: _Run,
    artist: dict[int, np.ndarray],
    transparent: np.ndarray,
) -> Reconstruction:
    options = run.options
    frames, _, height, width = images.shape
    warnings: list[str] = []
    hooks = _cue_hooks(run, model, frames)
    depth1, depth_conf1, extrinsics, intrinsics = _plain_pass(run, model, images, hooks)
    if hooks is None:
        warnings.append("A single frame has no motion cue: every pixel is treated as static.")
        mined = np.zeros((frames, height, width), dtype=bool)
    else:
        mined = _mine_masks(run, hooks, (height, width), model.config.patch_size)
    # transparent pixels are masked like movers in pass 2 and refinement, never reported as ones
    masked = _merge_artist(mined, artist, options.artist_mask_mode) | transparent
    run.keep(coarse_mask=mined)

    depth, depth_conf, refined = depth1, depth_conf1, masked.copy()
    if hooks is not None:  # more than one frame
        extrinsics, depth2, depth_conf2 = _masked_pass(
            run, model, images, masked, hooks.patch_tokens
        )
        if options.depth_from_pass == 2:
            depth, depth_conf = depth2, depth_conf2
        if options.refine:
            refined = _refine(run, images, depth1, masked, extrinsics, intrinsics)
            for frame, mask in artist.items():
                refined[frame] |= mask
    refined &= ~transparent
    run.keep(refined_mask=refined)
    world_points = unproject_depth(
        depth.cpu(), intrinsics.cpu(), extrinsics.cpu(), pixel_offset=PIXEL_CENTRE_OFFSET
    )
    return Reconstruction(
        images=images.permute(0, 2, 3, 1).float().cpu().numpy(),
        extrinsics=extrinsics.cpu().numpy(),
        intrinsics=intrinsics.cpu().numpy(),
        depth=depth.cpu().numpy(),
        depth_conf=depth_conf.cpu().numpy(),
        world_points=world_points.numpy(),
        coarse_masks=masked & ~transparent,
        refined_masks=refined,
        timings=run.timings,
        warnings=warnings,
        intermediates=run.intermediates,
    )


def _cue_hooks(run: _Run, model: VGGT, frames: int) -> CueHooks | None:
    """Pass-1 hooks for the cue statistics (None for a single frame: there is no motion)."""
    options = run.options
    depth_count = model.aggregator.depth
    specs = options.factor_specs()
    needed = {layer for spec in specs for layer in spec.layers} | set(options.masked_blocks)
    outside = sorted(layer for layer in needed if not 0 <= layer < depth_count)
    if outside:
        raise InputError(
            f"This model has {depth_count} attention blocks, but VGGT4D needs blocks "
            f"{outside} for its motion cues or masked pass; use a 24-block VGGT or change "
            "the cue layer options."
        )
    if frames < 2:
        return None
    statistics = CueStatistics(frames, specs, options.window_offsets)
    return CueHooks(
        statistics,
        model.aggregator.patch_start_idx,
        lambda layer: run.report("pass1", (layer + 1) / depth_count),
    )


def _plain_pass(
    run: _Run, model: VGGT, images: torch.Tensor, hooks: CueHooks | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pass 1: depth, depth confidence, cam-from-world and intrinsics; cues stream into hooks."""
    with run.stage("pass1"):
        outputs = _forward(model, images, hooks, ("camera", "depth"))
        extrinsics, intrinsics = _cameras(outputs["pose_enc"], tuple(images.shape[-2:]))
        run.keep(pose_enc=outputs["pose_enc"][0])
    cue_seconds = hooks.seconds if hooks is not None else 0.0  # streamed during pass 1
    run.timings["pass1"] -= cue_seconds
    run.timings["cues"] += cue_seconds
    return (
        outputs["depth"][0, ..., 0].float(),
        outputs["depth_conf"][0].float(),
        extrinsics,
        intrinsics,
    )


def _mine_masks(
    run: _Run, hooks: CueHooks, image_size: tuple[int, int], patch_size: int
) -> np.ndarray:
    """Cue maps -> cluster-averaged score -> multi-Otsu coarse masks, bool [S, H, W]."""
    options = run.options
    features = hooks.patch_tokens  # [S, P, C]
    height, width = image_size
    grid = (height // patch_size, width // patch_size)
    with run.stage("cues"):
        factors = hooks.statistics.factors()
        dynamic_map = hooks.statistics.dynamic_map(factors).reshape(-1, *grid)
        run.keep(
            **{name: value.reshape(-1, *grid) for name, value in factors.items()},
            dyn_map=dynamic_map,
            enc_feat=features,
        )
    with run.stage("clustering"):
        flat = features.reshape(-1, features.shape[-1])
        if options.kmeans_backend == "sklearn":
            labels = cluster_features_sklearn(
                flat.cpu().numpy(), options.feature_clusters, options.seed
            )
        else:
            labels = cluster_features_torch(
                flat, options.feature_clusters, options.seed, options.kmeans_token_budget
            )
        labels = labels.reshape(-1, *grid)
        run.report("clustering", 0.5)
        cluster_map = cluster_average(dynamic_map.cpu().numpy(), labels)
        upsampled = upsample_scores(cluster_map, height, width)
        threshold = adaptive_multiotsu(upsampled, options.otsu_classes)
        mined = coarse_masks(upsampled, threshold)
        run.keep(cluster_labels=labels, cluster_map=cluster_map, otsu_threshold=threshold)
    return mined


def _masked_pass(
    run: _Run, model: VGGT, images: torch.Tensor, coarse: np.ndarray, patch_tokens: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Aggregator + camera head (+ depth head when depth comes from pass 2) with masked keys.

    The patch embedding does not see the masks, so pass 1's tokens are reused (exact).
    """
    with run.stage("pass2"):
        keep = token_keep_mask(
            torch.from_numpy(coarse), model.config.patch_size, model.aggregator.patch_start_idx
        )
        hooks = MaskedAttentionHooks(keep.to(images.device), run.options.masked_blocks)
        heads = ("camera", "depth") if run.options.depth_from_pass == 2 else ("camera",)
        outputs = _forward(model, images, hooks, heads, patch_tokens)
        extrinsics, _ = _cameras(outputs["pose_enc"], tuple(images.shape[-2:]))
        depth = depth_conf = None
        if "depth" in heads:
            depth = outputs["depth"][0, ..., 0].float()
            depth_conf = outputs["depth_conf"][0].float()
            run.keep(depth_pass2=depth)
        run.keep(pose_enc_pass2=outputs["pose_enc"][0])
    return extrinsics, depth, depth_conf


def _refine(
    run: _Run,
    images: torch.Tensor,
    depth: torch.Tensor,
    coarse: np.ndarray,
    extrinsics: torch.Tensor,
    intrinsics: torch.Tensor,
) -> np.ndarray:
    """Released refinement on pass-1 depth/intrinsics and pass-2 poses; bool [S, H, W]."""
    frames = images.shape[0]
    with run.stage("refinement"):
        result = refine_masks(
            images.float().cpu(),
            depth.cpu(),
            torch.from_numpy(coarse),
            extrinsics.cpu(),
            intrinsics.cpu(),
            run.options,
            on_frame=lambda frame: run.report("refinement", frame / frames),
        )
    return result.refined


def _forward(
    model: VGGT,
    images: torch.Tensor,
    hooks: Any,
    heads: tuple[str, ...],
    patch_tokens: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """The model picks its own autocast dtype for the aggregator; heads run in float32."""
    with torch.no_grad():
        return model(images, hooks=hooks, heads=heads, patch_tokens=patch_tokens)


def _cameras(
    pose_enc: torch.Tensor, image_size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """pose_enc [1, S, 9] -> cam-from-world [S, 3, 4] and intrinsics [S, 3, 3], float32."""
    extrinsics, intrinsics = pose_encoding_to_extri_intri(pose_enc.float(), image_size)
    return extrinsics[0].float(), intrinsics[0].float()


def _check_images(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Accept [S, 3, H, W] (or a batch of one); raise InputError with the reason otherwise."""
    if not isinstance(images, torch.Tensor):
        raise InputError("Images must be a float tensor [S, 3, H, W] in [0, 1].")
    if images.dim() == 5 and images.shape[0] == 1:
        images = images[0]
    if images.dim() != 4 or images.shape[1] != 3 or images.shape[0] < 1:
        raise InputError(f"Images must be [S, 3, H, W] with S >= 1, got {list(images.shape)}.")
    height, width = images.shape[-2:]
    if height % patch_size or width % patch_size:
        raise InputError(
            f"Image height and width must be multiples of {patch_size}, got {width}x{height}."
        )
    return images


def _check_artist_masks(
    masks: Mapping[int, np.ndarray] | None, frames: int, height: int, width: int
) -> dict[int, np.ndarray]:
    checked: dict[int, np.ndarray] = {}
    for frame, mask in (masks or {}).items():
        if not 0 <= int(frame) < frames:
            raise InputError(
                f"Artist mask for frame {frame} is outside the {frames} frames of the shot."
            )
        mask = np.asarray(mask)
        if mask.shape != (height, width):
            raise InputError(
                f"Artist mask for frame {frame} has shape {mask.shape}, "
                f"expected ({height}, {width}) (model resolution)."
            )
        checked[int(frame)] = mask.astype(bool)
    return checked


def _check_transparent(
    transparent: np.ndarray | None, frames: int, height: int, width: int
) -> np.ndarray:
    """The transparent pixels as bool [S, H, W] (none when not given)."""
    if transparent is None:
        return np.zeros((frames, height, width), dtype=bool)
    transparent = np.asarray(transparent, dtype=bool)
    if transparent.shape != (frames, height, width):
        raise InputError(
            f"The transparent-pixel masks have shape {transparent.shape}, expected "
            f"({frames}, {height}, {width}) (frames, model resolution)."
        )
    return transparent


def _merge_artist(mined: np.ndarray, artist: dict[int, np.ndarray], mode: str) -> np.ndarray:
    """Union (default) or, for the frames the artist painted, replacement of the mined masks."""
    merged = mined.copy()
    for frame, mask in artist.items():
        merged[frame] = (merged[frame] | mask) if mode == "union" else mask
    return merged
