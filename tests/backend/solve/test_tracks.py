"""Track bookkeeping on synthetic observations: long tracks cut for a bounded adjustment."""

import numpy as np

from vggt4d.solve.tracks import Tracks, _cut_long_tracks


def _tracks(spans: list[tuple[int, int]]) -> Tracks:
    """Tracks seen in every frame of [first, last), sorted by frame, then track."""
    pairs = sorted((frame, track) for track, span in enumerate(spans) for frame in range(*span))
    frame, track = (np.array(values, np.int32) for values in zip(*pairs, strict=True))
    return Tracks(frame, track, np.zeros((len(frame), 2)), 64, 64)


def test_long_tracks_are_cut_into_staggered_pieces_that_bridge_every_frame():
    spans = [(0, 200)] * 16 + [(5, 20)]  # a locked-off shot: every track spans it, one is short
    tracks = _tracks(spans)
    cut = _cut_long_tracks(tracks, 32)
    np.testing.assert_array_equal(cut.frame, tracks.frame)
    np.testing.assert_array_equal(cut.xy, tracks.xy)
    lengths = np.bincount(cut.track)
    assert lengths.max() <= 32
    # Each piece is one old track, seen in consecutive frames.
    for piece in range(cut.track_count):
        frames = cut.frame[cut.track == piece]
        assert len(set(tracks.track[cut.track == piece])) == 1
        np.testing.assert_array_equal(frames, np.arange(frames[0], frames[0] + len(frames)))
    # The short track is kept whole; every step between frames is bridged by some piece.
    short = cut.track[tracks.track == 16]
    assert len(set(short)) == 1 and lengths[short[0]] == 15
    for frame in range(199):
        bridging = set(cut.track[cut.frame == frame]) & set(cut.track[cut.frame == frame + 1])
        assert len(bridging) >= 15  # the phases differ: at most one of 16 is cut at a time
