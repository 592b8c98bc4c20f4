#!/usr/bin/env bash
# The main job: footage in, a saved .blend with the reconstructed shot out.
#   bash scripts/demo.sh [FOOTAGE [OUTPUT.blend]]
# With no footage, a short synthetic clip is generated. Weights: $VGGT4D_WEIGHTS if set, else
# facebook/VGGT-1B when it is already in the Hugging Face cache, else the untrained test weights
# (clearly labelled: the pipeline runs end to end offline, the geometry is meaningless).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out/demo
footage=${1:-}
if [ -z "$footage" ]; then
    footage=out/demo/demo_clip.mp4
    .venv/bin/python scripts/make_demo_clip.py "$footage"
fi
blend=${2:-out/demo/shot.blend}
weights=${VGGT4D_WEIGHTS:-}
if [ -z "$weights" ]; then
    if .venv/bin/python -c "import sys; from vggt4d.weights import weights_cached; sys.exit(not weights_cached('facebook/VGGT-1B'))"; then
        weights=facebook/VGGT-1B
    else
        weights=tests/fixtures/tiny_vggt4d
        echo "NOTE: VGGT-1B is not downloaded; using the UNTRAINED TEST WEIGHTS (results are meaningless)." >&2
        echo "      Get the real model: see docs/weights.md, then run again (or set VGGT4D_WEIGHTS)." >&2
    fi
fi
.venv/bin/python scripts/footage_to_blend.py "$footage" "$blend" --weights "$weights" \
    --max-frames "${VGGT4D_MAX_FRAMES:-32}"
