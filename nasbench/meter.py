"""Wall seconds, CPU seconds and peak memory of one stage."""
from __future__ import annotations

import resource
import threading
import time
from pathlib import Path

import torch

_PAGE = resource.getpagesize()


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (data generation uses worker processes)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def current_rss_bytes() -> int:
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * _PAGE
    except OSError:  # not Linux: fall back to the lifetime peak
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class StageMeter:
    """Context manager; a sampling thread tracks the peak resident memory during the stage
    (``ru_maxrss`` would give the peak of the whole process, not of the stage)."""

    def __init__(self, device: torch.device, interval: float = 0.05):
        self.device, self.interval = device, interval
        self.result: dict[str, float] = {}
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, current_rss_bytes())

    def __enter__(self) -> "StageMeter":
        self._peak = current_rss_bytes()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._wall, self._cpu = time.perf_counter(), cpu_seconds()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        wall, cpu = time.perf_counter() - self._wall, cpu_seconds() - self._cpu
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, current_rss_bytes())
        self.result = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "peak_rss_mb": round(self._peak / 2**20, 1)}
        if self.device.type == "cuda":
            self.result["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated(self.device) / 2**20, 1)
