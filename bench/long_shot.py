"""Peak memory and time of a chunked VGGT4D run against the shot length.

Runs `vggt4d reconstruct --chunk-size 16 --overlap 4 --no-solve` on generated clips of 32,
64, 128 and 256 frames with the tiny test weights, each in a fresh process, side by side in one
run. Peak
memory is the process's resident-set high-water mark (VmHWM) on the CPU, or
``torch.cuda.max_memory_allocated`` on CUDA; time is the whole job's wall time. Goals: memory
flat (the 256-frame peak at most 1.3x the 32-frame peak: a long shot costs one chunk's memory)
and time linear (at most x2.2 per doubling). Exits 1 when a goal is missed. The global camera
solve is left out: it reads the whole plate and its bundle adjustment does not yet grow
linearly (docs/solve.md), so it is measured by bench/solve.py, not here.

Usage: ``.venv/bin/python bench/long_shot.py [--frames 32 64 128 256] [--refine]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TINY_WEIGHTS = REPO / "tests" / "fixtures" / "tiny_vggt4d"
PLATE = (592, 32)  # model input 518x28: two rows of patches keep each chunk to seconds
MEMORY_GOAL = 1.3
TIME_GOAL = 2.2


def measure(frames: int, refine: bool, device: str, folder: Path) -> dict:
    """One chunked job in this process; its wall time and peak memory."""
    import torch

    sys.path.insert(0, str(REPO))
    from tests.backend.conftest import write_test_clip
    from vggt4d.job import JobOptions, run_job
    from vggt4d.pipeline import ReconstructOptions

    clip = write_test_clip(folder / f"clip{frames}.mp4", frames=frames, size=PLATE)
    options = JobOptions(
        weights=str(TINY_WEIGHTS),
        device=device,
        chunk_size=16,
        overlap=4,
        reconstruct=ReconstructOptions(refine=refine),
        solve=None,  # the chunked reconstruction only: the global solve holds the whole plate
    )
    start = time.perf_counter()
    run_job(clip, folder / f"shot{frames}.vggt4d", options)
    seconds = time.perf_counter() - start
    if device == "cuda":
        peak = torch.cuda.max_memory_allocated()
    else:
        status = Path("/proc/self/status").read_text().splitlines()
        peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
    return {"seconds": seconds, "peak_bytes": peak}


def _run_child(frames: int, refine: bool, device: str, folder: Path) -> dict:
    command = [sys.executable, __file__, "--measure", str(frames), "--device", device]
    command += ["--folder", str(folder)] + (["--refine"] if refine else [])
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", nargs="+", type=int, default=[32, 64, 128, 256])
    parser.add_argument("--refine", action="store_true", help="run mask refinement too")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.refine, args.device, args.folder)))
        return 0

    print(f"device {args.device}, chunk 16, overlap 4, tiny weights, refine {args.refine}")
    print(f"{'frames':>7} {'seconds':>9} {'peak MiB':>9} {'time x':>7} {'memory x':>9}")
    results = []
    with tempfile.TemporaryDirectory(prefix="vggt4d-long-shot-bench-") as folder:
        for frames in args.frames:
            result = _run_child(frames, args.refine, args.device, Path(folder))
            growth = result["seconds"] / results[-1]["seconds"] if results else 1.0
            memory = result["peak_bytes"] / results[0]["peak_bytes"] if results else 1.0
            results.append(result)
            mib = result["peak_bytes"] / 2**20
            row = f"{frames:>7} {result['seconds']:>9.1f} {mib:>9.1f}"
            print(f"{row} {growth:>7.2f} {memory:>9.2f}")
    memory_ratio = results[-1]["peak_bytes"] / results[0]["peak_bytes"]
    doublings = [
        later["seconds"] / earlier["seconds"] for earlier, later in itertools.pairwise(results)
    ]
    worst = max(doublings, default=1.0)
    memory_ok, time_ok = memory_ratio <= MEMORY_GOAL, worst <= TIME_GOAL
    print(
        f"peak {args.frames[-1]} / {args.frames[0]} frames: {memory_ratio:.2f}x "
        f"(goal <= {MEMORY_GOAL}) {'ok' if memory_ok else 'MISSED'}; "
        f"time per doubling at most {worst:.2f}x (goal <= {TIME_GOAL}) "
        f"{'ok' if time_ok else 'MISSED'}"
    )
    return 0 if memory_ok and time_ok else 1


if __name__ == "__main__":
    sys.exit(main())
