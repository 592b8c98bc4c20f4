""" "Set up backend" and "Check backend": modal operators that never block Blender's UI.

Setup makes a virtual environment in the extension's user folder, installs a torch build
matching the machine (CUDA when ``nvidia-smi`` exists) and the backend wheel bundled in the
extension. Check starts ``python -m vggt4d.server`` and shows what its hello says.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import bpy
from bpy.props import StringProperty

from ..environment import (
    backend_environment,
    backend_source,
    find_system_python,
    torch_index_url,
)
from ..preferences import backend_python, backend_venv_dir, get_preferences
from ..protocol import hello_request, protocol_mismatch
from .backend_client import EXIT_EVENT, BackendClient, BackendError
from .setup_steps import StepRunner, setup_steps

log = logging.getLogger(__name__)
TIMER_INTERVAL_S = 0.2
CHECK_TIMEOUT_S = 120.0
EXTENSION_DIR = Path(__file__).resolve().parent.parent


def _redraw_preferences(context: bpy.types.Context) -> None:
    for window in context.window_manager.windows:
        for area in window.screen.areas:
            area.tag_redraw()


class _ModalTimer:
    """Timer bookkeeping shared by the two modal operators."""

    _timer: bpy.types.Timer | None = None

    def _start_timer(self, context: bpy.types.Context) -> None:
        window_manager = context.window_manager
        self._timer = window_manager.event_timer_add(TIMER_INTERVAL_S, window=context.window)
        window_manager.modal_handler_add(self)

    def _stop_timer(self, context: bpy.types.Context) -> None:
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
        context.window_manager.vggt4d_backend.busy = False
        _redraw_preferences(context)


class VGGT4D_OT_setup_backend(_ModalTimer, bpy.types.Operator):
    """Create the backend's Python environment and install PyTorch and VGGT4D into it
    (downloads several GB; Esc cancels)"""

    bl_idname = "vggt4d.setup_backend"
    bl_label = "Set Up Backend"

    base_python: StringProperty(
        name="Python",
        subtype="FILE_PATH",
        description="Python 3.10-3.12 to build the environment from (empty: search PATH)",
    )
    _runner: StepRunner | None = None

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return not context.window_manager.vggt4d_backend.busy

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        self._runner = self._prepare(context)
        if self._runner is None:
            return {"CANCELLED"}
        self._start_timer(context)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        """Blocking setup for background mode and scripts (no event loop for a timer)."""
        runner = self._prepare(context)
        if runner is None:
            return {"CANCELLED"}
        while not runner.finished:
            runner.tick()
            time.sleep(TIMER_INTERVAL_S)
        return self._finish(context, runner)

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        runner = self._runner
        if event.type == "ESC" and event.value == "PRESS":
            runner.cancel()
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        runner.tick()
        status = context.window_manager.vggt4d_backend
        status.progress = runner.fraction
        status.report = f"{runner.label}\n{runner.last_line[-120:]}".strip()
        _redraw_preferences(context)
        if not runner.finished:
            return {"PASS_THROUGH"}
        self._stop_timer(context)
        return self._finish(context, runner)

    def cancel(self, context: bpy.types.Context) -> None:
        if self._runner is not None:
            self._runner.cancel()
        self._stop_timer(context)

    def _prepare(self, context: bpy.types.Context) -> StepRunner | None:
        """The steps to run, or None after reporting why setup cannot start."""
        if not bpy.app.online_access:
            self.report(
                {"ERROR"},
                "Online access is off (Preferences > System > Network): setup must download "
                "PyTorch and the backend's dependencies, so it cannot run offline.",
            )
            return None
        base = Path(self.base_python) if self.base_python else find_system_python()
        if base is None or not base.is_file():
            self.report({"ERROR"}, "No Python 3.10-3.12 found on PATH: choose one to build from.")
            return None
        backend = backend_source(EXTENSION_DIR)
        if backend is None:
            self.report({"ERROR"}, "The backend wheel is missing from this extension: reinstall.")
            return None
        status = context.window_manager.vggt4d_backend
        status.busy, status.progress, status.report = True, 0.0, "Starting setup"
        return StepRunner(setup_steps(base, backend_venv_dir(), backend, torch_index_url()))

    def _finish(self, context: bpy.types.Context, runner: StepRunner) -> set[str]:
        status = context.window_manager.vggt4d_backend
        status.busy = False
        if runner.error is not None:
            status.report = runner.error
            self.report({"ERROR"}, runner.error)
            return {"CANCELLED"}
        if runner.cancelled:
            status.report = "Setup cancelled"
            return {"CANCELLED"}
        get_preferences(context).python_path = ""
        status.report = f"Backend installed in {backend_venv_dir()}"
        self.report({"INFO"}, status.report)
        return {"FINISHED"}


def describe_hello(event: dict) -> str:
    """The hello event as 'key: value' lines for the preferences box."""
    lines = []
    for key, value in event.items():
        if key in {"type", "id"}:
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{name} {item}" for name, item in value.items())
        lines.append(f"{key.replace('_', ' ')}: {value}")
    return "\n".join(lines)


class VGGT4D_OT_check_backend(_ModalTimer, bpy.types.Operator):
    """Start the backend once and show its versions, device and whether weights are cached"""

    bl_idname = "vggt4d.check_backend"
    bl_label = "Check Backend"

    _client: BackendClient | None = None
    _waited_s: float = 0.0

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return not context.window_manager.vggt4d_backend.busy

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        self._client, self._waited_s = self._send_hello(context), 0.0
        if self._client is None:
            return {"CANCELLED"}
        self._start_timer(context)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        """Blocking check for background mode and scripts."""
        self._client = self._send_hello(context)
        if self._client is None:
            return {"CANCELLED"}
        try:
            event = self._client.wait_for({"hello", "error"}, CHECK_TIMEOUT_S)
        except TimeoutError:
            event = {"type": "error", "message": f"no answer within {CHECK_TIMEOUT_S:.0f} s"}
        return self._answer(context, event)

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        self._waited_s += TIMER_INTERVAL_S
        for received in self._client.poll():
            if received.get("type") in {"hello", "error", EXIT_EVENT}:
                return self._answer(context, received)
        if self._waited_s > CHECK_TIMEOUT_S:
            message = f"no answer within {CHECK_TIMEOUT_S:.0f} s"
            return self._answer(context, {"type": "error", "message": message})
        return {"PASS_THROUGH"}

    def cancel(self, context: bpy.types.Context) -> None:
        self._close(context)

    def _send_hello(self, context: bpy.types.Context) -> BackendClient | None:
        preferences = get_preferences(context)
        status = context.window_manager.vggt4d_backend
        client = BackendClient(
            backend_python(preferences), env=backend_environment(bpy.app.online_access)
        )
        try:
            client.start()
            client.send(
                hello_request(client.new_id(), preferences.weights_source, preferences.device)
            )
        except BackendError as error:
            log.exception("Backend check failed to start")
            client.close()
            status.report = str(error)
            self.report({"ERROR"}, str(error))
            return None
        status.busy, status.report = True, "Starting the backend..."
        return client

    def _answer(self, context: bpy.types.Context, event: dict) -> set[str]:
        """Show the hello (or why there was none) and stop the backend."""
        status = context.window_manager.vggt4d_backend
        tail = self._client.stderr_tail.strip().splitlines()
        self._close(context)
        mismatch = protocol_mismatch(event) if event.get("type") == "hello" else None
        if mismatch:
            status.report = mismatch
            self.report({"ERROR"}, mismatch)
            return {"CANCELLED"}
        if event.get("type") == "hello":
            status.report = describe_hello(event)
            if event.get("device_error"):
                self.report({"WARNING"}, f"Backend runs, but: {event['device_error']}")
            else:
                self.report({"INFO"}, "Backend OK: " + status.report.replace("\n", "; "))
            return {"FINISHED"}
        reason = event.get("message") or (tail[-1] if tail else "the backend exited")
        status.report = f"Backend check failed: {reason}"
        self.report({"ERROR"}, status.report)
        return {"CANCELLED"}

    def _close(self, context: bpy.types.Context) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self._stop_timer(context)


classes = (VGGT4D_OT_setup_backend, VGGT4D_OT_check_backend)
