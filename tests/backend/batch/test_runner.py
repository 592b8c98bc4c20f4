"""The batch's decisions that need no cluster: what counts as finished, and GPU fallback."""

import socket
from dataclasses import replace
from pathlib import Path

import pytest

from tests.backend.conftest import make_bundle_data
from vggt4d.batch.cluster import ClusterOptions, ClusterResources, connect
from vggt4d.batch.runner import BatchSettings, _gpus_per_task, _is_finished, run_batch
from vggt4d.batch.shots import Shot
from vggt4d.errors import FarmError
from vggt4d.io.bundle import write_bundle
from vggt4d.job import JobOptions


def _finished_shot(out: Path, name: str, options: JobOptions) -> Shot:
    shot = Shot(name, f"/plates/{name}.mov", options)
    data = make_bundle_data()
    data.source = {**data.source, "path": shot.footage}
    data.options = options.to_dict()
    write_bundle(shot.bundle_path(out), data)
    return shot


def test_a_batch_of_finished_shots_starts_no_cluster(tmp_path: Path) -> None:
    options = JobOptions(max_frames=8)
    shots = [_finished_shot(tmp_path, name, options) for name in ("sh010", "sh020")]
    unreachable = BatchSettings(cluster=ClusterOptions(address="127.0.0.1:9"))
    record = run_batch(shots, tmp_path, unreachable)  # would fail if it tried to connect
    assert [shot.status for shot in record.shots] == ["skipped", "skipped"]
    assert record.state == "finished" and record.all_finished()


def test_other_options_or_footage_make_a_bundle_stale(tmp_path: Path) -> None:
    shot = _finished_shot(tmp_path, "sh010", JobOptions(max_frames=8))
    bundle = shot.bundle_path(tmp_path)
    assert _is_finished(shot, bundle)
    assert not _is_finished(replace(shot, options=JobOptions(max_frames=9)), bundle)
    assert not _is_finished(replace(shot, footage="/plates/other.mov"), bundle)
    assert not _is_finished(shot, tmp_path / "absent.vggt4d")


def test_local_cluster_without_gpus_falls_back_to_the_cpu_with_a_warning() -> None:
    warnings = []
    cpu_only = ClusterResources(cpus=16, gpus=0, nodes=1)
    gpus = _gpus_per_task(BatchSettings(), cpu_only, lambda level, text: warnings.append(text))
    assert gpus == 0.0
    assert len(warnings) == 1 and "--gpus-per-shot 0" in warnings[0]
    two_gpus = ClusterResources(cpus=16, gpus=2, nodes=1)
    assert _gpus_per_task(BatchSettings(gpus_per_shot=0.5), two_gpus, warnings.append) == 0.5


def test_a_joined_cluster_without_the_gpus_is_an_error() -> None:
    remote = BatchSettings(cluster=ClusterOptions(address="10.0.0.5:6379"))
    with pytest.raises(FarmError, match="asks for 1 GPU"):
        _gpus_per_task(remote, ClusterResources(cpus=64, gpus=0, nodes=4), lambda *_: None)


@pytest.mark.parametrize("address", ["nowhere", "host:port"])
def test_a_malformed_address_is_refused(address: str) -> None:
    with pytest.raises(FarmError, match="auto or HOST:PORT"), connect(ClusterOptions(address)):
        pass


def test_an_address_where_nothing_listens_fails_at_once() -> None:
    with socket.socket() as probe:  # a loopback port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    absent = ClusterOptions(f"127.0.0.1:{port}")
    with (
        pytest.raises(FarmError, match=f"No Ray cluster answers at {absent.address}"),
        connect(absent),
    ):
        pass
