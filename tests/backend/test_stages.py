"""The one stage context: progress, timing, cancellation and out-of-memory in words."""

import numpy as np
import pytest
import torch

from vggt4d.errors import CancelledError, OutOfMemoryError
from vggt4d.stages import OUT_OF_MEMORY_ADVICE, Stages


def _exhaust_cpu_memory() -> None:
    torch.empty(1 << 62, dtype=torch.uint8)  # torch's CPU allocator refuses at once


def _exhaust_numpy_memory() -> None:
    np.empty(1 << 62, dtype=np.uint8)


def _exhaust_cuda_memory() -> None:
    raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB")


@pytest.mark.parametrize(
    "allocate", [_exhaust_cpu_memory, _exhaust_numpy_memory, _exhaust_cuda_memory]
)
def test_every_allocation_failure_becomes_out_of_memory_with_the_advice(allocate) -> None:
    stages = Stages(workload="on 300 frames at 518x294")
    with pytest.raises(OutOfMemoryError) as caught, stages.stage("pass1"):
        allocate()
    assert caught.value.code == "out_of_memory"
    message = str(caught.value)
    assert message.startswith("The device ran out of memory in the pass1 stage on 300 frames")
    assert OUT_OF_MEMORY_ADVICE in message
    assert "fewer frames" in message and "larger frame stride" in message


def test_a_real_cpu_allocation_failure_is_torchs_default_allocator_error() -> None:
    with pytest.raises(RuntimeError, match="DefaultCPUAllocator: can't allocate memory"):
        _exhaust_cpu_memory()


def test_other_errors_pass_through_untouched() -> None:
    with pytest.raises(ValueError, match="not memory"), Stages().stage("cues"):
        raise ValueError("not memory")


def test_stages_report_time_and_stop_when_cancelled() -> None:
    reports: list[tuple[str, float]] = []
    cancel = [False]
    stages = Stages(lambda stage, fraction: reports.append((stage, fraction)), lambda: cancel[0])
    with stages.stage("ingest"):
        stages.reporter("ingest")(0.5)
    assert reports == [("ingest", 0.0), ("ingest", 0.5), ("ingest", 1.0)]
    assert stages.timings["ingest"] >= 0.0
    cancel[0] = True
    with pytest.raises(CancelledError, match="Cancelled by the user"), stages.stage("load_model"):
        pytest.fail("a cancelled run must not enter the next stage")
    assert "load_model" not in stages.timings
