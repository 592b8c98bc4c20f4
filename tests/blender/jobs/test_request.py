"""What the add-on sends: the reconstruct request from the scene, the environment, Check."""

import importlib
import json
import subprocess

_READ_OPTIONS = (
    "import json, sys; from vggt4d.job import JobOptions; "
    "print(json.dumps(JobOptions.from_dict(json.loads(sys.argv[1])).to_dict()))"
)


def _backend_reads(backend_python: str, options: dict) -> dict:
    """``options`` as the backend's JobOptions reads them, in the backend's own interpreter
    (it refuses unknown keys and bad values)."""
    read = subprocess.run(
        [backend_python, "-c", _READ_OPTIONS, json.dumps(options)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(read.stdout)


def test_request_from_settings_is_accepted_by_the_backend(addon, backend_python, video, tmp_path):
    import bpy

    runner = importlib.import_module(f"{addon}.jobs.runner")
    preferences = bpy.context.preferences.addons[addon].preferences
    preferences.cache_dir = str(tmp_path / "cache")
    preferences.device = "cuda"
    settings = bpy.context.scene.vggt4d
    settings.footage_kind = "CLIP"
    settings.clip = bpy.data.movieclips.load(str(video))
    settings.use_frame_range, settings.frame_start, settings.frame_end = True, 3, 40
    settings.frame_stride = 2
    settings.max_frames = 0
    settings.refine = False
    settings.smooth_camera = 2.0

    request = runner.reconstruct_request(bpy.context, tmp_path / "masks")

    assert request["input"] == str(video)
    assert request["output"] == str(tmp_path / "cache" / "street_shot.vggt4d")
    options = _backend_reads(backend_python, request["options"])
    assert options["frames"] == "3:40:2" and options["max_frames"] is None
    assert options["device"] == "cuda" and options["weights"] == "facebook/VGGT-1B"
    assert options["masks_dir"] == str(tmp_path / "masks")
    assert options["reconstruct"]["refine"] is False
    assert options["confidence_percentile"] == 25.0 and options["point_budget"] == 1_000_000
    assert options["video_frame_start"] == 1 and options["preprocess_mode"] == "auto"
    assert options["chunk_size"] == "auto" and options["overlap"] == 8
    assert options["solve"]["smooth"] == 2.0 and options["solve"]["focal"] == "shared"


def test_movie_clip_at_1001_numbers_the_plate_where_the_clip_shows_it(
    addon, backend_python, video, tmp_path
):
    """A clip placed at frame 1001 (frame offset 2): its first video frame is on scene frame
    999, so the plate is numbered from 999 and a 1001:1004 range is the frames shown there."""
    import bpy

    runner = importlib.import_module(f"{addon}.jobs.runner")
    settings = bpy.context.scene.vggt4d
    settings.footage_kind = "CLIP"
    settings.clip = bpy.data.movieclips.load(str(video))
    settings.clip.frame_start, settings.clip.frame_offset = 1001, 2
    settings.use_frame_range, settings.frame_start, settings.frame_end = True, 1001, 1004
    settings.preprocess_mode = "crop"
    request = runner.reconstruct_request(bpy.context)
    options = _backend_reads(backend_python, request["options"])
    assert options["video_frame_start"] == 999 and options["frames"] == "1001:1004:1"
    assert options["preprocess_mode"] == "crop"


def test_fixed_chunks_reach_the_backend(addon, backend_python, video, tmp_path):
    import bpy

    runner = importlib.import_module(f"{addon}.jobs.runner")
    bpy.context.preferences.addons[addon].preferences.cache_dir = str(tmp_path / "cache")
    settings = bpy.context.scene.vggt4d
    settings.footage_path = str(video)
    settings.chunk_mode, settings.chunk_size, settings.overlap = "FIXED", 48, 6

    options = _backend_reads(backend_python, runner.reconstruct_request(bpy.context)["options"])

    assert (options["chunk_size"], options["overlap"]) == (48, 6)


def test_backend_runs_offline_when_blender_is_offline(addon, video):
    import bpy

    runner = importlib.import_module(f"{addon}.jobs.runner")
    bpy.context.scene.vggt4d.footage_path = str(video)
    assert not bpy.app.online_access
    job_runner = runner.JobRunner.for_context(bpy.context)
    assert job_runner.job.client.env == {"HF_HUB_OFFLINE": "1"}


def test_check_backend_shows_versions_device_and_weights(addon, backend_python, tiny_weights):
    import bpy

    preferences = bpy.context.preferences.addons[addon].preferences
    preferences.python_path = backend_python
    preferences.weights_source = str(tiny_weights)
    preferences.device = "cuda"  # this machine has no CUDA: the hello says why
    assert bpy.ops.vggt4d.check_backend() == {"FINISHED"}
    report = bpy.context.window_manager.vggt4d_backend.report.splitlines()
    assert "version: 0.1.0" in report and "weights cached: True" in report
    assert "device: None" in report and "cuda available: False" in report
    assert any(line.startswith("device error: Device cuda was requested") for line in report)
    assert not bpy.context.window_manager.vggt4d_backend.busy


def test_a_sequence_picked_as_one_frame_is_sent_as_the_whole_sequence(addon, tmp_path):
    import bpy
    import numpy as np
    from PIL import Image

    from vggt4d.io.footage import read_footage

    runner = importlib.import_module(f"{addon}.jobs.runner")
    folder = tmp_path / "plates"
    folder.mkdir()
    for frame in (1001, 1002, 1003):
        Image.fromarray(np.full((16, 24, 3), frame % 255, np.uint8)).save(
            folder / f"plate.{frame}.png"
        )
    settings = bpy.context.scene.vggt4d
    settings.footage_kind = "SEQUENCE"
    settings.sequence_path = str(folder / "plate.1002.png")
    request = runner.reconstruct_request(bpy.context)
    assert request["input"] == str(folder / "plate.####.png")
    assert read_footage(request["input"]).frame_numbers == [1001, 1002, 1003]

    clip = bpy.data.movieclips.load(str(folder / "plate.1001.png"))
    assert clip.source == "SEQUENCE"
    settings.footage_kind, settings.clip = "CLIP", clip
    assert runner.reconstruct_request(bpy.context)["input"] == str(folder / "plate.####.png")
    assert request["output"].endswith("plate.vggt4d")
