"""Run a batch: skip finished shots, send the rest to Ray as tasks, follow and record them.

`run_batch` owns the order: lock the output folder, decide which shots still need work (a
valid bundle made from the same footage with the same options is finished), clear what
interrupted writers left, start or join the cluster, submit one task per shot asking for its
GPUs, and keep batch.json and the progress bar current until every task has ended. A failed
shot is recorded and the others go on. Ctrl-C cancels every task, gives running ones a moment
to stop, and records them as cancelled; bundles are written atomically (a temporary sibling
renamed into place), so only a finished bundle ever looks like one.
"""

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vggt4d.batch.cluster import ClusterOptions, ClusterResources, connect, require_ray
from vggt4d.batch.record import BatchRecord, ShotRecord, batch_lock, load_record
from vggt4d.batch.shots import Shot
from vggt4d.batch.tasks import Outcome, ProgressBoard, Task, run_task
from vggt4d.errors import BundleError, FarmError, InputError
from vggt4d.io.bundle import PARTIAL_MARKER, validate_bundle
from vggt4d.job import LogCallback, ProgressUpdate

_POLL_S = 0.5
_SAVE_INTERVAL_S = 1.0
_CANCEL_GRACE_S = 10.0


@dataclass(frozen=True)
class BatchSettings:
    """How shots run: Ray resources per shot and how often Ray retries a shot whose worker or
    node died (failures the job itself reports are not retried: they would fail again)."""

    cluster: ClusterOptions = field(default_factory=ClusterOptions)
    gpus_per_shot: float = 1.0
    cpus_per_shot: float = 1.0
    retries: int = 2

    def __post_init__(self) -> None:
        if self.gpus_per_shot < 0 or self.cpus_per_shot <= 0 or self.retries < 0:
            raise InputError(
                "gpus per shot must be 0 or more, cpus per shot more than 0, retries 0 or more."
            )


def run_batch(
    shots: list[Shot],
    out_dir: str | Path,
    settings: BatchSettings | None = None,
    progress: Callable[[ProgressUpdate], None] | None = None,
    log: LogCallback | None = None,
) -> BatchRecord:
    """Reconstruct every unfinished shot into `out_dir/<name>.vggt4d`; return the record that
    is also in `out_dir/batch.json`. KeyboardInterrupt cancels the batch (and propagates)."""
    settings = settings or BatchSettings()
    out = Path(out_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    with batch_lock(out):
        record = BatchRecord(
            out_dir=out,
            shots=[ShotRecord(s.name, s.footage, str(s.bundle_path(out))) for s in shots],
            cluster=settings.cluster.describe(),
        )
        earlier = _earlier_seconds(out)
        tasks = []
        for shot, entry in zip(shots, record.shots, strict=True):
            if _is_finished(shot, Path(entry.bundle)):
                entry.status, entry.seconds, entry.progress = "skipped", earlier.get(shot.name), 1
                continue
            _remove_leftovers(Path(entry.bundle))
            tasks.append(Task(shot.name, shot.footage, entry.bundle, shot.options.to_dict()))
        record.save()
        try:
            if tasks:
                require_ray()
                _run_tasks(tasks, record, settings, _Follower(record, len(tasks), progress, log))
        except BaseException as error:
            record.state = "cancelled" if isinstance(error, KeyboardInterrupt) else "stopped"
            record.save()
            raise
        record.state = "finished"
        record.save()
    return record


def _is_finished(shot: Shot, bundle: Path) -> bool:
    """A valid bundle of the same footage made with the same options (else it is redone)."""
    try:
        manifest = validate_bundle(bundle)
    except BundleError:
        return False
    wanted = json.loads(json.dumps(shot.options.to_dict()))
    return manifest["source"]["path"] == shot.footage and manifest["options"] == wanted


def _earlier_seconds(out: Path) -> dict[str, float | None]:
    try:
        return {shot.name: shot.seconds for shot in load_record(out).shots}
    except InputError:
        return {}


def _remove_leftovers(bundle: Path) -> None:
    """Remove the temporary folders of writers of this bundle that were killed."""
    for leftover in bundle.parent.glob(f".{bundle.name}{PARTIAL_MARKER}*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _run_tasks(
    tasks: list[Task], record: BatchRecord, settings: BatchSettings, follower: "_Follower"
) -> None:
    with connect(settings.cluster) as resources:
        import ray

        gpus = _gpus_per_task(settings, resources, follower.log)
        board = ray.remote(num_cpus=0)(ProgressBoard).remote()
        remote = ray.remote(run_task)
        resources = {"num_gpus": gpus, "num_cpus": settings.cpus_per_shot}
        pending = {
            remote.options(
                name=f"vggt4d:{t.key}", max_retries=settings.retries, **resources
            ).remote(t, board): t
            for t in tasks
        }
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=_POLL_S)
                board_state = ray.get(board.snapshot.remote())
                for reference in ready:
                    task = pending.pop(reference)
                    attempts = board_state.get(task.key, {}).get("attempts", 1)
                    follower.finish(_outcome(ray, reference, task, attempts), board_state)
                follower.follow(board_state)
        except KeyboardInterrupt:
            _cancel(ray, pending, follower, board)
            raise


