"""Camera-solve bench: time per frame of tracking and of bundle adjustment at 1920x1080 and
320x180, how each grows per doubling of the frame count, and the error reached.

Renders Blender shots with known cameras (tests/backend/solve/blender_shot.py, Workbench),
perturbs the cameras as the network errs (tests/backend/solve/conftest.py) and solves them,
all in one run so the ratios are measured side by side. Usage:

    .venv/bin/python bench/solve.py [--frames 8 16 32] [--sizes 320x180 1920x1080]
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="vggt4d-bench-"))

from tests.backend.solve.blender_shot import render_shot  # noqa: E402
from tests.backend.solve.conftest import trajectory_error  # noqa: E402
from tests.backend.solve.shot_bundle import PLATE_TO_MODEL, network_estimate  # noqa: E402
from vggt4d.solve.camera_solve import solve_cameras  # noqa: E402


def _solve_timed(shot) -> dict[str, float]:
    network = network_estimate(shot)
    marks: dict[str, float] = {}

    def progress(stage: str, _fraction: float) -> None:
        marks.setdefault(stage, time.perf_counter())

    started = time.perf_counter()
    result = solve_cameras(
        list(shot.plates),
        network.extrinsics,
        network.intrinsics,
        network.depth,
        PLATE_TO_MODEL,
        exclude=list(shot.movers),
        progress=progress,
    )
    finished = time.perf_counter()
    frames = len(shot.plates)
    errors = result.summary()["reprojection_error_px"]
    return {
        "tracking": (marks["adjustment"] - started) / frames,
        "adjustment": (finished - marks["adjustment"]) / frames,
        "median_px": errors["median"],
        "ate_ratio": trajectory_error(result.extrinsics, shot.extrinsics)
        / trajectory_error(network.extrinsics, shot.extrinsics),
        "focal_error": abs(result.intrinsics[0, 0, 0] / shot.intrinsics[0, 0, 0] - 1),
        "tracks": result.tracks.track_count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--sizes", nargs="+", default=["320x180", "1920x1080"])
    arguments = parser.parse_args()
    print(
        "size       frames  track s/frame  BA s/frame  median px  ATE/perturbed  focal err  tracks"
    )
    for size in arguments.sizes:
        width, height = (int(side) for side in size.split("x"))
        previous = None
        for frames in arguments.frames:
            with tempfile.TemporaryDirectory(prefix="vggt4d-bench-solve-") as folder:
                shot = render_shot(Path(folder), width, height, frame_count=frames)
            row = _solve_timed(shot)
            growth = ""
            if previous is not None:
                tracking = 2 * row["tracking"] / previous["tracking"]  # total time ratio
                adjustment = 2 * row["adjustment"] / previous["adjustment"]
                growth = f"  per doubling: tracking x{tracking:.2f}, BA x{adjustment:.2f}"
            print(
                f"{size:<10} {frames:>6} {row['tracking']:>14.3f} {row['adjustment']:>11.3f} "
                f"{row['median_px']:>10.3f} {row['ate_ratio']:>14.3f} {row['focal_error']:>10.4f} "
                f"{row['tracks']:>7}{growth}",
                flush=True,
            )
            previous = row


if __name__ == "__main__":
    main()
