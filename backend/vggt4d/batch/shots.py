"""The shots of `vggt4d batch`: what to reconstruct, with which options, under which name.

Three forms (docs/batch.md):

- a folder: each video in it, and each sub-folder holding images, is a shot;
- text: one footage path a line (video, image folder or pattern); blank lines and `#` comments
  are skipped;
- JSON: a list whose items are a footage path or an object `{"footage": ..., "name": ...,
  <job option>: ...}`, where a job option is any field of `vggt4d.job.JobOptions`
  (`frames`, `max_frames`, `masks_dir`, `reconstruct`: {...}, ...) and overrides the command
  line for that shot.

Relative paths are relative to the shots file. Every path is made absolute here, because the
workers of a cluster see the footage through the same shared storage, not through our working
directory. Everything is checked before any work starts, so a typo fails the batch at once.
"""

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from vggt4d.batch.batch_format import bundle_name, is_shot_name
from vggt4d.errors import InputError
from vggt4d.io.footage import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from vggt4d.job import JobOptions

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_PATTERN_MARKS = ("%", "#", "*", "?")


@dataclass(frozen=True)
class Shot:
    """One shot of a batch: `name` names its bundle, `footage` is an absolute path or pattern."""

    name: str
    footage: str
    options: JobOptions

    def bundle_path(self, out_dir: Path) -> Path:
        return out_dir / bundle_name(self.name)


def read_shots(path: str | Path, defaults: JobOptions) -> list[Shot]:
    """Read a shots file or folder; `defaults` (the command line's options) apply where a shot
    is silent.

    Raises InputError naming the file and the shot for an unreadable file, a bad entry, an
    unknown or invalid option, a bad name or two shots with one name.
    """
    file = Path(path)
    if file.is_dir():
        entries, base = _folder_entries(file), file.resolve()
    else:
        entries, base = _file_entries(file), file.resolve().parent
    if not entries:
        raise InputError(f"{file} lists no shot.")
    weights = _absolute(defaults.weights, Path.cwd(), only_if_exists=True)
    defaults = replace(defaults, weights=weights)
    shots = []
    for number, entry in enumerate(entries, 1):
        try:
            shots.append(_shot(entry, base, defaults))
        except InputError as error:
            raise InputError(f"{file}, shot {number}: {error}") from error
    _refuse_duplicate_names(shots, file)
    return shots


def _file_entries(file: Path) -> list[dict[str, Any]]:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"Cannot read the shots file {file}: {error}.") from error
    return _json_entries(text, file) if text.lstrip().startswith("[") else _text_entries(text)


def _folder_entries(folder: Path) -> list[dict[str, Any]]:
    """A folder of shots: each video in it, and each sub-folder holding images, is a shot."""
    entries = []
    for item in sorted(folder.iterdir()):
        if item.name.startswith("."):
            continue
        is_video = item.is_file() and item.suffix.lower() in VIDEO_EXTENSIONS
        if is_video or (item.is_dir() and _holds_images(item)):
            entries.append({"footage": item.name})
    return entries


def _holds_images(folder: Path) -> bool:
    return any(f.suffix.lower() in IMAGE_EXTENSIONS for f in folder.iterdir() if f.is_file())


def _text_entries(text: str) -> list[dict[str, Any]]:
    lines = (line.strip() for line in text.splitlines())
    return [{"footage": line} for line in lines if line and not line.startswith("#")]


def _json_entries(text: str, file: Path) -> list[dict[str, Any]]:
    try:
        items = json.loads(text)
    except ValueError as error:
        raise InputError(f"The shots file {file} is not valid JSON: {error}.") from error
    if not isinstance(items, list):
        raise InputError(f"The shots file {file} must hold a JSON list of shots.")
    entries = []
    for number, item in enumerate(items, 1):
        entry = {"footage": item} if isinstance(item, str) else item
        if not isinstance(entry, dict) or not isinstance(entry.get("footage"), str):
            raise InputError(
                f"{file}, shot {number}: give a footage path or an object with a "
                '"footage" path (and optionally "name" and job options).'
            )
        entries.append(entry)
    return entries


def _shot(entry: dict[str, Any], base: Path, defaults: JobOptions) -> Shot:
    overrides = dict(entry)
    footage = _absolute(overrides.pop("footage"), base)
    name = overrides.pop("name", None)
    if name is None:
        name = default_shot_name(footage)
    elif not is_shot_name(name):
        raise InputError(
            f"the name {name!r} cannot name a bundle: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit."
        )
    for key in ("masks_dir", "weights"):
        if isinstance(overrides.get(key), str):
            overrides[key] = _absolute(overrides[key], base, only_if_exists=key == "weights")
    return Shot(name=name, footage=footage, options=_merged(defaults, overrides))


def _merged(defaults: JobOptions, overrides: dict[str, Any]) -> JobOptions:
    values = defaults.to_dict()
    nested = overrides.pop("reconstruct", None)
    if nested is not None:
        if not isinstance(nested, dict):
            raise InputError('"reconstruct" must be an object of VGGT4D options.')
        values["reconstruct"] = {**values["reconstruct"], **nested}
    values.update(overrides)
    try:
        return JobOptions.from_dict(values)
    except (TypeError, ValueError, AttributeError) as error:
        raise InputError(f"invalid job options: {error}") from error


def _absolute(text: str, base: Path, only_if_exists: bool = False) -> str:
    """`text` made absolute against `base`; with `only_if_exists`, a path that does not exist
    there (a Hugging Face id such as facebook/VGGT-1B) is returned unchanged."""
    path = Path(text).expanduser()
    if path.is_absolute():
        return str(path)
    candidate = base / path
    if only_if_exists and not candidate.exists():
        return text
    return str(candidate)


def default_shot_name(footage: str) -> str:
    """The bundle name of a shot without a "name": a video's stem, else (image folder or
    pattern, whose files are often all called plate.####.png) the folder's name."""
    path = Path(footage)
    if path.suffix.lower() in VIDEO_EXTENSIONS and not any(m in path.name for m in _PATTERN_MARKS):
        stem = path.stem
    elif any(mark in path.name for mark in _PATTERN_MARKS) or path.is_file():
        stem = path.parent.name
    else:
        stem = path.name
    return _UNSAFE.sub("_", stem).lstrip("._-")[:128] or "shot"


def _refuse_duplicate_names(shots: list[Shot], file: Path) -> None:
    seen: dict[str, Shot] = {}
    for shot in shots:
        if shot.name in seen:
            raise InputError(
                f"{file}: two shots are named {shot.name!r} ({seen[shot.name].footage} and "
                f"{shot.footage}); give them distinct names with a JSON shots file "
                '({"footage": ..., "name": ...}).'
            )
        seen[shot.name] = shot
