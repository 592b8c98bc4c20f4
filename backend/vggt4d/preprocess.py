"""Image preprocessing exactly as the official VGGT loader, plus the plate <-> model mapping.

The official ``load_and_preprocess_images`` resizes with PIL bicubic (torch's bicubic gives
different numbers), composites RGBA on white, rounds the short side to a multiple of 14 with
Python's banker's ``round``, centre-crops (``crop``) or pads with white (``pad``) to 518, and
pads mixed sizes to a common shape. We keep every one of those quirks so that our model sees
the same pixels as the released one.

``PlateMapping`` records the affine map from the original plate to the model image in
continuous pixel coordinates (origin at the top-left corner of the top-left pixel, pixel
centres at ``i + 0.5``). PIL's resize uses exactly this convention, so the map is
``x_model = scale_x * x_plate + offset_x`` with ``scale = resized / plate`` and the offset
being minus the crop start or plus the padding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image

from vggt4d.errors import InputError

TARGET_SIZE = 518
PATCH_SIZE = 14
MODES = ("crop", "pad")
JOB_MODES = ("auto", *MODES)
_PAD_VALUE = 1.0  # white, as the official loader


@dataclass(frozen=True)
class PlateMapping:
    """Affine map plate -> model image: ``x_model = scale_x * x_plate + offset_x`` (same for y)."""

    plate_width: int
    plate_height: int
    model_width: int
    model_height: int
    scale_x: float
    scale_y: float
    offset_x: float
    offset_y: float

    def _plate_to_model_matrix(self) -> np.ndarray:
        return np.array(
            [[self.scale_x, 0.0, self.offset_x], [0.0, self.scale_y, self.offset_y], [0, 0, 1.0]]
        )

    def points_to_model(self, points: np.ndarray) -> np.ndarray:
        """Map plate points ``[..., 2]`` (x, y, continuous) to model-image coordinates."""
        points = np.asarray(points, dtype=np.float64)
        scale = np.array([self.scale_x, self.scale_y])
        return points * scale + np.array([self.offset_x, self.offset_y])

    def points_to_plate(self, points: np.ndarray) -> np.ndarray:
        """Map model-image points ``[..., 2]`` (x, y, continuous) back to plate coordinates."""
        points = np.asarray(points, dtype=np.float64)
        scale = np.array([self.scale_x, self.scale_y])
        return (points - np.array([self.offset_x, self.offset_y])) / scale

    def intrinsics_to_plate(self, intrinsics_model: np.ndarray | torch.Tensor) -> np.ndarray:
        """Intrinsics ``[..., 3, 3]`` in model pixels -> the same camera in plate pixels (float64).

        A model pixel is ``A @ plate pixel`` with ``A`` the mapping matrix, so the plate
        camera is ``A^-1 @ K_model``.
        """
        if isinstance(intrinsics_model, torch.Tensor):
            intrinsics_model = intrinsics_model.detach().cpu().double().numpy()
        intrinsics = np.asarray(intrinsics_model, dtype=np.float64)
        return np.linalg.inv(self._plate_to_model_matrix()) @ intrinsics

    def intrinsics_to_model(self, intrinsics_plate: np.ndarray) -> np.ndarray:
        """Intrinsics ``[..., 3, 3]`` given on the plate -> model pixels (``A @ K_plate``)."""
        intrinsics = np.asarray(intrinsics_plate, dtype=np.float64)
        return self._plate_to_model_matrix() @ intrinsics

    def mask_to_model(self, mask: np.ndarray) -> np.ndarray:
        """Plate-resolution bool mask ``[plate_h, plate_w]`` -> model resolution ``[H, W]``.

        Resized like the image (area-averaged when shrinking: a pixel is on when most of its
        footprint is), then cropped or padded like the image; padding is off.
        """
        _check_mask(mask, (self.plate_height, self.plate_width), "plate")
        resized = _resize_mask(mask.astype(np.float32), self._resized_shape())
        shape = (self.model_height, self.model_width)
        return _shift(resized, shape, round(self.offset_x), round(self.offset_y)) > 0.5

    def outside_plate(self) -> np.ndarray:
        """bool [H, W] at model resolution: pixels that are padding, not plate (pad mode)."""
        columns = np.arange(self.model_width) + 0.5
        rows = np.arange(self.model_height) + 0.5
        inside_x = (columns > self.offset_x) & (
            columns < self.offset_x + self.plate_width * self.scale_x
        )
        inside_y = (rows > self.offset_y) & (
            rows < self.offset_y + self.plate_height * self.scale_y
        )
        return ~(inside_y[:, None] & inside_x[None, :])

    def mask_to_plate(self, mask: np.ndarray) -> np.ndarray:
        """Model-resolution bool mask ``[H, W]`` -> plate resolution; plate outside the view is off.

        The crop or padding is undone first (cropped-away rows are off), then resized.
        """
        _check_mask(mask, (self.model_height, self.model_width), "model")
        shape = self._resized_shape()
        unshifted = _shift(
            mask.astype(np.float32), shape, -round(self.offset_x), -round(self.offset_y)
        )
        return _resize_mask(unshifted, (self.plate_height, self.plate_width)) > 0.5

    def masks_to_plate(
        self, masks: np.ndarray, transparent: Sequence[np.ndarray] | None = None
    ) -> np.ndarray:
        """``mask_to_plate`` for a stack: bool [S, H, W] -> [S, plate_h, plate_w]. Mover masks
        are never on a ``transparent`` plate pixel (S bool [plate_h, plate_w], alpha < 0.5):
        the upsampling would blur a mover's edge onto the cut-out."""
        plate = np.stack([self.mask_to_plate(mask) for mask in masks])
        if transparent is not None:
            plate &= ~np.stack(transparent)
        return plate

    def transparent_to_model(self, transparent: Sequence[np.ndarray] | None) -> np.ndarray | None:
        """Transparent plate pixels (S bool [plate_h, plate_w], alpha < 0.5) -> bool [S, H, W]
        at model resolution, what ``pipeline.reconstruct(transparent=...)`` takes; None
        stays None."""
        if transparent is None:
            return None
        return np.stack([self.mask_to_model(clear) for clear in transparent])

    def no_picture(self, frames: int, transparent: np.ndarray | None) -> np.ndarray:
        """Model pixels with no picture, which give no points: the padding around the plate
        and the ``transparent`` ones (bool [S, H, W] model resolution, or None); bool [S, H, W]."""
        excluded = np.repeat(self.outside_plate()[None], frames, axis=0)
        return excluded if transparent is None else excluded | transparent

    def plate_to_model(self) -> dict[str, float]:
        """The bundle manifest's ``plate_to_model`` record (docs/bundle.md)."""
        return {
            "scale_x": self.scale_x,
            "scale_y": self.scale_y,
            "offset_x": self.offset_x,
            "offset_y": self.offset_y,
        }

    def _resized_shape(self) -> tuple[int, int]:
        """(height, width) of the plate after the resize, before crop/pad (offsets are integer)."""
        return round(self.plate_height * self.scale_y), round(self.plate_width * self.scale_x)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlateMapping:
        return cls(
            plate_width=int(data["plate_width"]),
            plate_height=int(data["plate_height"]),
            model_width=int(data["model_width"]),
            model_height=int(data["model_height"]),
            scale_x=float(data["scale_x"]),
            scale_y=float(data["scale_y"]),
            offset_x=float(data["offset_x"]),
            offset_y=float(data["offset_y"]),
        )


