"""Which shots a `vggt4d batch` folder holds, and which have a bundle to import (no bpy).

The folder's batch.json (read with the shared ``batch_format``, docs/batch.md) lists every
shot of the batch with its status; a folder without one (bundles gathered by hand) is read as
its bundle sub-folders. The farm wrote absolute paths as its machines saw them, and an artist
may open the folder through another mount, so a bundle is looked up by the shot's name inside
the chosen folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..batch_format import (
    BUNDLE_SUFFIX,
    FILE_NAME,
    FINISHED,
    BatchFormatError,
    bundle_name,
    read_batch_file,
)
from ..bundle_format import MANIFEST, BundleError


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
    if root.name == FILE_NAME:
        root = root.parent
    if not root.is_dir():
        raise BundleError(f"{root} is not a folder")
    shots = _from_record(root) if (root / FILE_NAME).is_file() else _from_folder(root)
    if not shots:
        raise BundleError(f"{root} holds no {FILE_NAME} and no {BUNDLE_SUFFIX} bundle")
    return shots


def _from_record(root: Path) -> list[BatchShot]:
    try:
        entries = read_batch_file(root)["shots"]
    except BatchFormatError as error:
        raise BundleError(str(error)) from error
    return [_shot(root, entry) for entry in entries]


def _shot(root: Path, entry: dict) -> BatchShot:
    name, status, error = entry["name"], entry["status"], entry.get("error")
    if status not in FINISHED:
        return BatchShot(name, None, f"{status}: {error}" if error else status)
    bundle = root / bundle_name(name)
    if not bundle.is_dir():
        return BatchShot(name, None, f"{status} in the batch, but {bundle.name} is not in {root}")
    return BatchShot(name, bundle)


def _from_folder(root: Path) -> list[BatchShot]:
    bundles = sorted(
        path
        for path in root.iterdir()
        if path.name.endswith(BUNDLE_SUFFIX) and (path / MANIFEST).is_file()
    )
    return [BatchShot(path.name[: -len(BUNDLE_SUFFIX)], path) for path in bundles]
