"""Turn the artist's masks into per-frame PNGs for "Re-run with my masks".

Three sources, united per frame: a mask clip (an image-sequence MovieClip such as the
imported refined masks, whose files the artist edited), mask images (an image sequence read
frame by frame from disk, or a single image used for every frame, read from memory so unsaved
paint counts) and a Mask datablock, evaluated by Blender at each
plate frame (scene frame = plate frame number) and rasterised with numpy. The PNGs go into a
new folder beside the bundle: ``mask.NNNNNN.png``, plate resolution, 0/255, one per bundle
frame, which is what the backend's ``masks`` option reads.
"""

from __future__ import annotations

import time
from pathlib import Path

import bpy
import numpy as np

from ..bundle_format import frame_number_span, validate_bundle
from .mask_raster import LayerShape, SplineShape, rasterise_layers
from .png import write_grey_png

SUBTRACT_BLENDS = frozenset({"SUBTRACT", "MERGE_SUBTRACT"})


class ArtistMaskError(Exception):
    """The artist's masks cannot be used (nothing chosen, unsaved paint, missing frames)."""


def export_artist_masks(
    context: bpy.types.Context, settings: bpy.types.PropertyGroup
) -> tuple[Path, int]:
    """Write one PNG per frame of the last bundle; returns (folder, number of masks written)."""
    sources = (settings.artist_mask_clip, settings.artist_mask_image, settings.artist_mask)
    if all(source is None for source in sources):
        raise ArtistMaskError("Choose a mask clip, mask images or a Mask datablock first.")
    bundle = Path(settings.bundle_path)
    manifest = validate_bundle(bundle)
    frames = [int(frame) for frame in manifest["frames"]]
    width, height = int(manifest["plate"]["width"]), int(manifest["plate"]["height"])
    stem = bundle.name.removesuffix(".vggt4d")
    folder = bundle.parent / f"{stem}.artist-masks-{time.strftime('%Y%m%d-%H%M%S')}"
    folder.mkdir(parents=True, exist_ok=False)
    scene = context.scene
    current_frame = scene.frame_current
    try:
        for frame in frames:
            mask = np.zeros((height, width), dtype=bool)
            if settings.artist_mask_clip is not None:
                mask |= clip_mask(settings.artist_mask_clip, frame, width, height)
            if settings.artist_mask_image is not None:
                mask |= image_mask(settings.artist_mask_image, frame, width, height)
            if settings.artist_mask is not None:
                mask |= mask_datablock_mask(context, settings.artist_mask, frame, width, height)
            write_grey_png(folder / f"mask.{frame:06d}.png", mask)
    finally:
        scene.frame_set(current_frame)
    return folder, len(frames)


def image_mask(image: bpy.types.Image, frame: int, width: int, height: int) -> np.ndarray:
    """bool [height, width]: the image's mask for a plate frame, resized (nearest) to the plate."""
    if image.source != "SEQUENCE":
        return _resize(_pixels_mask(image), width, height)
    if image.is_dirty:
        raise ArtistMaskError(
            f"'{image.name}' has unsaved paint: save the painted frame (Image > Save) first."
        )
    path = sequence_frame_path(bpy.path.abspath(image.filepath, library=image.library), frame)
    return _file_mask(path, width, height)


def clip_mask(clip: bpy.types.MovieClip, frame: int, width: int, height: int) -> np.ndarray:
    """bool [height, width] from an image-sequence clip (e.g. the imported refined masks)."""
    if clip.source != "SEQUENCE":
        raise ArtistMaskError(f"'{clip.name}' is a movie: mask clips must be image sequences.")
    path = sequence_frame_path(bpy.path.abspath(clip.filepath, library=clip.library), frame)
    return _file_mask(path, width, height)


def _file_mask(path: Path, width: int, height: int) -> np.ndarray:
    """A frame's mask file read through Blender's image loader; empty when it is missing."""
    if not path.is_file():
        return np.zeros((height, width), dtype=bool)
    loaded = bpy.data.images.load(str(path), check_existing=False)
    try:
        return _resize(_pixels_mask(loaded), width, height)
    finally:
        bpy.data.images.remove(loaded)


def sequence_frame_path(path: str, frame: int) -> Path:
    """The file of ``frame`` in the numbered sequence that ``path`` belongs to."""
    file = Path(path)
    span = frame_number_span(file.name)
    if span is None:
        raise ArtistMaskError(f"'{file.name}' has no frame number: not an image sequence.")
    start, end = span
    name = file.name[:start] + f"{frame:0{end - start}d}" + file.name[end:]
    return file.with_name(name)


def mask_datablock_mask(
    context: bpy.types.Context, mask: bpy.types.Mask, frame: int, width: int, height: int
) -> np.ndarray:
    """bool [height, width]: the Mask datablock as Blender evaluates it at ``frame``."""
    context.scene.frame_set(frame)
    evaluated = mask.evaluated_get(context.evaluated_depsgraph_get())
    return rasterise_layers(mask_layers(evaluated), width, height)


def mask_layers(mask: bpy.types.Mask) -> list[LayerShape]:
    """The renderable layers of a Mask as plain arrays (filled splines only)."""
    layers = []
    for layer in mask.layers:
        if layer.hide_render:
            continue
        splines = [
            SplineShape(_spline_points(spline), cyclic=spline.use_cyclic)
            for spline in layer.splines
            if spline.use_fill and len(spline.points) >= 2
        ]
        layers.append(
            LayerShape(splines, subtract=layer.blend in SUBTRACT_BLENDS, invert=layer.invert)
        )
    return layers


def _spline_points(spline: bpy.types.MaskSpline) -> np.ndarray:
    count = len(spline.points)
    points = np.empty((3, count * 2), dtype=np.float32)
    for row, attribute in enumerate(("handle_left", "co", "handle_right")):
        spline.points.foreach_get(attribute, points[row])
    return points.reshape(3, count, 2).transpose(1, 0, 2)


def _pixels_mask(image: bpy.types.Image) -> np.ndarray:
    """bool [h, w] top row first: pixels whose brightest colour channel is over one half."""
    width, height = image.size
    if width == 0 or height == 0:
        raise ArtistMaskError(f"'{image.name}' has no pixels (missing file?).")
    pixels = np.empty(width * height * image.channels, dtype=np.float32)
    image.pixels.foreach_get(pixels)
    pixels = pixels.reshape(height, width, image.channels)[::-1]
    colour = pixels[..., : min(3, image.channels)]
    return colour.max(axis=-1) > 0.5


def _resize(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    """Nearest-neighbour resize sampled at pixel centres."""
    source_height, source_width = mask.shape
    if (source_width, source_height) == (width, height):
        return mask
    rows = ((np.arange(height) + 0.5) * source_height / height).astype(np.int64)
    columns = ((np.arange(width) + 0.5) * source_width / width).astype(np.int64)
    return mask[np.ix_(rows, columns)]
