"""Job server: `python -m vggt4d.server`, JSON lines on stdin/stdout (docs/protocol.md).

The Blender add-on starts this process and talks to it through pipes only (no network port).
The job runs in a worker thread so cancel and hello are answered while it works. stdout is
reserved for protocol lines: at start the real stdout is kept for the protocol and file
descriptor 1 is pointed at stderr, so stray prints and native library output cannot corrupt it.
"""

import json
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

import torch

from vggt4d.errors import CancelledError, InputError, VGGT4DError
from vggt4d.io.bundle import validate_bundle
from vggt4d.job import (
    DEFAULT_WEIGHTS,
    JobOptions,
    LogCallback,
    ProgressUpdate,
    package_version,
    run_job,
    run_solve,
)
from vggt4d.preflight import check_job_paths
from vggt4d.protocol import PROTOCOL_VERSION, error_event
from vggt4d.solve.camera_solve import SolveOptions
from vggt4d.weights import resolve_device, weights_cached

# A job's body: (progress, should_cancel, log) -> the bundle written.
_Task = Callable[[Callable[[ProgressUpdate], None], Callable[[], bool], LogCallback], Path]
_PROGRESS_INTERVAL_S = 0.2
_SHUTDOWN_WAIT_S = 30.0
_logger = logging.getLogger(__name__)


