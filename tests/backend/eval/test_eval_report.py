"""The flat report keys, the solve figures and the table, without any ground truth file."""

import json
from pathlib import Path

import numpy as np

from tests.backend.conftest import make_bundle_data
from vggt4d.eval.groundtruth import GroundTruth
from vggt4d.eval.report import format_table, write_report
from vggt4d.eval.score import METRIC_KEYS, Evaluation

# The shape of `vggt4d solve`'s manifest section (issue 11): nested numbers, lists, options.
SOLVE = {
    "reprojection_error_px": {
        "median": 0.41,
        "p90": 0.9,
        "mean": 0.5,
        "per_frame": [0.3, None, 0.6],
        "network_median": 3.2,
    },
    "distortion": {"model": "polynomial", "k1": 0.01, "k2": 0.0, "k3": 0.0},
    "tracks": 120,
    "jitter": {"before": {"position": 0.02}, "after": {"position": 0.004, "rotation_deg": 0.01}},
    "options": {"max_error_px": 4.0},
}


def test_every_metric_key_is_present_and_null_without_truth() -> None:
    values = Evaluation(sequence="shot", layout="generic").values()
    assert all(key in values and values[key] is None for key in METRIC_KEYS)
    assert values["camera_frames"] == values["mask_frames"] == values["depth_frames"] == 0


def test_solve_figures_are_flattened_into_the_report(tmp_path: Path) -> None:
    evaluation = Evaluation(sequence="shot", layout="generic", solve=SOLVE)
    values = evaluation.values()
    assert values["solve_reprojection_error_px_median"] == 0.41
    assert values["solve_jitter_after_position"] == 0.004
    assert values["solve_tracks"] == 120 and values["solve_distortion_k1"] == 0.01
    assert not any("options" in key or "per_frame" in key for key in values)
    assert "solve_reprojection_error_px_p90 0.9000" in " ".join(format_table(values).split())
    data = make_bundle_data(frames=3)
    truth = GroundTruth(name="shot", layout="generic")
    written = write_report(evaluation, data, truth, tmp_path)
    assert json.loads(written[0].read_text())["solve_jitter_before_position"] == 0.02
    assert (tmp_path / "report.png").stat().st_size > 1000
    assert "solve_reprojection_error_px_median" in (tmp_path / "report.html").read_text()
    assert np.isfinite(values["solve_reprojection_error_px_mean"])
