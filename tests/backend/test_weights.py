"""Weight loading from every kind of source, the safetensors cache, and each failure message."""

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from vggt4d.errors import InputError, WeightsError
from vggt4d.weights import describe_weights, load_model, resolve_device, weights_cached


@pytest.fixture(autouse=True)
def isolated_caches(tmp_path, monkeypatch) -> Path:
    """Our cache and the hub cache in tmp, and never the network."""
    monkeypatch.setenv("VGGT4D_CACHE", str(tmp_path / "vggt4d-cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path / "vggt4d-cache"


@pytest.fixture(scope="module")
def tiny_dir(fixtures_dir) -> Path:
    return fixtures_dir / "tiny_vggt"


@pytest.fixture(scope="module")
def tiny_state(tiny_dir) -> dict[str, torch.Tensor]:
    return load_file(tiny_dir / "weights.safetensors")


@pytest.fixture(scope="module")
def case_a(fixtures_dir) -> dict[str, torch.Tensor]:
    return load_file(fixtures_dir / "tiny_vggt" / "case_a.safetensors")


def _assert_reproduces_reference(model, case_a) -> None:
    assert not model.training
    assert not any(parameter.requires_grad for parameter in model.parameters())
    with torch.no_grad():
        output = model(case_a["images"])
    torch.testing.assert_close(output["pose_enc"], case_a["pose_enc"], rtol=0, atol=1e-4)


def _folder(tmp_path: Path, tiny_dir: Path, name: str = "weights") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(tiny_dir / "config.json", folder / "config.json")
    return folder


def test_directory_source_reproduces_the_reference(tiny_dir, case_a):
    model = load_model(tiny_dir, device="cpu")
    assert all(parameter.dtype == torch.float32 for parameter in model.parameters())
    _assert_reproduces_reference(model, case_a)


def test_safetensors_file_next_to_its_config(tiny_dir, case_a):
    _assert_reproduces_reference(load_model(tiny_dir / "weights.safetensors"), case_a)


def test_pt_drops_track_head_and_is_cached_as_safetensors(
    tmp_path, tiny_dir, tiny_state, case_a, isolated_caches
):
    folder = _folder(tmp_path, tiny_dir)
    extended = {**tiny_state, "track_head.tracker.updateformer.virual_tracks": torch.ones(1, 1, 4)}
    torch.save(extended, folder / "model.pt")
    _assert_reproduces_reference(load_model(folder), case_a)

    copies = list((isolated_caches / "weights").glob("*.safetensors"))
    assert len(copies) == 1
    cached = load_file(copies[0])
    assert set(cached) == set(tiny_state)  # the allowlist dropped track_head.*
    # Prove the second load reads the cached copy: change one tensor there only.
    cached["camera_head.pose_branch.fc2.bias"] += 1.0
    save_file(cached, copies[0])
    second = load_model(folder)
    bias = second.state_dict()["camera_head.pose_branch.fc2.bias"]
    torch.testing.assert_close(bias, tiny_state["camera_head.pose_branch.fc2.bias"] + 1.0)


def _hub_repo(hf_home: Path, repo_id: str, files: dict[str, bytes]) -> Path:
    """A Hugging Face cache entry: blobs named by sha256, snapshot symlinks, refs/main."""
    repo = hf_home / "hub" / ("models--" + repo_id.replace("/", "--"))
    revision = "0123456789abcdef0123456789abcdef01234567"
    snapshot = repo / "snapshots" / revision
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    for name, data in files.items():
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        (snapshot / name).symlink_to(blob)
    return snapshot


def test_hub_repo_id_offline_from_the_cache(tmp_path, tiny_dir, tiny_state, case_a):
    weights = (tiny_dir / "weights.safetensors").read_bytes()
    config = (tiny_dir / "config.json").read_bytes()
    _hub_repo(
        tmp_path / "hf-home",
        "test-org/tiny-vggt",
        {"config.json": config, "model.safetensors": weights},
    )
    assert weights_cached("test-org/tiny-vggt")
    _assert_reproduces_reference(load_model("test-org/tiny-vggt"), case_a)
    description = describe_weights("test-org/tiny-vggt")
    assert description["source"] == "test-org/tiny-vggt"
    assert description["file"].endswith("model.safetensors")
    assert description["sha256"] == hashlib.sha256(weights).hexdigest()
    assert description["test_weights"] is True


def test_hub_repo_falls_back_to_model_pt(tmp_path, tiny_dir, tiny_state, case_a):
    pt_path = tmp_path / "model.pt"
    torch.save(tiny_state, pt_path)
    config = (tiny_dir / "config.json").read_bytes()
    _hub_repo(
        tmp_path / "hf-home",
        "test-org/tiny-pt",
        {"config.json": config, "model.pt": pt_path.read_bytes()},
    )
    assert describe_weights("test-org/tiny-pt")["file"].endswith("model.pt")
    _assert_reproduces_reference(load_model("test-org/tiny-pt"), case_a)


def test_describe_hashes_local_files_and_spots_vggt_1b_configs(tmp_path, tiny_dir):
    description = describe_weights(tiny_dir)
    data = (tiny_dir / "weights.safetensors").read_bytes()
    assert description["sha256"] == hashlib.sha256(data).hexdigest()
    assert description["test_weights"] is True
    full = tmp_path / "full"
    full.mkdir()
    (full / "config.json").write_text(json.dumps({"embed_dim": 1024, "img_size": 518}))
    (full / "model.pt").write_bytes(b"not loaded by describe")
    assert describe_weights(full)["test_weights"] is False


def test_missing_path(tmp_path):
    with pytest.raises(WeightsError, match=r"does not exist.*--weights PATH"):
        load_model(tmp_path / "nowhere" / "model.pt")
    assert not weights_cached(tmp_path / "nowhere" / "model.pt")


def test_offline_repo_not_cached():
    assert not weights_cached("test-org/absent")
    with pytest.raises(WeightsError, match=r"test-org/absent.*HF_HUB_OFFLINE.*run once online"):
        load_model("test-org/absent")


@pytest.mark.parametrize("name", ["weights.safetensors", "model.pt"])
def test_truncated_file(tmp_path, tiny_dir, tiny_state, name):
    folder = _folder(tmp_path, tiny_dir)
    if name == "model.pt":
        torch.save(tiny_state, folder / name)
    else:
        shutil.copy(tiny_dir / name, folder / name)
    data = (folder / name).read_bytes()
    (folder / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match=rf"{name}.*truncated or not a checkpoint"):
        load_model(folder)


def test_text_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "model.pt"
    path.write_text("these are not weights")
    with pytest.raises(WeightsError, match="truncated or not a checkpoint"):
        load_model(path)
    other = tmp_path / "weights.onnx"
    other.write_text("x")
    with pytest.raises(WeightsError, match=r"not a \.pt"):
        load_model(other)


def test_wrong_keys_and_shapes_are_named(tmp_path, tiny_dir, tiny_state):
    folder = _folder(tmp_path, tiny_dir)
    broken = dict(tiny_state)
    del broken["aggregator.camera_token"]
    broken["aggregator.unknown.weight"] = torch.zeros(3)
    broken["depth_head.norm.weight"] = torch.zeros(7)
    save_file(broken, folder / "model.safetensors")
    with pytest.raises(WeightsError) as caught:
        load_model(folder)
    message = str(caught.value)
    assert "1 missing keys (aggregator.camera_token)" in message
    assert "1 unexpected keys (aggregator.unknown.weight)" in message
    assert "depth_head.norm.weight [7] vs [128]" in message
    # tiny weights given without their config are checked against VGGT-1B
    alone = tmp_path / "alone.safetensors"
    shutil.copy(tiny_dir / "weights.safetensors", alone)
    with pytest.raises(WeightsError, match=r"do not fit VGGT-1B.*wrong shape"):
        load_model(alone)


@dataclass
class _TrainingState:
    step: int


def test_pickle_with_python_objects_is_refused(tmp_path, tiny_state):
    path = tmp_path / "model.pt"
    torch.save({"model": tiny_state, "trainer": _TrainingState(3)}, path)
    with pytest.raises(WeightsError, match="pickled Python objects"):
        load_model(path)


def test_unusable_config(tmp_path, tiny_dir):
    folder = _folder(tmp_path, tiny_dir)
    config = json.loads((folder / "config.json").read_text())
    config["aggregator"]["aa_order"] = ["global", "frame"]
    (folder / "config.json").write_text(json.dumps(config))
    shutil.copy(tiny_dir / "weights.safetensors", folder / "weights.safetensors")
    with pytest.raises(WeightsError, match=r"config\.json"):
        load_model(folder)


def test_dtype_and_device(tiny_dir):
    model = load_model(tiny_dir, dtype="bfloat16")
    assert {parameter.dtype for parameter in model.parameters()} == {torch.bfloat16}
    with pytest.raises(InputError, match="dtype"):
        load_model(tiny_dir, dtype="int8")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA"):
            resolve_device("cuda")
    with pytest.raises(InputError, match="Unknown device"):
        resolve_device("toaster")


def test_legacy_training_save_with_nested_state_dict(tmp_path, tiny_dir, tiny_state, case_a):
    folder = _folder(tmp_path, tiny_dir)
    torch.save({"model": tiny_state}, folder / "model.pt", _use_new_zipfile_serialization=False)
    _assert_reproduces_reference(load_model(folder), case_a)
