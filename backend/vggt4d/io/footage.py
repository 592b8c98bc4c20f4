"""Read a shot (video file or image sequence) into uint8 RGB frames with plate frame numbers.

Only the frames that will be reconstructed are decoded: the range, stride and frame cap are
resolved on frame numbers first, then a video is decoded up to (or sought over long gaps to)
each selected frame (``io.video``) and a sequence opens just the selected files. Frame numbers
are those of the plate: a sequence keeps the numbers in its file names (``shot.1001.png`` is
frame 1001); a video's frames are numbered by timestamp from ``first_video_frame`` (1 by
default; a Movie Clip starting at 1001 gives 1001), as Blender's Movie Clip places them.
"""

from __future__ import annotations

import glob
import itertools
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vggt4d.errors import InputError
from vggt4d.io import video
from vggt4d.io.bundle_format import frame_number

VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".wmv", ".mxf"}
)
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".exr", ".tif", ".tiff", ".bmp", ".webp"})
DEFAULT_SEQUENCE_FPS = 24.0
MAX_FRAME_NUMBER = 1_048_574
"""Blender's last scene frame: plate frame numbers beyond it cannot be keyed."""
_PRINTF = re.compile(r"%0?(\d*)d|(#+)")

Progress = Callable[[float], None]


@dataclass(frozen=True)
class FrameRange:
    """Plate frame numbers ``start..end`` (both inclusive, None = open) and every ``stride``-th.

    The stride counts frames that exist, so a sequence with a gap still gets every n-th file.
    """

    start: int | None = None
    end: int | None = None
    stride: int = 1

    def __post_init__(self) -> None:
        if self.stride < 1:
            raise InputError(f"The frame stride must be 1 or more, got {self.stride}.")
        if self.start is not None and self.end is not None and self.start > self.end:
            raise InputError(f"The frame range starts after it ends ({self.start} > {self.end}).")

    @classmethod
    def parse(cls, text: str) -> FrameRange:
        """Parse ``"START:END:STRIDE"``; empty parts stay open (``"::2"``), ``"N"`` is frame N."""
        parts = text.strip().split(":")
        if len(parts) > 3:
            raise InputError(f"Frame range {text!r} is not START:END:STRIDE.")
        try:
            numbers = [int(part) if part.strip() else None for part in parts]
        except ValueError as error:
            raise InputError(f"Frame range {text!r} is not START:END:STRIDE.") from error
        if len(numbers) == 1:
            return cls(numbers[0], numbers[0])
        stride = numbers[2] if len(numbers) == 3 and numbers[2] is not None else 1
        return cls(numbers[0], numbers[1], stride)

    def select(self, frame_numbers: Sequence[int]) -> list[int]:
        """Positions in ascending ``frame_numbers`` inside the range, then every stride-th."""
        inside = [
            position
            for position, number in enumerate(frame_numbers)
            if (self.start is None or number >= self.start)
            and (self.end is None or number <= self.end)
        ]
        return inside[:: self.stride]


@dataclass
class Footage:
    """Decoded frames (uint8 RGB ``[H, W, 3]``) of one shot and where they came from."""

    frames: list[np.ndarray]
    frame_numbers: list[int]
    fps: float
    width: int
    height: int
    kind: str  # "video" | "image_sequence"
    path: str
    warnings: list[str] = field(default_factory=list)
    rotation: int = 0  # degrees counter-clockwise applied to stored video frames
    pixel_aspect: float = 1.0  # sample aspect ratio: pixel width / height
    timestamps: list[float] | None = None  # seconds from the video start, per frame
    variable_rate: bool = False
    video_frame_start: int | None = None  # plate number of a video's first frame
    files: list[str] | None = None  # a sequence's file names, per frame
    transparent: list[np.ndarray] | None = None  # bool [H, W] per frame: alpha < 0.5

    def source_record(self, bundle_path: str | Path) -> dict[str, Any]:
        """The manifest's ``source`` section (docs/bundle.md): the footage's absolute path and
        its path relative to the bundle (a moved project still finds it), and what the
        importer and exports need to line the plate up (first video frame, rotation applied,
        real timestamps, file names)."""
        footage = Path(os.path.abspath(Path(self.path).expanduser()))
        try:
            relative = Path(os.path.relpath(footage, os.path.abspath(bundle_path))).as_posix()
        except ValueError:  # another drive on Windows
            relative = None
        record: dict[str, Any] = {
            "path": str(footage),
            "path_relative_to_bundle": relative,
            "kind": self.kind,
            "frame_start": self.video_frame_start or self.frame_numbers[0],
        }
        if self.kind == "video":
            record |= {
                "rotation": self.rotation,
                "variable_frame_rate": self.variable_rate,
                "timestamps": [round(second, 6) for second in self.timestamps or []],
            }
        if self.files is not None:
            record["files"] = self.files
        return record


