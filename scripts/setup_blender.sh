#!/usr/bin/env bash
# Create (or update) the extra Blender venvs .venvs/bpy-NAME listed in scripts/blender-matrix.txt.
# Each holds bpy, requirements-blender.txt and the backend's source on its path (no torch).
# Usage: bash scripts/setup_blender.sh [NAME...]   (default: every version in the matrix)
# Idempotent: pip runs only when a venv's matrix line or requirements-blender.txt changed, and a
# venv is made anew only when its Python version did.
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
    have=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)
    if [ "$have" != "$python" ]; then
        rm -rf "$venv"
        "$(find_python "$python")" -m venv "$venv"
    fi
    read -ra pins <<<"$requirements"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet "${pins[@]}" -r requirements-blender.txt
    # The backend's source on the path, as an editable install without dependencies would put
    # it, but unknown to pip, which would otherwise warn that torch is missing on every install.
    site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
    echo "$PWD/backend" >"$site/vggt4d-backend.pth"
    echo "$want" >"$stamp"
done
