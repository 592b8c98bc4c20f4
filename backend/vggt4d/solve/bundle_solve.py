"""A result bundle with a camera solve: apply `solve_cameras` to a bundle's data, and re-solve a
bundle in place from its plate (no network model needed).

The solve always starts from the network's cameras and depth: a bundle that was solved before
keeps them (`network_extrinsics`, `network_intrinsics`; depth divided by the stored
`depth_scale`), so re-solving with other options or masks never compounds a previous solve.
"""

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vggt4d.errors import InputError
from vggt4d.geometry import invert_se3, transform_points
from vggt4d.io.bundle import BundleData, read_bundle, write_bundle
from vggt4d.io.bundle_format import find_plate
from vggt4d.io.bundle_lock import bundle_lock
from vggt4d.io.footage import FrameRange, LazyFrames, open_footage, read_footage
from vggt4d.io.masks import read_artist_masks
from vggt4d.pointcloud import CloudOptions, PointClouds, build_point_clouds
from vggt4d.solve.camera_solve import SolveOptions, SolveProgress, SolveResult, solve_cameras

# (stage, fraction of the stage): "plate", "tracking", "adjustment", "pointcloud", "bundle".
BundleProgress = Callable[[str, float], None]


def solve_bundle(
    path: str | Path,
    options: SolveOptions | None = None,
    masks_dir: str | Path | None = None,
    progress: BundleProgress | None = None,
    network_masks: bool = False,
) -> Path:
    """Re-solve the bundle at `path` in place (atomically) from the plate its manifest names.

    masks_dir: artist masks (`vggt4d.io.artist_masks`) that replace the bundle's refined masks
        on the frames they cover, both for the solve and in the rewritten bundle. Artist masks
        of earlier re-solves stay (and stay listed in `artist_mask_frames`).
    network_masks: first put the network's refined masks back (drop every artist mask).
    Raises InputError when the plate cannot be found or no longer matches the bundle,
    BundleError for a damaged bundle or one another process is changing (the bundle is locked
    from reading to publishing, `bundle_lock`), and whatever `progress` raises (to cancel).
    """
    with bundle_lock(path):
        return _solve_locked(Path(path), options, masks_dir, progress, network_masks)


def _solve_locked(
    path: Path,
    options: SolveOptions | None,
    masks_dir: str | Path | None,
    progress: BundleProgress | None,
    network_masks: bool,
) -> Path:
    data = read_bundle(path)
    if network_masks and data.network_masks is not None:
        solve = (data.solve or {}) | {"artist_mask_frames": []}
        data = replace(data, refined_masks=data.network_masks, network_masks=None, solve=solve)
    plates, transparent = read_plates(data, path, _stage(progress, "plate"))
    artist_masks = (
        read_artist_masks(masks_dir, data.frames, data.plate_width, data.plate_height)
        if masks_dir is not None
        else {}
    )
    if masks_dir is not None and not artist_masks:
        raise InputError(f"No mask in {masks_dir} matches the bundle's frame numbers.")
    solved = apply_solve(data, plates, options, artist_masks, transparent, progress)
    _stage(progress, "bundle")(0.0)
    result = write_bundle(path, solved)
    _stage(progress, "bundle")(1.0)
    return result


def apply_solve(
    data: BundleData,
    plates: Sequence[np.ndarray],
    options: SolveOptions | None = None,
    artist_masks: Mapping[int, np.ndarray] | None = None,
    transparent: list[np.ndarray] | None = None,
    progress: BundleProgress | None = None,
) -> BundleData:
    """`data` with solved cameras, re-aligned depth and clouds, the solve section and tracks.

    plates: the S plate frames, uint8 [H, W, 3] (RGBA: transparent pixels are not tracked);
        any sequence read in order (twice: tracking, then the clouds' colours).
    artist_masks: {frame index: bool [H, W]} replacing the refined mask of those frames.
    transparent: S bool [H, W] plate pixels with alpha < 0.5 (`Footage.transparent`), never
        tracked.
    """
    options = options or SolveOptions()
    started = time.perf_counter()
    network_extrinsics, network_intrinsics, network_depth = network_estimate(data)
    refined, network_masks, artist_frames = _masks_with_artist(data, artist_masks or {})
    result = solve_cameras(
        plates,
        network_extrinsics,
        network_intrinsics,
        network_depth,
        data.plate_to_model,
        exclude=list(refined if transparent is None else refined | np.stack(transparent)),
        options=options,
        progress=progress,
        pixel_aspect=data.plate_pixel_aspect,
    )
    depth = network_depth * result.depth_scale[:, None, None].astype(np.float32)
    _stage(progress, "pointcloud")(0.0)
    clouds = _realigned_clouds(data, plates, result, refined, depth, transparent)
    summary = result.summary() | {
        "depth_scale": [float(scale) for scale in result.depth_scale],
        "artist_mask_frames": artist_frames,
    }
    timings = dict(data.timings) | {"solve": round(time.perf_counter() - started, 4)}
    return replace(
        data,
        extrinsics=result.extrinsics,
        intrinsics=result.intrinsics,
        depth=depth,
        refined_masks=refined,
        network_masks=network_masks,
        **vars(clouds),
        timings=timings,
        solve=summary,
        network_extrinsics=network_extrinsics,
        network_intrinsics=network_intrinsics,
        tracks={
            "frame_index": result.tracks.frame,
            "track_index": result.tracks.track,
            "xy": result.tracks.xy,
            "error_px": result.errors,
            "points": result.points,
        },
    )