def read_footage(
    path: str | Path,
    frames: FrameRange | None = None,
    max_frames: int | None = None,
    progress: Progress | None = None,
    *,
    fps: float | None = None,
    first_video_frame: int = 1,
) -> Footage:
    """Read a video file, an image folder, a glob or a printf/``#`` pattern (``shot.%04d.png``).

    ``frames`` selects plate frame numbers; ``max_frames`` then samples evenly over the
    selection, keeping the first and last frame. ``fps`` overrides the video's rate and is
    the rate of an image sequence (default 24). ``progress(fraction)`` follows decoding.
    """
    selection, text, candidate = _resolve_request(path, frames, max_frames)
    if _is_video(candidate):
        return _read_video(candidate, selection, max_frames, progress, fps, first_video_frame)
    chosen = _sequence_selection(text, selection, max_frames)
    return _read_sequence(text, chosen, progress, fps or DEFAULT_SEQUENCE_FPS)


def _sequence_selection(
    text: str, selection: FrameRange, max_frames: int | None
) -> list[tuple[int, Path]]:
    """(frame number, file) of the selected images of a sequence."""
    files, numbers = _sequence_files(text)
    positions = _cap(selection.select(numbers), max_frames)
    if not positions:
        raise InputError(f"No frame of {text} falls in the range {_describe(selection)}.")
    return [(numbers[position], files[position]) for position in positions]


def check_footage(path: str | Path) -> None:
    """Raise InputError now when ``path`` names no readable footage (no decoding: a video
    file that exists, or a sequence with at least one image file)."""
    candidate = Path(str(path)).expanduser()
    if not (candidate.is_file() and candidate.suffix.lower() in VIDEO_EXTENSIONS):
        _sequence_files(str(path))


def _resolve_request(
    path: str | Path, frames: FrameRange | None, max_frames: int | None
) -> tuple[FrameRange, str, Path]:
    """The selection, the path as given and as a file path; refuses a max_frames under 1."""
    if max_frames is not None and max_frames < 1:
        raise InputError(f"max_frames must be 1 or more, got {max_frames}.")
    return frames or FrameRange(), str(path), Path(str(path)).expanduser()


def _is_video(candidate: Path) -> bool:
    return candidate.is_file() and candidate.suffix.lower() in VIDEO_EXTENSIONS


def _describe(selection: FrameRange) -> str:
    start = "" if selection.start is None else selection.start
    end = "" if selection.end is None else selection.end
    return f"{start}:{end}:{selection.stride}"


def _cap(positions: list[int], max_frames: int | None) -> list[int]:
    """Even sampling over the selection (``np.linspace`` rounded; first and last kept)."""
    if max_frames is None or len(positions) <= max_frames:
        return positions
    picks = np.linspace(0, len(positions) - 1, max_frames).round().astype(int)
    return [positions[pick] for pick in picks]


# --- image sequences --------------------------------------------------------------------


