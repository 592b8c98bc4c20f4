"""Forward time and peak memory of our VGGT against the number of frames.

Each measurement runs in a fresh subprocess so peaks do not leak between sizes. Peak memory is
what the forward adds on top of the built model: on CUDA ``torch.cuda.max_memory_allocated``
minus the allocation after the build; on CPU the resident-set high-water mark (VmHWM, reset
after the build through /proc/self/clear_refs) minus the resident set after the build. The
log-log slope of peak memory against S says how memory grows (goal: <= 1.1, i.e. linear).

Usage: ``.venv/bin/python bench/forward.py [--configs tiny mid] [--frames 4 8 16 32]``.
Not a test; not run in CI.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from vggt4d.model import VGGT, VGGTConfig

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "tests" / "fixtures" / "tiny_vggt" / "config.json"


def build_config(name: str) -> VGGTConfig:
    """``tiny``: the reference tiny model; ``mid``: embed 256, 24 blocks, 8 heads, DINOv2 x4."""
    if name == "tiny":
        return VGGTConfig.from_json(TINY_CONFIG)
    if name == "mid":
        base = VGGTConfig()
        dense = {"features": 64, "out_channels": (64, 128, 256, 256)}
        return replace(
            base,
            embed_dim=256,
            patch_embed=replace(base.patch_embed, depth=4, num_heads=8),
            aggregator=replace(base.aggregator, depth=24, num_heads=8),
            camera_head=replace(base.camera_head, trunk_depth=2, num_heads=8),
            depth_head=replace(base.depth_head, **dense),
            point_head=replace(base.point_head, **dense),
        )
    raise ValueError(f"unknown config {name!r}")


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


def measure(config_name: str, frames: int, height: int, width: int, device: str) -> dict:
    """Build the model, run two forwards; report the faster one and the peak increase."""
    torch.manual_seed(0)
    target = torch.device(device)
    model = VGGT(build_config(config_name)).eval().to(target)
    images = torch.rand(frames, 3, height, width, device=target)
    if target.type == "cuda":
        torch.cuda.synchronize()
        baseline = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    else:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        baseline = _status_kib("VmRSS") * 1024
    seconds = []
    with torch.inference_mode():
        for _ in range(2):
            start = time.perf_counter()
            model(images)
            if target.type == "cuda":
                torch.cuda.synchronize()
            seconds.append(time.perf_counter() - start)
    if target.type == "cuda":
        peak = torch.cuda.max_memory_allocated() - baseline
    else:
        peak = _status_kib("VmHWM") * 1024 - baseline
    return {"seconds": min(seconds), "peak_bytes": peak}


def _slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log(y) against log(x)."""
    lx = [math.log(x) for x in xs]
    ly = [math.log(max(y, 1.0)) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum(
        (a - mx) ** 2 for a in lx
    )


def _per_frame_bytes(frames: list[int], peaks: list[float]) -> float:
    """Least-squares slope of peak bytes against S: what one more frame costs."""
    mean_frames, mean_peak = sum(frames) / len(frames), sum(peaks) / len(peaks)
    pairs = zip(frames, peaks, strict=True)
    covariance = sum((count - mean_frames) * (peak - mean_peak) for count, peak in pairs)
    return covariance / sum((count - mean_frames) ** 2 for count in frames)


def _run_child(config: str, frames: int, height: int, width: int, device: str) -> dict:
    command = [sys.executable, __file__, "--measure", config, str(frames)]
    command += ["--height", str(height), "--width", str(width), "--device", device]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=["tiny", "mid"])
    parser.add_argument("--frames", nargs="+", type=int, default=[4, 8, 16, 32])
    parser.add_argument("--height", type=int, help="default: 294 on CUDA, 154 on CPU")
    parser.add_argument("--width", type=int, help="default: 518 on CUDA, 210 on CPU")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--measure", nargs=2, metavar=("CONFIG", "FRAMES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    on_cuda = args.device.startswith("cuda")
    height = args.height or (294 if on_cuda else 154)
    width = args.width or (518 if on_cuda else 210)
    if args.measure:
        config, frames = args.measure
        print(json.dumps(measure(config, int(frames), height, width, args.device)))
        return

    print(
        f"device {args.device}, {width}x{height}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    for config in args.configs:
        print(f"\n{config}: {'S':>4} {'seconds':>9} {'peak MiB':>10}")
        results = []
        for frames in args.frames:
            result = _run_child(config, frames, height, width, args.device)
            results.append(result)
            mib = result["peak_bytes"] / 2**20
            print(f"{'':>{len(config)}}  {frames:>4} {result['seconds']:>9.2f} {mib:>10.1f}")
        if len(args.frames) > 1:
            memory_slope = _slope(args.frames, [r["peak_bytes"] for r in results])
            time_slope = _slope(args.frames, [r["seconds"] for r in results])
            print(
                f"log-log slope vs S: peak memory {memory_slope:.2f} (goal <= 1.1), "
                f"time {time_slope:.2f}"
            )
            per_frame = _per_frame_bytes(args.frames, [r["peak_bytes"] for r in results])
            print(
                f"memory per frame: {per_frame / 2**20:.2f} MiB (the slope behind "
                "vggt4d.memory, see docs/long_shots.md)"
            )


if __name__ == "__main__":
    main()
