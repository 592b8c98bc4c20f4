"""How a long shot is cut into overlapping chunks, and which chunk owns which frame.

Chunks all have the same length (so the memory of every pass is the same); the last one is
moved back to end on the last frame, which only lengthens the last overlap. Within an
overlap both chunks see the frames; the frames before its middle belong to the earlier
chunk, the rest to the later one, so each frame of the bundle comes from exactly one chunk
and the seam (where ownership switches) sits in the middle of the overlap, as far as
possible from either chunk's edge.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from vggt4d.errors import InputError

MIN_CHUNK = 4  # VGGT4D needs neighbours for its motion cues; fewer frames carry no motion


@dataclass(frozen=True)
class Chunk:
    """Frames ``start..stop-1`` (indices into the shot's reconstructed frames) run together;
    frames ``own_start..own_stop-1`` are written from this chunk."""

    index: int
    start: int
    stop: int
    own_start: int
    own_stop: int

    @property
    def frames(self) -> range:
        return range(self.start, self.stop)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def plan_chunks(frame_count: int, chunk_size: int, overlap: int) -> list[Chunk]:
    """Cut ``frame_count`` frames into chunks of ``chunk_size`` overlapping by ``overlap``.

    A shot that fits in one chunk is one chunk. Raises InputError for sizes that cannot work
    (a chunk under MIN_CHUNK frames, an overlap under 1 or not below half the chunk).
    """
    check_chunking(chunk_size, overlap)
    if frame_count <= chunk_size:
        return [Chunk(0, 0, frame_count, 0, frame_count)]
    step = chunk_size - overlap
    starts = [*range(0, frame_count - chunk_size, step), frame_count - chunk_size]
    chunks = []
    for index, start in enumerate(starts):
        stop = start + chunk_size
        own_start = 0 if index == 0 else _seam(starts[index - 1] + chunk_size, start)
        own_stop = frame_count if index == len(starts) - 1 else _seam(stop, starts[index + 1])
        chunks.append(Chunk(index, start, stop, own_start, own_stop))
    return chunks


def check_chunking(chunk_size: int, overlap: int) -> None:
    """Refuse chunk sizes and overlaps that cannot be stitched, with the reason."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < MIN_CHUNK:
        raise InputError(f"The chunk size must be a whole number of at least {MIN_CHUNK} frames.")
    if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 1:
        raise InputError("The chunk overlap must be a whole number of at least 1 frame.")
    if 2 * overlap > chunk_size:
        raise InputError(
            f"An overlap of {overlap} frames needs chunks of at least {2 * overlap} frames "
            f"(got {chunk_size}): at most half of a chunk can overlap its neighbour."
        )


def seams(chunks: list[Chunk]) -> list[int]:
    """Frame index where each chunk after the first takes over (its ``own_start``)."""
    return [chunk.own_start for chunk in chunks[1:]]


def _seam(previous_stop: int, next_start: int) -> int:
    """Middle of the overlap ``next_start..previous_stop-1``."""
    return next_start + (previous_stop - next_start) // 2