def _sequence_files(text: str) -> tuple[list[Path], list[int]]:
    """Files of a sequence and their frame numbers, ascending."""
    path = Path(text).expanduser()
    pattern = _PRINTF.search(path.name)
    if path.is_dir():
        files = _image_files(path.iterdir(), text)
        _check_one_extension(files, text)
        return _numbered(files, text)
    if pattern:
        return _printf_files(path, text)
    if glob.has_magic(text):
        matches = [Path(match) for match in glob.glob(str(path))]
        return _numbered(_image_files(matches, text), text)
    if not path.exists():
        raise InputError(f"Footage not found: {text}")
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        known = ", ".join(sorted(VIDEO_EXTENSIONS | IMAGE_EXTENSIONS))
        raise InputError(
            f"Unsupported footage type {path.suffix or '(none)'!r} ({text}); use {known}."
        )
    return [path], [frame_number(path.name) or 1]


def _image_files(paths: Iterable[Path], text: str) -> list[Path]:
    files = [
        item
        for item in paths
        if item.suffix.lower() in IMAGE_EXTENSIONS and not item.name.startswith(".")
    ]
    if not files:
        raise InputError(f"No image files found at {text}.")
    return files


def _check_one_extension(files: list[Path], text: str) -> None:
    extensions = sorted({item.suffix.lower() for item in files})
    if len(extensions) > 1:
        raise InputError(
            f"{text} holds images of several types ({', '.join(extensions)}); "
            f"pick one with a glob such as {Path(text) / ('*' + extensions[0])}."
        )


def _printf_files(path: Path, text: str) -> tuple[list[Path], list[int]]:
    """``shot.%04d.png`` / ``shot.####.png``: the number is the matched digits, at least as wide."""
    match = _PRINTF.search(path.name)
    width = len(match.group(2)) if match.group(2) else int(match.group(1) or 1)
    regex = re.compile(
        re.escape(path.name[: match.start()])
        + rf"(\d{{{width},}})"
        + re.escape(path.name[match.end() :])
        + r"\Z"
    )
    folder = path.parent
    if not folder.is_dir():
        raise InputError(f"Footage not found: {text} (no folder {folder}).")
    found = [
        (int(hit.group(1)), folder / name)
        for name in os.listdir(folder)
        if (hit := regex.match(name))
    ]
    if not found:
        raise InputError(f"Footage not found: no file matches {text}.")
    found.sort()
    return [item for _, item in found], [number for number, _ in found]


def _numbered(files: list[Path], text: str) -> tuple[list[Path], list[int]]:
    """Number files by the last digits in their names; without digits, 1.. in name order."""
    numbers = [frame_number(item.name) for item in files]
    if None in numbers:
        ordered = sorted(files)
        return ordered, list(range(1, len(ordered) + 1))
    pairs = sorted(zip(numbers, files, strict=True))
    for (number, first), (next_number, second) in itertools.pairwise(pairs):
        if number == next_number:
            raise InputError(
                f"{first.name} and {second.name} are both frame {number} in {text}; "
                "select one sequence with a pattern such as shot.%04d.png."
            )
    return [item for _, item in pairs], [number for number, _ in pairs]


def _read_sequence(
    text: str, chosen: list[tuple[int, Path]], progress: Progress | None, fps: float
) -> Footage:
    frames: list[np.ndarray] = []
    transparent: list[np.ndarray | None] = []
    for index, (_, file) in enumerate(chosen):
        frame, clear = _read_image(file)
        transparent.append(clear)
        if frames and frame.shape != frames[0].shape:
            first = frames[0].shape
            raise InputError(
                f"{file.name} is {frame.shape[1]}x{frame.shape[0]} but {chosen[0][1].name} is "
                f"{first[1]}x{first[0]}: all frames of a sequence need one resolution."
            )
        frames.append(frame)
        if progress:
            progress((index + 1) / len(chosen))
    return _sequence_footage(text, chosen, frames, fps, transparent)


