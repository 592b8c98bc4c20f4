"""The job protocol's shared vocabulary (docs/protocol.md): version, message types, error codes.

Like ``vggt4d.io.bundle_format``, this one file serves both sides: the server imports it as
``vggt4d.protocol``, the add-on as ``vggt4d_blender.protocol`` (a symbolic link in the
repository, a copy in the built extension). Standard library only.

The add-on and the backend are installed separately (the backend lives in its own virtual
environment, set up by the add-on's "Set up backend"), so after an add-on update the two can
disagree; the client compares ``PROTOCOL_VERSION`` with the server's ``hello`` before it sends
any job and explains the fix with ``protocol_mismatch``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PROTOCOL_VERSION = 1
"""Raised whenever a request or event changes meaning (a new optional field does not)."""

SERVER_MODULE = "vggt4d.server"
"""Run as ``python -m vggt4d.server`` with the backend environment's Python."""

REQUEST_TYPES = ("hello", "reconstruct", "solve", "cancel", "shutdown")
EVENT_TYPES = ("hello", "progress", "log", "warning", "result", "error", "cancelled", "bye")

ERROR_CODES = {
    "bad_request": "a line that is not JSON, has no type or an unknown type",
    "bad_input": "missing or unreadable footage or masks, bad options",
    "weights": "missing, unreachable offline, corrupt or wrong checkpoint",
    "out_of_memory": "the device ran out of memory (fewer frames or a larger stride help)",
    "bad_bundle": "a result bundle that cannot be written or read",
    "busy": "a job already runs",
    "no_job": "cancel with nothing running",
    "cancelled": "the user cancelled the job",
    "internal": "a bug: the message names the exception, the traceback goes to stderr",
    "protocol_mismatch": "(client side) the backend speaks another protocol version",
}

SETUP_BACKEND = "Set Up Backend"
"""The add-on preferences button that (re)installs the backend matching the add-on."""


def hello_request(request_id: Any, weights: str | None = None, device: str | None = None) -> dict:
    """The ``hello`` request: the server answers with versions, device and weights state."""
    return {"type": "hello", "id": request_id, "weights": weights, "device": device}


def error_event(request_id: Any, code: str, message: str) -> dict:
    """An ``error`` event: ``code`` from ``ERROR_CODES``, ``message`` a sentence for people."""
    return {"type": "error", "id": request_id, "code": code, "message": message}


def protocol_mismatch(hello: Mapping[str, Any]) -> str | None:
    """None when the server's ``hello`` speaks this protocol, else what the user should do."""
    theirs = hello.get("protocol")
    if theirs == PROTOCOL_VERSION:
        return None
    version = hello.get("version") or "unknown"
    if not isinstance(theirs, int) or isinstance(theirs, bool) or theirs < PROTOCOL_VERSION:
        return (
            f"The installed backend (version {version}, job protocol {theirs}) is older than "
            f"this add-on (job protocol {PROTOCOL_VERSION}), usually after an add-on update. "
            f'Set up backend again: press "{SETUP_BACKEND}" in the add-on preferences.'
        )
    return (
        f"The installed backend (version {version}, job protocol {theirs}) is newer than this "
        f"add-on (job protocol {PROTOCOL_VERSION}). Update the add-on, or set up backend "
        f'again: press "{SETUP_BACKEND}" in the add-on preferences to install the backend '
        "this add-on ships with."
    )
