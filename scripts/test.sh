#!/usr/bin/env bash
# Set up the pinned environment if needed, lint, run the whole test suite on the CPU (bpy 5.0.1),
# then the Blender-side tests on the other Blenders of scripts/blender-matrix.txt (4.2 LTS, 4.5
# LTS, 5.3; BLENDER_VERSIONS picks some, "" none). Arguments go to the main pytest run only;
# scripts/test_blender.sh takes its own.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest "$@"
bash scripts/test_blender.sh
