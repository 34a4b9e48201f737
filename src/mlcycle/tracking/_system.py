"""System metrics of a live run: CPU, memory and GPU use, sampled on a timer.

Names follow MLflow's system metrics (`system/cpu_utilization_percentage`,
`system/system_memory_usage_megabytes`, ...), so dashboards and habits
carry over. CPU and memory come from psutil; GPUs from NVIDIA's NVML
(`pynvml`, the `nvidia-ml-py` package) when it is installed and finds a GPU.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlcycle.tracking._run import Run

_MB = 1024 * 1024


def _gpu_handles() -> tuple[Any, list[Any]]:
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
        return pynvml, [
            pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())
        ]
    except Exception:
        return None, []


def sample(process: Any, nvml: Any = None, gpus: list[Any] | None = None) -> dict[str, float]:
    """Return one sample of system metrics (percentages, megabytes) for psutil `process`."""
    import psutil

    memory = psutil.virtual_memory()
    values = {
        "system/cpu_utilization_percentage": psutil.cpu_percent(interval=None),
        "system/system_memory_usage_megabytes": (memory.total - memory.available) / _MB,
        "system/system_memory_usage_percentage": memory.percent,
        "system/process_memory_rss_megabytes": process.memory_info().rss / _MB,
    }
    for i, handle in enumerate(gpus or []):
        use = nvml.nvmlDeviceGetUtilizationRates(handle)
        mem = nvml.nvmlDeviceGetMemoryInfo(handle)
        values[f"system/gpu_{i}_utilization_percentage"] = float(use.gpu)
        values[f"system/gpu_{i}_memory_usage_megabytes"] = mem.used / _MB
    return values


class SystemMetrics:
    """A daemon thread logging :func:`sample` to `run` every `interval` seconds (step 0, 1, ...)."""

    def __init__(self, run: Run, interval: float = 10.0) -> None:
        self.run, self.interval = run, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="mlcycle-system-metrics", daemon=True
        )

    def start(self) -> None:
        """Start sampling (the first sample is taken at once)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling and wait for the thread (at most one interval)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self.interval + 5)

    def _loop(self) -> None:
        import psutil

        process = psutil.Process()
        nvml, gpus = _gpu_handles()
        psutil.cpu_percent(interval=None)  # the first call only primes the counter
        step = 0
        while not self._stop.wait(0 if step == 0 else self.interval):
            self.run.log_metrics(sample(process, nvml, gpus), step=step)
            step += 1
