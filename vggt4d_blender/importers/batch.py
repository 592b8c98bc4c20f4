"""Import every bundle of a batch folder at once: one scene (or one collection) per shot.

Each shot is imported all or nothing (``shot.import_bundle``; a scene made for a shot that
fails is removed again), and one shot that fails never stops the others: the result lists
what was imported, what failed to import and what the batch itself never finished.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import bpy

from .batch_folder import BatchShot, list_batch
from .datablocks import SHOT_TAG, tag
from .shot import ImportResult, ImportSettings, import_bundle, import_failure

logger = logging.getLogger(__name__)


@dataclass
class BatchImportResult:
    """``failed``: (shot, sentence) for bundles that did not import; ``unfinished``: (shot,
    status) for shots the batch has no bundle of."""

    folder: Path
    one_scene_per_shot: bool
    imported: list[ImportResult] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    unfinished: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        total = len(self.imported) + len(self.failed) + len(self.unfinished)
        where = "a scene each" if self.one_scene_per_shot else "a collection each"
        names = ", ".join(result.shot for result in self.imported) or "none"
        text = (
            f"Imported {len(self.imported)} of {total} shots from {self.folder.name} "
            f"({where}: {names}) in {self.seconds:.1f} s"
        )
        if self.failed:
            text += f"; {len(self.failed)} failed to import"
        if self.unfinished:
            text += f"; {len(self.unfinished)} not finished by the batch"
        return text


def import_batch(
    folder: str | Path, settings: ImportSettings | None = None, one_scene_per_shot: bool = True
) -> BatchImportResult:
    """Import each finished shot of the batch in ``folder`` (see ``batch_folder.list_batch``).

    One scene per shot: each scene is named after its shot and set from its plate (frame rate,
    range, render size, camera); re-importing reuses it. Otherwise every shot goes into the
    current scene as a collection, and only the first sets the scene. Raises BundleError when
    ``folder`` is not a batch folder; a shot that fails is reported in the result instead.
    """
    started = time.perf_counter()
    settings = settings or ImportSettings()
    result = BatchImportResult(Path(folder), one_scene_per_shot)
    for shot in list_batch(folder):
        if shot.bundle is None:
            result.unfinished.append((shot.name, shot.problem or "not finished"))
            continue
        try:
            if one_scene_per_shot:
                imported = _import_into_own_scene(shot, settings)
            else:
                first = not result.imported
                imported = import_bundle(bpy.context, shot.bundle, _in_current(settings, first))
        except Exception as error:  # one shot's failure never stops the others
            logger.exception("VGGT4D import of %s failed", shot.bundle)
            result.failed.append((shot.name, import_failure(shot.bundle, error)))
            continue
        result.imported.append(imported)
    result.seconds = time.perf_counter() - started
    return result


def _in_current(settings: ImportSettings, first: bool) -> ImportSettings:
    return settings if first else replace(settings, set_scene=False)


def _import_into_own_scene(shot: BatchShot, settings: ImportSettings) -> ImportResult:
    scene = next((s for s in bpy.data.scenes if s.get(SHOT_TAG) == shot.name), None)
    created = scene is None
    if created:
        scene = tag(bpy.data.scenes.new(shot.name), shot.name)
    try:
        with bpy.context.temp_override(scene=scene):
            return import_bundle(bpy.context, shot.bundle, settings)
    except BaseException:
        if created:
            bpy.data.scenes.remove(scene)
        raise
