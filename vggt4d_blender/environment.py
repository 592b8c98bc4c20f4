"""Where the backend runs and with which environment (bpy-free, testable with plain pytest).

Blender's "Allow Online Access" preference is passed in as ``online``: when it is off the
backend runs with ``HF_HUB_OFFLINE=1`` and setup refuses to download.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

SYSTEM_PYTHON_NAMES = ("python3.11", "python3.12", "python3.10")
TORCH_CUDA_INDEX = "https://download.pytorch.org/whl/cu126"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def backend_environment(online: bool) -> dict[str, str]:
    """Extra environment variables for the backend subprocess."""
    return {} if online else {"HF_HUB_OFFLINE": "1"}


def venv_python(venv_dir: Path) -> Path:
    """The interpreter inside a virtual environment, on this platform."""
    if sys.platform == "win32":
        return venv_dir / "Scripts" / "python.exe"
    return venv_dir / "bin" / "python"


def find_system_python() -> Path | None:
    """A Python the backend supports (3.11, 3.12, then 3.10) found on PATH."""
    for name in SYSTEM_PYTHON_NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def torch_index_url() -> str:
    """CUDA wheels where an NVIDIA driver is installed (``nvidia-smi`` on PATH), else CPU."""
    return TORCH_CUDA_INDEX if shutil.which("nvidia-smi") else TORCH_CPU_INDEX


def backend_source(extension_dir: Path) -> Path | None:
    """The backend to install: the wheel bundled in the extension, else a source checkout."""
    wheels = sorted((extension_dir / "backend_wheels").glob("vggt4d-*.whl"))
    if wheels:
        return wheels[-1]
    checkout = extension_dir.parent / "backend"
    if (checkout / "pyproject.toml").is_file():
        return checkout
    return None
