"""`vggt4d batch` end to end on a real local Ray cluster, with the tiny weights on the CPU.

Three generated shots, one of them broken (its footage is missing). The first run is watched
from outside while it works: the worker of shot `a` is killed once (Ray must retry it) and
every socket of the cluster's processes is read (all on loopback). Each run is a fresh
`vggt4d` process that starts and stops its own cluster (1 CPU, small object store); the
fixtures kill whatever a failing test would leave running.
"""

import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from tests.backend.conftest import write_test_clip
from vggt4d.batch.record import load_record
from vggt4d.io.bundle import PARTIAL_MARKER, validate_bundle

SCRIPT = Path(sys.executable).parent / "vggt4d"
TIMEOUT_S = 300


@pytest.fixture(scope="module")
def ray_environment() -> Iterator[dict[str, str]]:
    """A short private Ray temp folder (Ray's socket paths must stay under ~100 bytes)."""
    folder = tempfile.mkdtemp(prefix="v4d-ray-")
    yield {**os.environ, "RAY_TMPDIR": folder}
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def queue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """shots.txt: a, missing (no such file), c; a and c are 3-frame clips."""
    folder = tmp_path_factory.mktemp("queue")
    for name in ("a", "c"):
        write_test_clip(folder / f"{name}.mp4", frames=3)
    (folder / "shots.txt").write_text("a.mp4\nmissing.mp4\nc.mp4\n")
    return folder / "shots.txt"


def start_batch(
    shots: Path, out: Path, tiny_weights: Path, environment: dict[str, str], *extra: str
) -> subprocess.Popen:
    """The batch in its own session, so that a test can Ctrl-C it like a terminal would."""
    command = [
        str(SCRIPT), "batch", str(shots), "--out", str(out), "--weights", str(tiny_weights),
        "--device", "cpu", "--gpus-per-shot", "0", "--local-cpus", "1", "--max-frames", "3",
        "--no-refine", *extra,
    ]  # fmt: skip
    return subprocess.Popen(
        command,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_like_a_terminal,
    )


