"""``VGGT()`` has exactly VGGT-1B's checkpoint layout, apart from the dropped track head."""

import json
from pathlib import Path

import torch

from vggt4d.model import IGNORED_CHECKPOINT_PREFIXES, VGGT, filter_checkpoint_keys


def test_default_model_matches_vggt1b_manifest(fixtures_dir: Path) -> None:
    manifest = json.loads((fixtures_dir / "vggt1b_manifest.json").read_text())
    entries = {entry["key"]: entry for entry in manifest["keys"]}
    assert len(entries) == manifest["total_state_dict_tensors"]
    expected = {
        key: (tuple(entry["shape"]), entry["dtype"])
        for key, entry in entries.items()
        if not key.startswith(IGNORED_CHECKPOINT_PREFIXES)
    }
    with torch.device("meta"):
        model = VGGT()
    state = model.state_dict()
    actual = {
        key: (tuple(t.shape), str(t.dtype).removeprefix("torch.")) for key, t in state.items()
    }
    assert sorted(set(expected) - set(actual)) == []
    assert sorted(set(actual) - set(expected)) == []
    assert actual == expected
    track_params = manifest["numel_per_prefix"]["track_head"]
    total = sum(t.numel() for t in state.values())
    assert total == manifest["total_parameters"] - track_params
    assert total == sum(p.numel() for p in model.parameters())
    # The allowlist drops the manifest's track head keys and nothing else.
    dropped = set(entries) - set(filter_checkpoint_keys(entries))
    assert dropped and all(key.startswith("track_head.") for key in dropped)


def test_checkpoint_with_track_head_loads_strictly(tiny_model: VGGT) -> None:
    state = dict(tiny_model.state_dict())
    state["track_head.tracker.updateformer.virual_tracks"] = torch.zeros(1, 64, 1, 384)
    clone = VGGT(tiny_model.config)
    clone.load_checkpoint_state(state)
    for key, value in clone.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_meta_build_then_assign_load_runs(
    fixtures_dir: Path, tiny_model: VGGT, tiny_case: dict[str, torch.Tensor]
) -> None:
    """No buffers: a meta-built model adopts checkpoint tensors without a second copy."""
    with torch.device("meta"):
        model = VGGT.from_config(fixtures_dir / "tiny_vggt" / "config.json")
    model.load_checkpoint_state(tiny_model.state_dict(), assign=True)
    assert {t.device.type for t in model.state_dict().values()} == {"cpu"}
    with torch.no_grad():
        out = model.eval()(tiny_case["images"], heads=("camera",))
        reference = tiny_model(tiny_case["images"], heads=("camera",))
    assert torch.equal(out["pose_enc"], reference["pose_enc"])