def _check_mask(mask: np.ndarray, shape: tuple[int, int], what: str) -> None:
    if mask.shape != shape:
        raise InputError(
            f"A {what}-resolution mask must be {shape[1]}x{shape[0]}, got {mask.shape}."
        )


def _resize_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """float32 mask -> ``shape`` (height, width): area average when shrinking, else bilinear."""
    shrinking = shape[0] * shape[1] < mask.shape[0] * mask.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(mask, (shape[1], shape[0]), interpolation=interpolation)


def _shift(image: np.ndarray, shape: tuple[int, int], dx: int, dy: int) -> np.ndarray:
    """Place ``image`` at integer offset (dx, dy) in a zero canvas of ``shape``; excess is cut."""
    out = np.zeros(shape, dtype=image.dtype)
    src_x, src_y = max(0, -dx), max(0, -dy)
    dst_x, dst_y = max(0, dx), max(0, dy)
    span_w = min(image.shape[1] - src_x, shape[1] - dst_x)
    span_h = min(image.shape[0] - src_y, shape[0] - dst_y)
    if span_w > 0 and span_h > 0:
        out[dst_y : dst_y + span_h, dst_x : dst_x + span_w] = image[
            src_y : src_y + span_h, src_x : src_x + span_w
        ]
    return out


