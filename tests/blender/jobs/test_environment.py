"""Backend environment helpers and the non-blocking setup step runner (real subprocesses)."""

import sys
import time
from pathlib import Path

from vggt4d_blender.environment import (
    TORCH_CPU_INDEX,
    TORCH_CUDA_INDEX,
    backend_environment,
    backend_source,
    find_system_python,
    torch_index_url,
    venv_python,
)
from vggt4d_blender.jobs.setup_steps import SetupStep, StepRunner, setup_steps

REPO = Path(__file__).resolve().parents[3]


def test_offline_sets_hf_hub_offline():
    assert backend_environment(online=False) == {"HF_HUB_OFFLINE": "1"}
    assert backend_environment(online=True) == {}


def test_backend_source_prefers_a_bundled_wheel(tmp_path):
    assert backend_source(REPO / "vggt4d_blender") == REPO / "backend"
    (tmp_path / "backend_wheels").mkdir()
    wheel = tmp_path / "backend_wheels" / "vggt4d-0.1.0-py3-none-any.whl"
    wheel.touch()
    assert backend_source(tmp_path) == wheel
    assert backend_source(tmp_path / "missing") is None


def test_system_python_and_torch_index_are_found_on_path(monkeypatch, tmp_path):
    python = tmp_path / "python3.12"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_system_python() == python
    assert torch_index_url() == TORCH_CPU_INDEX
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\n")
    smi.chmod(0o755)
    assert torch_index_url() == TORCH_CUDA_INDEX


def test_setup_steps_install_torch_then_the_backend(tmp_path):
    steps = setup_steps(
        Path("/usr/bin/python3.11"), tmp_path / "venv", REPO / "backend", TORCH_CPU_INDEX
    )
    assert [step.command[:3] for step in steps[:1]] == [("/usr/bin/python3.11", "-m", "venv")]
    assert steps[2].command[-3:] == ("torch", "--index-url", TORCH_CPU_INDEX)
    assert steps[3].command[-1] == str(REPO / "backend")
    assert all(step.command[0] == str(venv_python(tmp_path / "venv")) for step in steps[1:])


def _run(runner: StepRunner, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not runner.finished and time.monotonic() < deadline:
        started = time.perf_counter()
        runner.tick()
        # A tick never waits for a step: the failing step below runs 1 s. The bound leaves room
        # for starting a process from a Python with bpy loaded on a busy machine (>50 ms).
        assert time.perf_counter() - started < 0.5
        time.sleep(0.01)
    assert runner.finished


def test_step_runner_runs_steps_in_order_and_keeps_the_last_line(tmp_path):
    marker = tmp_path / "order.txt"
    steps = [
        SetupStep(
            f"step {i}",
            (sys.executable, "-c", f"open({str(marker)!r}, 'a').write('{i}'); print('did {i}')"),
        )
        for i in range(3)
    ]
    runner = StepRunner(steps)
    _run(runner)
    assert runner.error is None and runner.fraction == 1.0
    assert marker.read_text() == "012"
    assert runner.last_line == "did 2"


def test_step_runner_stops_at_a_failing_step_with_its_output():
    steps = [
        SetupStep(
            "Failing",
            (
                sys.executable,
                "-c",
                "import sys, time; time.sleep(1); print('no torch for you'); sys.exit(3)",
            ),
        ),
        SetupStep("Never", (sys.executable, "-c", "raise SystemExit(1)")),
    ]
    runner = StepRunner(steps)
    _run(runner)
    assert runner.error == "Failing failed (exit code 3): no torch for you"
    assert runner.index == 0


def test_step_runner_cancel_terminates_the_running_step():
    runner = StepRunner([SetupStep("Sleep", (sys.executable, "-c", "import time; time.sleep(60)"))])
    runner.tick()
    runner.cancel()
    started = time.monotonic()
    _run(runner)
    assert runner.cancelled and time.monotonic() - started < 5


def test_step_runner_reports_a_missing_interpreter():
    runner = StepRunner([SetupStep("Creating", ("/nonexistent/python3.11", "-m", "venv", "x"))])
    runner.tick()
    assert runner.finished and "cannot run /nonexistent/python3.11" in runner.error
