"""Find, check and load VGGT weights: a Hugging Face repo id, a file, or a folder.

Weights never go through full unpickling: ``.pt`` files are read with
``torch.load(weights_only=True, mmap=True)``, and the first load of one writes a safetensors
copy to the cache (``VGGT4D_CACHE``, default ``~/.cache/vggt4d``) so later loads skip the
pickle reader. Everything a user can get wrong (no file, offline with an empty cache, a
truncated download, another model's checkpoint) ends in one ``WeightsError`` that names the
source and the fix.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import hf_hub_download, try_to_load_from_cache
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from vggt4d.errors import InputError, WeightsError
from vggt4d.model import VGGT, VGGTConfig, filter_checkpoint_keys

logger = logging.getLogger(__name__)

DEFAULT_SOURCE = "facebook/VGGT-1B"
HUB_FILES = ("model.safetensors", "model.pt")
DIRECTORY_FILES = ("model.safetensors", "weights.safetensors", "model.pt")
PICKLE_SUFFIXES = (".pt", ".pth", ".bin")  # .bin: torch.save files named the transformers way
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_DTYPES = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}
_FIX = "pass --weights PATH (a VGGT-1B model.pt/model.safetensors or a folder) or run once online"
_MAX_LISTED = 4


@dataclass(frozen=True)
class _Checkpoint:
    """A resolved source: the weights file and the config that describes its model."""

    source: str
    path: Path
    config: dict[str, Any] | None  # None: VGGT-1B


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` = CUDA when available, else CPU; an explicit CUDA device must exist."""
    if isinstance(device, torch.device):
        chosen = device
    elif device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            chosen = torch.device(device)
        except RuntimeError as error:
            raise InputError(f"Unknown device {device!r}; use auto, cpu or cuda.") from error
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise InputError(
            f"Device {chosen} was requested but this torch build has no usable CUDA; install "
            "the CUDA build of torch (see docs/weights.md) or use --device cpu."
        )
    return chosen


