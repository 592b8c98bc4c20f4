"""One reconstruct job as a small state machine fed by protocol events (bpy-free).

``tick`` does bounded work (at most ``max_events`` events, about ``budget_s`` seconds), so a
Blender timer can call it without ever freezing the UI.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..protocol import hello_request, protocol_mismatch
from .backend_client import EXIT_EVENT, BackendClient, BackendError

FINISHED_STATES = frozenset({"done", "failed", "cancelled"})


@dataclass
class JobStatus:
    """What the panel shows: ``state`` is idle/running/cancelling/done/failed/cancelled."""

    state: str = "idle"
    stage: str = ""
    fraction: float = 0.0
    message: str = ""
    bundle: str | None = None
    error_code: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES


FINISHED_MESSAGES = {"reconstruct": "Reconstruction finished", "solve": "Solve finished"}


class ReconstructJob:
    """Say hello, check the backend speaks our protocol, send one ``reconstruct`` (or, with
    ``kind="solve"``, one ``solve``) request and follow its events until result, error or
    cancel."""

    def __init__(
        self, client: BackendClient, request: Mapping[str, object], kind: str = "reconstruct"
    ) -> None:
        self.client = client
        self.request = dict(request)
        self.kind = kind
        self.hello_id = ""
        self.request_id = ""
        self.status = JobStatus()

    def start(self) -> None:
        """Spawn the backend and say hello; raises BackendError if it cannot start."""
        self.client.start()
        self.hello_id = self.client.new_id()
        self.status = JobStatus(state="running", stage="starting", message="Starting the backend")
        self._send(hello_request(self.hello_id))

    def _send(self, message: Mapping[str, object]) -> None:
        # A broken pipe right after spawning means the backend died at start-up (its exit code
        # may not be reaped yet): the exit event brings its last log line as the reason.
        with contextlib.suppress(BackendError):
            self.client.send(message)

    def cancel(self) -> None:
        """Ask the backend to stop at its next chunk or stage boundary; asked again while
        cancelling (a long chunk on a CPU), stop the backend process at once."""
        if self.status.finished:
            return
        if self.status.state == "cancelling":
            self.client.close(timeout_s=1.0)
            self.status.state = "cancelled"
            self.status.message = "Stopped the backend"
            return
        self.status.state = "cancelling"
        self.status.message = "Cancelling at the next stage (cancel again to stop now)"
        if not self.request_id:  # the job was not sent yet: the hello answer ends it
            return
        try:
            self.client.send({"type": "cancel", "id": self.request_id})
        except BackendError as error:
            self._fail(str(error), error.code)

    def tick(self, max_events: int = 50, budget_s: float = 0.02) -> JobStatus:
        """Apply the queued events; closes the backend once the job has finished."""
        for event in self.client.poll(max_events=max_events, budget_s=budget_s):
            if self.status.finished:
                break
            self._apply(event)
        if self.status.finished and self.client.running:
            self.client.close()
        return self.status

    def close(self) -> None:
        """Stop the backend whatever state the job is in (operator exit, add-on disable)."""
        self.client.close()

    def _apply(self, event: Mapping[str, object]) -> None:
        kind = event.get("type")
        if kind == "hello" and event.get("id") == self.hello_id:
            self._answer_hello(event)
            return
        if event.get("id") not in (None, self.request_id, self.hello_id):
            return
        if kind == "progress":
            self.status.stage = str(event.get("stage", self.status.stage))
            self.status.fraction = min(1.0, max(0.0, float(event.get("fraction", 0.0))))
            self.status.message = str(event.get("message") or _describe_progress(event))
        elif kind == "warning":
            self.status.warnings.append(str(event.get("message", "")))
        elif kind == "result":
            self.status.state = "done"
            self.status.fraction = 1.0
            self.status.bundle = str(event["bundle"])
            self.status.message = FINISHED_MESSAGES[self.kind]
        elif kind == "error":
            self._fail(str(event.get("message", "Backend error")), str(event.get("code", "error")))
        elif kind == "cancelled":
            self.status.state = "cancelled"
            self.status.message = "Cancelled"
        elif kind == EXIT_EVENT:
            tail = str(event.get("stderr_tail", "")).strip().splitlines()
            reason = tail[-1] if tail else "no output"
            self._fail(
                f"The backend stopped unexpectedly (exit code {event.get('returncode')}): {reason}",
                "backend_died",
            )

    def _answer_hello(self, hello: Mapping[str, object]) -> None:
        """Send the job if the backend speaks our protocol; otherwise fail with the fix."""
        mismatch = protocol_mismatch(hello)
        if self.status.state == "cancelling":
            self.status.state = "cancelled"
            self.status.message = "Cancelled"
        elif mismatch:
            self._fail(mismatch, "protocol_mismatch")
        if self.status.finished:
            return
        self.request_id = self.client.new_id()
        self.status.message = "Backend started"
        self._send({**self.request, "type": self.kind, "id": self.request_id})

    def _fail(self, message: str, code: str) -> None:
        self.status.state = "failed"
        self.status.message = message
        self.status.error_code = code


def _describe_progress(event: Mapping[str, object]) -> str:
    """'pass1 40%, about 12 s left' (or 'chunk 3/25 40%, ...' on a long shot) from a progress
    event without a message."""
    stage = event.get("stage", "")
    if event.get("chunk"):
        stage = f"chunk {event['chunk']}/{event.get('chunks')}"
    text = f"{stage} {float(event.get('stage_fraction') or 0.0):.0%}"
    eta = event.get("eta_s")
    return f"{text}, about {float(eta):.0f} s left" if eta is not None else text