def _gpus_per_task(settings: BatchSettings, resources: ClusterResources, log: LogCallback) -> float:
    """The GPUs each task asks for; a local cluster without enough falls back to the CPU."""
    wanted = settings.gpus_per_shot
    if wanted <= resources.gpus:
        return wanted
    if settings.cluster.address is not None:
        raise FarmError(
            f"Each shot asks for {wanted:g} GPU(s) but the cluster has {resources.gpus:g} in "
            f"{resources.nodes} node(s): start workers with GPUs, or pass --gpus-per-shot 0 to "
            "run on CPUs."
        )
    log(
        "warning",
        f"This machine has {resources.gpus:g} GPU(s) for Ray and each shot asks for {wanted:g}: "
        f"shots run on the CPU with {settings.cpus_per_shot:g} core(s) each, which is slow. "
        "Pass --gpus-per-shot 0 to say so and silence this warning.",
    )
    return 0.0


def _outcome(ray: Any, reference: Any, task: Task, attempts: int) -> Outcome:
    """The task's own outcome, or what Ray says when it could not finish it."""
    try:
        return ray.get(reference)
    except ray.exceptions.TaskCancelledError:
        return _cancelled(task)
    except ray.exceptions.RayError as error:
        first_line = (str(error).strip().splitlines() or [""])[0][:300]
        return Outcome(
            task.key,
            "failed",
            0.0,
            f"The worker running this shot died {attempts} time(s) and Ray gave up "
            f"({type(error).__name__}: {first_line}). Out of memory, or killed?",
            "worker_died",
        )


def _cancelled(task: Task) -> Outcome:
    return Outcome(task.key, "cancelled", 0.0, "The batch was cancelled.", "cancelled")


def _cancel(ray: Any, pending: dict[Any, Task], follower: "_Follower", board: Any) -> None:
    """Cancel every task: a running one gets KeyboardInterrupt (its bundle writer removes its
    temporary folder); what has not stopped after a grace period is killed."""
    for reference in pending:
        ray.cancel(reference)
    ready, stuck = ray.wait(list(pending), num_returns=len(pending), timeout=_CANCEL_GRACE_S)
    for reference in stuck:
        ray.cancel(reference, force=True)
    board_state = ray.get(board.snapshot.remote())
    for reference in ready:
        task = pending[reference]
        attempts = board_state.get(task.key, {}).get("attempts", 1)
        follower.finish(_outcome(ray, reference, task, attempts), board_state)
    for reference in stuck:
        task = pending[reference]
        follower.finish(_cancelled(task))
    for task in pending.values():
        _remove_leftovers(Path(task.bundle))


class _Follower:
    """Turns task outcomes and the board's state into batch.json, the progress bar, and each
    distinct warning once."""

    def __init__(
        self,
        record: BatchRecord,
        task_count: int,
        progress: Callable[[ProgressUpdate], None] | None,
        log: LogCallback | None,
    ) -> None:
        self._record = record
        self._task_count = task_count
        self._progress = progress
        self._log = log
        self._warned: set[str] = set()
        self._began = time.monotonic()
        self._saved = 0.0
        self._fraction = 0.0

    def log(self, level: str, message: str) -> None:
        if self._log is not None and message not in self._warned:
            self._warned.add(message)
            self._log(level, message)

    def finish(self, outcome: Outcome, board_state: dict[str, dict] | None = None) -> None:
        shot = self._record.shot(outcome.key)
        seen = (board_state or {}).get(outcome.key, {})
        shot.attempts = seen.get("attempts", shot.attempts)
        shot.status, shot.seconds = outcome.status, round(outcome.seconds, 3)
        shot.error, shot.code, shot.traceback = outcome.error, outcome.code, outcome.traceback
        shot.warnings = list(outcome.warnings)
        if outcome.status == "done":  # a failed shot keeps the stage it failed in
            shot.progress, shot.stage = 1.0, ""
        for warning in outcome.warnings:
            self.log("warning", warning)
        if outcome.status == "failed":
            self.log("warning", f"shot {outcome.key} failed: {outcome.error}")
        self._saved = 0.0  # a change of status is saved at once

    def follow(self, board_state: dict[str, dict]) -> None:
        for key, seen in board_state.items():
            shot = self._record.shot(key)
            if shot.status in ("pending", "running"):
                shot.status = "running"
                shot.attempts, shot.node, shot.pid = seen["attempts"], seen["node"], seen["pid"]
                shot.progress, shot.stage = round(seen["progress"], 3), seen["stage"]
        now = time.monotonic()
        if now - self._saved >= _SAVE_INTERVAL_S:
            self._record.save()
            self._saved = now
        self._report(now)

    def _report(self, now: float) -> None:
        if self._progress is None:
            return
        ran = [s for s in self._record.shots if s.status != "skipped"]
        ended = sum(s.status in ("done", "failed", "cancelled") for s in ran)
        running = sum(s.progress for s in ran if s.status == "running")
        self._fraction = max(self._fraction, (ended + running) / max(self._task_count, 1))
        elapsed = now - self._began
        eta = elapsed * (1 - self._fraction) / self._fraction if self._fraction > 0.01 else None
        stage = f"{ended}/{self._task_count} shots"
        self._progress(ProgressUpdate(stage, self._fraction, self._fraction, eta))