def _resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``"auto"`` keeps fp32 weights (autocast picks the compute precision at run time)."""
    if isinstance(dtype, torch.dtype):
        return dtype
    name = "float32" if dtype == "auto" else dtype
    if name not in _DTYPES:
        raise InputError(
            f"Unknown weights dtype {dtype!r}; use auto, float32, float16 or bfloat16."
        )
    return _DTYPES[name]


def _cache_root() -> Path:
    return Path(os.environ.get("VGGT4D_CACHE") or Path.home() / ".cache" / "vggt4d").expanduser()


def _file_key(path: Path) -> str:
    """Cache key for a local file: its absolute path, size and modification time."""
    stat = path.stat()
    text = f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _cached_copy(path: Path) -> Path:
    return _cache_root() / "weights" / f"{_file_key(path)}.safetensors"


# --- resolving a source --------------------------------------------------------------


def _looks_like_repo_id(text: str) -> bool:
    local_hint = text.startswith((".", "/", "~")) or "\\" in text or ":" in text
    has_suffix = text.lower().endswith((*PICKLE_SUFFIXES, ".safetensors"))
    return bool(_REPO_ID.fullmatch(text)) and not local_hint and not has_suffix


def _resolve(source: str | Path) -> _Checkpoint:
    text = str(source)
    path = Path(text).expanduser()
    if path.is_dir():
        return _from_directory(path, text)
    if path.is_file():
        if not path.name.lower().endswith((*PICKLE_SUFFIXES, ".safetensors")):
            raise WeightsError(
                f"Weights file {text} is not a .pt, .pth, .bin or .safetensors checkpoint; {_FIX}."
            )
        return _Checkpoint(text, path, _read_config(path.parent / "config.json", text))
    if isinstance(source, str) and _looks_like_repo_id(text):
        return _from_hub(text)
    raise WeightsError(f"Weights not found: {text} does not exist; {_FIX}.")


def _read_config(path: Path, source: str) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise WeightsError(f"Cannot read {path} of weights {source}: {error}") from error
    if not isinstance(config, dict):
        raise WeightsError(f"{path} of weights {source} is not a JSON object.")
    return config


def _from_directory(folder: Path, source: str) -> _Checkpoint:
    """A folder with ``config.json`` (optional: none = VGGT-1B) and one known weights file."""
    for name in DIRECTORY_FILES:
        if (folder / name).is_file():
            return _Checkpoint(source, folder / name, _read_config(folder / "config.json", source))
    raise WeightsError(
        f"Weights folder {source} holds none of {', '.join(DIRECTORY_FILES)}; {_FIX}."
    )


def _hub_offline() -> bool:
    """Read at call time (huggingface_hub reads it once at import)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _hub_cache() -> str | None:
    """The hub cache as the environment says now; None = huggingface_hub's own default."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return str(Path(os.environ["HF_HOME"]).expanduser() / "hub")
    return None


def _hub_file(repo_id: str, filename: str) -> Path | None:
    """Download (or find in the cache) one file of a repo; None when the repo lacks it."""
    try:
        found = hf_hub_download(
            repo_id, filename, cache_dir=_hub_cache(), local_files_only=_hub_offline()
        )
    except EntryNotFoundError:
        return None
    except RepositoryNotFoundError as error:
        raise WeightsError(
            f"Hugging Face repo {repo_id} does not exist or needs a login / accepted licence "
            f"({type(error).__name__}); {_FIX}."
        ) from error
    except (HfHubHTTPError, OSError) as error:
        raise WeightsError(
            f"Downloading {filename} of {repo_id} failed: {error}; {_FIX}."
        ) from error
    return Path(found)


def _from_hub(repo_id: str) -> _Checkpoint:
    """``model.safetensors`` first (no unpickling, memory-mapped), then ``model.pt``."""
    for filename in HUB_FILES:
        path = _hub_file(repo_id, filename)
        if path is not None:
            config_path = _hub_file(repo_id, "config.json")
            config = _read_config(config_path, repo_id) if config_path else None
            return _Checkpoint(repo_id, path, config)
    where = _hub_cache() or "the default Hugging Face cache"
    reason = (
        "HF_HUB_OFFLINE is set"
        if _hub_offline()
        else "the Hub could not be reached or the repo has neither file"
    )
    raise WeightsError(
        f"Weights {repo_id} ({' or '.join(HUB_FILES)}) are not in {where} and {reason}; {_FIX} "
        f"(or: huggingface-cli download {repo_id})."
    )


# --- reading tensors -----------------------------------------------------------------


def _corrupt(checkpoint: _Checkpoint, error: BaseException) -> WeightsError:
    return WeightsError(
        f"Weights file {checkpoint.path} ({checkpoint.source}) is truncated or not a "
        f"checkpoint ({error}); delete it and download again, or {_FIX}."
    )


def _load_pickle(checkpoint: _Checkpoint) -> dict[str, torch.Tensor]:
    """``torch.load`` restricted to tensors; memory-mapped unless the file predates zip format."""
    path = checkpoint.path
    with path.open("rb") as stream:
        magic = stream.read(4)
    if not magic.startswith((b"PK\x03\x04", b"\x80")):  # torch zip format, or a legacy pickle
        raise _corrupt(checkpoint, ValueError("neither a torch zip archive nor a pickle"))
    try:
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as error:
            if "mmap" not in str(error):
                raise
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "Weights only load failed" in str(error):
            raise WeightsError(
                f"Weights file {path} ({checkpoint.source}) contains pickled Python objects, "
                "not only tensors; it is not loaded because unpickling can run any code. "
                "Re-save its state_dict with torch.save or as safetensors, or use the "
                "official checkpoint."
            ) from error
        raise _corrupt(checkpoint, error) from error
    except (RuntimeError, OSError, EOFError, ValueError, IndexError, KeyError) as error:
        raise _corrupt(checkpoint, error) from error
    return _state_dict_of(loaded, checkpoint)


def _state_dict_of(loaded: object, checkpoint: _Checkpoint) -> dict[str, torch.Tensor]:
    """A plain state_dict, or one nested under ``model`` / ``state_dict`` (training saves)."""
    if isinstance(loaded, dict):
        for key in ("model", "state_dict"):
            if isinstance(loaded.get(key), dict):
                loaded = loaded[key]
                break
        if loaded and all(isinstance(value, torch.Tensor) for value in loaded.values()):
            return loaded
    raise WeightsError(
        f"Weights file {checkpoint.path} ({checkpoint.source}) holds no state_dict of "
        f"tensors; {_FIX}."
    )


def _load_safetensors(path: Path, checkpoint: _Checkpoint) -> dict[str, torch.Tensor]:
    try:
        return load_file(path, device="cpu")
    except (SafetensorError, OSError, ValueError) as error:
        raise _corrupt(checkpoint, error) from error


def _write_cached_copy(state_dict: dict[str, torch.Tensor], checkpoint: _Checkpoint) -> None:
    """Save the checked tensors as safetensors so the next load is mapped, not unpickled."""
    target = _cached_copy(checkpoint.path)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tensors = {key: value.contiguous() for key, value in state_dict.items()}
        save_file(tensors, partial, metadata={"source": str(checkpoint.path.resolve())})
        partial.replace(target)
    except OSError as error:
        partial.unlink(missing_ok=True)
        logger.warning(
            "Could not cache %s as safetensors in %s: %s", checkpoint.path, target, error
        )
        return
    logger.info("Cached %s as %s; later loads are memory-mapped.", checkpoint.path, target)


def _read_tensors(checkpoint: _Checkpoint) -> tuple[dict[str, torch.Tensor], bool]:
    """The checkpoint's tensors and whether they came from the pickle reader (not cached yet)."""
    if checkpoint.path.name.lower().endswith(".safetensors"):
        return _load_safetensors(checkpoint.path, checkpoint), False
    cached = _cached_copy(checkpoint.path)
    if cached.is_file():
        logger.info("Loading %s from its cached copy %s.", checkpoint.path, cached)
        return _load_safetensors(cached, checkpoint), False
    return _load_pickle(checkpoint), True


