#!/usr/bin/env bash
# Run the Blender-side tests (tests/blender, tests/importers: no torch in the test process) on
# each extra Blender of scripts/blender-matrix.txt, in its venv .venvs/bpy-NAME (set up on the
# first run). The backend that these tests start runs in the main .venv, as a user's backend
# runs in its own venv beside Blender's Python.
# Usage: [BLENDER_VERSIONS="4.2 5.3"] bash scripts/test_blender.sh [PYTEST ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
matrix=$(grep -Ev '^\s*(#|$)' scripts/blender-matrix.txt | awk '{print $1}' | paste -sd' ')
read -ra versions <<<"${BLENDER_VERSIONS-$matrix}"
[ ${#versions[@]} -gt 0 ] || exit 0
bash scripts/setup_blender.sh "${versions[@]}"
export VGGT4D_TEST_BACKEND_PYTHON="$PWD/.venv/bin/python"
# These only render ground truth for backend code (eval, long-shot stitching) that they run in
# the test process (torch, scipy): they run no add-on code, so they run once, in the main .venv.
skip=(--ignore=tests/blender/eval --ignore=tests/blender/test_long_shot_oracle.py)
for version in "${versions[@]}"; do
    echo "== Blender-side tests on bpy $version"
    ".venvs/bpy-$version/bin/python" -m pytest tests/blender tests/importers "${skip[@]}" "$@"
done
