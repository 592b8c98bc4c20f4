"""Chunk plans: equal chunks, every frame owned once, seams inside the overlaps."""

import itertools

import pytest

from vggt4d.chunks import plan_chunks, seams
from vggt4d.errors import InputError


@pytest.mark.parametrize(
    ("frames", "size", "overlap"),
    [(300, 16, 4), (17, 16, 4), (100, 32, 16), (1000, 75, 30), (40, 8, 1), (29, 16, 4)],
)
def test_every_frame_is_owned_by_exactly_one_chunk(frames: int, size: int, overlap: int) -> None:
    chunks = plan_chunks(frames, size, overlap)
    owned = [frame for chunk in chunks for frame in range(chunk.own_start, chunk.own_stop)]
    assert owned == list(range(frames))
    assert all(chunk.stop - chunk.start == size for chunk in chunks)  # one memory size
    assert chunks[0].start == 0 and chunks[-1].stop == frames
    for before, after in itertools.pairwise(chunks):
        assert before.stop - after.start >= overlap  # the overlap is never shorter
        assert after.start <= after.own_start < before.stop  # the seam is inside the overlap
    assert seams(chunks) == [chunk.own_start for chunk in chunks[1:]]


def test_a_shot_that_fits_is_one_chunk() -> None:
    (chunk,) = plan_chunks(12, 16, 4)
    assert (chunk.start, chunk.stop, chunk.own_start, chunk.own_stop) == (0, 12, 0, 12)


def test_three_hundred_frames_in_chunks_of_sixteen() -> None:
    chunks = plan_chunks(300, 16, 4)
    assert len(chunks) == 25
    assert [(c.start, c.stop) for c in chunks[:2]] == [(0, 16), (12, 28)]
    assert chunks[1].own_start == 14  # middle of the overlap 12..15
    assert (chunks[-1].start, chunks[-1].stop) == (284, 300)


@pytest.mark.parametrize(
    ("size", "overlap", "message"),
    [(3, 1, "at least 4"), (16, 0, "at least 1"), (16, 9, "at least 18"), (16.5, 4, "whole")],
)
def test_unusable_sizes_are_refused_in_words(size, overlap, message: str) -> None:
    with pytest.raises(InputError, match=message):
        plan_chunks(100, size, overlap)
