"""`vggt4d eval BUNDLE --gt PATH`: load both, score, write the report, return the table."""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vggt4d.errors import InputError
from vggt4d.eval.datasets import load_ground_truth
from vggt4d.eval.report import format_table, write_report
from vggt4d.eval.score import evaluate
from vggt4d.io.bundle import read_bundle
from vggt4d.io.exports import tum_timestamps


@dataclass(frozen=True)
class EvalResult:
    values: dict[str, Any]  # the flat report.json content
    table: str
    written: list[Path]


def default_report_folder(bundle_path: str | Path) -> Path:
    """`<bundle>-eval` beside the bundle: the bundle itself is never written into."""
    bundle = Path(bundle_path).absolute()
    return bundle.parent / f"{bundle.name}-eval"


def evaluate_bundle(
    bundle_path: str | Path,
    truth_path: str | Path,
    layout: str | None = None,
    sequence: str | None = None,
    output: str | Path | None = None,
    mask_resolution: str = "plate",
) -> EvalResult:
    """Score the bundle at `bundle_path` against the ground truth at `truth_path` and write
    report.json and the picture report into `output` (default `default_report_folder`);
    `mask_resolution` "plate" or "model" (see `vggt4d.eval.score`).
    Raises BundleError / InputError with a sentence for unusable input."""
    bundle = read_bundle(bundle_path)
    frame_times = dict(zip(bundle.frames, tum_timestamps(bundle), strict=True))
    truth = load_ground_truth(truth_path, layout, sequence, frame_times)
    evaluation = evaluate(bundle, truth, Path(bundle_path), mask_resolution)
    folder = Path(output) if output else default_report_folder(bundle_path)
    if Path(os.path.abspath(folder)).is_relative_to(os.path.abspath(bundle_path)):
        raise InputError(
            f"The report folder {folder} is inside the bundle {bundle_path}: a bundle holds only "
            "the backend's output. Choose a folder beside it (the default is BUNDLE-eval)."
        )
    written = write_report(evaluation, bundle, truth, folder)
    values = evaluation.values()
    return EvalResult(values=values, table=format_table(values), written=written)
