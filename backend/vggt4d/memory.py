"""How many frames fit in one VGGT4D pass: the memory model behind ``--chunk-size auto``.

Our VGGT streams the motion cues out of global attention and runs its heads frame chunk by
frame chunk, so a pass's peak grows linearly with the frame count S (bench/forward.py prints
the log-log slope: about 1). Per frame it holds the tokens of every layer's activations
(P tokens of C channels, P = (H/14)(W/14) + 5 registers and camera token) and the dense
heads' per-pixel maps, so

    peak(S) = S * (TOKEN_BYTES[device] * P * C + PIXEL_BYTES * H * W)

on top of the weights, which are already on the device when the model is asked. The
constants are fitted to side-by-side measurements (docs/long_shots.md shows them and how to
re-measure on a new device): on the CPU, bench/forward.py on the tiny and mid configs; on
CUDA, the VGGT-1B figures of the official README (H100, 336x518: 21.15 GB at 100 frames,
40.63 GB at 200, i.e. 195 MB a frame), which our streamed pass does not exceed. A chunk
uses at most SAFETY of the memory that is free when it starts, leaving room for VGGT4D's
cue statistics, the refinement and the allocator's fragmentation.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from vggt4d.model import VGGT

TOKEN_BYTES = {"cuda": 213.0, "cpu": 16.0}  # bytes per token and channel of one frame
PIXEL_BYTES = 120.0  # bytes per model-input pixel of one frame (dense heads, float32)
SAFETY = 0.6


def frame_bytes(model: VGGT, height: int, width: int, device_type: str) -> int:
    """Bytes one more frame adds to a VGGT4D pass of ``model`` at ``width`` x ``height``."""
    config = model.config
    tokens = (height // config.patch_size) * (width // config.patch_size)
    tokens += model.aggregator.patch_start_idx
    token_bytes = TOKEN_BYTES["cuda" if device_type == "cuda" else "cpu"]
    return int(token_bytes * tokens * config.embed_dim + PIXEL_BYTES * height * width)


def available_bytes(device: torch.device) -> int:
    """Memory free for activations now: free device memory on CUDA, else the system's
    available memory (``MemAvailable``; half the physical memory where that is unknown)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2


def largest_chunk(model: VGGT, height: int, width: int) -> int:
    """The most frames one VGGT4D pass of ``model`` can take now on its device (>= 1)."""
    device = next(model.parameters()).device
    per_frame = frame_bytes(model, height, width, device.type)
    return max(1, int(SAFETY * available_bytes(device) // per_frame))
