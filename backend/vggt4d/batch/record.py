"""batch.json: what a batch did with each shot, and the lock that keeps one batch per folder.

Only the driver writes it, atomically (temporary file, then rename), whenever a shot changes
state and about once a second while shots run; `vggt4d batch --status`, the next run and the
Blender add-on read it. Fields are documented in docs/batch.md; the format's constants and
its reader live in `batch_format.py`, which the add-on shares. Numpy- and torch-free.
"""

import calendar
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from vggt4d.batch.batch_format import (
    FILE_NAME,
    FINISHED,
    FORMAT,
    STATUSES,
    VERSION,
    BatchFormatError,
    read_batch_file,
)
from vggt4d.errors import InputError

LOCK_NAME = ".batch.lock"


@dataclass
class ShotRecord:
    """One shot: `seconds` is the wall time of its last attempt, `attempts` counts Ray's tries,
    `node`/`pid` say where it runs (or ran), `error`/`code` why it failed."""

    name: str
    footage: str
    bundle: str
    status: str = "pending"
    attempts: int = 0
    seconds: float | None = None
    progress: float = 0.0
    stage: str = ""
    node: str | None = None
    pid: int | None = None
    error: str | None = None
    code: str | None = None
    warnings: list[str] = field(default_factory=list)
    traceback: str | None = None


@dataclass
class BatchRecord:
    """The whole batch: `state` is running, finished, cancelled (Ctrl-C) or stopped (an error
    stopped the batch itself, e.g. an unreachable cluster)."""

    out_dir: Path
    shots: list[ShotRecord]
    cluster: str = "local"
    state: str = "running"
    started: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)

    def shot(self, name: str) -> ShotRecord:
        return next(shot for shot in self.shots if shot.name == name)

    def counts(self) -> dict[str, int]:
        return {status: sum(s.status == status for s in self.shots) for status in STATUSES}

    def all_finished(self) -> bool:
        return all(shot.status in FINISHED for shot in self.shots)

    def save(self) -> Path:
        """Write batch.json atomically and return its path."""
        self.updated = time.time()
        data = {
            "format": FORMAT,
            "version": VERSION,
            "state": self.state,
            "cluster": self.cluster,
            "started": _timestamp(self.started),
            "updated": _timestamp(self.updated),
            "counts": self.counts(),
            "shots": [asdict(shot) for shot in self.shots],
        }
        path = self.out_dir / FILE_NAME
        temporary = path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        os.replace(temporary, path)
        return path


def load_record(out_dir: str | Path) -> BatchRecord:
    """Read DIR/batch.json; InputError when it is missing or not a batch record."""
    folder = Path(out_dir)
    path = folder / FILE_NAME
    try:
        data = read_batch_file(folder)
    except BatchFormatError as error:
        raise InputError(str(error)) from error
    known = {item.name for item in fields(ShotRecord)}
    try:
        shots = [ShotRecord(**{k: v for k, v in s.items() if k in known}) for s in data["shots"]]
        return BatchRecord(
            out_dir=folder,
            shots=shots,
            cluster=data["cluster"],
            state=data["state"],
            started=_seconds(data["started"]),
            updated=_seconds(data["updated"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise InputError(f"{path} is damaged: {error!r}.") from error


@contextmanager
def batch_lock(out_dir: Path) -> Iterator[None]:
    """Hold DIR's lock for the duration: a second batch on the same folder is refused.

    An OS lock (flock), so a killed batch never leaves a stale lock behind.
    """
    import fcntl

    with (out_dir / LOCK_NAME).open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise InputError(f"Another vggt4d batch is already writing into {out_dir}.") from error
        yield


def is_locked(out_dir: Path) -> bool:
    """Whether a batch holds DIR's lock right now (a live batch, not a stale batch.json)."""
    if not (out_dir / LOCK_NAME).exists():
        return False
    try:
        with batch_lock(out_dir):
            return False
    except InputError:
        return True
    except OSError:
        return False


def describe(record: BatchRecord, live: bool) -> str:
    """The `--status` text: a line per shot and a total; `live` is `is_locked(DIR)`."""
    state = record.state
    if state == "running" and not live:
        state = "interrupted (no batch is running there)"
    age = time.time() - record.updated
    lines = [
        f"batch:  {record.out_dir.resolve()} - {state}, updated {_age(age)} ago, "
        f"cluster {record.cluster}"
    ]
    width = max([len(shot.name) for shot in record.shots] + [4])
    for shot in record.shots:
        seconds = "" if shot.seconds is None else f"{shot.seconds:8.1f} s"
        detail = {
            "running": f"{shot.progress:4.0%} {shot.stage} on {shot.node} (pid {shot.pid})",
            "failed": f"{shot.code}: {shot.error}",
        }.get(shot.status, "")
        tries = f"{shot.attempts} tries" if shot.attempts > 1 else ""
        lines.append(f"  {shot.name:<{width}}  {shot.status:<9} {seconds:>10}  {tries:<8} {detail}")
    counts = ", ".join(f"{count} {status}" for status, count in record.counts().items() if count)
    lines.append(f"{len(record.shots)} shots: {counts}")
    return "\n".join(line.rstrip() for line in lines)


def _timestamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _seconds(timestamp: str) -> float:
    return float(calendar.timegm(time.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ")))


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
