"""run_job end to end on a tiny clip with the tiny test weights (CPU, a few seconds)."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vggt4d.errors import CancelledError, InputError
from vggt4d.io.bundle import read_bundle
from vggt4d.job import STAGE_WEIGHTS, JobOptions, ProgressUpdate, run_job

ARTIST_BOX = (slice(10, 40), slice(200, 260))  # rows, columns on the 296x56 plate


@pytest.fixture(scope="module")
def finished(test_clip: Path, tiny_weights: Path, tmp_path_factory: pytest.TempPathFactory):
    """One real job with artist masks on frames 1 and 3; returns (bundle, progress, logs)."""
    folder = tmp_path_factory.mktemp("job")
    masks = folder / "masks"
    masks.mkdir()
    for frame in (1, 3):
        mask = np.zeros((56, 296), np.uint8)
        mask[ARTIST_BOX] = 255
        Image.fromarray(mask).save(masks / f"mask.{frame:06d}.png")
    updates: list[ProgressUpdate] = []
    logs: list[tuple[str, str]] = []
    options = JobOptions(weights=str(tiny_weights), masks_dir=str(masks))
    bundle = run_job(
        test_clip,
        folder / "shot.vggt4d",
        options,
        progress=updates.append,
        log=lambda level, message: logs.append((level, message)),
    )
    return bundle, updates, logs


def test_bundle_describes_the_plate(finished) -> None:
    bundle, _, _ = finished
    data = read_bundle(bundle)
    assert data.frames == [1, 2, 3, 4, 5]
    assert (data.plate_width, data.plate_height, data.fps) == (296, 56, 24.0)
    assert (data.model_width, data.model_height) == (518, 98)
    assert data.refined_masks.shape == data.coarse_masks.shape == (5, 56, 296)
    # The model's principal point is the image centre; the mapping has no crop here, so the
    # plate intrinsics must put it at the plate centre.
    np.testing.assert_allclose(data.intrinsics[:, 0, 2], 148.0, atol=1e-3)
    np.testing.assert_allclose(data.intrinsics[:, 1, 2], 28.0, atol=1e-3)
    assert len(data.static_points) > 0
    assert data.dynamic_frame_offsets[-1] == len(data.dynamic_points)


def test_artist_masks_reach_the_coarse_masks(finished) -> None:
    data = read_bundle(finished[0])
    for index in (0, 2):  # frames 1 and 3
        assert data.coarse_masks[index][ARTIST_BOX].mean() > 0.9


def test_manifest_records_model_options_and_timings(finished) -> None:
    data = read_bundle(finished[0])
    assert data.model["test_weights"] is True and len(data.model["sha256"]) == 64
    assert data.options["masks_dir"].endswith("masks")
    assert data.options["reconstruct"]["refine"] is True
    for stage in ("ingest", "preprocess", "load_model", "pass1", "pass2", "pointcloud"):
        assert data.timings[stage] >= 0.0
    assert data.software["device"] == "cpu"


def test_progress_rises_through_the_stages_in_order(finished) -> None:
    _, updates, _ = finished
    fractions = [update.fraction for update in updates]
    assert fractions == sorted(fractions)
    assert fractions[-1] == pytest.approx(1.0)
    order = [stage for stage in STAGE_WEIGHTS if stage != "chunks"]
    positions = [order.index(update.stage) for update in updates]
    assert positions == sorted(positions)
    assert {update.stage for update in updates} == set(order) - {"plate"}, {
        u.stage for u in updates
    }
    assert any(update.eta_s is not None for update in updates)


def test_untrained_weights_and_masks_are_reported(finished) -> None:
    _, _, logs = finished
    warnings = [message for level, message in logs if level == "warning"]
    assert any("untrained test weights" in message for message in warnings)
    assert any(level == "info" and "Using 2 artist masks" in message for level, message in logs)


def test_a_failed_solve_keeps_the_network_bundle_with_a_warning(
    test_clip: Path, tiny_weights: Path, tmp_path: Path
) -> None:
    """A solve that refuses its result (no track long enough here; an implausible lens takes the
    same path) never costs the reconstruction: the bundle is written with the network's
    cameras, and the log says why."""
    from vggt4d.solve.camera_solve import SolveOptions
    from vggt4d.solve.tracks import TrackOptions

    logs: list[tuple[str, str]] = []
    solve = SolveOptions(tracking=TrackOptions(min_length=10_000, max_length=10_000))
    bundle = run_job(
        test_clip,
        tmp_path / "shot.vggt4d",
        JobOptions(weights=str(tiny_weights), solve=solve),
        log=lambda level, message: logs.append((level, message)),
    )
    assert read_bundle(bundle).solve is None
    assert any(
        level == "warning" and message.startswith("Camera solve skipped") for level, message in logs
    ), logs


def test_cancel_stops_at_a_boundary_and_writes_nothing(
    test_clip: Path, tiny_weights: Path, tmp_path: Path
) -> None:
    seen: list[str] = []
    with pytest.raises(CancelledError):
        run_job(
            test_clip,
            tmp_path / "shot.vggt4d",
            JobOptions(weights=str(tiny_weights)),
            progress=lambda update: seen.append(update.stage),
            should_cancel=lambda: "pass1" in seen,
        )
    assert "pass2" not in seen
    assert list(tmp_path.iterdir()) == []


def test_missing_input_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.mp4"):
        run_job(tmp_path / "missing.mp4", tmp_path / "out.vggt4d")


def test_mask_of_the_wrong_size_is_refused(
    test_clip: Path, tiny_weights: Path, tmp_path: Path
) -> None:
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "mask.000002.png")
    options = JobOptions(weights=str(tiny_weights), masks_dir=str(tmp_path))
    with pytest.raises(InputError, match="10x10; the plate is 296x56"):
        run_job(test_clip, tmp_path / "out.vggt4d", options)


def test_options_round_trip_and_refuse_unknown_keys() -> None:
    options = JobOptions(frames="2:8:2", max_frames=4, point_budget=10)
    assert JobOptions.from_dict(options.to_dict()) == options
    with pytest.raises(InputError, match="max_frame"):
        JobOptions.from_dict({"max_frame": 3})


@pytest.mark.parametrize(
    "values",
    [
        {"frames": "a:b"},
        {"max_frames": 0},
        {"point_budget": "many"},
        {"confidence_percentile": 100},
        {"preprocess_mode": "stretch"},
        {"reconstruct": {"refine_method": "guess"}},
    ],
)
def test_bad_option_values_are_input_errors(values: dict) -> None:
    with pytest.raises(InputError):
        JobOptions.from_dict(values)


@pytest.mark.parametrize(
    ("values", "sentence"),
    [
        ({"preprocess_mode": "stretch"}, "Option preprocess_mode must be one of"),
        (
            {"reconstruct": {"refine_clusters": 0}},
            "Option refine_clusters must be 1 or more, got 0.",
        ),
        ({"solve": {"tracking": {"window": 0}}}, "Option window must be 1 or more, got 0."),
        ({"solve": {"smooth": -1.0}}, "Option smooth must be 0 or more, got -1.0."),
        ({"solve": {"focal": "zoom"}}, "Option focal must be one of"),
        (
            {"solve": {"tracking": {"forward_backward_px": 0.0}}},
            "Option forward_backward_px must be more than 0, got 0.0.",
        ),
    ],
)
def test_option_checks_name_the_option_and_its_value(values: dict, sentence: str) -> None:
    with pytest.raises(InputError) as raised:
        JobOptions.from_dict(values)
    assert str(raised.value) == sentence or str(raised.value).startswith(sentence)
