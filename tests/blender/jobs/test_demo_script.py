"""The main job's script (scripts/footage_to_blend.py, run by scripts/demo.sh) end to end on
the tiny weights: a saved .blend that says the weights are untrained, and nothing left in the
temporary folder."""

import os
import subprocess
import sys
from pathlib import Path

from tests.backend.io.shot_videos import index_frame, write_video

REPO = Path(__file__).resolve().parents[3]


def test_demo_saves_a_labelled_blend_and_leaves_no_temporary_files(
    backend_python, tmp_path, tiny_weights
):
    clip = write_video(tmp_path / "clip.mp4", [index_frame(i, 296, 56) for i in range(3)])
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    blend = tmp_path / "out" / "shot.blend"
    script = REPO / "scripts" / "footage_to_blend.py"
    options = ["--weights", str(tiny_weights), "--max-frames", "3"]
    options += ["--backend-python", backend_python]
    done = subprocess.run(
        [sys.executable, str(script), str(clip), str(blend), *options],
        env={**os.environ, "TMPDIR": str(temporary)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert blend.is_file()
    assert "UNTRAINED TEST WEIGHTS" in done.stderr
    assert list(temporary.iterdir()) == []
