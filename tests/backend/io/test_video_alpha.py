"""Video plates with an alpha channel (ProRes 4444, PNG and QuickTime Animation in MOV, VP9 in
WebM) are read with their alpha, whole (`read_footage`) and on demand (`open_footage`), just
like RGBA image sequences: colour composited on white, transparent where alpha < 0.5."""

from dataclasses import replace

import cv2
import numpy as np
import pytest

from tests.backend.io.shot_videos import ALPHA_CODECS, write_alpha_video, write_video
from vggt4d.io import video
from vggt4d.io.footage import open_footage, read_footage
from vggt4d.solve.bundle_solve import read_plates

WIDTH, HEIGHT, FRAMES = 64, 48, 6


def _cut(index: int) -> int:
    """Columns right of this are transparent in frame ``index`` (the edge moves)."""
    return 24 + 4 * index


def _rgba_frames(opaque: bool = False) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    coarse = (rng.random((HEIGHT // 8, WIDTH // 8, 3)) * 180).astype(np.uint8)
    texture = cv2.resize(coarse, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    frames = []
    for index in range(FRAMES):
        alpha = np.full((HEIGHT, WIDTH, 1), 255, np.uint8)
        if not opaque:
            alpha[:, _cut(index) :] = 0
        frames.append(np.dstack([np.roll(texture, index, axis=1), alpha]))
    return frames


def _check_alpha(
    frames: list[np.ndarray], transparent: list[np.ndarray], sources: list[np.ndarray]
) -> None:
    """The frames read back match their RGBA ``sources``: transparent right of the cut (a
    lossy codec may blur the edge by a pixel), white there, the picture left of it."""
    for frame, clear, source in zip(frames, transparent, sources, strict=True):
        cut = int(np.argmax(source[0, :, 3] == 0))
        assert clear[:, cut + 2 :].all() and not clear[:, : cut - 2].any(), cut
        assert (frame[:, cut + 2 :] == 255).all()  # composited on white, like a PNG sequence
        error = np.abs(frame[:, : cut - 2].astype(int) - source[:, : cut - 2, :3]).mean()
        assert error < 8.0, (cut, error)  # lossy 4:2:0 VP9; RGB as BGR gives 33


@pytest.mark.parametrize("codec", sorted(ALPHA_CODECS))
def test_video_alpha_is_read_whole_and_on_demand(tmp_path, codec):
    sources = _rgba_frames()
    path = write_alpha_video(tmp_path / "cutout", sources, codec)
    footage = read_footage(path)
    assert footage.frame_numbers == list(range(1, FRAMES + 1))
    assert footage.transparent is not None
    _check_alpha(footage.frames, footage.transparent, sources)

    reader = open_footage(path)
    assert reader.footage.transparent is None  # alpha comes with each range read
    frames, transparent = reader.read(2, 5)
    assert transparent is not None
    for offset in range(3):
        assert np.array_equal(frames[offset], footage.frames[2 + offset])
        assert np.array_equal(transparent[offset], footage.transparent[2 + offset])


def test_opaque_alpha_and_plain_video_have_no_transparency(tmp_path):
    sources = _rgba_frames(opaque=True)
    prores = read_footage(write_alpha_video(tmp_path / "opaque", sources, "prores_4444"))
    assert prores.transparent is None
    error = np.abs(prores.frames[0].astype(int) - sources[0][..., :3]).mean()
    assert error < 2.0
    plain = write_video(tmp_path / "plain.mp4", [source[..., :3].copy() for source in sources])
    assert read_footage(plain).transparent is None
    assert open_footage(plain).read(0, 2)[1] is None


def test_camera_solve_reads_the_video_plate_with_its_alpha(tmp_path, bundle_data):
    """`vggt4d solve` and the solve after a chunked job read the plate through `read_plates`:
    a video's transparent pixels reach the solve, which never tracks there."""
    sources = _rgba_frames()
    path = write_alpha_video(tmp_path / "cutout", sources, "png_mov")
    data = replace(
        bundle_data(frames=3, plate=(WIDTH, HEIGHT)),
        source={"path": str(path), "kind": "video", "frame_start": 1, "timestamps": []},
        frames=[2, 4, 6],
    )
    plates, transparent = read_plates(data, tmp_path / "cutout.vggt4d")
    assert len(plates) == 3 and transparent is not None  # plate frames 2, 4, 6
    _check_alpha(list(plates), transparent, sources[1::2])


def test_webm_alpha_without_libvpx_is_read_opaque_with_a_warning(tmp_path, monkeypatch):
    """An FFmpeg build without libvpx cannot decode VP9's side-data alpha: say so."""
    path = write_alpha_video(tmp_path / "cutout", _rgba_frames(), "vp9_webm")
    monkeypatch.setattr(video, "_LIBVPX", {"vp9": "libvpx-vp9-missing"})
    footage = read_footage(path)
    assert footage.transparent is None
    assert any("read without alpha" in warning for warning in footage.warnings)
