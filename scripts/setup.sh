#!/usr/bin/env bash
# Create (or update) .venv with the pinned CPU environment used by the tests and the demo.
# Idempotent: a second run only checks that everything is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements-stamp
want=$(cat requirements-dev.txt backend/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: installing the pinned environment into .venv (torch, bpy: a few minutes the first time)..." >&2
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --progress-bar on -r requirements-dev.txt -e ./backend \
        | grep -v '^Requirement already satisfied' >&2 || true
    .venv/bin/python -c "import bpy, torch, vggt4d" || { echo "setup: install failed" >&2; exit 1; }
    echo "$want" > "$stamp"
    echo "setup: done" >&2
fi
