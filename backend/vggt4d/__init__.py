"""VGGT4D backend: our VGGT, the VGGT4D dynamic-mask pipeline, footage ingest and result bundles."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vggt4d")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
