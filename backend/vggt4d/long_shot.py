"""Shots of any length: VGGT4D chunk by chunk, stitched by Sim(3), resumable after a kill.

Per chunk (`run_chunk`, a plain function of its inputs so a scheduler can call it): decode
only the chunk's frames with their alpha, run VGGT4D on them (its temporal window stays inside
the chunk; transparent pixels are handled as in a one-pass job),
and align the result to the previous chunk by a robust similarity fitted on the static,
confident pixels of their overlap frames (`vggt4d.stitching`). The previous chunk's masks of
the overlap frames enter the chunk as artist masks, so both chunks agree on what moves there
(no mask flicker at the seam) and the alignment uses the same static pixels on both sides.

The loop (`run_long_shot`) writes each chunk's own frames (depth, confidence, masks) into the
bundle directory as soon as the chunk is done and keeps on disk only what the next chunk
needs (the overlap's points, confidence and masks) and the chunk's share of the clouds, so
memory is bounded by one chunk. Its state (`state.json`, rewritten atomically after every
chunk) makes a killed run resume from its last finished chunk when it is started again with
the same input, options and output.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from vggt4d import pipeline
from vggt4d.chunks import Chunk
from vggt4d.errors import CancelledError
from vggt4d.geometry import Similarity, invert_se3
from vggt4d.io.bundle import PartialBundle
from vggt4d.io.footage import FootageReader
from vggt4d.model import VGGT
from vggt4d.pointcloud import CloudOptions, PointClouds, build_point_clouds, reduce_static
from vggt4d.preprocess import PlateMapping, preprocess_frames
from vggt4d.stitching import SeamAlignment, align_points

RESUME_SUFFIX = ".resume"
_STATE = "state.json"
_ALIGN_CONFIDENCE_PERCENTILE = 25.0  # drop each chunk's least confident quarter of the overlap

ChunkProgress = Callable[[int, str, float], None]  # (chunk index, pipeline stage, fraction)


@dataclass(frozen=True)
class LongShot:
    """What every chunk shares: footage, plate mapping, model, options and the plan.

    artist_masks: shot frame index -> bool [h, w] at model resolution.
    """

    reader: FootageReader
    mapping: PlateMapping
    preprocess_mode: str
    model: VGGT
    options: pipeline.ReconstructOptions
    cloud_options: CloudOptions
    artist_masks: Mapping[int, np.ndarray]
    chunks: list[Chunk]


@dataclass
class Overlap:
    """What a chunk hands to the next: its overlap frames (shot indices ``start..``) in the
    shot's world. points float32 [M, h, w, 3], confidence [M, h, w], masks bool [M, h, w]
    (refined, model resolution), extrinsics float64 [M, 3, 4] cam-from-world."""

    start: int
    points: np.ndarray
    confidence: np.ndarray
    masks: np.ndarray
    extrinsics: np.ndarray


@dataclass
class ChunkResult:
    """One chunk moved into the shot's world (depth scaled by the similarity's scale).

    transparent: the chunk's transparent plate pixels (alpha < 0.5), bool [plate_h, plate_w]
    per frame, None when it has none.
    """

    chunk: Chunk
    reconstruction: pipeline.Reconstruction
    similarity: Similarity
    seam: dict[str, Any] | None
    transparent: list[np.ndarray] | None = None


@dataclass
class StitchedShot:
    """The whole shot after the last chunk: cameras (intrinsics in model pixels), clouds,
    the manifest's ``chunking`` section, the directory holding the written frames, and the
    transparent share of the plate's pixels (alpha < 0.5; None when no frame has alpha)."""

    extrinsics: np.ndarray
    intrinsics: np.ndarray
    clouds: PointClouds
    chunking: dict[str, Any]
    frames: PartialBundle
    timings: dict[str, float]
    transparent_share: float | None


