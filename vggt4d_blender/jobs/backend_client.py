"""The add-on's side of the job protocol (docs/protocol.md): spawn, send, read events, stop.

bpy-free on purpose: the modal operator, the setup check and plain pytest all use it. The
backend's stdout is read by a daemon thread into a queue, so callers on Blender's main thread
only ever call non-blocking ``poll``. The add-on cannot import the backend package (it lives
in another interpreter), so backend failures are reported as :class:`BackendError` here.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from ..protocol import SERVER_MODULE

EXIT_EVENT = "exit"
_STDERR_TAIL_LINES = 40


class BackendError(Exception):
    """The backend could not be started, died, or reported an error; ``code`` is machine-readable.

    Codes from the server (``bad_input``, ``weights``, ``out_of_memory``...) are passed through;
    the client adds ``backend_missing`` (interpreter cannot run) and ``backend_died``.
    """

    def __init__(self, message: str, code: str = "backend") -> None:
        super().__init__(message)
        self.code = code


class BackendClient:
    """One ``python -m vggt4d.server`` subprocess and its event queue."""

    def __init__(
        self,
        python: str | Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
    ) -> None:
        self.python = str(python)
        self.env = dict(env) if env is not None else None
        self.cwd = str(cwd) if cwd is not None else None
        self._process: subprocess.Popen[str] | None = None
        self._events: queue.Queue[dict] = queue.Queue()
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=_STDERR_TAIL_LINES)
        self._stderr_thread: threading.Thread | None = None
        self._next_id = 0

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def stderr_tail(self) -> str:
        """The last lines the backend logged, for error messages when it dies."""
        return "\n".join(self._stderr_tail)

    def start(self) -> None:
        """Spawn the server; raises BackendError(code="backend_missing") if it cannot run."""
        if not self.python or not Path(self.python).is_file():
            raise BackendError(
                f"Backend Python not found: '{self.python}'. Set it in the add-on preferences "
                "or run 'Set up backend'.",
                code="backend_missing",
            )
        env = {**os.environ, **(self.env or {}), "PYTHONUNBUFFERED": "1"}
        try:
            self._process = subprocess.Popen(
                [self.python, "-m", SERVER_MODULE],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                errors="replace",
                bufsize=1,
                env=env,
                cwd=self.cwd,
                start_new_session=sys.platform != "win32",
            )
        except OSError as error:
            raise BackendError(
                f"Cannot start the backend Python '{self.python}': {error.strerror or error}.",
                code="backend_missing",
            ) from error
        # stderr first: the stdout reader waits for it before posting the exit event.
        self._stderr_thread = threading.Thread(
            target=self._read_stderr, name="vggt4d-stderr", daemon=True
        )
        self._stderr_thread.start()
        threading.Thread(target=self._read_stdout, name="vggt4d-stdout", daemon=True).start()

    def new_id(self) -> str:
        """A request id unique within this client."""
        self._next_id += 1
        return f"job-{os.getpid()}-{self._next_id}"

    def send(self, message: Mapping[str, object]) -> None:
        """Write one request line; raises BackendError if the server is gone."""
        if self._process is None or self._process.stdin is None:
            raise BackendError("The backend is not running.", code="backend_died")
        try:
            self._process.stdin.write(json.dumps(message) + "\n")
            self._process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as error:
            # Close the pipe now: its unsent line would otherwise fail again, unseen, when the
            # stream is garbage-collected.
            with contextlib.suppress(OSError, ValueError):
                self._process.stdin.close()
            raise BackendError(self._died_message(), code="backend_died") from error

    def poll(self, max_events: int = 50, budget_s: float = 0.02) -> list[dict]:
        """Return at most ``max_events`` queued events, spending at most ~``budget_s`` seconds."""
        deadline = time.monotonic() + budget_s
        events: list[dict] = []
        while len(events) < max_events and time.monotonic() < deadline:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                break
        return events

    def wait_for(self, event_types: set[str], timeout_s: float) -> dict:
        """Block until an event of one of ``event_types`` (or the exit event) arrives.

        For tests and scripts only; Blender code uses ``poll`` from a timer.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"No {sorted(event_types)} event within {timeout_s} s")
            try:
                event = self._events.get(timeout=remaining)
            except queue.Empty:
                continue
            if event.get("type") in event_types or event.get("type") == EXIT_EVENT:
                return event

    def close(self, timeout_s: float = 3.0) -> None:
        """Ask the server to shut down, then terminate and finally kill it."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(BackendError):
                self.send({"type": "shutdown", "id": self.new_id()})
            for stop in (None, process.terminate, process.kill):
                if stop is not None:
                    stop()
                try:
                    process.wait(timeout=timeout_s)
                    break
                except subprocess.TimeoutExpired:
                    continue
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def _died_message(self) -> str:
        code = self._process.poll() if self._process is not None else None
        tail = self.stderr_tail.strip().splitlines()
        last = tail[-1] if tail else "no output"
        return f"The backend stopped unexpectedly (exit code {code}): {last}"

    def _read_stdout(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        for line in process.stdout:
            text = line.strip()
            if not text:
                continue
            try:
                event = json.loads(text)
            except json.JSONDecodeError:
                event = {"type": "log", "message": text}
            if not isinstance(event, dict):
                event = {"type": "log", "message": text}
            self._events.put(event)
        returncode = process.wait()
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=1.0)
        self._events.put(
            {"type": EXIT_EVENT, "returncode": returncode, "stderr_tail": self.stderr_tail}
        )

    def _read_stderr(self) -> None:
        process = self._process
        assert process is not None and process.stderr is not None
        for line in process.stderr:
            self._stderr_tail.append(line.rstrip("\n"))
