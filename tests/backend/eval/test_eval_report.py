"""The flat report keys, the solve figures and the table, without any ground truth file."""

import json
from pathlib import Path

import cv2
import numpy as np

from tests.backend.conftest import make_bundle_data
from vggt4d.eval.groundtruth import GroundTruth
from vggt4d.eval.report import format_table, write_report
from vggt4d.eval.score import METRIC_KEYS, Evaluation, evaluate, model_pixel_samples

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


def test_undefined_figures_are_null_not_nan() -> None:
    evaluation = Evaluation(sequence="shot", layout="generic", solve={"gauge_scale": float("nan")})
    assert evaluation.values()["solve_gauge_scale"] is None


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


def test_truth_masks_at_another_resolution(tmp_path: Path) -> None:
    """A truth at half the plate's size: the bundle's masks are resized to it, and said so."""
    data = make_bundle_data(frames=3, plate=(64, 48))
    data.refined_masks[:] = False
    data.refined_masks[:, 8:24, 16:48] = True
    (tmp_path / "masks").mkdir()
    for frame in data.frames:
        small = np.zeros((24, 32), np.uint8)
        small[4:12, 8:20] = 255  # 3/4 of the prediction's width, same rows
        cv2.imwrite(str(tmp_path / "masks" / f"m.{frame}.png"), small)
    truth = GroundTruth(
        name="half",
        layout="generic",
        mask_files={frame: tmp_path / "masks" / f"m.{frame}.png" for frame in data.frames},
    )
    evaluation = evaluate(data, truth)
    np.testing.assert_allclose(evaluation.masks.j_per_frame, 0.75)
    assert any("resized (nearest) to the truth's 32x24" in note for note in evaluation.notes)


def test_masks_at_the_model_resolution(tmp_path: Path) -> None:
    """Truth 20 columns wide, prediction 21: J = 20/21 on the plate. At the model's half
    resolution each model pixel samples the plate column under its centre (the odd ones),
    where the two agree, as VGGT4D's eval_mask.py would see them: J = 1."""
    data = make_bundle_data(frames=3, plate=(64, 48))
    data.refined_masks[:] = False
    data.refined_masks[:, 8:24, 10:31] = True
    (tmp_path / "masks").mkdir()
    for frame in data.frames:
        mask = np.zeros((48, 64), np.uint8)
        mask[8:24, 10:30] = 255
        cv2.imwrite(str(tmp_path / "masks" / f"m.{frame}.png"), mask)
    files = {frame: tmp_path / "masks" / f"m.{frame}.png" for frame in data.frames}
    truth = GroundTruth(name="shot", layout="generic", mask_files=files)
    np.testing.assert_allclose(evaluate(data, truth).masks.j_per_frame, 20 / 21)
    at_model = evaluate(data, truth, mask_resolution="model")
    np.testing.assert_allclose(at_model.masks.j_per_frame, 1.0)
    assert at_model.values()["mask_resolution"] == "model"


def test_padding_is_off_the_plate() -> None:
    """A 64x48 plate padded into a 32x32 model input: 4 model rows above and below are void."""
    data = make_bundle_data(frames=3, plate=(64, 48))
    data.model_width = data.model_height = 32
    data.plate_to_model = {"scale_x": 0.5, "scale_y": 0.5, "offset_x": 0.0, "offset_y": 4.0}
    rows, columns, outside = model_pixel_samples(data, (48, 64))
    assert outside.shape == (32, 32)
    np.testing.assert_array_equal(outside.all(axis=1), [True] * 4 + [False] * 24 + [True] * 4)
    assert rows[4] == 1 and rows[27] == 47 and columns[0] == 1 and columns[31] == 63