class JobServer:
    """Reads requests, runs at most one job at a time in a worker thread, writes events."""

    def __init__(self, output: TextIO):
        self._output = output
        self._write_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._cancel = threading.Event()
        self._running = threading.Event()

    def serve(self, lines: Iterable[str]) -> None:
        """Handle request lines until `shutdown` or end of input, then stop the job and say bye.

        No line ends the server except `shutdown`: whatever a line holds, it gets an answer.
        """
        bye_id = None
        for line in lines:
            if not line.strip():
                continue
            request = self._parse(line)
            if request is None:
                continue
            if request["type"] == "shutdown":
                bye_id = request.get("id")
                break
            self._handle(request)
        self._cancel.set()
        if self._worker is not None:
            self._worker.join(_SHUTDOWN_WAIT_S)
        self.send({"type": "bye", "id": bye_id})

    def send(self, event: dict[str, Any]) -> None:
        """Write one event as one line (thread safe)."""
        line = json.dumps(event, allow_nan=False, default=str)
        with self._write_lock:
            self._output.write(line + "\n")
            self._output.flush()

    def _parse(self, line: str) -> dict[str, Any] | None:
        """The request on ``line``, or None after answering why it is not one. NaN and
        infinite numbers are refused: they are not JSON and could not be echoed back."""
        try:
            request = json.loads(line, parse_constant=_refuse_constant, parse_float=_finite_float)
        except (ValueError, RecursionError) as error:
            self._error(None, "bad_request", f"Not a JSON line ({error}): {line.strip()[:200]}")
            return None
        if not isinstance(request, dict) or not isinstance(request.get("type"), str):
            self._error(None, "bad_request", 'A request must be a JSON object with a "type".')
            return None
        return request

    def _handle(self, request: dict[str, Any]) -> None:
        handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "hello": self._hello,
            "reconstruct": self._reconstruct,
            "solve": self._solve,
            "cancel": self._cancel_job,
        }
        handler = handlers.get(request["type"])
        if handler is None:
            known = [*handlers, "shutdown"]
            self._error(request.get("id"), "bad_request", f"Unknown request type; known: {known}.")
            return
        try:
            handler(request)
        except VGGT4DError as error:
            self._error(request.get("id"), error.code, str(error))
        except Exception as error:
            _logger.exception("request %s failed", request.get("type"))
            self._error(request.get("id"), "internal", f"{type(error).__name__}: {error}")

    def _hello(self, request: dict[str, Any]) -> None:
        weights = str(request.get("weights") or DEFAULT_WEIGHTS)
        cuda = torch.cuda.is_available()
        try:
            device, device_error = str(resolve_device(str(request.get("device") or "auto"))), None
        except InputError as error:  # still answer: the add-on shows why the device is unusable
            device, device_error = None, str(error)
        self.send(
            {
                "type": "hello",
                "id": request.get("id"),
                "version": package_version(),
                "protocol": PROTOCOL_VERSION,
                "device": device,
                "device_error": device_error,
                "cuda_available": cuda,
                "cuda_device": torch.cuda.get_device_name(0) if cuda else None,
                "torch": torch.__version__,
                "weights": weights,
                "weights_cached": weights_cached(weights),
                "busy": self._busy(),
            }
        )

    def _reconstruct(self, request: dict[str, Any]) -> None:
        """Validate the whole request (paths, every option's type and value, the output's
        folder) before anything runs, then start the job in the worker thread."""
        request_id = request.get("id")
        if self._busy():
            self._error(request_id, "busy", "A job is already running; cancel it first.")
            return
        input_path, output_path = request.get("input"), request.get("output")
        if not isinstance(input_path, str) or not isinstance(output_path, str):
            raise InputError('reconstruct needs "input" and "output" paths (strings).')
        options = request.get("options")
        job_options = JobOptions.from_dict({} if options is None else options)
        check_job_paths(input_path, output_path)
        self._start(
            request_id,
            lambda progress, cancel, log: run_job(
                input_path, output_path, job_options, progress, cancel, log
            ),
        )

    def _solve(self, request: dict[str, Any]) -> None:
        """Re-solve a bundle's cameras in place from its plate (no model is loaded)."""
        request_id = request.get("id")
        if self._busy():
            self._error(request_id, "busy", "A job is already running; cancel it first.")
            return
        bundle, masks = request.get("bundle"), request.get("masks")
        network_masks = request.get("network_masks", False)
        if not isinstance(bundle, str) or not (masks is None or isinstance(masks, str)):
            raise InputError('solve needs a "bundle" path and optionally a "masks" folder.')
        if not isinstance(network_masks, bool):
            raise InputError('solve\'s "network_masks" is true or false.')
        validate_bundle(bundle)
        options = request.get("options")
        solve_options = SolveOptions.from_dict({} if options is None else options)
        self._start(
            request_id,
            lambda progress, cancel, log: run_solve(
                bundle, solve_options, masks, progress, cancel, log, network_masks
            ),
        )

    def _start(self, request_id: Any, task: _Task) -> None:
        self._cancel.clear()
        self._running.set()
        self._worker = threading.Thread(
            target=self._work, args=(request_id, task), name="vggt4d-job", daemon=True
        )
        self._worker.start()

    def _cancel_job(self, request: dict[str, Any]) -> None:
        if not self._busy():
            self._error(request.get("id"), "no_job", "There is no running job to cancel.")
            return
        self._cancel.set()

    def _busy(self) -> bool:
        """A job runs until just before its last event is sent, so a request that answers
        that event is never told ``busy``."""
        return self._running.is_set()

    def _work(self, request_id: Any, task: _Task) -> None:
        last_sent = [0.0, ""]

        def progress(update: ProgressUpdate) -> None:
            now = time.monotonic()
            stage = f"{update.stage} {update.chunk}" if update.chunk else update.stage
            important = stage != last_sent[1] or update.stage_fraction >= 1.0
            if not important and now - last_sent[0] < _PROGRESS_INTERVAL_S:
                return
            last_sent[:] = [now, stage]
            self.send(
                {
                    "type": "progress",
                    "id": request_id,
                    "stage": update.stage,
                    "fraction": round(update.fraction, 4),
                    "stage_fraction": round(update.stage_fraction, 4),
                    "eta_s": None if update.eta_s is None else round(update.eta_s, 1),
                    **({"chunk": update.chunk, "chunks": update.chunks} if update.chunk else {}),
                }
            )

        def log(level: str, message: str) -> None:
            if level == "warning":
                self.send({"type": "warning", "id": request_id, "message": message})
            else:
                self.send({"type": "log", "id": request_id, "level": level, "message": message})

        try:
            bundle = task(progress, self._cancel.is_set, log)
        except CancelledError:
            last = {"type": "cancelled", "id": request_id}
        except VGGT4DError as error:
            last = error_event(request_id, error.code, str(error))
        except Exception as error:
            _logger.exception("job %s failed", request_id)
            last = error_event(request_id, "internal", f"{type(error).__name__}: {error}")
        else:
            last = {"type": "result", "id": request_id, "bundle": str(bundle)}
        self._running.clear()
        self.send(last)

    def _error(self, request_id: Any, code: str, message: str) -> None:
        self.send(error_event(request_id, code, message))


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def _protocol_stream() -> TextIO:
    """Keep the real stdout for protocol lines and send everything else written to it (Python
    prints, C libraries) to stderr."""
    sys.stdout.flush()
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    return protocol


def main() -> None:
    """Entry point of `python -m vggt4d.server`."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(message)s")
    server = JobServer(_protocol_stream())
    sys.stdin.reconfigure(encoding="utf-8", errors="replace")  # a stray byte is a bad line
    server.serve(iter(sys.stdin.readline, ""))


if __name__ == "__main__":
    main()
