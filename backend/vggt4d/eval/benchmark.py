"""`vggt4d eval --dataset NAME --root DIR`: reconstruct and score every sequence of a public
benchmark through `vggt4d batch`, then print the paper-style table with the VGGT4D paper's
figures beside ours.

Each sequence's images are staged as `<output>/plates/<sequence>/frame.NNNNNN.<ext>` links
numbered like its ground truth (so bundle and truth share frame numbers). All sequences then
run as one batch into `<output>/bundles/` (its batch.json, resume and cluster options apply: a
re-run skips finished bundles), and each bundle is scored into `<output>/<sequence>/`. A
sequence that fails is reported and left out; the rest still run. The summary averages each
metric over the sequences that have it, as the papers do, and goes to `<output>/summary.json`.
"""

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vggt4d.errors import InputError, VGGT4DError
from vggt4d.eval.command import evaluate_bundle
from vggt4d.eval.datasets import list_sequences, load_ground_truth
from vggt4d.eval.groundtruth import layout_files
from vggt4d.eval.report import LABELS, format_value

if TYPE_CHECKING:
    from vggt4d.batch.runner import BatchSettings
    from vggt4d.job import JobOptions, LogCallback, ProgressUpdate

# VGGT4D (arXiv 2511.19971) Table 1 (DAVIS, percent) and Table 2 (camera pose), as listed in
# docs/eval.md ("The paper's figures"). The paper reports no Bonn pose and no
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


def run_benchmark(
    dataset: str,
    root: str | Path,
    output: str | Path | None,
    options: "JobOptions",
    settings: "BatchSettings",
    progress: Callable[["ProgressUpdate"], None] | None = None,
    log: "LogCallback | None" = None,
) -> str:
    """Run every sequence of `dataset` under `root` with the job `options` on the cluster of
    `settings`; return the paper-style table. `log(level, message)` hears each failure."""
    from vggt4d.batch.runner import run_batch  # Ray and torch load only for a benchmark run
    from vggt4d.batch.shots import Shot

    log = log or (lambda level, message: None)
    if dataset not in PAPER:
        raise InputError(f"Unknown benchmark {dataset!r}; choose one of {', '.join(PAPER)}.")
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"The benchmark root {root} is not a folder.")
    sequences = list_sequences(root, dataset)
    if not sequences:
        _, files = layout_files(dataset)
        where = " in a sequence folder" if dataset in ("tum", "bonn") else ""
        raise InputError(f"No {dataset} sequence found under {root}: expected {files}{where}.")
    folder = Path(output or f"eval-{dataset}").absolute()
    weights = Path(options.weights)
    options = replace(
        options, weights=str(weights.absolute()) if weights.exists() else options.weights
    )
    results: dict[str, dict[str, Any]] = {}
    shots, truths = [], {}
    for sequence in sequences:
        name = Path(sequence).name
        try:
            truths[name] = _truth_location(dataset, root, sequence)
            plate = _stage(load_ground_truth(*truths[name]).image_files, folder / "plates" / name)
        except VGGT4DError as error:
            log("warning", f"{name}: {error}")
            results[name] = {"error": str(error)}
            continue
        shots.append(Shot(name, str(plate), options))
    record = run_batch(shots, folder / "bundles", settings, progress, log) if shots else None
    for entry in record.shots if record else []:
        if entry.status not in ("done", "skipped"):
            results[entry.name] = {"error": entry.error or entry.status}
            continue
        try:
            result = evaluate_bundle(
                entry.bundle, *truths[entry.name], output=folder / entry.name,
                mask_resolution="model",  # VGGT4D's eval_mask.py scores at the model's input
            )  # fmt: skip
            results[entry.name] = result.values
        except VGGT4DError as error:
            log("warning", f"{entry.name}: {error}")
            results[entry.name] = {"error": str(error)}
    results = {Path(sequence).name: results[Path(sequence).name] for sequence in sequences}
    averages = average(results.values())
    summary = {
        "dataset": dataset,
        "paper": PAPER[dataset],
        "average": averages,
        "sequences": results,
    }
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


def _truth_location(dataset: str, root: Path, sequence: str) -> tuple[Path, str, str | None]:
    """(path, layout, sequence) arguments of `load_ground_truth` for one benchmark sequence."""
    if dataset in ("tum", "bonn"):
        return Path(sequence), dataset, None
    return root, dataset, sequence


def _stage(images: dict[int, Path], folder: Path) -> Path:
    """Link (or copy, where links are not allowed) each image as `frame.NNNNNN.<ext>`."""
    if not images:
        raise InputError("the sequence has no images to reconstruct")
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
