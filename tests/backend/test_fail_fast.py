"""Fail fast and tidy: bad paths are refused before torch loads, CPU out-of-memory is a typed
error with advice, and unfinished bundles of killed runs are cleaned up."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.backend.test_server import ServerProcess, reconstruct_request
from vggt4d.errors import BundleError, OutOfMemoryError
from vggt4d.io.bundle import write_bundle
from vggt4d.stages import Stages

_CLI = (
    "import sys, json; from vggt4d.cli import main; code = main(sys.argv[1:]); "
    "print(json.dumps({'code': code, 'torch': 'torch' in sys.modules}))"
)


def _run_cli(*arguments: str) -> tuple[dict, str]:
    done = subprocess.run(
        [sys.executable, "-c", _CLI, *arguments], capture_output=True, text=True, timeout=120
    )
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


@pytest.fixture
def blocked_outputs(tmp_path: Path) -> dict[str, Path]:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    a_folder = tmp_path / "renders"
    a_folder.mkdir()
    (a_folder / "frame.0001.exr").write_bytes(b"precious")
    return {"under a file": a_file / "shot.vggt4d", "another folder": a_folder}


@pytest.mark.parametrize("case", ["under a file", "another folder"])
def test_refused_output_is_reported_before_torch_loads(
    test_clip: Path, tiny_weights: Path, blocked_outputs, case
) -> None:
    output = blocked_outputs[case]
    result, stderr = _run_cli(
        "reconstruct", str(test_clip), "-o", str(output), "--weights", str(tiny_weights)
    )
    assert result == {"code": 2, "torch": False}
    assert stderr.startswith("error: ") and str(output) in stderr
    assert "Traceback" not in stderr
    assert output.parent.exists() and not output.with_name(f".{output.name}").exists()
    if case == "under a file":
        assert "notes.txt is a file, not a folder" in stderr


def test_missing_footage_is_reported_before_torch_loads(tmp_path: Path) -> None:
    result, stderr = _run_cli(
        "reconstruct", str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "out.vggt4d")
    )
    assert result == {"code": 2, "torch": False}
    assert "Footage not found" in stderr and not (tmp_path / "out.vggt4d").exists()


def test_server_refuses_an_unwritable_output_at_once(
    test_clip: Path, tiny_weights: Path, blocked_outputs
) -> None:
    server = ServerProcess()
    try:
        server.send(reconstruct_request(test_clip, blocked_outputs["under a file"], tiny_weights))
        answer = server.next_event()  # the first event: nothing ran
        assert (answer["type"], answer["code"]) == ("error", "bad_bundle")
    finally:
        server.close()


def test_cpu_out_of_memory_is_a_typed_error_with_advice() -> None:
    stages = Stages(workload="on 2 frames")
    with pytest.raises(OutOfMemoryError) as caught, stages.stage("pass1"):
        torch.empty(2**60, dtype=torch.uint8)  # the CPU allocator's real failure
    assert caught.value.code == "out_of_memory"
    assert "fewer frames" in str(caught.value) and "DefaultCPUAllocator" in str(caught.value)
    with pytest.raises(RuntimeError, match="shape"), stages.stage("pass2"):
        raise RuntimeError("shape mismatch")


def test_stale_partial_bundles_of_dead_writers_are_removed(tmp_path: Path, bundle_data) -> None:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    dead = int(finished.stdout)
    stale = tmp_path / f".shot.vggt4d.partial-{dead}-0a1b2c"
    retired = tmp_path / f".shot.vggt4d.partial-old-{dead}-0a1b2d"
    alive = tmp_path / f".shot.vggt4d.partial-{os.getppid()}-0a1b2e"
    other_shot = tmp_path / f".other.vggt4d.partial-{dead}-0a1b2f"
    for folder in (stale, retired, alive, other_shot):
        folder.mkdir()
        (folder / "depth.npy").write_bytes(b"half written")
    write_bundle(tmp_path / "shot.vggt4d", bundle_data())
    assert not stale.exists() and not retired.exists()
    assert alive.exists() and other_shot.exists()  # a live writer, another bundle


def test_refused_output_is_a_bundle_error(tmp_path: Path, bundle_data) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("x")
    with pytest.raises(BundleError, match="not a VGGT4D bundle"):
        write_bundle(tmp_path / "taken", bundle_data())
    assert (tmp_path / "taken" / "keep.txt").read_text() == "x"
