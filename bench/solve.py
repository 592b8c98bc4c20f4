"""Camera-solve bench: time per frame of tracking and of bundle adjustment at 1920x1080 and
320x180, how each grows per doubling of the frame count, and the error reached.

One Blender shot with known cameras (tests/backend/solve/blender_shot.py, Workbench) is
rendered once, at the largest size and the largest frame count. The shorter shots are its
first frames, so the camera moves as much per frame in every row and a doubling of the frame
count doubles the shot (rendering fewer frames of the same path would slow the camera down and
lengthen every track with the frame count). The smaller sizes are that render downscaled with
pixel-area averaging (the matte: any mover pixel counts; depth: nearest), i.e. the same shot
rendered with more anti-aliasing samples, not a second render. The cameras are perturbed as
the network errs (tests/backend/solve/shot_bundle.py) and every row is solved in this one
process, so the ratios are measured side by side. Usage:

    .venv/bin/python bench/solve.py [--frames 8 16 32] [--sizes 320x180 1920x1080]

Times are this process's CPU seconds (all its threads), not wall time: on a machine shared with
other jobs the wall clock measures their load (measured: per-frame wall times that fell by half
from 8 to 32 frames in one run and doubled in the next). Columns: CPU seconds per frame of
tracking and of the bundle adjustment (all outlier rounds),
the adjustment's Levenberg-Marquardt iterations (all rounds) and its seconds per frame and
iteration, observations per frame, then the median reprojection error, the ATE over the
perturbed cameras' ATE and the focal error. Growth per doubling is the ratio of total times
(goal <= x2.2: linear). Exits 1 when a goal is missed.
"""

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="vggt4d-bench-"))

from tests.backend.solve.blender_shot import Shot, render_shot  # noqa: E402
from tests.backend.solve.conftest import solve_shot, trajectory_error  # noqa: E402
from tests.backend.solve.shot_bundle import network_estimate  # noqa: E402

GROWTH_GOAL = 2.2


def downscaled(shot: Shot, width: int, height: int) -> Shot:
    """The shot at a smaller plate size (intrinsics scaled with the plate: bundle pixels have
    their origin at the top-left corner, so a uniform scale maps them exactly)."""
    scale = width / shot.plates.shape[2]
    if (width, height) == shot.plates.shape[2:0:-1]:
        return shot
    size = (width, height)
    area = cv2.INTER_AREA
    intrinsics = shot.intrinsics.copy()
    intrinsics[:, :2, :] *= scale
    return replace(
        shot,
        plates=np.stack([cv2.resize(plate, size, interpolation=area) for plate in shot.plates]),
        depth=np.stack([cv2.resize(d, size, interpolation=cv2.INTER_NEAREST) for d in shot.depth]),
        movers=np.stack(
            [cv2.resize(m.astype(np.float32), size, interpolation=area) > 0 for m in shot.movers]
        ),
        intrinsics=intrinsics,
    )


def first_frames(shot: Shot, count: int) -> Shot:
    return Shot(*(values[:count] for values in vars(shot).values()))


def solve_timed(shot: Shot) -> dict[str, float]:
    network = network_estimate(shot)
    marks: dict[str, float] = {}

    def progress(stage: str, _fraction: float) -> None:
        marks.setdefault(stage, time.process_time())

    started = time.process_time()
    result = solve_shot(shot, network, progress=progress)
    finished = time.process_time()
    frames = len(shot.plates)
    iterations = sum(result.iterations)
    adjustment = finished - marks["adjustment"]
    return {
        "tracking": (marks["adjustment"] - started) / frames,
        "adjustment": adjustment / frames,
        "iterations": iterations,
        "per_iteration": adjustment / frames / max(iterations, 1),
        "observations": len(result.errors) / frames,
        "median_px": float(np.median(result.errors)),
        "ate_ratio": trajectory_error(result.extrinsics, shot.extrinsics)
        / trajectory_error(network.extrinsics, shot.extrinsics),
        "focal_error": abs(result.intrinsics[0, 0, 0] / shot.intrinsics[0, 0, 0] - 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--sizes", nargs="+", default=["320x180", "1920x1080"])
    arguments = parser.parse_args()
    sizes = [tuple(int(side) for side in size.split("x")) for size in arguments.sizes]
    width, height = max(sizes)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vggt4d-bench-solve-") as folder:
        render = render_shot(Path(folder), width, height, frame_count=max(arguments.frames))
    print(f"rendered {len(render.plates)} frames at {width}x{height} in "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    print(
        "size       frames  track s/f  BA s/f  LM its  BA s/f/it  obs/f  median px  "
        "ATE/perturbed  focal err  growth per doubling"
    )
    worst = {"tracking": 0.0, "adjustment": 0.0}
    for size in sizes:
        shot = downscaled(render, *size)
        rows = []
        for frames in sorted(arguments.frames):
            row = solve_timed(first_frames(shot, frames))
            growth = ""
            if rows and frames == 2 * rows[-1]["frames"]:
                ratios = {key: 2 * row[key] / rows[-1][key] for key in worst}
                worst = {key: max(worst[key], ratios[key]) for key in worst}
                growth = f"tracking x{ratios['tracking']:.2f}, BA x{ratios['adjustment']:.2f}"
            rows.append(row | {"frames": frames})
            print(
                f"{size[0]}x{size[1]:<6} {frames:>6} {row['tracking']:>10.3f} "
                f"{row['adjustment']:>7.3f} {row['iterations']:>7} {row['per_iteration']:>10.4f} "
                f"{row['observations']:>6.0f} {row['median_px']:>10.3f} {row['ate_ratio']:>14.3f} "
                f"{row['focal_error']:>10.4f}  {growth}",
                flush=True,
            )
    missed = [key for key, ratio in worst.items() if ratio > GROWTH_GOAL]
    summary = ", ".join(f"{key} x{ratio:.2f}" for key, ratio in worst.items())
    print(
        f"worst growth per doubling: {summary} (goal <= x{GROWTH_GOAL}) "
        + ("ok" if not missed else "MISSED: " + ", ".join(missed))
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
