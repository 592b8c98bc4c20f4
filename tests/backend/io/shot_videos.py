"""Videos as phones and cinema cameras write them, made with the ffmpeg binary that
imageio-ffmpeg ships (independent of the PyAV reader under test)."""

import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np


def index_frame(index: int, width: int = 64, height: int = 32) -> np.ndarray:
    """RGB frame whose flat colour encodes ``index`` (red = 20 * index), with a white
    top-left quadrant so orientation is visible."""
    frame = np.zeros((height, width, 3), np.uint8)
    frame[..., 0] = 20 * index
    frame[..., 1] = 100
    frame[..., 2] = 200
    frame[: height // 2, : width // 2] = 255
    return frame


def frame_index(frame: np.ndarray) -> int:
    """Inverse of ``index_frame`` on an upright frame (reads the bottom-right quadrant)."""
    height, width = frame.shape[:2]
    return round(float(frame[height // 2 :, width // 2 :, 0].mean()) / 20)


def write_video(
    path: Path,
    frames: list[np.ndarray],
    fps: int = 24,
    filters: str | None = None,
    rotation: int | None = None,
) -> Path:
    """Lossless H.264 of ``frames``; ``filters`` is an ffmpeg -vf chain (``setsar=4/3``, a
    ``select`` that drops frames with timestamps kept: variable frame rate); ``rotation``
    adds a display matrix (degrees counter-clockwise), as phones write portrait video."""
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    height, width = frames[0].shape[:2]
    plain = path.with_name(f"plain-{path.name}") if rotation is not None else path
    command = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo"]
    command += ["-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "-"]
    if filters:
        command += ["-vf", filters, "-fps_mode", "passthrough"]
    command += ["-pix_fmt", "yuv444p", "-c:v", "libx264", "-qp", "0", str(plain)]
    subprocess.run(command, input=b"".join(f.tobytes() for f in frames), check=True)
    if rotation is not None:
        rotate = ["-display_rotation:v:0", str(rotation), "-i", str(plain), "-c", "copy"]
        quiet = ["-hide_banner", "-loglevel", "error", "-y"]
        subprocess.run([ffmpeg, *quiet, *rotate, str(path)], check=True)
        plain.unlink()
    return path


def drop_frames_filter(dropped: list[int]) -> str:
    """An ffmpeg ``select`` that drops the frames at ``dropped`` and keeps the others' times."""
    return "select='not(" + "+".join(f"eq(n\\,{index})" for index in dropped) + ")'"


ALPHA_CODECS = {
    # name: (encoder, pixel format, container, extra encoder options)
    "prores_4444": ("prores_ks", "yuva444p10le", ".mov", ["-profile:v", "4444"]),
    "png_mov": ("png", "rgba", ".mov", []),
    "qtrle_mov": ("qtrle", "argb", ".mov", []),
    "vp9_webm": ("libvpx-vp9", "yuva420p", ".webm", ["-b:v", "0", "-crf", "10", "-g", "4"]),
}


def write_alpha_video(path: Path, frames: list[np.ndarray], codec: str, fps: int = 24) -> Path:
    """``frames`` (uint8 RGBA, straight alpha) as a video with alpha, ``codec`` one of
    ``ALPHA_CODECS``; ``path`` gets the codec's container extension."""
    encoder, pixel_format, extension, options = ALPHA_CODECS[codec]
    path = path.with_suffix(extension)
    height, width = frames[0].shape[:2]
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y"]
    command += ["-f", "rawvideo", "-pix_fmt", "rgba", "-s", f"{width}x{height}"]
    command += ["-r", str(fps), "-i", "-", "-c:v", encoder, "-pix_fmt", pixel_format, *options]
    subprocess.run([*command, str(path)], input=b"".join(f.tobytes() for f in frames), check=True)
    return path