def _like_a_terminal() -> None:
    """Ctrl-C's default action, which a test runner started in the background (where the
    shell ignores SIGINT for its children) would otherwise pass on as "ignore"."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for(condition: Callable[[], object], what: str, timeout: float = TIMEOUT_S) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def running_pid(out: Path, name: str) -> int | None:
    try:
        shot = load_record(out).shot(name)
    except Exception:  # noqa: BLE001 - not written yet, or being replaced
        return None
    return shot.pid if shot.status == "running" else None


def descendants(process: subprocess.Popen) -> list[psutil.Process]:
    try:
        return psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def inet_sockets(processes: list[psutil.Process]) -> list[tuple[str, str, str]]:
    """(process name, local address, status) of every inet socket of `processes`."""
    found = []
    for process in processes:
        try:
            name = process.name()
            connections = process.net_connections(kind="inet")
        except psutil.Error:
            continue
        found += [(name, c.laddr.ip, c.status) for c in connections if c.laddr]
    return found


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def finish(process: subprocess.Popen, seen: list[psutil.Process]) -> tuple[int, str, str]:
    """Wait for the batch; on timeout, or afterwards for any survivor, kill what it started."""
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT_S)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
        for survivor in seen:
            if survivor.is_running():
                survivor.kill()
    return process.returncode, stdout, stderr


@pytest.fixture(scope="module")
def first_run(queue, tmp_path_factory, tiny_weights, ray_environment) -> dict:
    out = tmp_path_factory.mktemp("batch") / "out"
    process = start_batch(queue, out, tiny_weights, ray_environment)
    killed = wait_for(lambda: running_pid(out, "a"), "shot a to run")
    seen = descendants(process)
    sockets = inet_sockets(seen)
    os.kill(killed, signal.SIGKILL)
    returncode, stdout, stderr = finish(process, seen)
    return {
        "out": out,
        "returncode": returncode,
        "stdout": stdout,
        "stderr": stderr,
        "killed": killed,
        "sockets": sockets,
        "processes": seen,
    }


def test_two_bundles_and_one_clear_error(first_run: dict) -> None:
    out = first_run["out"]
    assert first_run["returncode"] == 1, first_run["stderr"]  # not everything finished
    assert "Traceback" not in first_run["stderr"]
    for name in ("a", "c"):
        manifest = validate_bundle(out / f"{name}.vggt4d")
        assert manifest["counts"]["frames"] == 3
    assert not (out / "missing.vggt4d").exists()
    record = json.loads((out / "batch.json").read_text())
    assert record["state"] == "finished"
    assert record["counts"]["done"] == 2 and record["counts"]["failed"] == 1
    done = [shot for shot in record["shots"] if shot["status"] == "done"]
    assert [shot["stage"] for shot in done] == ["", ""]  # no stale stage once finished
    missing = next(shot for shot in record["shots"] if shot["name"] == "missing")
    assert missing["status"] == "failed" and missing["code"] == "bad_input"
    assert "missing.mp4" in missing["error"] and missing["traceback"] is None
    assert "shot missing failed" in first_run["stderr"]
    assert "3/3 shots" in first_run["stderr"]  # the progress lines of a piped bar


def test_killed_worker_is_retried_and_the_shot_completes(first_run: dict) -> None:
    shot = load_record(first_run["out"]).shot("a")
    assert shot.status == "done"
    assert shot.attempts == 2
    assert shot.pid != first_run["killed"]


def test_local_cluster_listens_on_loopback_only(first_run: dict) -> None:
    names = {process.name() for process in first_run["processes"] if process.is_running()} | {
        name for name, _, _ in first_run["sockets"]
    }
    assert {"gcs_server", "raylet"} <= names
    listening = [s for s in first_run["sockets"] if s[2] in (psutil.CONN_LISTEN, psutil.CONN_NONE)]
    assert len(listening) >= 3  # gcs, raylet, a worker at least: the check is not vacuous
    outside = [s for s in first_run["sockets"] if not is_loopback(s[1])]
    assert outside == []


def test_cluster_is_shut_down_after_the_batch(first_run: dict) -> None:
    assert first_run["processes"]
    assert not [p for p in first_run["processes"] if p.is_running() and p.status() != "zombie"]


def test_a_worker_that_keeps_dying_is_reported_after_the_retries(
    queue, tmp_path, tiny_weights, ray_environment
) -> None:
    only_a = tmp_path / "a.txt"
    only_a.write_text(f"{queue.parent / 'a.mp4'}\n")
    out = tmp_path / "out"
    process = start_batch(only_a, out, tiny_weights, ray_environment, "--retries", "0")
    killed = wait_for(lambda: running_pid(out, "a"), "shot a to run")
    seen = descendants(process)
    os.kill(killed, signal.SIGKILL)
    returncode, _, stderr = finish(process, seen)
    assert returncode == 1, stderr
    shot = load_record(out).shot("a")
    assert (shot.status, shot.code, shot.attempts) == ("failed", "worker_died", 1)
    assert shot.error.startswith("The worker running this shot died 1 time(s) and Ray gave up")
    assert "shot a failed: The worker running this shot died" in stderr
    assert not (out / "a.vggt4d").exists()


def test_rerun_skips_finished_shots(first_run, queue, tiny_weights, ray_environment) -> None:
    out = first_run["out"]
    before = {name: (out / f"{name}.vggt4d" / "manifest.json").stat().st_mtime_ns for name in "ac"}
    process = start_batch(queue, out, tiny_weights, ray_environment)
    returncode, _, stderr = finish(process, [])
    assert returncode == 1, stderr
    record = load_record(out)
    assert [shot.status for shot in record.shots] == ["skipped", "failed", "skipped"]
    after = {name: (out / f"{name}.vggt4d" / "manifest.json").stat().st_mtime_ns for name in "ac"}
    assert after == before
    assert "0/1 shots" in stderr  # only the broken shot was sent to Ray
    status = subprocess.run(
        [str(SCRIPT), "batch", "--status", str(out)], capture_output=True, text=True, check=False
    )
    assert status.returncode == 1
    assert status.stdout.splitlines()[-1] == "3 shots: 2 skipped, 1 failed"


def test_ctrl_c_cancels_and_leaves_no_complete_looking_bundle(
    queue, tmp_path, tiny_weights, ray_environment
) -> None:
    out = tmp_path / "out"
    process = start_batch(queue, out, tiny_weights, ray_environment)
    wait_for(lambda: running_pid(out, "a"), "shot a to run")
    seen = descendants(process)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    returncode, _, stderr = finish(process, seen)
    assert returncode == 130, stderr
    assert "Traceback" not in stderr
    record = load_record(out)
    assert record.state == "cancelled"
    assert "cancelled" in [shot.status for shot in record.shots]
    for shot in record.shots:
        bundle = Path(shot.bundle)
        if shot.status == "done":
            validate_bundle(bundle)
        else:
            assert not bundle.exists()
    assert not [p for p in out.iterdir() if PARTIAL_MARKER in p.name]
    assert not [p for p in seen if p.is_running() and p.status() != "zombie"]


def test_without_ray_the_command_says_how_to_install_it(queue, tmp_path) -> None:
    hide_ray = (
        "import sys; sys.modules['ray'] = None; from vggt4d.cli import main; "
        f"sys.exit(main(['batch', {str(queue)!r}, '--out', {str(tmp_path)!r}]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", hide_ray], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: vggt4d batch runs on Ray, which is not installed")
    assert "pip install './backend[farm]'" in done.stderr


def test_dashboard_without_its_packages_is_one_error_line(queue, tmp_path, ray_environment):
    done = subprocess.run(
        [str(SCRIPT), "batch", str(queue), "--out", str(tmp_path), "--dashboard"],
        env=ray_environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].startswith("error: Ray's dashboard is not installed")
    assert load_record(tmp_path).state == "stopped"