def _resized_size(width: int, height: int, mode: str) -> tuple[int, int]:
    """(new_width, new_height) of the official loader; ``round`` is Python's banker's rounding."""
    if mode == "pad" and height > width:
        new_height = TARGET_SIZE
        new_width = round(width * (new_height / height) / PATCH_SIZE) * PATCH_SIZE
    else:
        new_width = TARGET_SIZE
        new_height = round(height * (new_width / width) / PATCH_SIZE) * PATCH_SIZE
    return new_width, new_height


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGBA is composited on white before dropping alpha (other modes convert directly)."""
    if image.mode == "RGBA":
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return image.convert("RGB")


def _pad(tensor: torch.Tensor, height: int, width: int) -> tuple[torch.Tensor, int, int]:
    """White-pad ``[3, h, w]`` to ``[3, height, width]``: top/left get half, returns (left, top)."""
    pad_h = height - tensor.shape[1]
    pad_w = width - tensor.shape[2]
    if pad_h <= 0 and pad_w <= 0:
        return tensor, 0, 0
    top, left = pad_h // 2, pad_w // 2
    padding = (left, pad_w - left, top, pad_h - top)
    return torch.nn.functional.pad(tensor, padding, value=_PAD_VALUE), left, top


def _preprocess_one(
    image: Image.Image, mode: str, pixel_aspect: float = 1.0
) -> tuple[torch.Tensor, PlateMapping]:
    """One RGB PIL image -> float32 ``[3, H, W]`` in [0, 1] and its mapping.

    Non-square pixels (``pixel_aspect`` = pixel width / height) are desqueezed in the same
    resize: the model sizes come from the displayed picture, so it sees true proportions.
    """
    width, height = image.size
    new_width, new_height = _resized_size(round(width * pixel_aspect), height, mode)
    resized = image.resize((new_width, new_height), Image.Resampling.BICUBIC)
    tensor = torch.from_numpy(np.asarray(resized).copy()).permute(2, 0, 1).float().div(255)
    offset_x = offset_y = 0
    if mode == "crop" and new_height > TARGET_SIZE:
        start = (new_height - TARGET_SIZE) // 2
        tensor = tensor[:, start : start + TARGET_SIZE, :]
        offset_y = -start
    if mode == "pad":
        tensor, offset_x, offset_y = _pad(tensor, TARGET_SIZE, TARGET_SIZE)
    mapping = PlateMapping(
        plate_width=width,
        plate_height=height,
        model_width=tensor.shape[2],
        model_height=tensor.shape[1],
        scale_x=new_width / width,
        scale_y=new_height / height,
        offset_x=float(offset_x),
        offset_y=float(offset_y),
    )
    return tensor, mapping


def _pad_to_common(
    tensors: list[torch.Tensor], mappings: list[PlateMapping]
) -> tuple[list[torch.Tensor], list[PlateMapping]]:
    """Mixed output sizes are white-padded, centred, to the largest height and width."""
    height = max(tensor.shape[1] for tensor in tensors)
    width = max(tensor.shape[2] for tensor in tensors)
    padded, moved = [], []
    for tensor, mapping in zip(tensors, mappings, strict=True):
        tensor, left, top = _pad(tensor, height, width)
        padded.append(tensor)
        moved.append(
            PlateMapping(
                **{
                    **mapping.to_dict(),
                    "model_width": width,
                    "model_height": height,
                    "offset_x": mapping.offset_x + left,
                    "offset_y": mapping.offset_y + top,
                }
            )
        )
    return padded, moved


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise InputError(f"Preprocess mode must be 'crop' or 'pad', got {mode!r}.")


def preprocess_with_mappings(
    paths: Sequence[str | Path], mode: str = "crop"
) -> tuple[torch.Tensor, list[PlateMapping]]:
    """``load_and_preprocess_images`` plus one mapping per image (they differ for mixed sizes)."""
    _check_mode(mode)
    if not paths:
        raise InputError("No images to preprocess.")
    tensors, mappings = [], []
    for path in paths:
        try:
            with Image.open(path) as image:
                tensor, mapping = _preprocess_one(_to_rgb(image), mode)
        except OSError as error:
            raise InputError(f"Cannot read image {path}: {error}") from error
        tensors.append(tensor)
        mappings.append(mapping)
    if len({tuple(tensor.shape) for tensor in tensors}) > 1:
        tensors, mappings = _pad_to_common(tensors, mappings)
    return torch.stack(tensors), mappings


def load_and_preprocess_images(paths: Sequence[str | Path], mode: str = "crop") -> torch.Tensor:
    """The official loader: image files -> float32 ``[S, 3, H, W]`` in [0, 1], bit for bit."""
    images, _ = preprocess_with_mappings(paths, mode)
    return images


def resolve_mode(mode: str, width: int, height: int, pixel_aspect: float = 1.0) -> str:
    """``auto`` -> ``crop`` when the crop keeps the whole plate (landscape), else ``pad``, so
    the model sees every pixel of a portrait or tall plate; ``crop``/``pad`` are kept."""
    if mode != "auto":
        _check_mode(mode)
        return mode
    _new_width, new_height = _resized_size(round(width * pixel_aspect), height, "crop")
    return "crop" if new_height <= TARGET_SIZE else "pad"


def unseen_rows(mapping: PlateMapping) -> tuple[int, int]:
    """Plate rows (top, bottom) a crop left out of the model image (0, 0 when none)."""
    top = max(0.0, -mapping.offset_y / mapping.scale_y)
    bottom = max(
        0.0, mapping.plate_height - (mapping.model_height - mapping.offset_y) / mapping.scale_y
    )
    return round(top), round(bottom)


def preprocess_frames(
    frames: Sequence[np.ndarray], mode: str = "auto", pixel_aspect: float = 1.0
) -> tuple[torch.Tensor, PlateMapping]:
    """In-memory uint8 RGB frames ``[H, W, 3]`` (one plate size) -> ``[S, 3, H', W']`` + mapping.

    Same arithmetic as the file loader; the frames of one shot share one mapping, so mixed
    plate sizes are refused instead of padded. ``mode`` may be ``auto`` (``resolve_mode``);
    ``pixel_aspect`` desqueezes anamorphic plates.
    """
    if not frames:
        raise InputError("No frames to preprocess.")
    mode = resolve_mode(mode, frames[0].shape[1], frames[0].shape[0], pixel_aspect)
    plate_shape = frames[0].shape
    tensors = []
    mapping = None
    for index, frame in enumerate(frames):
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise InputError(
                f"Frame {index} must be uint8 [H, W, 3] RGB, got {frame.dtype} {frame.shape}."
            )
        if frame.shape != plate_shape:
            raise InputError(
                f"Frame {index} is {frame.shape[1]}x{frame.shape[0]}, "
                f"frame 0 is {plate_shape[1]}x{plate_shape[0]}: one shot needs one resolution."
            )
        tensor, mapping = _preprocess_one(Image.fromarray(frame, mode="RGB"), mode, pixel_aspect)
        tensors.append(tensor)
    return torch.stack(tensors), mapping
