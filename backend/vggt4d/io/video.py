"""Video plates read through FFmpeg (PyAV) the way Blender shows them.

Three things phone and cinema footage carry that a plain decoder ignores:

* **Display rotation** (the display matrix side data of a phone video stored landscape): frames
  are turned upright, as Blender and every player show them; the angle goes in the manifest.
* **Variable frame rate**: frames are numbered by presentation timestamp at the stream's nominal
  rate (``av_guess_frame_rate``), ``number = first + round((pts - start_time) * fps)``, which
  is how Blender's Movie Clip places a video frame on the timeline, so plate frame N is the
  frame the clip shows at scene frame N. The real timestamps are kept for TUM exports.
* **Sample aspect ratio** (anamorphic, SAR != 1): the pixels are returned as stored and the
  ratio (pixel width / height, after rotation) is reported; preprocessing desqueezes.
* **Alpha**: a stream whose frames decode to a pixel format with an alpha channel (ProRes
  4444, PNG or QuickTime Animation in MOV, FFV1, Ut Video, ...) or with a palette is decoded
  to BGRA; VP8/VP9 in WebM keep their alpha in side data (``alpha_mode`` 1) that only libvpx
  decodes, so those streams are decoded by libvpx instead of FFmpeg's native decoder.

FFmpeg's own logging stays off (PyAV's default), so a damaged file gives one warning from us,
not hundreds of decoder lines.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vggt4d.errors import InputError

_SEEK_GAP = 48  # frames: closer targets are reached by decoding, farther ones by seeking
_DECODE_ERRORS = (av.error.FFmpegError, OSError, ValueError)
_LIBVPX = {"vp8": "libvpx", "vp9": "libvpx-vp9"}  # the decoders that read WebM's alpha


@dataclass
class VideoIndex:
    """What a video holds before decoding: one entry per frame, ascending timestamps."""

    numbers: list[int]  # plate frame numbers (Blender's)
    pts: list[int]  # presentation timestamps in ``time_base`` units
    seconds: list[float]  # timestamps from the stream start
    fps: float  # nominal rate the numbers use
    rotation: int  # degrees counter-clockwise that turn a stored frame upright
    pixel_aspect: float  # sample aspect ratio of the upright frame (width / height of a pixel)
    variable_rate: bool
    announced: int  # frame count the container header claims (0: unknown)
    alpha: bool = False  # frames carry alpha: `decode_frames` returns BGRA
    warnings: list[str] = field(default_factory=list)


def index_video(path: Path, first_frame: int, fps: float | None = None) -> VideoIndex:
    """Number every frame of ``path`` by timestamp without decoding (demuxing only)."""
    with _open(path) as container:
        stream = _video_stream(container, path)
        rotation, alpha = _first_frame(container, stream)
        side_alpha = _side_data_alpha(stream)
    with _open(path) as container:
        stream = _video_stream(container, path)
        rate = fps or _nominal_rate(stream)
        timestamps = sorted(
            {packet.pts for packet in _packets(container, stream) if packet.pts is not None}
        )
        sample_aspect = stream.sample_aspect_ratio or Fraction(1)
        announced = stream.frames or 0
    if not timestamps:
        raise InputError(f"Video {path} has no frames (or none that can be read).")
    start = timestamps[0]
    time_base = float(stream.time_base)
    numbers, pts, seconds, warnings = [], [], [], []
    if side_alpha is not None and side_alpha not in av.codecs_available:
        warnings.append(
            f"{path.name} keeps its alpha as VP8/VP9 side data, which only the {side_alpha} "
            "decoder reads and this FFmpeg build lacks: it is read without alpha (opaque)."
        )
    for stamp in timestamps:
        second = (stamp - start) * time_base
        number = first_frame + round(second * rate)
        if numbers and number == numbers[-1]:
            continue  # two frames within one frame slot: Blender shows the first
        numbers.append(number)
        pts.append(stamp)
        seconds.append(second)
    variable = numbers != list(range(first_frame, first_frame + len(numbers)))
    if variable or len(numbers) < len(timestamps):
        warnings.append(
            f"{path.name} has a variable frame rate: its {len(timestamps)} frames are numbered "
            f"by timestamp at {rate:g} fps as Blender places them (frames "
            f"{numbers[0]}..{numbers[-1]}, {len(timestamps) - len(numbers)} dropped as "
            "duplicates); TUM exports keep the real timestamps."
        )
    turns = round(rotation / 90.0)
    if abs(rotation - 90 * turns) > 1e-3:
        warnings.append(f"{path.name} asks for a {rotation:g} degree rotation; it is ignored.")
        turns = 0
    aspect = float(sample_aspect) if sample_aspect > 0 else 1.0
    return VideoIndex(
        numbers=numbers,
        pts=pts,
        seconds=seconds,
        fps=float(rate),
        rotation=(90 * turns) % 360,
        pixel_aspect=1.0 / aspect if turns % 2 else aspect,
        variable_rate=variable,
        announced=announced,
        alpha=alpha,
        warnings=warnings,
    )


def decode_frames(
    path: Path,
    index: VideoIndex,
    positions: list[int],
    progress: Callable[[float], None] | None = None,
) -> dict[int, np.ndarray]:
    """Upright uint8 frames at ``positions`` (ascending) of ``index``, by position: RGB
    ``[H, W, 3]``, or BGRA ``[H, W, 4]`` (OpenCV's order, straight alpha) when ``index.alpha``.
    A frame that is missing, does not decode or decodes flagged corrupt (a damaged
    file) is left out; the caller compares what came back with ``positions``.
    """
    frames: dict[int, np.ndarray] = {}
    with _open(path) as container:
        stream = _video_stream(container, path)
        decoder = _decoder(stream)
        decoded, pending, current = _decoded(container, stream, decoder), None, -1
        pixels = "bgra" if index.alpha else "rgb24"
        for done, position in enumerate(positions, start=1):
            target = index.pts[position]
            if position - current > _SEEK_GAP:
                container.seek(target, stream=stream, backward=True)
                decoder.flush_buffers()
                decoded, pending = _decoded(container, stream, decoder), None
            frame = pending if pending is not None and pending.pts >= target else None
            frame = frame or next(
                (f for f in decoded if f.pts is not None and f.pts >= target), None
            )
            if frame is None:
                break
            pending = frame if frame.pts > target else None  # it may be a later target
            current = position
            if frame.pts == target and not frame.is_corrupt:
                picture = np.rot90(frame.to_ndarray(format=pixels), index.rotation // 90)
                frames[position] = np.ascontiguousarray(picture)
            if progress:
                progress(done / len(positions))
    return frames


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), mode="r")
    except _DECODE_ERRORS as error:
        raise InputError(
            f"Cannot open video {path}: it has no frames, uses a codec FFmpeg cannot decode, "
            f"or is truncated (an MP4 cut short loses its index). ({error})"
        ) from error


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.VideoStream:
    if not container.streams.video:
        raise InputError(f"{path} holds no video stream.")
    return container.streams.video[0]


def _nominal_rate(stream: av.video.VideoStream) -> float:
    """The rate Blender numbers frames at: FFmpeg's guess (r_frame_rate unless implausible)."""
    for rate in (stream.guessed_rate, stream.average_rate, stream.base_rate):
        if rate and math.isfinite(float(rate)) and 0 < float(rate) < 10_000:
            return float(rate)
    return 24.0


def _packets(container: av.container.InputContainer, stream: av.video.VideoStream):
    """Demuxed packets until the end or the first damaged one."""
    try:
        yield from container.demux(stream)
    except _DECODE_ERRORS:
        return


def _decoder(stream: av.video.VideoStream) -> av.CodecContext:
    """The stream's own decoder, or libvpx for VP8/VP9 whose alpha sits in side data (WebM's
    ``alpha_mode``), which FFmpeg's native VP8/VP9 decoders drop."""
    libvpx = _side_data_alpha(stream)
    if libvpx is not None and libvpx in av.codecs_available:
        decoder = av.CodecContext.create(libvpx, "r")
    else:
        decoder = stream.codec_context
    decoder.thread_type = "AUTO"
    return decoder


def _side_data_alpha(stream: av.video.VideoStream) -> str | None:
    """The libvpx decoder a VP8/VP9 stream with alpha in side data needs (None otherwise)."""
    if stream.metadata.get("alpha_mode") != "1":
        return None
    return _LIBVPX.get(stream.codec_context.name)


def _decoded(
    container: av.container.InputContainer, stream: av.video.VideoStream, decoder: av.CodecContext
):
    """Decoded frames in order; damaged packets are skipped, a broken container ends it."""
    for packet in _packets(container, stream):
        try:
            yield from decoder.decode(packet)
        except _DECODE_ERRORS:
            continue


def _first_frame(
    container: av.container.InputContainer, stream: av.video.VideoStream
) -> tuple[float, bool]:
    """Counter-clockwise display rotation of the first frame (0 without a display matrix) and
    whether frames carry alpha (a pixel format with an alpha channel, or a palette)."""
    for frame in _decoded(container, stream, _decoder(stream)):
        pixels = frame.format
        alpha = pixels.has_palette or any(part.is_alpha for part in pixels.components)
        return float(frame.rotation or 0), alpha
    return 0.0, False