def _masks_with_artist(
    data: BundleData, artist_masks: Mapping[int, np.ndarray]
) -> tuple[np.ndarray, np.ndarray | None, list[int]]:
    """The masks to solve with, the network's masks to keep and the artist's frames.

    Artist masks accumulate: a re-solve keeps the artist masks of earlier re-solves (they are
    the bundle's refined masks) and their frames; new ones replace their frames. The first
    time any replaces the network's refined masks, those are kept as `network_masks`.
    """
    previous = list((data.solve or {}).get("artist_mask_frames", []))
    refined = np.array(data.refined_masks, dtype=bool, copy=True)
    for index, mask in artist_masks.items():
        refined[index] = mask
    frames = sorted(set(previous) | {int(data.frames[index]) for index in artist_masks})
    network = data.network_masks
    if network is None and frames:
        network = np.asarray(data.refined_masks, dtype=bool)
    return refined, network, frames


def network_estimate(data: BundleData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The network's extrinsics [S, 3, 4], intrinsics [S, 3, 3] and depth float32 [S, h, w]:
    as stored for an unsolved bundle, recovered from the solve's records for a solved one."""
    depth = np.asarray(data.depth, np.float32)
    if data.solve is None:
        return data.extrinsics, data.intrinsics, depth
    scale = np.asarray(data.solve["depth_scale"], np.float32)[:, None, None]
    return data.network_extrinsics, data.network_intrinsics, depth / scale


def read_plates(
    data: BundleData, bundle_path: Path, progress: Callable[[float], None] | None = None
) -> tuple[Sequence[np.ndarray], list[np.ndarray] | None]:
    """The bundle's plate, exactly its frames (uint8 RGB [H, W, 3]), read through the
    manifest's `source` (its absolute path, else its path relative to the bundle), and their
    transparent pixels (alpha < 0.5; None without alpha).

    A chunked (long) shot is read on demand, block by block (`LazyFrames`), so the plate never
    sits in memory whole; its transparent pixels then come as RGBA frames (None returned)."""
    source = data.source
    if source.get("kind") == "arrays":
        raise InputError("This bundle was made from in-memory frames: it has no plate to read.")
    found = find_plate(source, bundle_path, data.frames[0])
    if found is None:
        raise InputError(
            f"The plate {source['path']} of this bundle is missing: put it back or re-run the "
            "reconstruction."
        )
    location = found[0]
    selection = FrameRange(data.frames[0], data.frames[-1])
    if data.chunking is None:
        reader, footage = (
            None,
            read_footage(location, selection, progress=progress, first_video_frame=_first(source)),
        )
    else:
        reader = open_footage(location, selection, first_video_frame=_first(source))
        footage = reader.footage
    positions = {number: index for index, number in enumerate(footage.frame_numbers)}
    missing = [number for number in data.frames if number not in positions]
    size, expected = (footage.width, footage.height), (data.plate_width, data.plate_height)
    problems = ([f"frames {_numbers(missing)} are missing"] if missing else []) + (
        [f"it is {size[0]}x{size[1]} instead of {expected[0]}x{expected[1]}"]
        if size != expected
        else []
    )
    if problems:
        raise InputError(
            f"The plate {location} no longer matches the bundle: {' and '.join(problems)}."
        )
    chosen = [positions[number] for number in data.frames]
    if reader is not None:
        if progress is not None:
            progress(1.0)
        return LazyFrames(reader, chosen), None
    transparent = footage.transparent
    return (
        [footage.frames[index] for index in chosen],
        None if transparent is None else [transparent[index] for index in chosen],
    )


def _numbers(numbers: list[int], shown: int = 5) -> str:
    """Frame numbers for a sentence: the first `shown` of them."""
    return ", ".join(str(number) for number in numbers[:shown]) + (
        ", ..." if len(numbers) > shown else ""
    )


def _first(source: dict[str, Any]) -> int:
    """Plate number of a video's first frame. Bundles that record video timestamps give it as
    `frame_start`; older ones counted videos from 1 and stored the first *chosen* frame."""
    return int(source.get("frame_start", 1)) if "timestamps" in source else 1


@dataclass
class _Views:
    """What `build_point_clouds` reads, at model resolution (`pointcloud.ReconstructionLike`)."""

    images: np.ndarray
    depth_conf: np.ndarray
    world_points: np.ndarray
    refined_masks: np.ndarray


def _realigned_clouds(
    data: BundleData,
    plates: Sequence[np.ndarray],
    result: SolveResult,
    refined: np.ndarray,
    depth: np.ndarray,
    transparent: list[np.ndarray] | None,
) -> PointClouds:
    """Static and dynamic points rebuilt from the re-aligned depth through the solved cameras
    (and lens), with the job's cloud filters; padding around the plate and transparent plate
    pixels give none, as in the job."""
    height, width = depth.shape[1:]
    affine = _plate_to_model_affine(data.plate_to_model)

    def to_model(mask: np.ndarray) -> np.ndarray:
        model = cv2.warpAffine(
            mask.astype(np.uint8), affine, (width, height), flags=cv2.INTER_NEAREST
        )
        return model.astype(bool)

    images, opaque = [], []
    whole = np.ones((data.plate_height, data.plate_width), bool)
    for index, plate in enumerate(plates):  # one pass in order: a lazy plate is read once
        images.append(cv2.warpAffine(plate[..., :3], affine, (width, height)))
        if plate.shape[-1] == 4:  # RGBA: alpha below one half is transparent
            opaque.append(to_model(plate[..., 3] >= 128))
        else:
            opaque.append(to_model(whole if transparent is None else ~transparent[index]))
    masks = np.stack([to_model(mask) for mask in refined])
    excluded = ~np.stack(opaque)  # padding, transparent pixels
    images = np.stack(images)
    world = np.stack(
        [
            _unproject_frame(depth[index], result, index, data.plate_to_model)
            for index in range(len(depth))
        ]
    )
    options = data.options
    cloud_options = CloudOptions(
        confidence_percentile=float(options.get("confidence_percentile", 25.0)),
        confidence_threshold=options.get("confidence_threshold"),
        max_static_points=options.get("point_budget", 2_000_000),
    )
    views = _Views(images.astype(np.float32) / 255.0, data.depth_conf, world, masks)
    return build_point_clouds(views, cloud_options, excluded)


def _plate_to_model_affine(plate_to_model: Mapping[str, float]) -> np.ndarray:
    """OpenCV affine [2, 3] taking plate pixels to model pixels. OpenCV puts pixel centres on
    integers, the bundle at i + 0.5: m + 0.5 = s (p + 0.5) + o."""
    scale_x, scale_y = plate_to_model["scale_x"], plate_to_model["scale_y"]
    return np.array(
        [
            [scale_x, 0.0, plate_to_model["offset_x"] + 0.5 * scale_x - 0.5],
            [0.0, scale_y, plate_to_model["offset_y"] + 0.5 * scale_y - 0.5],
        ]
    )


def _unproject_frame(
    depth: np.ndarray, result: SolveResult, index: int, plate_to_model: Mapping[str, float]
) -> np.ndarray:
    """World points [h, w, 3] of one depth map's pixel centres through the solved camera,
    undistorting the plate position of each pixel through the solved lens."""
    height, width = depth.shape
    columns, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    plate_x = (columns - plate_to_model["offset_x"]) / plate_to_model["scale_x"]
    plate_y = (rows - plate_to_model["offset_y"]) / plate_to_model["scale_y"]
    intrinsics = result.intrinsics[index]
    opencv_matrix = intrinsics.copy()
    opencv_matrix[:2, 2] -= 0.5
    coefficients = np.array(
        [result.distortion[0], result.distortion[1], 0, 0, result.distortion[2]]
    )
    pixels = np.stack([plate_x, plate_y], axis=-1).reshape(-1, 1, 2) - 0.5
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 20, 1e-10)
    normalised = cv2.undistortPointsIter(
        pixels, opencv_matrix, coefficients, None, None, criteria
    ).reshape(height, width, 2)
    camera = np.concatenate([normalised * depth[..., None], depth[..., None]], axis=-1)
    world_from_cam = invert_se3(result.extrinsics[index])
    return transform_points(world_from_cam, camera.reshape(-1, 3)).reshape(height, width, 3)


def _stage(progress: SolveProgress | None, stage: str) -> Callable[[float], None]:
    return lambda fraction: progress(stage, fraction) if progress is not None else None