def _sequence_footage(
    text: str,
    chosen: list[tuple[int, Path]],
    frames: list[np.ndarray],
    fps: float,
    transparent: list[np.ndarray | None],
) -> Footage:
    """The Footage of the ``chosen`` images; ``frames`` are their pixels (or the first) and
    ``transparent`` their alpha < 0.5 masks (None without alpha)."""
    return Footage(
        frames=frames,
        frame_numbers=[number for number, _ in chosen],
        fps=float(fps),
        width=frames[0].shape[1],
        height=frames[0].shape[0],
        kind="image_sequence",
        path=text,
        files=[file.name for _, file in chosen],
        transparent=_transparency(transparent, frames[0].shape[:2]),
    )


def _transparency(
    per_frame: list[np.ndarray | None], shape: tuple[int, ...]
) -> list[np.ndarray] | None:
    """None when no frame has a transparent pixel, else one bool mask per frame."""
    if not any(clear is not None and clear.any() for clear in per_frame):
        return None
    return [np.zeros(shape, bool) if clear is None else clear for clear in per_frame]


def _read_image(file: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """One image -> uint8 RGB and, with an alpha channel, where it is transparent (alpha < 0.5,
    bool [H, W]). Bytes go through ``imdecode`` so non-ASCII paths work everywhere."""
    if file.suffix.lower() == ".exr":
        # OpenCV reads this switch at its first EXR decode, so setting it here is in time.
        os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
    try:
        data = np.fromfile(file, dtype=np.uint8)
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    except (OSError, cv2.error) as error:
        raise InputError(f"Cannot read image {file}: {error}") from error
    if image is None:
        raise InputError(f"Cannot read image {file}: empty, damaged or not an image.")
    return _picture(image)


def _picture(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """An OpenCV-order image (grey/BGR/BGRA, any depth) -> uint8 RGB composited on white, and
    where it is transparent (None without an alpha channel)."""
    return _to_rgb8(image), _transparent(image)


def _video_picture(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """A decoded video frame (RGB, or BGRA when the stream carries alpha) -> `_picture`'s pair."""
    return (frame, None) if frame.shape[2] == 3 else _picture(frame)


def _transparent(image: np.ndarray) -> np.ndarray | None:
    """Pixels whose alpha (the last of 2 or 4 channels, any depth) is below one half."""
    if image.ndim != 3 or image.shape[2] not in (2, 4):
        return None
    alpha = image[..., -1].astype(np.float32)
    full = 1.0 if image.dtype.kind == "f" else float(np.iinfo(image.dtype).max)
    return np.nan_to_num(alpha) < 0.5 * full


def _to_rgb8(image: np.ndarray) -> np.ndarray:
    """Any OpenCV image (grey/BGR/BGRA, 8/16-bit, float) -> uint8 RGB.

    Alpha is composited on white like the official loader; float images are scene-linear
    (EXR convention, premultiplied alpha) and get the sRGB transfer curve after clipping
    to [0, 1], which is Blender's "Standard" view.
    """
    if image.ndim == 2:
        image = image[..., None]
    if image.dtype == np.uint8 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.dtype == np.uint8 and image.shape[2] == 4 and (image[..., 3] == 255).all():
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)  # opaque: nothing to composite
    is_float = image.dtype.kind == "f"
    scale = 1.0 if is_float else float(np.iinfo(image.dtype).max)
    values = image.astype(np.float32) / scale
    colour = values[..., :3] if values.shape[2] >= 3 else np.repeat(values[..., :1], 3, axis=2)
    if values.shape[2] in (2, 4):
        alpha = np.clip(values[..., -1:], 0.0, 1.0)
        colour = colour + (1.0 - alpha) if is_float else colour * alpha + (1.0 - alpha)
    if is_float:
        colour = _linear_to_srgb(np.clip(np.nan_to_num(colour), 0.0, 1.0))
    rgb8 = np.clip(colour * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(rgb8[..., ::-1]) if values.shape[2] >= 3 else rgb8


def _linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.power(linear, 1 / 2.4) - 0.055)


# --- video ------------------------------------------------------------------------------


def _read_video(
    path: Path,
    selection: FrameRange,
    max_frames: int | None,
    progress: Progress | None,
    fps: float | None,
    first_video_frame: int,
) -> Footage:
    """Frames numbered by timestamp as Blender places them, upright (see ``io.video``)."""
    index, positions = _video_selection(path, selection, max_frames, fps, first_video_frame)
    numbers = index.numbers
    decoded = video.decode_frames(path, index, positions, progress)
    if not decoded:
        raise _undecodable(path, len(numbers))
    warnings = list(index.warnings)
    kept = sorted(decoded)
    lost = len(positions) - len(kept) + max(index.announced - len(numbers), 0)
    if lost:
        missing = [numbers[position] for position in positions if position not in decoded]
        warnings.append(
            f"{path.name} is truncated or damaged: it announces "
            f"{max(index.announced, len(numbers))} frames and {lost} of them do not decode"
            + (f" (from frame {missing[0]})" if missing else "")
            + "; they are left out."
        )
    pictures = [_video_picture(decoded[position]) for position in kept]
    frames = [frame for frame, _ in pictures]
    transparent = _transparency([clear for _, clear in pictures], frames[0].shape[:2])
    return _video_footage(path, index, kept, frames, warnings, first_video_frame, transparent)


def _video_selection(
    path: Path,
    selection: FrameRange,
    max_frames: int | None,
    fps: float | None,
    first_video_frame: int,
) -> tuple[video.VideoIndex, list[int]]:
    index = video.index_video(path, first_video_frame, fps)
    numbers = index.numbers
    positions = _cap(selection.select(numbers), max_frames)
    if not positions:
        raise InputError(
            f"No frame of {path} falls in the range {_describe(selection)} "
            f"(the video has frames {numbers[0]}..{numbers[-1]})."
        )
    return index, positions


def _undecodable(path: Path, count: int) -> InputError:
    return InputError(
        f"No frame of {path} could be decoded (it holds {count}); the file is truncated or damaged."
    )


def _video_footage(
    path: Path,
    index: video.VideoIndex,
    positions: list[int],
    frames: list[np.ndarray],
    warnings: list[str],
    first_video_frame: int,
    transparent: list[np.ndarray] | None,
) -> Footage:
    """The Footage of ``positions`` of a video; ``frames`` are their pixels (or only the
    first, for a reader that decodes on demand) and ``transparent`` their alpha < 0.5 masks."""
    return Footage(
        frames=frames,
        frame_numbers=[index.numbers[position] for position in positions],
        fps=index.fps,
        width=frames[0].shape[1],
        height=frames[0].shape[0],
        kind="video",
        path=str(path),
        warnings=warnings,
        rotation=index.rotation,
        pixel_aspect=index.pixel_aspect,
        timestamps=[index.seconds[position] for position in positions],
        variable_rate=index.variable_rate,
        video_frame_start=first_video_frame,
        transparent=transparent,
    )


# --- on demand ----------------------------------------------------------------------------


@dataclass
class FootageReader:
    """A shot opened for reading on demand, so a long shot never sits in memory whole.

    ``footage`` describes the whole selection (frame numbers, rate, plate size, timestamps,
    file names, ...) but holds only the first frame's pixels and no alpha; ``read`` decodes a
    range with its alpha.
    """

    footage: Footage
    _decode: Callable[[int, int], list[tuple[np.ndarray, np.ndarray | None]]]

    def __len__(self) -> int:
        return len(self.footage.frame_numbers)

    def read(self, start: int, stop: int) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
        """Frames ``start..stop-1`` of the selection as uint8 RGB ``[H, W, 3]`` (alpha
        composited on white), and their transparent pixels (alpha < 0.5, bool ``[H, W]`` per
        frame; None when none of them has one), as `read_footage` gives them. Raises
        InputError when one does not decode (a truncated file) or has another size."""
        pictures = self._decode(start, stop)
        frames = [frame for frame, _ in pictures]
        footage = self.footage
        if len(frames) < stop - start:
            number = footage.frame_numbers[start + len(frames)]
            raise InputError(
                f"Frame {number} of {footage.path} does not decode: the file is truncated or "
                "damaged. Reconstruct a frame range that ends before it."
            )
        for offset, frame in enumerate(frames):
            if frame.shape[:2] != (footage.height, footage.width):
                raise InputError(
                    f"Frame {footage.frame_numbers[start + offset]} of {footage.path} is "
                    f"{frame.shape[1]}x{frame.shape[0]} but the first is "
                    f"{footage.width}x{footage.height}: all frames need one resolution."
                )
        shape = (footage.height, footage.width)
        return frames, _transparency([clear for _, clear in pictures], shape)


class LazyFrames(Sequence[np.ndarray]):
    """Frames ``positions`` of a reader as a sequence decoded on demand, ``block`` frames at a
    time: a pass in order decodes each frame once and holds one block, so a long plate can be
    read twice (tracking, then colours) without ever sitting in memory whole. A frame is uint8
    RGB ``[H, W, 3]``, or RGBA ``[H, W, 4]`` when its block has transparent pixels (alpha 0
    there, 255 elsewhere: what the camera solve reads as an RGBA plate)."""

    def __init__(self, reader: FootageReader, positions: Sequence[int], block: int = 16):
        self._reader, self._positions, self._block = reader, list(positions), block
        self._first, self._frames = 0, []  # the decoded block: positions[_first:_first+len]

    def __len__(self) -> int:
        return len(self._positions)

    def __getitem__(self, index: int) -> np.ndarray:  # type: ignore[override]
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        index %= len(self)
        if not self._first <= index < self._first + len(self._frames):
            self._first = index
            wanted = self._positions[index : index + self._block]
            stop = min(wanted[-1] + 1, wanted[0] + 4 * self._block)  # one seek for a stride
            decoded, transparent = self._reader.read(wanted[0], stop)
            if transparent is not None:
                decoded = [
                    np.dstack([frame, np.where(clear, 0, 255).astype(np.uint8)])
                    for frame, clear in zip(decoded, transparent, strict=True)
                ]
            self._frames = [decoded[p - wanted[0]] for p in wanted if p < stop]
        return self._frames[index - self._first]


def open_footage(
    path: str | Path,
    frames: FrameRange | None = None,
    max_frames: int | None = None,
    *,
    fps: float | None = None,
    first_video_frame: int = 1,
) -> FootageReader:
    """Like `read_footage`, but decodes only the first frame now and the rest on demand."""
    selection, text, candidate = _resolve_request(path, frames, max_frames)
    if _is_video(candidate):
        index, positions = _video_selection(
            candidate, selection, max_frames, fps, first_video_frame
        )

        def decode(start: int, stop: int) -> list[tuple[np.ndarray, np.ndarray | None]]:
            wanted = positions[start:stop]
            decoded = video.decode_frames(candidate, index, wanted)
            kept = itertools.takewhile(decoded.__contains__, wanted)
            return [_video_picture(decoded[position]) for position in kept]

        first = [frame for frame, _ in decode(0, 1)]
        if not first:
            raise _undecodable(candidate, len(index.numbers))
        footage = _video_footage(
            candidate, index, positions, first, list(index.warnings), first_video_frame, None
        )
        return FootageReader(footage, decode)
    chosen = _sequence_selection(text, selection, max_frames)

    def read_files(start: int, stop: int) -> list[tuple[np.ndarray, np.ndarray | None]]:
        return [_read_image(file) for _, file in chosen[start:stop]]

    first = [read_files(0, 1)[0][0]]
    footage = _sequence_footage(text, chosen, first, fps or DEFAULT_SEQUENCE_FPS, [None])
    return FootageReader(footage, read_files)
