#!/usr/bin/env bash
# Create (or update) the extra Blender venvs .venvs/bpy-NAME listed in scripts/blender-matrix.txt.
# Usage: bash scripts/setup_blender.sh [NAME...]   (default: every version in the matrix)
# Idempotent: a venv is reinstalled only when its matrix line or requirements-blender.txt changes.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {  # python3.X on PATH, else pyenv's newest 3.X
    local version=$1 candidate
    if "python$version" -c pass 2>/dev/null; then
        echo "python$version"
        return
    fi
    if command -v pyenv >/dev/null; then
        candidate=$(pyenv versions --bare | grep -E "^${version//./\\.}(\.[0-9]+)?$" | sort -V | tail -1)
        if [ -n "$candidate" ]; then
            PYENV_VERSION=$candidate pyenv which python
            return
        fi
    fi
    echo "setup_blender: Python $version not found (install it, e.g. pyenv install $version)" >&2
    return 1
}

wanted=("$@")
grep -Ev '^\s*(#|$)' scripts/blender-matrix.txt | while read -r name python requirements; do
    if [ ${#wanted[@]} -gt 0 ] && [[ ! " ${wanted[*]} " == *" $name "* ]]; then
        continue
    fi
    venv=.venvs/bpy-$name
    stamp=$venv/.requirements-stamp
    want=$( (echo "$name $python $requirements"; cat requirements-blender.txt) | sha256sum | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        continue
    fi
    echo "setup_blender: installing $venv ($requirements, Python $python)"
    rm -rf "$venv"
    "$(find_python "$python")" -m venv "$venv"
    read -ra pins <<<"$requirements"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet "${pins[@]}" -r requirements-blender.txt
    "$venv/bin/python" -m pip install --quiet --no-deps -e ./backend
    echo "$want" >"$stamp"
done
