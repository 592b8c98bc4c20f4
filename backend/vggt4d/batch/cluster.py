"""Start or join the Ray cluster of a batch: the one place that decides how Ray starts.

Without an address the batch starts a cluster of its own for this machine, and it is safe by
default (docs/batch.md, "Security"):

- every Ray process listens on loopback only. Ray binds its servers to the node's address;
  `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0` is Ray's own switch for a single-machine cluster
  that makes that address the loopback one. Ray reads it when it is imported, so it is set
  before the first `import ray` (and checked after it);
- no dashboard unless asked (`--dashboard`, then on 127.0.0.1 only);
- token authentication on (Ray's default for new clusters), with a token made for this run
  when the user has none, so nothing is written into their home folder;
- no usage statistics sent anywhere;
- a small object store: tasks exchange paths and short dicts, never arrays.

The local cluster stops when the batch ends, whatever the reason. With `--address` the batch
joins a cluster that someone started with `ray start`; its security is that cluster's.
"""

import logging
import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.util import find_spec

from vggt4d.errors import FarmError

INSTALL_HINT = "pip install './backend[farm]' (from the repository) or pip install 'ray>=2.60'"
_OBJECT_STORE_BYTES = 128 * 1024**2
_CONNECT_TIMEOUT_S = 10.0
_LOCAL_ENVIRONMENT = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
}


@dataclass(frozen=True)
class ClusterOptions:
    """`address` None starts a local cluster with `local_cpus` CPUs (None: all of them);
    "auto" or "HOST:PORT" joins a running one."""

    address: str | None = None
    local_cpus: int | None = None
    dashboard: bool = False

    def describe(self) -> str:
        return "local (loopback only)" if self.address is None else self.address


@dataclass(frozen=True)
class ClusterResources:
    """What the cluster offers in total when the batch starts."""

    cpus: float
    gpus: float
    nodes: int


def require_ray() -> None:
    """Raise FarmError saying how to install Ray when it is missing (without importing it)."""
    if find_spec("ray") is None:
        raise FarmError(f"vggt4d batch runs on Ray, which is not installed: {INSTALL_HINT}.")


@contextmanager
def connect(options: ClusterOptions) -> Iterator[ClusterResources]:
    """Start (or join) the cluster, yield its resources, and always shut it down after."""
    require_ray()
    if options.address is None:
        _prepare_local_environment()
    import ray

    if options.address is None:
        _check_loopback_only()
    if options.dashboard:
        _check_dashboard_installed()
    if options.address not in (None, "auto"):
        _check_reachable(options.address)
    try:
        ray.init(**_init_arguments(options))
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise FarmError(
            f"Cannot start or reach the Ray cluster ({options.describe()}): {error}"
        ) from error
    try:
        resources = ray.cluster_resources()
        yield ClusterResources(
            cpus=float(resources.get("CPU", 0.0)),
            gpus=float(resources.get("GPU", 0.0)),
            nodes=sum(node["Alive"] for node in ray.nodes()),
        )
    finally:
        ray.shutdown()


def _init_arguments(options: ClusterOptions) -> dict:
    quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
    if options.address is not None:
        return {"address": options.address, **quiet}
    return {
        "num_cpus": options.local_cpus,
        "include_dashboard": options.dashboard,
        "dashboard_host": "127.0.0.1",
        "object_store_memory": _OBJECT_STORE_BYTES,
        **quiet,
    }


def _prepare_local_environment() -> None:
    """Environment the local cluster's processes inherit (they are our children)."""
    os.environ.update(_LOCAL_ENVIRONMENT)
    if "RAY_AUTH_MODE" in os.environ:
        return  # the user chose; a local cluster listens on loopback either way
    os.environ["RAY_AUTH_MODE"] = "token"
    has_token = "RAY_AUTH_TOKEN" in os.environ or "RAY_AUTH_TOKEN_PATH" in os.environ
    if not has_token and not os.path.exists(os.path.expanduser("~/.ray/auth_token")):
        os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)


def _check_loopback_only() -> None:
    from ray._private import ray_constants  # the flag Ray derived from the variable above

    if ray_constants.ENABLE_RAY_CLUSTER:
        imported_by = "ray was imported before vggt4d.batch could keep it on loopback"
        raise FarmError(
            f"Refusing to start a local Ray cluster that would listen on every interface: "
            f"{imported_by} (run the batch in a fresh process, e.g. the vggt4d command)."
        )


def _check_dashboard_installed() -> None:
    from ray._private.utils import get_dashboard_dependency_error  # Ray's own check

    if get_dashboard_dependency_error() is not None:
        raise FarmError(
            "Ray's dashboard is not installed (Ray core has none): pip install 'ray[default]', "
            "or run without --dashboard."
        )


def _check_reachable(address: str) -> None:
    """Fail in seconds with a sentence, where Ray would retry an unreachable head for minutes."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise FarmError(
            f"--address must be auto or HOST:PORT (the head's GCS port), not {address!r}."
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=_CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise FarmError(
            f"No Ray cluster answers at {address} ({error.strerror or error}): start its head "
            f"with `ray start --head --port {port}` there, or check the address and firewall."
        ) from error
