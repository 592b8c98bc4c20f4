"""bench/long_shot.py's memory goal, run in CI: a 256-frame chunked run peaks at most 1.3x a
32-frame one (memory bounded by the chunk, not the shot). Only memory is asserted; the bench
prints the time ratios, which a shared machine makes too noisy for a test."""

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[2] / "bench" / "long_shot.py"


@pytest.mark.slow
def test_peak_memory_is_flat_in_the_shot_length(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("long_shot_bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    short = bench._run_child(32, False, "cpu", tmp_path)
    long = bench._run_child(256, False, "cpu", tmp_path)
    assert long["peak_bytes"] <= bench.MEMORY_GOAL * short["peak_bytes"], (short, long)
