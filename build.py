"""Build the Blender extension zip: add-on package, icons, manifest and the backend wheel.

Usage: ``python build.py [--output-dir dist]``. The version comes from blender_manifest.toml
only. The backend wheel is shipped inside the extension (``backend_wheels/``) but is not a
Blender ``wheels`` entry: it is installed into the backend's own virtual environment by the
"Set up backend" operator, never into Blender's Python.

Files both sides share (``SHARED_FILES``: the bundle format, its schema, the job protocol,
the geometry vocabulary and the batch folder's format) have one home in the backend package.
In the repository the add-on holds symbolic links to them, so tests and a dev checkout import
the add-on straight from the tree; the extension gets real copies of the backend files,
written here.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent
MANIFEST = ROOT / "blender_manifest.toml"
ADDON_DIR = ROOT / "vggt4d_blender"
ICONS_DIR = ROOT / "icons"
BACKEND_DIR = ROOT / "backend"
WHEELS_FOLDER = "backend_wheels"
SHARED_FILES = {
    "bundle_format.py": "vggt4d/io/bundle_format.py",
    "bundle_schema.json": "vggt4d/io/bundle_schema.json",
    "protocol.py": "vggt4d/protocol.py",
    "geometry.py": "vggt4d/geometry.py",
    "batch_format.py": "vggt4d/batch/batch_format.py",
}
"""Add-on file name -> its one home under backend/ (the add-on's copy is a symbolic link)."""


def read_manifest(path: Path = MANIFEST) -> dict:
    """The parsed manifest: the one place the extension id and version are written."""
    with path.open("rb") as handle:
        return tomllib.load(handle)


def find_extension_cli() -> Path:
    """Blender's extension CLI shipped in the bpy wheel (no Blender binary needed)."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("The bpy wheel is not installed in this Python")
    package = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(package.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    if not found:
        raise FileNotFoundError(f"Blender extension CLI not found under {package}")
    return found[-1]


def stage_extension(staging: Path) -> None:
    """Lay out the extension root: the package contents, icons, manifest, backend wheel."""
    shutil.copytree(
        ADDON_DIR,
        staging,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", *SHARED_FILES),
        dirs_exist_ok=True,
    )
    for name, source in SHARED_FILES.items():
        shutil.copyfile(BACKEND_DIR / source, staging / name)
    shutil.copytree(ICONS_DIR, staging / "icons", dirs_exist_ok=True)
    shutil.copy2(MANIFEST, staging / "blender_manifest.toml")
    wheels = staging / WHEELS_FOLDER
    wheels.mkdir()
    # pip builds the wheel in an isolated environment with the build backend that
    # backend/pyproject.toml asks for, so this Python needs nothing but pip (a fresh venv of
    # 3.12+ has no setuptools).
    with tempfile.TemporaryDirectory(prefix="vggt4d-wheel-") as build_dir:
        # setuptools writes build/ and *.egg-info beside the sources: build from a copy so
        # the checkout stays clean.
        source = Path(build_dir) / "backend"
        shutil.copytree(
            BACKEND_DIR,
            source,
            ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "*.pyc"),
        )
        pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet"]
        subprocess.run(
            [*pip_wheel, str(source), "--wheel-dir", str(wheels)], check=True, cwd=build_dir
        )


def build(output_dir: Path) -> Path:
    """Stage, validate and zip the extension; returns the zip path."""
    manifest = read_manifest()
    cli = find_extension_cli()
    output_dir.mkdir(parents=True, exist_ok=True)
    zip_path = output_dir / f"{manifest['id']}-{manifest['version']}.zip"
    with tempfile.TemporaryDirectory(prefix="vggt4d-stage-") as temp:
        staging = Path(temp) / manifest["id"]
        stage_extension(staging)
        subprocess.run([sys.executable, str(cli), "validate", str(staging)], check=True)
        subprocess.run(
            [
                sys.executable,
                str(cli),
                "build",
                "--source-dir",
                str(staging),
                "--output-filepath",
                str(zip_path),
            ],
            check=True,
        )
    subprocess.run([sys.executable, str(cli), "validate", str(zip_path)], check=True)
    return zip_path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=ROOT / "dist")
    args = parser.parse_args()
    try:
        build(args.output_dir)
    except (subprocess.CalledProcessError, FileNotFoundError) as error:
        sys.stderr.write(f"build failed: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