def resume_directory(output: str | Path) -> Path:
    """Where a long run keeps its frames and state for `output` (hidden, beside it)."""
    final = Path(output).absolute()
    return final.parent / f".{final.name}{RESUME_SUFFIX}"


def run_chunk(
    shot: LongShot,
    chunk: Chunk,
    previous: Overlap | None,
    progress: Callable[[str, float], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> ChunkResult:
    """Decode, reconstruct and align one chunk. Raises InputError when the footage ends
    before the chunk does, ReconstructionError when the overlap cannot be aligned."""
    decoded, transparent = shot.reader.read(chunk.start, chunk.stop)
    images, _ = preprocess_frames(decoded, shot.preprocess_mode, shot.reader.footage.pixel_aspect)
    del decoded
    clear = shot.mapping.transparent_to_model(transparent)
    masks = {
        frame - chunk.start: mask
        for frame, mask in shot.artist_masks.items()
        if chunk.start <= frame < chunk.stop
    }
    if previous is not None:
        for offset, carried in enumerate(previous.masks):
            local = previous.start + offset - chunk.start
            masks[local] = masks.get(local, np.zeros_like(carried)) | carried
    device = next(shot.model.parameters()).device
    result = pipeline.reconstruct(
        images.to(device),
        shot.model,
        shot.options,
        artist_masks=masks,
        transparent=clear,
        progress=progress,
        should_cancel=should_cancel,
    )
    no_picture = shot.mapping.no_picture(chunk.stop - chunk.start, clear)
    aligned = align_chunk(result, chunk, previous, shot.reader.footage.frame_numbers, no_picture)
    aligned.transparent = transparent
    return aligned


def align_chunk(
    result: pipeline.Reconstruction,
    chunk: Chunk,
    previous: Overlap | None,
    frame_numbers: list[int],
    no_picture: np.ndarray | None = None,
) -> ChunkResult:
    """Move a chunk's reconstruction (in place) into the world of the previous chunk's
    overlap; the first chunk defines the world. ``frame_numbers`` are the shot's plate
    frame numbers (for the seam record); ``no_picture`` (bool [S, h, w], model resolution)
    marks the chunk's pixels that are padding or transparent, never correspondences.
    Raises ReconstructionError (see `align_points`)."""
    if previous is None:
        return ChunkResult(chunk, result, Similarity.identity(), None)
    first = previous.start - chunk.start
    overlap = slice(first, first + len(previous.masks))
    pictured = None if no_picture is None else ~no_picture[overlap]
    correspondences = _correspondences(result, overlap, previous, pictured)
    alignment = align_points(*correspondences, seed=chunk.index)
    similarity = alignment.similarity
    result.extrinsics = similarity.apply_cameras(result.extrinsics).astype(np.float32)
    result.depth = result.depth * np.float32(similarity.scale)
    result.world_points = similarity.apply_points(result.world_points).astype(np.float32)
    seam = _seam_record(
        alignment,
        previous.extrinsics[chunk.own_start - previous.start],
        result.extrinsics[chunk.own_start - chunk.start],
        frame_numbers[chunk.own_start],
    )
    return ChunkResult(chunk, result, similarity, seam)


def next_overlap(result: ChunkResult, following: Chunk | None) -> Overlap:
    """What the chunk after ``result`` needs from it (nothing after the last chunk)."""
    chunk, reconstruction = result.chunk, result.reconstruction
    start = following.start if following is not None else chunk.stop
    tail = slice(start - chunk.start, None)
    return Overlap(
        start=start,
        points=reconstruction.world_points[tail],
        confidence=reconstruction.depth_conf[tail],
        masks=reconstruction.refined_masks[tail],
        extrinsics=np.asarray(reconstruction.extrinsics[tail], np.float64),
    )


def run_long_shot(
    shot: LongShot,
    output: Path,
    fingerprint: Mapping[str, Any],
    progress: ChunkProgress,
    should_cancel: Callable[[], bool] | None = None,
    log: Callable[[str, str], None] | None = None,
) -> StitchedShot:
    """Run every chunk not finished yet, then gather cameras and clouds of the whole shot.

    ``fingerprint`` identifies the run (input, options, weights): a state left by a killed
    run with the same fingerprint is resumed, any other state is discarded.
    """
    root = resume_directory(output)
    state = _open_state(root, fingerprint, shot.chunks, log)
    model_height, model_width = shot.mapping.model_height, shot.mapping.model_width
    frames = PartialBundle(root, shot.reader.footage.frame_numbers, model_height, model_width)
    previous = _load_overlap(root, len(state["finished"]) - 1) if state["finished"] else None
    timings = dict.fromkeys(pipeline.STAGES, 0.0)
    for chunk in shot.chunks[len(state["finished"]) :]:
        if should_cancel is not None and should_cancel():
            raise _cancelled(chunk.index, len(shot.chunks))
        if log is not None:
            numbers = shot.reader.footage.frame_numbers
            first, last = numbers[chunk.start], numbers[chunk.stop - 1]
            log("info", f"Chunk {chunk.index + 1} of {len(shot.chunks)}: frames {first}-{last}.")
        try:
            result = run_chunk(
                shot,
                chunk,
                previous,
                lambda stage, fraction, index=chunk.index: progress(index, stage, fraction),
                should_cancel,
            )
        except CancelledError as error:
            raise _cancelled(chunk.index, len(shot.chunks)) from error
        for stage, seconds in result.reconstruction.timings.items():
            timings[stage] = timings.get(stage, 0.0) + seconds
        previous = _store_chunk(root, shot, result, frames)
        state["finished"].append(
            {
                "similarity": result.similarity.to_dict(),
                "seam": result.seam,
                "transparent_pixels": _owned_transparent_pixels(result),
            }
        )
        _write_json(root / _STATE, state)
        progress(chunk.index, "refinement", 1.0)
    extrinsics, intrinsics, clouds = _gather(root, shot)
    chunking = _chunking_record(shot, state)
    share = _transparent_share(shot, state)
    return StitchedShot(extrinsics, intrinsics, clouds, chunking, frames, timings, share)


def discard_resume_state(output: str | Path) -> None:
    """Remove what a long run left for `output` (after publishing, or to start over)."""
    shutil.rmtree(resume_directory(output), ignore_errors=True)


def fingerprint_of(values: Mapping[str, Any]) -> str:
    """A stable digest of JSON-like values (what makes two runs the same run)."""
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---- one chunk -----------------------------------------------------------------------------


def _correspondences(
    result: pipeline.Reconstruction,
    overlap: slice,
    previous: Overlap,
    pictured: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Chunk points and the previous chunk's points of the same static, confident pixels
    (only ``pictured`` ones when given: neither padding nor transparent)."""
    source = result.world_points[overlap]
    confidence = result.depth_conf[overlap]
    keep = ~result.refined_masks[overlap] & ~previous.masks
    if pictured is not None:
        keep &= pictured
    keep &= np.isfinite(source).all(-1) & np.isfinite(previous.points).all(-1)
    for values in (confidence, previous.confidence):
        finite = values[np.isfinite(values)]
        if finite.size:
            keep &= values >= np.percentile(finite, _ALIGN_CONFIDENCE_PERCENTILE)
    return source[keep], previous.points[keep]


def _seam_record(
    alignment: SeamAlignment,
    before: np.ndarray,
    after: np.ndarray,
    frame_number: int,
) -> dict[str, Any]:
    """How well two chunks agree at the seam frame: the overlap's residual, and how far the
    camera jumps there (its centre, relative to the overlap's spread, and its rotation)."""
    centres = [invert_se3(camera)[:, 3] for camera in (before, after)]
    spread = alignment.residual / max(alignment.relative_residual, 1e-12)
    relative = np.asarray(before[:, :3], np.float64) @ np.asarray(after[:, :3], np.float64).T
    return {
        "frame": int(frame_number),
        "residual": alignment.residual,
        "relative_residual": alignment.relative_residual,
        "inlier_fraction": alignment.inlier_fraction,
        "points": alignment.points,
        "camera_jump": float(np.linalg.norm(centres[0] - centres[1]) / spread),
        "rotation_jump_deg": float(np.degrees(Rotation.from_matrix(relative).magnitude())),
    }


# ---- state on disk -------------------------------------------------------------------------


def _open_state(
    root: Path,
    fingerprint: Mapping[str, Any],
    chunks: list[Chunk],
    log: Callable[[str, str], None] | None,
) -> dict[str, Any]:
    digest = fingerprint_of(fingerprint)
    try:
        state = json.loads((root / _STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = None
    plan = [chunk.to_dict() for chunk in chunks]
    if isinstance(state, dict) and state.get("fingerprint") == digest and state["chunks"] == plan:
        done = len(state["finished"])
        if done and log is not None:
            log("info", f"Resuming after chunk {done} of {len(chunks)} (found in {root}).")
        return state
    if root.exists():
        if log is not None:
            log("info", f"Starting over: {root} is from a different run.")
        shutil.rmtree(root)
    root.mkdir(parents=True)
    state = {"fingerprint": digest, "chunks": plan, "finished": []}
    _write_json(root / _STATE, state)
    return state


def _write_json(path: Path, value: Any) -> None:
    """Atomic: a kill leaves the old file or the new one, never half of one."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(value, indent=1), encoding="utf-8")
    os.replace(temporary, path)


def _chunk_file(root: Path, index: int) -> Path:
    return root / "chunks" / f"chunk.{index:05d}.npz"


def _store_chunk(root: Path, shot: LongShot, result: ChunkResult, frames: PartialBundle) -> Overlap:
    """Write the chunk's own frames and its files; return the overlap for the next chunk."""
    chunk, reconstruction = result.chunk, result.reconstruction
    own = slice(chunk.own_start - chunk.start, chunk.own_stop - chunk.start)
    mapping = shot.mapping
    transparent = None if result.transparent is None else result.transparent[own]
    frames.write_frames(
        chunk.own_start,
        reconstruction.depth[own],
        reconstruction.depth_conf[own],
        mapping.masks_to_plate(reconstruction.coarse_masks[own], transparent),
        mapping.masks_to_plate(reconstruction.refined_masks[own], transparent),
    )
    no_picture = mapping.no_picture(own.stop - own.start, mapping.transparent_to_model(transparent))
    clouds = build_point_clouds(
        _OwnFrames(reconstruction, own), _chunk_cloud_options(shot, chunk), no_picture
    )
    following = shot.chunks[chunk.index + 1] if chunk.index + 1 < len(shot.chunks) else None
    overlap = next_overlap(result, following)
    path = _chunk_file(root, chunk.index)
    path.parent.mkdir(exist_ok=True)
    temporary = path.with_name(path.name + ".tmp.npz")
    np.savez(
        temporary,
        extrinsics=np.asarray(reconstruction.extrinsics[own], np.float64),
        intrinsics=np.asarray(reconstruction.intrinsics[own], np.float64),
        overlap_start=np.int64(overlap.start),
        overlap_points=overlap.points,
        overlap_confidence=overlap.confidence,
        overlap_masks=overlap.masks,
        overlap_extrinsics=overlap.extrinsics,
        **{f"cloud_{name}": value for name, value in vars(clouds).items()},
    )
    os.replace(temporary, path)
    return overlap


class _OwnFrames:
    """The frames a chunk owns, as `pointcloud.ReconstructionLike`."""

    def __init__(self, reconstruction: pipeline.Reconstruction, own: slice) -> None:
        self.images = reconstruction.images[own]
        self.depth_conf = reconstruction.depth_conf[own]
        self.world_points = reconstruction.world_points[own]
        self.refined_masks = reconstruction.refined_masks[own]


def _owned_transparent_pixels(result: ChunkResult) -> float:
    """How many of the plate pixels of the frames the chunk owns are transparent."""
    if result.transparent is None:
        return 0.0
    chunk = result.chunk
    owned = result.transparent[chunk.own_start - chunk.start : chunk.own_stop - chunk.start]
    return float(sum(int(clear.sum()) for clear in owned))


def _transparent_share(shot: LongShot, state: Mapping[str, Any]) -> float | None:
    """The transparent share of the shot's plate pixels (None when no chunk had any)."""
    transparent = sum(finished.get("transparent_pixels", 0.0) for finished in state["finished"])
    if not transparent:
        return None
    footage = shot.reader.footage
    return transparent / (len(shot.reader) * footage.width * footage.height)


def _chunk_cloud_options(shot: LongShot, chunk: Chunk) -> CloudOptions:
    """A chunk keeps its share of the static budget (by frames owned), so the clouds the
    loop holds never exceed the shot's budget."""
    budget = shot.cloud_options.max_static_points
    if budget is not None:
        owned = chunk.own_stop - chunk.own_start
        budget = math.ceil(budget * owned / len(shot.reader))
    return replace(shot.cloud_options, max_static_points=budget)


def _load_overlap(root: Path, index: int) -> Overlap:
    with np.load(_chunk_file(root, index), allow_pickle=False) as stored:
        return Overlap(
            start=int(stored["overlap_start"]),
            points=stored["overlap_points"],
            confidence=stored["overlap_confidence"],
            masks=stored["overlap_masks"],
            extrinsics=stored["overlap_extrinsics"],
        )


def _gather(root: Path, shot: LongShot) -> tuple[np.ndarray, np.ndarray, PointClouds]:
    """Cameras of every frame and the merged clouds, read back chunk by chunk."""
    parts: dict[str, list[np.ndarray]] = {}
    for chunk in shot.chunks:
        with np.load(_chunk_file(root, chunk.index), allow_pickle=False) as stored:
            for name in stored.files:
                parts.setdefault(name, []).append(stored[name])
    static = reduce_static(
        np.concatenate(parts["cloud_static_points"]),
        np.concatenate(parts["cloud_static_colors"]),
        np.concatenate(parts["cloud_static_confidence"]),
        shot.cloud_options,
    )
    counts = np.concatenate([np.diff(offsets) for offsets in parts["cloud_dynamic_frame_offsets"]])
    clouds = PointClouds(
        *static,
        dynamic_points=np.concatenate(parts["cloud_dynamic_points"]),
        dynamic_colors=np.concatenate(parts["cloud_dynamic_colors"]),
        dynamic_frame_offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
    )
    return np.concatenate(parts["extrinsics"]), np.concatenate(parts["intrinsics"]), clouds


def _chunking_record(shot: LongShot, state: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest's ``chunking`` section, in plate frame numbers."""
    numbers = shot.reader.footage.frame_numbers
    chunks = [
        {
            "first_frame": numbers[chunk.start],
            "last_frame": numbers[chunk.stop - 1],
            "owned_first_frame": numbers[chunk.own_start],
            "owned_last_frame": numbers[chunk.own_stop - 1],
            "similarity": finished["similarity"],
        }
        for chunk, finished in zip(shot.chunks, state["finished"], strict=True)
    ]
    first = shot.chunks[0]
    return {
        "chunk_size": first.stop - first.start,
        "overlap": first.stop - shot.chunks[1].start,
        "chunks": chunks,
        "seams": [finished["seam"] for finished in state["finished"][1:]],
    }


def _cancelled(finished: int, count: int) -> CancelledError:
    return CancelledError(
        f"The job was cancelled after {finished} of {count} chunks; run it again with the same "
        "output to resume from there."
    )
