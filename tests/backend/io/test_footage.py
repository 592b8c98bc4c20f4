"""Footage reading on real files written by OpenCV: videos, sequences, EXR, and broken input."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from vggt4d.errors import InputError
from vggt4d.io.footage import FrameRange, LazyFrames, open_footage, read_footage

WIDTH, HEIGHT = 64, 48


def _frame(index: int, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """RGB frame whose flat colour encodes ``index``: red = units of 20, green = twenties."""
    frame = np.zeros((height, width, 3), np.uint8)
    frame[..., 0] = 20 + (index % 20) * 10
    frame[..., 1] = 20 + (index // 20) * 10
    frame[..., 2] = 90
    return frame


def _index_of(frame: np.ndarray) -> int:
    red, green = frame[..., 0].mean(), frame[..., 1].mean()
    assert abs(frame[..., 2].mean() - 90) < 6  # RGB order, not BGR
    return round((red - 20) / 10) + 20 * round((green - 20) / 10)


def _write_video(path: Path, count: int, fourcc: str, fps: float = 25.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (WIDTH, HEIGHT))
    for index in range(count):
        writer.write(cv2.cvtColor(_frame(index), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def _write_sequence(folder: Path, name: str, numbers, size=(WIDTH, HEIGHT)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in numbers:
        path = folder / (name % number)
        frame = _frame(number % 300, *size)
        assert cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    return _write_video(tmp_path_factory.mktemp("video") / "long.mp4", 300, "mp4v")


@pytest.mark.parametrize(("name", "fourcc"), [("clip.mp4", "mp4v"), ("clip.avi", "MJPG")])
def test_video_reads_every_frame_numbered_from_one(tmp_path, name, fourcc):
    path = _write_video(tmp_path / name, 12, fourcc, fps=30.0)
    fractions = []
    footage = read_footage(path, progress=fractions.append)
    assert footage.kind == "video" and footage.path == str(path)
    assert footage.frame_numbers == list(range(1, 13))
    assert [_index_of(frame) for frame in footage.frames] == list(range(12))
    assert (footage.width, footage.height, footage.fps) == (WIDTH, HEIGHT, 30.0)
    assert footage.frames[0].dtype == np.uint8 and footage.frames[0].shape == (HEIGHT, WIDTH, 3)
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert footage.warnings == []


def test_video_range_and_stride_use_plate_numbers(tmp_path):
    path = _write_video(tmp_path / "clip.avi", 30, "MJPG")
    footage = read_footage(path, FrameRange(1005, 1020, 3), first_video_frame=1001)
    assert footage.frame_numbers == [1005, 1008, 1011, 1014, 1017, 1020]
    assert [_index_of(frame) for frame in footage.frames] == [4, 7, 10, 13, 16, 19]


def test_lazy_frames_decode_on_demand_block_by_block(tmp_path):
    """A long plate read twice in order, one block at a time (the solve of a long shot)."""
    path = _write_video(tmp_path / "clip.avi", 30, "MJPG")
    reader = open_footage(path)
    positions = [0, 2, 3, 4, 9, 10, 29]
    frames = LazyFrames(reader, positions, block=3)
    assert len(frames) == 7
    for _ in range(2):
        assert [_index_of(frame) for frame in frames] == positions
    assert _index_of(frames[-1]) == 29 and _index_of(frames[1]) == 2
    with pytest.raises(IndexError):
        frames[7]


def test_max_frames_samples_a_long_clip_evenly(long_clip):
    footage = read_footage(long_clip, max_frames=7)
    expected = np.linspace(0, 299, 7).round().astype(int)
    assert footage.frame_numbers == list(expected + 1)
    assert footage.frame_numbers[0] == 1 and footage.frame_numbers[-1] == 300
    # the seek over long gaps lands on the right frames
    assert [_index_of(frame) for frame in footage.frames] == list(expected)


def test_max_frames_applies_after_the_range(long_clip):
    footage = read_footage(long_clip, FrameRange(101, None, 2), max_frames=3)
    # 100 selected frames (101, 103, ..., 299); linspace picks positions 0, 50, 99
    assert footage.frame_numbers == [101, 201, 299]
    assert [_index_of(frame) for frame in footage.frames] == [100, 200, 298]


def test_truncated_video_keeps_what_decodes_and_warns(tmp_path):
    path = _write_video(tmp_path / "clip.avi", 40, "MJPG")
    data = path.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    footage = read_footage(cut)
    assert 5 < len(footage.frames) < 40
    assert [_index_of(frame) for frame in footage.frames] == list(range(len(footage.frames)))
    assert len(footage.warnings) == 1
    assert f"announces 40 frames and {40 - len(footage.frames)} of them" in footage.warnings[0]


def test_truncated_video_with_nothing_decodable_is_an_error(tmp_path):
    path = _write_video(tmp_path / "clip.mp4", 20, "mp4v")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # an MP4 cut short loses its index
    with pytest.raises(InputError, match=r"clip\.mp4"):
        read_footage(path)


@pytest.mark.parametrize(("name", "fourcc"), [("empty.mp4", "mp4v"), ("empty.avi", "MJPG")])
def test_zero_frame_video_is_an_error(tmp_path, name, fourcc):
    path = _write_video(tmp_path / name, 0, fourcc)
    with pytest.raises(InputError, match=name):
        read_footage(path)


def test_single_frame_video_and_single_image(tmp_path):
    video = read_footage(_write_video(tmp_path / "one.avi", 1, "MJPG"))
    assert video.frame_numbers == [1] and len(video.frames) == 1
    image = _write_sequence(tmp_path, "still.%04d.png", [42])[0]
    footage = read_footage(image)
    assert footage.kind == "image_sequence" and footage.frame_numbers == [42]
    assert np.array_equal(footage.frames[0], _frame(42))


def test_printf_pattern_keeps_1001_numbering(tmp_path):
    _write_sequence(tmp_path, "shot.%04d.png", range(1001, 1011))
    _write_sequence(tmp_path, "other.%04d.png", range(1, 4))  # another shot in the folder
    footage = read_footage(tmp_path / "shot.%04d.png", fps=25)
    assert footage.frame_numbers == list(range(1001, 1011))
    assert all(
        np.array_equal(f, _frame(n % 300))
        for f, n in zip(footage.frames, range(1001, 1011), strict=True)
    )
    assert footage.fps == 25.0 and footage.kind == "image_sequence"
    hashes = read_footage(tmp_path / "shot.####.png", FrameRange.parse("1003:1009:3"))
    assert hashes.frame_numbers == [1003, 1006, 1009]
    assert hashes.fps == 24.0


def test_glob_and_folder_of_jpegs(tmp_path):
    _write_sequence(tmp_path / "plates", "frame_%03d.jpg", [5, 6, 7, 9, 10])
    by_glob = read_footage(str(tmp_path / "plates" / "frame_*.jpg"), FrameRange(stride=2))
    assert by_glob.frame_numbers == [5, 7, 10]  # the stride counts existing frames
    assert [_index_of(frame) for frame in by_glob.frames] == [5, 7, 10]
    by_folder = read_footage(tmp_path / "plates", max_frames=3)
    assert by_folder.frame_numbers == [5, 7, 10]


def test_exr_sequence_is_tone_mapped_to_srgb(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENCV_IO_ENABLE_OPENEXR", "1")  # for writing the fixture
    srgb_06 = ((0.6 + 0.055) / 1.055) ** 2.4
    linear = np.full((HEIGHT, WIDTH, 3), (0.0, srgb_06, 1.0), np.float32)  # sRGB 0, 0.6, 1
    linear[0, 0] = (4.0, -1.0, 0.25)  # over-range and negative values clip
    for number in (1, 2):
        assert cv2.imwrite(str(tmp_path / f"render.{number:04d}.exr"), linear[..., ::-1].copy())
    footage = read_footage(tmp_path / "render.%04d.exr")
    frame = footage.frames[1]
    assert footage.frame_numbers == [1, 2] and frame.dtype == np.uint8
    assert tuple(frame[10, 10]) == (0, 153, 255)
    assert tuple(frame[0, 0]) == (255, 0, 137)


def test_sixteen_bit_grey_and_alpha_images_become_rgb8(tmp_path):
    grey16 = np.full((HEIGHT, WIDTH), 257 * 100, np.uint16)
    cv2.imwrite(str(tmp_path / "a.0001.png"), grey16)
    bgra = np.zeros((HEIGHT, WIDTH, 4), np.uint8)
    bgra[..., 2] = 200  # red, half transparent over white
    bgra[..., 3] = 128
    cv2.imwrite(str(tmp_path / "a.0002.png"), bgra)
    grey, blended = read_footage(tmp_path / "a.%04d.png").frames
    assert tuple(grey[0, 0]) == (100, 100, 100)
    assert tuple(blended[0, 0]) == (227, 127, 127)


def test_missing_path_and_unsupported_extension(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_footage(tmp_path / "nothing.mp4")
    with pytest.raises(InputError, match="no file matches"):
        read_footage(tmp_path / "shot.%04d.png")
    notes = tmp_path / "notes.txt"
    notes.write_text("not footage")
    with pytest.raises(InputError, match=r"Unsupported footage type '\.txt'"):
        read_footage(notes)


def test_unreadable_image_is_named(tmp_path):
    paths = _write_sequence(tmp_path, "shot.%04d.png", [1, 2, 3])
    paths[1].write_bytes(b"not a png")
    with pytest.raises(InputError, match=r"shot\.0002\.png"):
        read_footage(tmp_path / "shot.%04d.png")


def test_mixed_resolutions_are_refused(tmp_path):
    _write_sequence(tmp_path, "shot.%04d.png", [1, 2])
    _write_sequence(tmp_path, "shot.%04d.png", [3], size=(32, 24))
    with pytest.raises(InputError, match=r"shot\.0003\.png is 32x24"):
        read_footage(tmp_path / "shot.%04d.png")


def test_ambiguous_folders_are_refused(tmp_path):
    _write_sequence(tmp_path / "two", "left.%04d.png", [1, 2])
    _write_sequence(tmp_path / "two", "right.%04d.png", [1, 2])
    with pytest.raises(InputError, match="both frame 1"):
        read_footage(tmp_path / "two")
    _write_sequence(tmp_path / "mixed", "a.%04d.png", [1])
    _write_sequence(tmp_path / "mixed", "a.%04d.jpg", [2])
    with pytest.raises(InputError, match="several types"):
        read_footage(tmp_path / "mixed")


def test_selection_outside_the_footage_is_an_error(tmp_path):
    path = _write_video(tmp_path / "clip.avi", 5, "MJPG")
    with pytest.raises(InputError, match=r"frames 1\.\.5"):
        read_footage(path, FrameRange(10, 20))
    with pytest.raises(InputError, match="max_frames"):
        read_footage(path, max_frames=0)


def test_frame_range_parsing():
    assert FrameRange.parse("1001:1100:2") == FrameRange(1001, 1100, 2)
    assert FrameRange.parse("1001:") == FrameRange(1001, None, 1)
    assert FrameRange.parse("::4") == FrameRange(None, None, 4)
    assert FrameRange.parse("17") == FrameRange(17, 17, 1)
    for text in ("a:b", "1:2:3:4", "10:5", "1:5:0"):
        with pytest.raises(InputError):
            FrameRange.parse(text)
