"""Which shots a `vggt4d batch` folder holds, and which have a bundle to import (no bpy).

The folder's batch.json (docs/batch.md) lists every shot of the batch with its status; a
folder without one (bundles gathered by hand) is read as its ``*.vggt4d`` sub-folders. The
farm wrote absolute paths as its machines saw them, and an artist may open the folder through
another mount, so a bundle is looked up by the shot's name inside the chosen folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..bundle_format import BundleError

BATCH_FILE = "batch.json"
BUNDLE_SUFFIX = ".vggt4d"
_FINISHED = ("done", "skipped")


@dataclass(frozen=True)
class BatchShot:
    """A shot of the batch: ``bundle`` is None when the batch has no finished bundle for it,
    and ``problem`` then says why (its status, and its error when it failed)."""

    name: str
    bundle: Path | None
    problem: str | None = None


def list_batch(folder: str | Path) -> list[BatchShot]:
    """The shots of the batch in ``folder`` (or of the batch.json given), in batch order.

    Raises BundleError when the folder does not exist, its batch.json is not a batch record,
    or it holds no shot at all.
    """
    root = Path(folder)
    if root.name == BATCH_FILE:
        root = root.parent
    if not root.is_dir():
        raise BundleError(f"{root} is not a folder")
    record = root / BATCH_FILE
    shots = _from_record(root, record) if record.is_file() else _from_folder(root)
    if not shots:
        raise BundleError(f"{root} holds no batch.json and no {BUNDLE_SUFFIX} bundle")
    return shots


def _from_record(root: Path, record: Path) -> list[BatchShot]:
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
        entries = data["shots"] if data.get("format") == "vggt4d-batch" else None
        shots = [_shot(root, e["name"], e["status"], e.get("error")) for e in entries]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise BundleError(f"{record} is not a readable VGGT4D batch record ({error})") from error
    return shots


def _shot(root: Path, name: str, status: str, error: str | None) -> BatchShot:
    if not isinstance(name, str) or not name or name.startswith(".") or {"/", "\\"} & set(name):
        raise ValueError(f"bad shot name {name!r}")
    if status not in _FINISHED:
        return BatchShot(name, None, f"{status}: {error}" if error else str(status))
    bundle = root / f"{name}{BUNDLE_SUFFIX}"
    if not bundle.is_dir():
        return BatchShot(name, None, f"{status} in the batch, but {bundle.name} is not in {root}")
    return BatchShot(name, bundle)


def _from_folder(root: Path) -> list[BatchShot]:
    bundles = sorted(
        path
        for path in root.iterdir()
        if path.name.endswith(BUNDLE_SUFFIX) and (path / "manifest.json").is_file()
    )
    return [BatchShot(path.name[: -len(BUNDLE_SUFFIX)], path) for path in bundles]
