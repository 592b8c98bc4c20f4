"""Footage in, saved .blend out: the add-on's own reconstruct path, driven from a terminal.

Runs inside a venv with the bpy wheel: enables the add-on from this checkout through a
throwaway extension repo, points it at the backend's Python (``--backend-python``, by default
this one: the test venv has both), lets
the add-on start ``python -m vggt4d.server``, follows its progress, imports the bundle and
saves the .blend. Nothing is written to the user's Blender configuration.
"""

import argparse
import importlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REPO_MODULE = "vggt4d_demo"
ADDON_MODULE = f"bl_ext.{REPO_MODULE}.vggt4d_blender"


def _enable_addon(bpy, scratch: Path) -> None:
    import addon_utils

    repo_dir = scratch / "extensions"
    repo_dir.mkdir()
    (repo_dir / "vggt4d_blender").symlink_to(REPO / "vggt4d_blender")
    bpy.context.preferences.extensions.repos.new(
        name="VGGT4D", module=REPO_MODULE, custom_directory=str(repo_dir), source="USER"
    )
    if addon_utils.enable(ADDON_MODULE, default_set=True) is None:
        sys.exit("error: the VGGT4D add-on could not be enabled")


def _run(bpy, args: argparse.Namespace, cache: Path) -> int:
    runner_module = importlib.import_module(f"{ADDON_MODULE}.jobs.runner")
    context = bpy.context
    preferences = context.preferences.addons[ADDON_MODULE].preferences
    preferences.python_path = str(args.backend_python)
    preferences.weights_source = args.weights
    preferences.cache_dir = str(cache)
    settings = context.scene.vggt4d
    settings.footage_kind = "FILE"
    settings.footage_path = str(args.footage.resolve())
    settings.max_frames = args.max_frames

    runner = runner_module.JobRunner.for_context(context)
    runner.start()
    last_line = ""
    try:
        while not runner.tick(context):
            line = f"{settings.status_stage:<12} {settings.status_progress:6.1%}"
            if line != last_line:
                print(f"\r{line}", end="", file=sys.stderr, flush=True)
                last_line = line
            time.sleep(0.1)
    finally:
        runner.close()
    print(file=sys.stderr)
    failed = False
    for level, message in runner.take_reports():
        print(f"{level.lower()}: {message}", file=sys.stderr)
        failed |= level == "ERROR"
    if failed or runner.imported is None:
        return 1
    blend = args.blend.resolve()
    blend.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    print(f"saved {blend}", file=sys.stderr)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("footage", type=Path, help="video file or image sequence")
    parser.add_argument("blend", type=Path, help="the .blend to write")
    parser.add_argument("--weights", default="facebook/VGGT-1B", help="anything load_model takes")
    parser.add_argument("--max-frames", type=int, default=32)
    parser.add_argument(
        "--backend-python", default=sys.executable, help="the Python with the backend installed"
    )
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="vggt4d-demo-"))
    try:
        os.environ["BLENDER_USER_RESOURCES"] = str(scratch / "blender")  # before bpy loads
        import bpy

        bpy.ops.wm.read_factory_settings(use_empty=True)
        _enable_addon(bpy, scratch)
        cache = args.blend.resolve().parent / "bundles"
        return _run(bpy, args, cache)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # the demo leaves nothing in /tmp


if __name__ == "__main__":
    sys.exit(main())