# --- building the model --------------------------------------------------------------


def _config_of(checkpoint: _Checkpoint) -> VGGTConfig:
    if checkpoint.config is None:
        return VGGTConfig()
    try:
        return VGGTConfig.from_json(checkpoint.config)
    except (ValueError, TypeError) as error:
        raise WeightsError(
            f"The config.json of weights {checkpoint.source} is not usable: {error}"
        ) from error


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED])
    return shown + (f" and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else "")


def _check_match(
    model: torch.nn.Module, state_dict: dict[str, torch.Tensor], checkpoint: _Checkpoint
) -> None:
    """Strict key and shape check with a message that names a few offending keys."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    wrong = sorted(
        f"{key} {list(state_dict[key].shape)} vs {list(expected[key].shape)}"
        for key in set(expected) & set(state_dict)
        if state_dict[key].shape != expected[key].shape
    )
    problems = [
        f"{len(names)} {what} ({_listed(names)})"
        for what, names in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("keys with the wrong shape (checkpoint vs model)", wrong),
        )
        if names
    ]
    if problems:
        model_name = "VGGT-1B" if checkpoint.config is None else "the model in its config.json"
        raise WeightsError(
            f"Weights {checkpoint.source} ({checkpoint.path.name}) do not fit {model_name}: "
            + "; ".join(problems)
            + f". Use matching weights: {_FIX}."
        )


def load_model(
    source: str | Path = DEFAULT_SOURCE,
    device: str | torch.device = "auto",
    dtype: str | torch.dtype = "auto",
) -> VGGT:
    """Build the model the source describes, load its weights strictly, return it in eval mode.

    ``source``: a Hugging Face repo id, a ``.pt``/``.pth``/``.bin``/``.safetensors`` file, or a
    folder with one. A ``config.json`` next to the weights (our reference schema) picks the
    model size; without one the model is VGGT-1B. ``track_head.*`` keys are dropped on purpose.
    """
    target_device = resolve_device(device)
    target_dtype = _resolve_dtype(dtype)
    checkpoint = _resolve(source)
    config = _config_of(checkpoint)
    state_dict, from_pickle = _read_tensors(checkpoint)
    state_dict = filter_checkpoint_keys(state_dict)
    # Built on the meta device: no time spent on random init, no second copy of the weights.
    with torch.device("meta"):
        model = VGGT.from_config(config)
    _check_match(model, state_dict, checkpoint)
    model.load_checkpoint_state(state_dict, assign=True)
    # A non-persistent buffer would not be in any checkpoint and stay empty: fail loudly.
    unloaded = [name for name, tensor in model.named_buffers() if tensor.is_meta]
    if unloaded:
        raise RuntimeError(f"VGGT buffers not in the checkpoint stayed on meta: {unloaded[:4]}")
    if from_pickle:
        _write_cached_copy(state_dict, checkpoint)
    logger.info("Loaded weights %s from %s.", checkpoint.source, checkpoint.path)
    return model.to(device=target_device, dtype=target_dtype).eval().requires_grad_(False)


# --- describing a source -------------------------------------------------------------


def _sha256(path: Path) -> str:
    """Hub blobs are named by their sha256; other files are hashed once and remembered."""
    real = path.resolve()
    if real.parent.name == "blobs" and re.fullmatch(r"[0-9a-f]{64}", real.name):
        return real.name
    memo = _cache_root() / "sha256" / f"{_file_key(real)}.txt"
    if memo.is_file():
        return memo.read_text(encoding="ascii").strip()
    digest = hashlib.sha256()
    with real.open("rb") as stream:
        while chunk := stream.read(1 << 24):
            digest.update(chunk)
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        memo.write_text(digest.hexdigest(), encoding="ascii")
    except OSError as error:
        logger.warning("Could not remember the sha256 of %s: %s", real, error)
    return digest.hexdigest()


def describe_weights(source: str | Path = DEFAULT_SOURCE) -> dict[str, Any]:
    """What a bundle manifest records: source, file, sha256 and whether these are test weights.

    ``test_weights`` is true when the config is not VGGT-1B (e.g. the tiny untrained model).
    """
    checkpoint = _resolve(source)
    return {
        "source": str(source),
        "file": str(checkpoint.path),
        "sha256": _sha256(checkpoint.path),
        "test_weights": _config_of(checkpoint) != VGGTConfig(),
    }


def weights_cached(source: str | Path = DEFAULT_SOURCE) -> bool:
    """True when loading needs no download (local source, or the repo is in the hub cache)."""
    text = str(source)
    if Path(text).expanduser().exists():
        return True
    if not _looks_like_repo_id(text):
        return False
    return any(
        isinstance(try_to_load_from_cache(text, name, cache_dir=_hub_cache()), str)
        for name in HUB_FILES
    )
