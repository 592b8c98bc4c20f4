"""What runs on a Ray worker: one unit of work -> one bundle, and the board it reports to.

A unit is a whole shot today. It is a plain frozen `Task` (paths and JSON-ready options) so
that chunks of a long shot can become units too: the scheduler only builds `Task`s and reads
`Outcome`s, keyed by `Task.key`. Errors a person can fix, and bugs, come back as a failed
`Outcome` rather than an exception, so that Ray retries only what retrying can fix: a worker
process or a node that died. Ray is not imported here; the runner wraps these for Ray.
"""

import os
import socket
import time
import traceback
from dataclasses import asdict, dataclass
from typing import Any

from vggt4d.errors import VGGT4DError

_REPORT_INTERVAL_S = 0.5


@dataclass(frozen=True)
class Task:
    """`key` is unique in the batch (the shot's name); `options` is `JobOptions.to_dict()`."""

    key: str
    footage: str
    bundle: str
    options: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended: status "done" or "failed" (with a code and a sentence)."""

    key: str
    status: str
    seconds: float
    error: str | None = None
    code: str | None = None
    warnings: tuple[str, ...] = ()
    traceback: str | None = None


@dataclass
class _Entry:
    attempts: int = 0
    node: str | None = None
    pid: int | None = None
    progress: float = 0.0
    stage: str = ""


class ProgressBoard:
    """Where running tasks say where they run and how far they are (a Ray actor in a batch).

    Counting `started` calls counts attempts, retries by Ray included.
    """

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def started(self, key: str, node: str, pid: int) -> None:
        entry = self._entries.setdefault(key, _Entry())
        entry.attempts += 1
        entry.node, entry.pid, entry.progress, entry.stage = node, pid, 0.0, ""

    def progress(self, key: str, fraction: float, stage: str) -> None:
        entry = self._entries.setdefault(key, _Entry())
        entry.progress, entry.stage = fraction, stage

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {key: asdict(entry) for key, entry in self._entries.items()}


def run_task(task: Task, board: Any) -> Outcome:
    """Reconstruct `task.footage` into `task.bundle`; `board` is a ProgressBoard actor handle
    (its methods are called with `.remote`, fire and forget)."""
    started = time.monotonic()
    board.started.remote(task.key, socket.gethostname(), os.getpid())
    warnings: list[str] = []
    last_report = [0.0]

    def report(update: Any) -> None:
        now = time.monotonic()
        if now - last_report[0] >= _REPORT_INTERVAL_S:
            last_report[0] = now
            chunk = update.chunk is not None and f"chunk {update.chunk}/{update.chunks}"
            board.progress.remote(task.key, update.fraction, chunk or update.stage)

    def log(level: str, message: str) -> None:
        if level == "warning":
            warnings.append(message)

    def failed(code: str, message: str, trace: str | None = None) -> Outcome:
        seconds = time.monotonic() - started
        return Outcome(task.key, "failed", seconds, message, code, tuple(warnings), trace)

    try:
        # Imported here so that a worker without a working torch fails its shots with a message.
        from vggt4d.job import JobOptions, run_job

        run_job(task.footage, task.bundle, JobOptions.from_dict(task.options), report, log=log)
    except VGGT4DError as error:
        return failed(error.code, str(error))
    except Exception as error:  # noqa: BLE001 - a bug in one shot must not stop the others
        return failed("internal", f"{type(error).__name__}: {error}", traceback.format_exc())
    board.progress.remote(task.key, 1.0, "bundle")
    return Outcome(task.key, "done", time.monotonic() - started, warnings=tuple(warnings))
