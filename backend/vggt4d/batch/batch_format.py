"""The batch folder's format (docs/batch.md): batch.json, shot names, bundle names, statuses.

`vggt4d batch` writes a batch folder (`vggt4d.batch.record`); the Blender add-on reads it to
import every finished shot at once. Like `vggt4d.io.bundle_format`, this one file serves both
sides: `vggt4d.batch.batch_format` in the backend, `vggt4d_blender.batch_format` in the add-on
(a symbolic link in the repository, a copy in the built extension). Standard library only.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

FILE_NAME = "batch.json"
FORMAT = "vggt4d-batch"
VERSION = 1
BUNDLE_SUFFIX = ".vggt4d"
STATUSES = ("pending", "running", "done", "skipped", "failed", "cancelled")
FINISHED = ("done", "skipped")
"""A finished shot has a valid bundle: written by the last run, or by an earlier one."""

_SHOT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class BatchFormatError(ValueError):
    """A batch.json that is missing, unreadable or not a batch record; the message is for
    people."""


def is_shot_name(name: object) -> bool:
    """Whether ``name`` can name a bundle: letters, digits, '.', '_', '-', starting with a
    letter or digit, at most 128 characters (no path separators, no hidden names)."""
    return isinstance(name, str) and _SHOT_NAME.fullmatch(name) is not None


def bundle_name(shot: str) -> str:
    """The folder name of a shot's bundle inside the batch folder."""
    return f"{shot}{BUNDLE_SUFFIX}"


def read_batch_file(folder: str | Path) -> dict[str, Any]:
    """The parsed FOLDER/batch.json, its top level checked: format, version, and a list of
    shots, each an object with a valid name and a known status. Raises BatchFormatError."""
    path = Path(folder) / FILE_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise BatchFormatError(f"{folder} holds no {FILE_NAME}: no batch was run there") from error
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise BatchFormatError(f"cannot read {path}: {error}") from error
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
        raise BatchFormatError(f"{path} is not a version {VERSION} VGGT4D batch record")
    shots = data.get("shots")
    if not isinstance(shots, list) or not all(_is_shot_entry(shot) for shot in shots):
        raise BatchFormatError(f"{path} is damaged: its shots are not a list of named shots")
    return data


def _is_shot_entry(shot: object) -> bool:
    return (
        isinstance(shot, dict) and is_shot_name(shot.get("name")) and shot.get("status") in STATUSES
    )
