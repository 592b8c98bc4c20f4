"""`vggt4d solve` and the job server's `solve` request on a bundle with a plate on disk."""

import shutil
import subprocess
import sys
import time

import pytest

from tests.backend.solve.shot_bundle import network_estimate, write_shot_bundle
from tests.backend.test_server import ServerProcess
from vggt4d.cli import main
from vggt4d.errors import BundleError
from vggt4d.io.bundle import read_bundle, validate_bundle, write_bundle
from vggt4d.io.bundle_lock import bundle_lock, lock_path


@pytest.fixture(scope="module")
def unsolved(shot, tmp_path_factory):
    folder = tmp_path_factory.mktemp("solve_commands")
    return write_shot_bundle(shot, network_estimate(shot), folder)


def test_cli_solve_rewrites_the_bundle_and_summarises(unsolved, tmp_path, capsys):
    path = shutil.copytree(unsolved, tmp_path / "copy.vggt4d")
    shutil.copytree(unsolved.parent / "plate", tmp_path / "plate")
    arguments = ["--focal", "fixed", "--distortion", "polynomial", "--smooth"]
    assert main(["solve", str(path), *arguments]) == 0
    output = capsys.readouterr().out
    assert "solve:    median" in output and "smoothed: strength" in output
    solve = validate_bundle(path)["solve"]
    assert solve["options"]["focal"] == "fixed"
    assert solve["options"]["distortion"] == "polynomial"
    assert solve["options"]["smooth"] == 1.0
    assert solve["smoothing"]["cost_px"]["median"] <= solve["smoothing"]["budget_px"] == 0.05
    assert solve["reprojection_error_px"]["median"] < 0.5
    assert main(["info", str(path)]) == 0
    # COLMAP gets the solved lens and the tracks, in a model COLMAP itself reads.
    assert main(["export", str(path), "--colmap", str(tmp_path / "colmap")]) == 0
    cameras = (tmp_path / "colmap" / "cameras.txt").read_text().splitlines()[1]
    assert cameras.split()[1] in ("OPENCV", "FULL_OPENCV")
    import pycolmap

    model = pycolmap.Reconstruction(str(tmp_path / "colmap"))
    assert model.num_reg_images() == len(solve["reprojection_error_px"]["per_frame"])
    assert model.num_points3D() >= solve["tracks"]
    k1 = float(model.cameras[1].params[4])
    assert k1 == pytest.approx(solve["distortion"]["k1"])


def test_cli_solve_of_a_folder_that_is_no_bundle_is_one_line(tmp_path, capsys):
    assert main(["solve", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_server_solve_streams_progress_and_cancel_leaves_the_bundle(unsolved, tmp_path):
    path = shutil.copytree(unsolved, tmp_path / "copy.vggt4d")
    shutil.copytree(unsolved.parent / "plate", tmp_path / "plate")
    server = ServerProcess()
    try:
        server.send({"type": "solve", "id": "s1", "bundle": str(path)})
        events = server.events_until({"result", "error"}, timeout=600)
        assert events[-1] == {"type": "result", "id": "s1", "bundle": str(path)}, events[-1]
        stages = {event["stage"] for event in events if event["type"] == "progress"}
        assert {"plate", "tracking", "adjustment", "bundle"} <= stages
        fractions = [event["fraction"] for event in events if event["type"] == "progress"]
        assert fractions == sorted(fractions) and fractions[-1] == 1.0
        solved = read_bundle(path)
        server.send({"type": "solve", "id": "s2", "bundle": str(path), "options": {"focal": 3}})
        assert server.next_event()["code"] == "bad_input"
        server.send({"type": "solve", "id": "s4", "bundle": str(path), "network_masks": "yes"})
        assert server.next_event()["code"] == "bad_input"
        server.send({"type": "solve", "id": "s3", "bundle": str(path), "network_masks": True})
        while (event := server.next_event())["type"] != "progress" or event["stage"] != "tracking":
            pass
        server.send({"type": "cancel", "id": "s3"})
        events = server.events_until({"cancelled", "result", "error"}, timeout=60)
        assert events[-1] == {"type": "cancelled", "id": "s3"}
        after = read_bundle(path)
        assert (after.extrinsics == solved.extrinsics).all()
        assert [p.name for p in tmp_path.iterdir() if ".partial-" in p.name] == []
    finally:
        server.send({"type": "shutdown", "id": "end"})
        server.close()


def test_smooth_flags_reach_the_solve_options():
    from vggt4d.cli import _job_options, _parser, _solve_options

    parse = _parser().parse_args
    reconstruct = parse(["reconstruct", "shot.mp4", "-o", "shot.vggt4d", "--smooth"])
    assert _job_options(reconstruct).solve.smooth == 1.0
    assert _solve_options(parse(["solve", "b.vggt4d", "--smooth-strength", "3"])).smooth == 3.0
    assert _solve_options(parse(["solve", "b.vggt4d"])).smooth == 0.0


def test_a_second_solve_of_a_bundle_being_changed_fails_fast(unsolved, tmp_path, capsys):
    """A real process holds the bundle's lock (as a running solve does): `vggt4d solve` refuses
    at once, naming it; once that process is killed, its lock no longer blocks anyone."""
    path = shutil.copytree(unsolved, tmp_path / "copy.vggt4d")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.perf_counter()
        assert main(["solve", str(path)]) == 2
        error = capsys.readouterr().err
        assert f"is being changed by another process (pid {holder.pid})" in error
        assert time.perf_counter() - started < 5
        with pytest.raises(BundleError, match="being changed by another process"):
            write_bundle(path, read_bundle(path))  # no in-place rewrite either
    finally:
        holder.kill()
        holder.wait()
    with bundle_lock(path):  # the dead holder's lock is gone; ours is re-entrant
        write_bundle(path, read_bundle(path))
    assert not lock_path(path).exists()
    validate_bundle(path)
    assert main(["solve", str(tmp_path / "nowhere" / "shot.vggt4d")]) == 2
    assert not (tmp_path / "nowhere").exists()  # a lock makes no folders


HOLD_LOCK = """
import sys, time
from vggt4d.io.bundle_lock import bundle_lock
with bundle_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(120)
"""
