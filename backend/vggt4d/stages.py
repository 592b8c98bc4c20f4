"""One stage context for ``run_job`` and ``reconstruct``: timing, progress, cancellation and
the translation of an out-of-memory failure into a sentence a person can act on.

Every stage of a run is ``with stages.stage(name): ...``: it reports fraction 0 on entry and 1
on a clean exit, adds its wall time to ``timings[name]``, and raises CancelledError at entry
(and at every ``report`` inside) once ``should_cancel()`` is true. CUDA and CPU allocation
failures alike (``torch.cuda.OutOfMemoryError``, ``MemoryError``, and the RuntimeError of
torch's CPU allocator, ``DefaultCPUAllocator: can't allocate memory``) leave the stage as
OutOfMemoryError (code ``out_of_memory``) with the "fewer frames / larger stride" advice.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from vggt4d.errors import CancelledError, OutOfMemoryError

OUT_OF_MEMORY_ADVICE = "Reconstruct fewer frames (max frames) or use a larger frame stride."
_OUT_OF_MEMORY_MARKERS = (
    "DefaultCPUAllocator: can't allocate memory",
    "CUDA out of memory",
    "CUDA error: out of memory",
    "MPS backend out of memory",
)


def is_out_of_memory(error: BaseException) -> bool:
    """True for an allocation failure of the CPU or of an accelerator."""
    if isinstance(error, MemoryError | OutOfMemoryError):
        return True
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and any(
        marker in str(error) for marker in _OUT_OF_MEMORY_MARKERS
    )


class Stages:
    """Progress, cancellation, timings and out-of-memory mapping for the stages of one run.

    progress: called with (stage, fraction of that stage in [0, 1]). workload: words for the
    out-of-memory sentence, e.g. "on 120 frames at 518x294".
    """

    def __init__(
        self,
        progress: Callable[[str, float], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
        workload: str = "",
    ) -> None:
        self.progress = progress
        self.should_cancel = should_cancel
        self.workload = workload
        self.timings: dict[str, float] = {}

    def check_cancel(self) -> None:
        """Raise CancelledError once the user asked to stop."""
        if self.should_cancel is not None and self.should_cancel():
            raise CancelledError("Cancelled by the user.")

    def report(self, stage: str, fraction: float) -> None:
        """Progress inside a stage; also a cancellation point."""
        self.check_cancel()
        if self.progress is not None:
            self.progress(stage, float(fraction))

    def reporter(self, stage: str) -> Callable[[float], None]:
        """``report`` bound to one stage, for callees that take a fraction callback."""
        return lambda fraction: self.report(stage, fraction)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Run one stage: report 0, time it, map out-of-memory, report 1."""
        self.report(name, 0.0)
        started = time.perf_counter()
        try:
            yield
        except Exception as error:
            if is_out_of_memory(error) and not isinstance(error, OutOfMemoryError):
                raise self._out_of_memory(name, error) from error
            raise
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - started
        self.report(name, 1.0)

    def _out_of_memory(self, stage: str, error: BaseException) -> OutOfMemoryError:
        detail = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        workload = f" {self.workload}" if self.workload else ""
        return OutOfMemoryError(
            f"The device ran out of memory in the {stage} stage{workload}. "
            f"{OUT_OF_MEMORY_ADVICE} ({detail})"
        )
