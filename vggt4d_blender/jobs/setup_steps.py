"""Create the backend's virtual environment step by step without blocking (bpy-free).

Each step is one subprocess; its output is read by a daemon thread, so ``tick`` only drains a
queue. Used by the "Set up backend" modal operator.
"""

from __future__ import annotations

import queue
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from ..environment import venv_python


@dataclass(frozen=True)
class SetupStep:
    """One labelled command of the setup."""

    label: str
    command: tuple[str, ...]


def setup_steps(
    base_python: Path, venv_dir: Path, backend: Path, torch_index: str
) -> list[SetupStep]:
    """venv, pip, a torch build matching the machine, then the backend itself."""
    python = str(venv_python(venv_dir))
    pip = (python, "-m", "pip", "install", "--disable-pip-version-check")
    return [
        SetupStep(
            "Creating the virtual environment", (str(base_python), "-m", "venv", str(venv_dir))
        ),
        SetupStep("Updating pip", (*pip, "--upgrade", "pip")),
        SetupStep("Installing PyTorch", (*pip, "torch", "--index-url", torch_index)),
        SetupStep("Installing the VGGT4D backend", (*pip, str(backend))),
    ]


class StepRunner:
    """Run steps in order; ``tick`` reports progress, ``cancel`` stops the current step."""

    def __init__(self, steps: list[SetupStep]) -> None:
        self.steps = steps
        self.index = -1
        self.last_line = ""
        self.error: str | None = None
        self.cancelled = False
        self._process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()

    @property
    def finished(self) -> bool:
        return self.cancelled or self.error is not None or self.index >= len(self.steps)

    @property
    def fraction(self) -> float:
        return max(0, min(self.index, len(self.steps))) / len(self.steps)

    @property
    def label(self) -> str:
        return self.steps[self.index].label if 0 <= self.index < len(self.steps) else ""

    def tick(self, max_lines: int = 200) -> None:
        """Drain output; start the next step when the current one has ended."""
        if self.finished:
            return
        if self._process is None:
            self._start_next()
            return
        for _ in range(max_lines):
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                return
            if line is None:
                self._step_ended()
                return
            if line.strip():
                self.last_line = line.strip()

    def cancel(self) -> None:
        self.cancelled = True
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()

    def _start_next(self) -> None:
        self.index += 1
        if self.index >= len(self.steps):
            return
        step = self.steps[self.index]
        try:
            self._process = subprocess.Popen(
                step.command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                errors="replace",
            )
        except OSError as error:
            self.error = f"{step.label} failed: cannot run {step.command[0]} ({error.strerror})"
            return
        threading.Thread(target=self._read, args=(self._process,), daemon=True).start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self._lines.put(line)
        process.wait()
        self._lines.put(None)

    def _step_ended(self) -> None:
        assert self._process is not None
        code = self._process.wait()
        self._process = None
        if self.cancelled:
            return
        if code != 0:
            self.error = f"{self.label} failed (exit code {code}): {self.last_line}"
            return
        self._start_next()
