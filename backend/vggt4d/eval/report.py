"""What `vggt4d eval` writes: a text table, `report.json` (the flat keys of
`Evaluation.values`) and a picture report (`report.png`, `masks.png`, `report.html`).

The pictures: the camera path from above against the truth (both on the plane of the truth's
two main directions of travel, after the Sim(3) alignment), the per-frame errors, and the
moving masks over the plate (prediction in red, true boundary in green).
"""

import html
import json
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vggt4d.errors import VGGT4DError
from vggt4d.eval.groundtruth import GroundTruth, read_image
from vggt4d.eval.masks import boundary_map
from vggt4d.eval.score import METRIC_KEYS, Evaluation
from vggt4d.io.bundle import BundleData
from vggt4d.io.footage import FrameRange, read_footage

OVERLAY_FRAMES = 4
LABELS = {
    "ate_rmse": "ATE (RMSE)",
    "rpe_trans": "RPE trans",
    "rpe_rot_deg": "RPE rot (deg)",
    "mask_J_mean": "J mean",
    "mask_J_recall": "J recall",
    "mask_F_mean": "F mean",
    "mask_F_recall": "F recall",
    "depth_abs_rel": "Abs-Rel",
    "depth_delta_1_25": "delta<1.25",
}


def format_value(value: Any) -> str:
    """A table cell: '-' for None; floats with 4 decimals, or 4 significant digits when that
    would hide them (below 0.001, or 1000 and above)."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if value == 0 or 1e-3 <= abs(value) < 1000 else f"{value:.4g}"
    return str(value)


def format_table(values: dict[str, Any]) -> str:
    """The metrics of one evaluation as aligned `name  value` lines, then the solve figures."""
    lines = [f"sequence        {values['sequence']} ({values['layout']})"]
    counts = (values["camera_frames"], values["mask_frames"], values["depth_frames"])
    lines.append("frames          camera {}, masks {}, depth {}".format(*counts))
    lines += [f"{LABELS[key]:<15} {format_value(values[key])}" for key in METRIC_KEYS]
    lines += [
        f"{key:<15} {format_value(v)}" for key, v in values.items() if key.startswith("solve_")
    ]
    lines += [f"note: {note}" for note in values["notes"]]
    return "\n".join(lines)


def write_report(
    evaluation: Evaluation, bundle: BundleData, truth: GroundTruth, directory: Path
) -> list[Path]:
    """Write report.json, report.png, masks.png and report.html into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    values = evaluation.values()
    written = [directory / "report.json"]
    written[0].write_text(json.dumps(values, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    written.append(_plot_errors(evaluation, directory / "report.png"))
    overlay = _plot_masks(evaluation, bundle, truth, directory / "masks.png")
    if overlay:
        written.append(overlay)
    written.append(_write_html(values, [path.name for path in written[1:]], directory))
    return written


def _plot_errors(evaluation: Evaluation, path: Path) -> Path:
    from matplotlib.figure import Figure  # heavy: loaded only when a picture is drawn

    figure = Figure(figsize=(11, 8.5), layout="constrained")
    axes = figure.subplots(2, 2)
    figure.suptitle(f"{evaluation.sequence} ({evaluation.layout})")
    _plot_top_view(axes[0, 0], evaluation)
    _plot_camera_errors(axes[0, 1], evaluation)
    _plot_mask_scores(axes[1, 0], evaluation)
    _plot_depth_and_solve(axes[1, 1], evaluation)
    figure.savefig(path, dpi=90)
    return path


def _empty(axis: Any, title: str, message: str) -> None:
    axis.set_title(title)
    axis.text(0.5, 0.5, message, ha="center", va="center", transform=axis.transAxes)
    axis.set_axis_off()


def _plot_top_view(axis: Any, evaluation: Evaluation) -> None:
    camera = evaluation.camera
    if camera is None or camera.aligned_centres is None:
        _empty(axis, "Camera path (top view)", "no camera ground truth to align to")
        return
    reference, estimate = camera.reference_centres, camera.aligned_centres
    centre = reference.mean(axis=0)
    _, _, directions = np.linalg.svd(reference - centre, full_matrices=False)
    plane = directions[:2].T  # the two main directions of the true path
    for points, style, label in ((reference, "k-", "ground truth"), (estimate, "r.-", "bundle")):
        flat = (points - centre) @ plane
        axis.plot(flat[:, 0], flat[:, 1], style, label=label, markersize=3)
        axis.plot(flat[0, 0], flat[0, 1], style[0] + "o")
    axis.set_title(f"Camera path (top view), ATE {camera.ate_rmse:.4g}")
    axis.set_xlabel("main direction 1")
    axis.set_ylabel("main direction 2")
    axis.set_aspect("equal", adjustable="datalim")
    axis.legend()


def _plot_camera_errors(axis: Any, evaluation: Evaluation) -> None:
    camera = evaluation.camera
    if camera is None:
        _empty(axis, "Camera errors per frame", "no camera ground truth")
        return
    frames = np.array(evaluation.camera_frames)
    if camera.ate_per_frame is not None:
        axis.plot(frames, camera.ate_per_frame, "r-", label="ATE")
        axis.plot(frames[1:], camera.rpe_trans_per_pair, "b-", label="RPE trans")
    axis.set_xlabel("frame")
    axis.set_ylabel("position error (ground-truth units)")
    rotation = axis.twinx()
    rotation.plot(frames[1:], camera.rpe_rot_deg_per_pair, "g--", label="RPE rot (deg)")
    rotation.set_ylabel("degrees")
    axis.set_title("Camera errors per frame")
    handles = axis.get_legend_handles_labels()[0] + rotation.get_legend_handles_labels()[0]
    axis.legend(handles=handles)


def _plot_mask_scores(axis: Any, evaluation: Evaluation) -> None:
    if evaluation.masks is None:
        _empty(axis, "Mask J and F per frame", "no mask ground truth")
        return
    frames = evaluation.mask_frames
    axis.plot(frames, evaluation.masks.j_per_frame, "r.-", label="J (IoU)")
    axis.plot(frames, evaluation.masks.f_per_frame, "b.-", label="F (boundary)")
    axis.set_ylim(0, 1.05)
    axis.set_xlabel("frame")
    axis.set_title(f"Masks: J {evaluation.masks.j_mean:.3f}, F {evaluation.masks.f_mean:.3f}")
    axis.legend()


def _plot_depth_and_solve(axis: Any, evaluation: Evaluation) -> None:
    per_frame = evaluation.solve.get("reprojection_error_px", {}).get("per_frame")
    if evaluation.depth is None and not per_frame:
        _empty(axis, "Depth and solve", "no depth ground truth and no solve")
        return
    if evaluation.depth is not None:
        axis.plot(
            evaluation.depth_frames, evaluation.depth.abs_rel_per_frame, "m.-", label="Abs-Rel"
        )
        axis.set_ylabel("Abs-Rel")
    if per_frame:
        solve = axis.twinx() if evaluation.depth is not None else axis
        values = [math.nan if value is None else value for value in per_frame]
        frames = evaluation.frames if len(evaluation.frames) == len(values) else range(len(values))
        solve.plot(frames, values, "c.-", label="solve reprojection error (px)")
        solve.set_ylabel("reprojection error (px)")
        solve.legend(loc="upper right")
    axis.set_xlabel("frame")
    axis.set_title("Depth error and solve reprojection error per frame")
    if evaluation.depth is not None:
        axis.legend(loc="upper left")


def _plot_masks(
    evaluation: Evaluation, bundle: BundleData, truth: GroundTruth, path: Path
) -> Path | None:
    frames = evaluation.mask_frames or list(bundle.frames)
    chosen = sorted(
        {frames[i] for i in np.linspace(0, len(frames) - 1, OVERLAY_FRAMES).astype(int)}
    )
    tiles = []
    for frame in chosen:
        position = bundle.frames.index(frame)
        plate = _plate(bundle, truth, frame)
        tile = plate.astype(np.float32)
        predicted = bundle.refined_masks[position]
        tile[predicted] = 0.5 * tile[predicted] + 0.5 * np.array([0, 0, 255], np.float32)
        if frame in truth.mask_files:
            moving, _ = truth.read_mask(truth.mask_files[frame])
            size = (bundle.plate_width, bundle.plate_height)
            moving = cv2.resize(moving.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
            edges = cv2.dilate(boundary_map(moving).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            tile[edges] = (0, 255, 0)
        tile = tile.astype(np.uint8)
        scale = max(0.3, tile.shape[1] / 900)
        origin = (4, int(4 + 30 * scale))
        cv2.putText(tile, str(frame), origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1)
        tiles.append(tile)
    if not tiles:
        return None
    cv2.imwrite(str(path), np.concatenate(tiles, axis=1))
    return path


def _plate(bundle: BundleData, truth: GroundTruth, frame: int) -> np.ndarray:
    """BGR uint8 plate of `frame`: the ground truth's image, else the bundle's source footage,
    else mid grey."""
    size = (bundle.plate_width, bundle.plate_height)
    try:
        if frame in truth.image_files:
            image = read_image(truth.image_files[frame], cv2.IMREAD_COLOR)
        else:
            footage = read_footage(
                bundle.source["path"],
                FrameRange(frame, frame),
                fps=bundle.fps,
                first_video_frame=bundle.source.get("frame_start", 1),
            )
            image = cv2.cvtColor(footage.frames[0], cv2.COLOR_RGB2BGR)
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    except (VGGT4DError, OSError, cv2.error):
        return np.full((size[1], size[0], 3), 128, np.uint8)


def _write_html(values: dict[str, Any], pictures: list[str], directory: Path) -> Path:
    rows = "".join(
        f"<tr><td>{html.escape(LABELS.get(key, key))}</td><td>{format_value(values[key])}</td></tr>"
        for key in (*METRIC_KEYS, *(k for k in values if k.startswith("solve_")))
    )
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in values["notes"])
    images = "".join(
        f'<p><img src="{html.escape(name)}" style="max-width:100%"></p>' for name in pictures
    )
    title = html.escape(f"{values['sequence']} ({values['layout']})")
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>vggt4d eval: {title}</title>"
        f"</head><body><h1>{title}</h1><table border='1' cellpadding='4'>{rows}</table>"
        f"<ul>{notes}</ul>{images}<p>Masks: prediction red, true boundary green.</p></body></html>"
    )
    path = directory / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
