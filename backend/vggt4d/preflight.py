"""Checks that fail a job fast: before torch loads, footage is decoded or the model runs.

Torch-free on purpose, so the command line can refuse a missing footage path or an
unwritable ``-o`` in a fraction of a second instead of after the whole reconstruction.
"""

from pathlib import Path

from vggt4d.io.bundle import check_output
from vggt4d.io.footage import check_footage


def check_job_paths(input_path: str | Path, output_path: str | Path) -> Path:
    """Raise InputError when ``input_path`` names no footage and BundleError when no bundle
    can be written at ``output_path`` (`check_output`); return the absolute bundle path."""
    check_footage(input_path)
    return check_output(output_path)
