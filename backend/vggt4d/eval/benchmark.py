"""`vggt4d eval --dataset NAME --root DIR`: reconstruct and score every sequence of a public
benchmark, then print the paper-style table with the VGGT4D paper's figures beside ours.

Each sequence's images are staged as `frame.NNNNNN.<ext>` links numbered like its ground truth
(so bundle and truth share frame numbers), reconstructed into `<output>/<sequence>/shot.vggt4d`
(kept: a re-run skips finished sequences), and scored into `<output>/<sequence>/eval/`. A
sequence that fails is reported and skipped; the rest still run. The summary averages each
metric over the sequences that have it, as the papers do, and goes to `<output>/summary.json`.
"""

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vggt4d.errors import InputError, VGGT4DError
from vggt4d.eval.command import evaluate_bundle
from vggt4d.eval.datasets import list_sequences, load_ground_truth
from vggt4d.eval.report import LABELS, format_value
from vggt4d.io.bundle import validate_bundle

if TYPE_CHECKING:
    from vggt4d.job import ProgressUpdate

# VGGT4D (arXiv 2511.19971) Table 1 (DAVIS, percent) and Table 2 (camera pose), as transcribed
# in /work/shared/reference/VGGT4D_SPEC.md's sources. The paper reports no Bonn pose and no
# depth figures in the tables we could check, so those cells stay empty.
_MASKS = ("mask_J_mean", "mask_J_recall", "mask_F_mean", "mask_F_recall")
_CAMERA = ("ate_rmse", "rpe_trans", "rpe_rot_deg")
PAPER = {
    "davis": dict(zip(_MASKS, (62.12, 76.80, 56.04, 67.49), strict=True)),
    "davis2017": dict(zip(_MASKS, (56.45, 65.62, 51.09, 56.85), strict=True)),
    "sintel": dict(zip(_CAMERA, (0.076, 0.043, 0.273), strict=True)),
    "tum": dict(zip(_CAMERA, (0.016, 0.020, 0.612), strict=True)),
    "bonn": {},
}
COLUMNS = {"davis": _MASKS, "camera": (*_CAMERA, "depth_abs_rel", "depth_delta_1_25")}


@dataclass(frozen=True)
class RunOptions:
    """How each sequence is reconstructed (see `vggt4d.job.JobOptions`)."""

    weights: str = "facebook/VGGT-1B"
    device: str = "auto"
    max_frames: int | None = None


def run_benchmark(
    dataset: str,
    root: str | Path,
    output: str | Path | None = None,
    options: RunOptions | None = None,
    report: Callable[[str], None] | None = None,
    progress: Callable[["ProgressUpdate"], None] | None = None,
) -> str:
    """Run every sequence of `dataset` under `root`; return the paper-style table.
    `report(line)` hears which sequence starts and which fail; `progress` follows each
    reconstruction (see `vggt4d.job.run_job`)."""
    options = options or RunOptions()
    report = report or (lambda line: None)
    if dataset not in PAPER:
        raise InputError(f"Unknown benchmark {dataset!r}; choose one of {', '.join(PAPER)}.")
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"The benchmark root {root} is not a folder.")
    sequences = list_sequences(root, dataset)
    if not sequences:
        raise InputError(f"No {dataset} sequence found under {root}.")
    folder = Path(output) if output else Path(f"eval-{dataset}")
    results: dict[str, dict[str, Any]] = {}
    for number, sequence in enumerate(sequences, start=1):
        name = Path(sequence).name
        report(f"[{number}/{len(sequences)}] {name}")
        try:
            results[name] = _run_sequence(dataset, root, sequence, folder / name, options, progress)
        except VGGT4DError as error:
            report(f"  skipped {name}: {error}")
            results[name] = {"error": str(error)}
    averages = average(results.values())
    summary = {
        "dataset": dataset,
        "paper": PAPER[dataset],
        "average": averages,
        "sequences": results,
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return paper_table(dataset, results, averages)


def average(results: Any) -> dict[str, float | None]:
    """Mean over sequences of each metric, skipping sequences where it is null."""
    keys = {*COLUMNS["davis"], *COLUMNS["camera"]}
    means: dict[str, float | None] = {}
    for key in sorted(keys):
        values = [result[key] for result in results if result.get(key) is not None]
        means[key] = sum(values) / len(values) if values else None
    return means


def paper_table(dataset: str, results: dict[str, dict[str, Any]], averages: dict) -> str:
    """Per-sequence rows, our average, and the paper's row (DAVIS scores in percent)."""
    columns = COLUMNS["davis"] if dataset.startswith("davis") else COLUMNS["camera"]
    width = max(12, *(len(name) for name in results)) + 2
    header = "sequence".ljust(width) + "".join(f"{LABELS[key]:>14}" for key in columns)

    def row(label: str, values: dict[str, Any], scale: bool = True) -> str:
        cells = []
        for key in columns:
            value = values.get(key)
            if scale and value is not None and key in _MASKS:
                value = 100 * value
            cells.append(f"{format_value(value):>14}")
        return label.ljust(width) + "".join(cells)

    lines = [header, "-" * len(header)]
    for name, values in results.items():
        lines.append(row(name, values) if "error" not in values else f"{name.ljust(width)}  failed")
    lines += ["-" * len(header), row("ours (mean)", averages)]
    lines.append(row("VGGT4D paper", PAPER[dataset], scale=False))
    return "\n".join(lines)


def _run_sequence(
    dataset: str,
    root: Path,
    sequence: str,
    folder: Path,
    options: RunOptions,
    progress: Callable[["ProgressUpdate"], None] | None,
) -> dict[str, Any]:
    layout = "davis" if dataset == "davis" else dataset
    truth_path, name = (sequence, None) if dataset in ("tum", "bonn") else (root, sequence)
    truth = load_ground_truth(truth_path, layout, name)
    if not truth.image_files:
        raise InputError(f"{sequence} has no images to reconstruct.")
    bundle = folder / "shot.vggt4d"
    if not _finished(bundle):
        plate = _stage(truth.image_files, folder / "plate")
        _reconstruct(plate, bundle, options, progress)
    result = evaluate_bundle(bundle, truth_path, layout, name, folder / "eval")
    return result.values


def _finished(bundle: Path) -> bool:
    try:
        validate_bundle(bundle)
    except VGGT4DError:
        return False
    return True


def _stage(images: dict[int, Path], folder: Path) -> Path:
    """Link (or copy, where links are not allowed) each image as `frame.NNNNNN.<ext>`."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for number, image in sorted(images.items()):
        target = folder / f"frame.{number:06d}{image.suffix.lower()}"
        try:
            os.symlink(image.absolute(), target)
        except OSError:
            shutil.copyfile(image, target)
    return folder


def _reconstruct(
    plate: Path,
    bundle: Path,
    options: RunOptions,
    progress: Callable[["ProgressUpdate"], None] | None,
) -> None:
    from vggt4d.job import JobOptions, run_job  # torch loads only when a model runs

    job = JobOptions(weights=options.weights, device=options.device, max_frames=options.max_frames)
    run_job(plate, bundle, job, progress)
