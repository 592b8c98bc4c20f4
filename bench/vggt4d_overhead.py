"""VGGT4D overhead versus a plain VGGT forward: time and peak memory, and how stages scale with S.

Every measurement runs in a fresh subprocess, after a 2-frame warm-up, on the same synthetic
input (a textured plate with a moving disc) and a mid-size random VGGT (embed 256, 24 blocks).
Times are wall seconds (synchronised on CUDA), the fastest of ``--repeats`` runs, so that
neighbours on a shared machine disturb them less. Peak memory is the RSS
high-water mark minus the RSS once the model and images are ready (the mark is reset there
through /proc/self/clear_refs), or CUDA max allocated minus allocated.

    .venv/bin/python bench/vggt4d_overhead.py            # 518x294, S = 8, 16, 32
    .venv/bin/python bench/vggt4d_overhead.py --quick    # 252x140, S = 4, 8, 16
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

from vggt4d.model import VGGT
from vggt4d.pipeline import STAGES, reconstruct

TINY_CONFIG = Path(__file__).parents[1] / "tests" / "fixtures" / "tiny_vggt4d" / "config.json"


def mid_size_config() -> dict:
    """The tiny reference config widened to embed 256 (4 heads of 64), 24 blocks."""
    config = json.loads(TINY_CONFIG.read_text())
    config["embed_dim"] = 256
    config["patch_embed"].update(embed_dim=256, depth=4, num_heads=4)
    config["aggregator"].update(num_heads=4, mlp_ratio=4.0)
    config["camera_head"].update(dim_in=512, num_heads=4)
    for head in ("depth_head", "point_head"):
        config[head].update(dim_in=512, features=64, out_channels=[64, 128, 256, 256])
    return config


def synthetic_shot(frames: int, height: int, width: int) -> torch.Tensor:
    """Smooth static texture with a disc moving left to right; float [S, 3, H, W] in [0, 1]."""
    generator = torch.Generator().manual_seed(0)
    y = torch.linspace(0, 1, height)[:, None]
    x = torch.linspace(0, 1, width)[None, :]
    phases = torch.rand(3, 3, generator=generator) * 6.28
    plate = torch.stack(
        [
            0.5 + 0.25 * torch.sin(9 * x + p[0]) * torch.cos(7 * y + p[1]) + 0.1 * p[2] / 6.28
            for p in phases
        ]
    )
    shots = []
    for frame in range(frames):
        image = plate.clone()
        centre_x = width * (0.2 + 0.6 * frame / max(1, frames - 1))
        disc = (
            (torch.arange(width)[None] - centre_x) ** 2
            + (torch.arange(height)[:, None] - height / 2) ** 2
        ) < (height / 6) ** 2
        image[:, disc] = torch.tensor([0.9, 0.1, 0.1])[:, None]
        shots.append(image + 0.01 * torch.randn(3, height, width, generator=generator))
    return torch.stack(shots).clamp(0, 1)


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _peak_rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def worker(kind: str, frames: int, height: int, width: int, repeats: int) -> dict:
    """One measurement: the fastest of ``repeats`` runs (total and per stage), extra peak bytes."""
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = VGGT.from_config(mid_size_config()).eval().to(device)
    images = synthetic_shot(frames, height, width).to(device)
    _run(kind, model, synthetic_shot(2, height, width).to(device))  # one-time library set-up
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        baseline = torch.cuda.memory_allocated()
    else:
        Path("/proc/self/clear_refs").write_text("5")  # reset the RSS high-water mark
        baseline = _rss_bytes()
    runs = [_run(kind, model, images) for _ in range(repeats)]
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() - baseline
    else:
        peak = _peak_rss_bytes() - baseline
    return {
        "seconds": min(seconds for seconds, _ in runs),
        "peak_bytes": peak,
        "timings": {stage: min(timings[stage] for _, timings in runs) for stage in STAGES},
    }


def _run(kind: str, model: VGGT, images: torch.Tensor) -> tuple[float, dict[str, float]]:
    """Wall seconds of one plain forward or one ``reconstruct``, and the pipeline's stage times."""
    start = time.perf_counter()
    timings = dict.fromkeys(STAGES, 0.0)
    if kind == "plain":
        with torch.no_grad():
            model(images)
    else:
        timings = reconstruct(images, model).timings
    if images.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, timings


def measure(kind: str, frames: int, height: int, width: int, repeats: int) -> dict:
    command = [sys.executable, __file__, "--worker", kind, "--frames", str(frames)]
    command += ["--height", str(height), "--width", str(width), "--repeats", str(repeats)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="252x140 and S = 4, 8, 16")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (fastest)")
    parser.add_argument("--worker", choices=("plain", "vggt4d"), help=argparse.SUPPRESS)
    parser.add_argument("--frames", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--height", type=int, default=294, help=argparse.SUPPRESS)
    parser.add_argument("--width", type=int, default=518, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        print(
            json.dumps(
                worker(
                    arguments.worker,
                    arguments.frames,
                    arguments.height,
                    arguments.width,
                    arguments.repeats,
                )
            )
        )
        return
    height, width, frame_counts = (
        (140, 252, (4, 8, 16)) if arguments.quick else (294, 518, (8, 16, 32))
    )
    device = "cuda" if torch.cuda.is_available() else f"cpu ({torch.get_num_threads()} threads)"
    print(f"VGGT4D overhead: embed 256, 24 blocks, {width}x{height}, device {device}")
    print(
        f"times: fastest of {arguments.repeats} runs, wall seconds; "
        "memory: peak extra RSS or CUDA allocation"
    )
    results = {}
    for frames in frame_counts:
        results[frames] = {
            kind: measure(kind, frames, height, width, arguments.repeats)
            for kind in ("plain", "vggt4d")
        }
    header = (
        f"{'S':>4} | {'plain s':>8} | {'VGGT4D s':>8} | {'ratio':>5} | "
        f"{'plain MB':>8} | {'VGGT4D MB':>9} | {'ratio':>5} | "
    )
    print(header + " | ".join(f"{stage:>10}" for stage in STAGES))
    for frames, result in results.items():
        plain, ours = result["plain"], result["vggt4d"]
        row = (
            f"{frames:>4} | {plain['seconds']:8.2f} | {ours['seconds']:8.2f} | "
            f"{ours['seconds'] / plain['seconds']:5.2f} | {plain['peak_bytes'] / 2**20:8.1f} | "
            f"{ours['peak_bytes'] / 2**20:9.1f} | "
            f"{ours['peak_bytes'] / max(1, plain['peak_bytes']):5.2f} | "
        )
        print(row + " | ".join(f"{ours['timings'][stage]:10.3f}" for stage in STAGES))
    print("growth per doubling of S (time ratio):")
    for small, large in itertools.pairwise(frame_counts):
        growth = {
            "plain": results[large]["plain"]["seconds"] / results[small]["plain"]["seconds"],
            "VGGT4D": results[large]["vggt4d"]["seconds"] / results[small]["vggt4d"]["seconds"],
        }
        for stage in STAGES:
            before = results[small]["vggt4d"]["timings"][stage]
            growth[stage] = (
                results[large]["vggt4d"]["timings"][stage] / before if before > 0 else math.nan
            )
        print(
            f"  S {small}->{large}: "
            + ", ".join(f"{name} x{value:.2f}" for name, value in growth.items())
        )


if __name__ == "__main__":
    main()
