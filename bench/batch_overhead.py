"""What Ray adds: the same shots through `vggt4d reconstruct` one by one, and through
`vggt4d batch` on a local cluster, measured side by side in one run.

Both sides are fresh processes, as a user runs them, on generated 3-frame clips with the tiny
weights on the CPU, so the time is almost all fixed cost: torch imports, model loads and, for
the batch, starting and stopping the Ray cluster (also timed alone) and a worker, which
imports torch once for every shot where the one-by-one loop imports it per shot. With the real
model a shot takes minutes and these fixed costs vanish next to it; on several GPUs the batch
also runs shots in parallel. The batch runs twice: the rerun skips every shot and starts no
cluster.

Usage: ``.venv/bin/python bench/batch_overhead.py [--shots 3] [--rounds 2]``.
Not a test; not run in CI.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.backend.conftest import write_test_clip  # noqa: E402

SCRIPT = Path(sys.executable).parent / "vggt4d"
WEIGHTS = REPO / "tests" / "fixtures" / "tiny_vggt4d"
JOB = ["--weights", str(WEIGHTS), "--device", "cpu", "--max-frames", "3", "--no-refine"]


# A local cluster started and stopped around one trivial task: Ray's own fixed cost per batch.
CLUSTER_ONLY = """
from vggt4d.batch.cluster import ClusterOptions, connect
with connect(ClusterOptions(local_cpus=1)):
    import ray
    ray.get(ray.remote(lambda: 1).remote())
"""


def timed(command: list[str], environment: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=environment, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    arguments = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="v4d-bench-"))
    environment = {**os.environ, "RAY_TMPDIR": str(work / "ray")}
    try:
        clips = [write_test_clip(work / f"shot{i}.mp4", frames=3) for i in range(arguments.shots)]
        (work / "shots.txt").write_text("\n".join(map(str, clips)) + "\n")
        batch = [str(SCRIPT), "batch", str(work / "shots.txt"), "--gpus-per-shot", "0", *JOB]
        for round_number in range(arguments.rounds):
            one_by_one = sum(
                timed([str(SCRIPT), "reconstruct", str(clip), "-o", str(work / "r" / clip.stem),
                       *JOB], environment)
                for clip in clips
            )  # fmt: skip
            out = work / f"batch{round_number}"
            first = timed([*batch, "--out", str(out), "--local-cpus", "1"], environment)
            rerun = timed([*batch, "--out", str(out), "--local-cpus", "1"], environment)
            cluster = timed([sys.executable, "-c", CLUSTER_ONLY], environment)
            print(
                f"round {round_number + 1}: {arguments.shots} shots one by one {one_by_one:.1f} s, "
                f"batch {first:.1f} s (x{first / one_by_one:.2f}), rerun skipping all "
                f"{rerun:.1f} s; a local cluster alone starts and stops in {cluster:.1f} s"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
