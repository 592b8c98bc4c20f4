"""Peak memory and time of a chunked VGGT4D run and of its global camera solve against the
shot length.

Runs `vggt4d reconstruct --chunk-size 16 --overlap 4 --no-solve` on generated clips of 32,
64, 128 and 256 frames with the tiny test weights, then `vggt4d solve` on each stitched bundle
(the global solve a default run does after the chunks: tracks across the seams, one bundle
adjustment over the whole shot), each in a fresh process, side by side in one run. Peak
memory is the process's resident-set high-water mark (VmHWM) on the CPU, or
``torch.cuda.max_memory_allocated`` on CUDA (the solve always runs on the CPU); time is the
whole job's wall time. Goals, for the reconstruction and the solve alike: memory flat (the
256-frame peak at most 1.3x the 32-frame peak: a long shot costs one chunk's memory, the solve
one block of plate frames) and time linear (at most x2.2 per doubling). Exits 1 when a goal is
missed.

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
        solve=None,  # the global solve is measured on its own, in a fresh process (measure_solve)
    )
    start = time.perf_counter()
    run_job(clip, folder / f"shot{frames}.vggt4d", options)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() if device == "cuda" else _resident_peak()
    return {"seconds": seconds, "peak_bytes": peak}


def measure_solve(bundle: Path) -> dict:
    """The global camera solve of a stitched bundle in this process; its wall time, peak
    memory and median reprojection error."""
    sys.path.insert(0, str(REPO))
    from vggt4d.io.bundle import validate_bundle
    from vggt4d.solve.bundle_solve import solve_bundle

    start = time.perf_counter()
    solve_bundle(bundle)
    seconds = time.perf_counter() - start
    summary = validate_bundle(bundle)["solve"]
    return {
        "seconds": seconds,
        "peak_bytes": _resident_peak(),
        "median_px": summary["reprojection_error_px"]["median"],
        "tracks": summary["tracks"],
    }


def _resident_peak() -> int:
    status = Path("/proc/self/status").read_text().splitlines()
    return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))


def _run_child(frames: int, refine: bool, device: str, folder: Path) -> dict:
    command = [sys.executable, __file__, "--measure", str(frames), "--device", device]
    command += ["--folder", str(folder)] + (["--refine"] if refine else [])
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _solve_child(frames: int, folder: Path) -> dict:
    """`measure_solve` of the bundle `_run_child(frames, ..., folder)` wrote, in a fresh
    process."""
    command = [sys.executable, __file__, "--measure-solve", str(folder / f"shot{frames}.vggt4d")]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", nargs="+", type=int, default=[32, 64, 128, 256])
    parser.add_argument("--refine", action="store_true", help="run mask refinement too")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--measure-solve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.refine, args.device, args.folder)))
        return 0
    if args.measure_solve:
        print(json.dumps(measure_solve(args.measure_solve)))
        return 0

    print(f"device {args.device}, chunk 16, overlap 4, tiny weights, refine {args.refine}")
    print(
        f"{'':>7} {'reconstruction':^37}  {'global solve (CPU)':^47}\n"
        f"{'frames':>7} {'seconds':>9} {'peak MiB':>9} {'time x':>7} {'memory x':>9}  "
        f"{'seconds':>9} {'peak MiB':>9} {'time x':>7} {'memory x':>9} {'median px':>9}"
    )
    runs: dict[str, list[dict]] = {"reconstruction": [], "solve": []}
    with tempfile.TemporaryDirectory(prefix="vggt4d-long-shot-bench-") as folder:
        for frames in args.frames:
            measured = {
                "reconstruction": _run_child(frames, args.refine, args.device, Path(folder)),
                "solve": _solve_child(frames, Path(folder)),
            }
            cells = []
            for name, result in measured.items():
                earlier = runs[name]
                growth = result["seconds"] / earlier[-1]["seconds"] if earlier else 1.0
                memory = result["peak_bytes"] / earlier[0]["peak_bytes"] if earlier else 1.0
                earlier.append(result)
                mib = result["peak_bytes"] / 2**20
                cells.append(f"{result['seconds']:>9.1f} {mib:>9.1f} {growth:>7.2f} {memory:>9.2f}")
            median = measured["solve"]["median_px"]
            print(f"{frames:>7} {cells[0]}  {cells[1]} {median:>9.3f}", flush=True)
    missed = False
    for name, results in runs.items():
        memory_ratio = results[-1]["peak_bytes"] / results[0]["peak_bytes"]
        doublings = [
            later["seconds"] / earlier["seconds"] for earlier, later in itertools.pairwise(results)
        ]
        worst = max(doublings, default=1.0)
        memory_ok, time_ok = memory_ratio <= MEMORY_GOAL, worst <= TIME_GOAL
        missed |= not (memory_ok and time_ok)
        print(
            f"{name}: peak {args.frames[-1]} / {args.frames[0]} frames: {memory_ratio:.2f}x "
            f"(goal <= {MEMORY_GOAL}) {'ok' if memory_ok else 'MISSED'}; "
            f"time per doubling at most {worst:.2f}x (goal <= {TIME_GOAL}) "
            f"{'ok' if time_ok else 'MISSED'}"
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
