"""Rasterise Blender Mask splines into plate-resolution boolean masks with numpy alone.

Blender has neither PIL nor cv2, so the fill is our own even-odd scanline fill, sampled at
pixel centres (``j + 0.5``). Mask space follows Blender's clip editor: x and y run over
[0, 1] across the *longer* plate side with y up, and the shorter side is centred (a point at
y = 0.5 is always the vertical middle of the plate).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class SplineShape:
    """One closed spline: ``points`` float [N, 3, 2] = (left handle, point, right handle)."""

    points: np.ndarray
    cyclic: bool = True


@dataclass(frozen=True)
class LayerShape:
    """A mask layer: its splines are united; ``subtract`` removes it from the layers below."""

    splines: list[SplineShape] = field(default_factory=list)
    subtract: bool = False
    invert: bool = False


def sample_spline(spline: SplineShape, samples_per_segment: int = 16) -> np.ndarray:
    """Polygon float [M, 2] along the cubic Bézier segments point i -> i+1 (and last -> first)."""
    points = np.asarray(spline.points, dtype=np.float64)
    count = len(points)
    if count == 0:
        return np.zeros((0, 2))
    segments = count if spline.cyclic else count - 1
    if segments <= 0:
        return points[:, 1].copy()
    start = np.arange(segments)
    end = (start + 1) % count
    p0, p1 = points[start, 1], points[start, 2]
    p2, p3 = points[end, 0], points[end, 1]
    t = np.linspace(0.0, 1.0, samples_per_segment, endpoint=False)[None, :, None]
    s = 1.0 - t
    curve = (
        s**3 * p0[:, None]
        + 3 * s**2 * t * p1[:, None]
        + 3 * s * t**2 * p2[:, None]
        + t**3 * p3[:, None]
    )
    polygon = curve.reshape(-1, 2)
    return polygon if spline.cyclic else np.vstack([polygon, points[-1, 1]])


def mask_space_to_pixels(coordinates: np.ndarray, width: int, height: int) -> np.ndarray:
    """Mask-space [..., 2] (y up, longer side = 1) to plate pixels (origin top-left, y down)."""
    coordinates = np.asarray(coordinates, dtype=np.float64)
    x, y = coordinates[..., 0], coordinates[..., 1]
    if width > height:
        y = (y - 0.5) * (width / height) + 0.5
    elif height > width:
        x = (x - 0.5) * (height / width) + 0.5
    return np.stack([x * width, (1.0 - y) * height], axis=-1)


def fill_polygon(polygon: np.ndarray, width: int, height: int) -> np.ndarray:
    """Even-odd fill of a closed polygon float [M, 2] in pixels: bool [height, width]."""
    polygon = np.asarray(polygon, dtype=np.float64)
    if len(polygon) < 3:
        return np.zeros((height, width), dtype=bool)
    start, end = polygon, np.roll(polygon, -1, axis=0)
    rows = np.arange(height, dtype=np.float64)[:, None] + 0.5  # pixel-centre y of each row
    y0, y1 = start[None, :, 1], end[None, :, 1]
    crosses = (y0 <= rows) != (y1 <= rows)  # half-open: each vertex counted once
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (rows - y0) / (y1 - y0)
    x = start[None, :, 0] + t * (end[None, :, 0] - start[None, :, 0])
    row_index, edge_index = np.nonzero(crosses)
    # A crossing at x toggles every pixel whose centre j + 0.5 lies right of it.
    column = np.clip(np.ceil(x[row_index, edge_index] - 0.5), 0, width).astype(np.int64)
    toggles = np.zeros((height, width + 1), dtype=np.int64)
    np.add.at(toggles, (row_index, column), 1)
    return (np.cumsum(toggles, axis=1)[:, :width] % 2).astype(bool)


def rasterise_layers(
    layers: list[LayerShape], width: int, height: int, samples_per_segment: int = 16
) -> np.ndarray:
    """Combine layers bottom to top into one bool [height, width] plate mask."""
    result = np.zeros((height, width), dtype=bool)
    for layer in layers:
        coverage = np.zeros_like(result)
        for spline in layer.splines:
            polygon = mask_space_to_pixels(
                sample_spline(spline, samples_per_segment), width, height
            )
            coverage |= fill_polygon(polygon, width, height)
        if layer.invert:
            coverage = ~coverage
        result = result & ~coverage if layer.subtract else result | coverage
    return result
