"""An add-on and a backend venv of different protocol versions: the job stops at ``hello``
with a sentence that says which side is older and how to fix it, before any work is sent."""

import pytest

from tests.blender.jobs.conftest import run_to_end
from vggt4d_blender.jobs.backend_client import BackendClient
from vggt4d_blender.jobs.job import ReconstructJob
from vggt4d_blender.protocol import PROTOCOL_VERSION


def _backend_speaking(backend_python: str, protocol: int, folder):
    """A stand-in for another release's venv: the real server, with its protocol set."""
    python = folder / "python"
    python.write_text(
        f"#!{backend_python}\n"
        "import runpy, vggt4d.protocol\n"
        f"vggt4d.protocol.PROTOCOL_VERSION = {protocol}\n"
        "runpy.run_module('vggt4d.server', run_name='__main__')\n"
    )
    python.chmod(0o755)
    return python


@pytest.mark.parametrize(
    ("offset", "words"), [(-1, "is older than this add-on"), (1, "is newer than this add-on")]
)
def test_protocol_mismatch_stops_the_job_with_the_fix(backend_python, tmp_path, offset, words):
    python = _backend_speaking(backend_python, PROTOCOL_VERSION + offset, tmp_path)
    output = tmp_path / "shot.vggt4d"
    job = ReconstructJob(BackendClient(python), {"input": "x.mp4", "output": str(output)})
    run_to_end(job, 120)
    assert job.status.state == "failed"
    assert job.status.error_code == "protocol_mismatch"
    message = job.status.message
    assert words in message
    assert f"job protocol {PROTOCOL_VERSION + offset}" in message
    assert 'press "Set Up Backend" in the add-on preferences' in message
    assert not job.client.running
    assert not output.exists()
