"""Wall seconds, CPU seconds and peak memory of one stage.

Two memory figures per stage:

- ``peak_alloc_mb``, the run's own: the most memory the run held allocated through ``malloc`` (every
  tensor and array on the CPU) above what its process held when the run began, sampled every 50 ms.
  It does not depend on what ran in the process before: the local backend's one process for every
  run, or a process whose allocator keeps freed memory (``nasbench.allocator``), reports the second run's own
  figure. Read from glibc's ``mallinfo2`` (all arenas); where that is absent (not glibc, or glibc
  older than 2.33) it falls back to the growth of the resident size over the run's start, which
  undercounts a run that reuses memory an earlier run freed.
- ``peak_rss_mb``: the process's resident size at its highest during the stage (libraries,
  interpreter and anything earlier runs left behind included), kept for comparison with the OS's
  view; comparable between runs only when each ran in a fresh process.

On CUDA, ``peak_cuda_mb`` is the allocator's own peak for the stage.
"""
from __future__ import annotations

import ctypes
import resource
import threading
import time
from pathlib import Path

import torch

_PAGE = resource.getpagesize()
SAMPLE_S = 0.05


class _MallInfo2(ctypes.Structure):  # glibc malloc.h, struct mallinfo2 (glibc >= 2.33)
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def _load_mallinfo2():
    try:
        function = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return None
    function.restype = _MallInfo2
    return function


_MALLINFO2 = _load_mallinfo2()


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (data generation uses worker processes)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def current_rss_bytes() -> int:
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * _PAGE
    except OSError:  # not Linux: fall back to the lifetime peak
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def allocated_bytes() -> int:
    """Bytes ``malloc`` has handed out and not had back (heap chunks plus mmapped chunks), all arenas;
    the resident size where ``mallinfo2`` is not available."""
    if _MALLINFO2 is None:
        return current_rss_bytes()
    info = _MALLINFO2()
    return int(info.uordblks + info.hblkhd)


def run_baseline() -> int:
    """What the process holds allocated before a run starts; stage peaks are counted above it."""
    return allocated_bytes()


class StageMeter:
    """Context manager; a sampling thread tracks the stage's peak memory (``ru_maxrss`` would give the
    peak of the whole process, not of the stage). ``baseline`` is ``run_baseline()`` taken when the run
    began, so that data loaded in one stage and held in the next counts in both."""

    def __init__(self, device: torch.device, interval: float = SAMPLE_S, baseline: int | None = None):
        self.device, self.interval = device, interval
        self.baseline = run_baseline() if baseline is None else baseline
        self.result: dict[str, float] = {}
        self._stop = threading.Event()

    def _take_sample(self) -> None:
        self._peak_rss = max(self._peak_rss, current_rss_bytes())
        self._peak_alloc = max(self._peak_alloc, allocated_bytes())

    def _sample(self) -> None:
        wait = self.interval
        while not self._stop.wait(wait):
            start = time.perf_counter()
            self._take_sample()
            # mallinfo2 walks the free lists: microseconds usually, milliseconds on a heap fragmented into
            # many thousands of pieces; keep the sampler under 2 % of one core either way
            wait = max(self.interval, 50 * (time.perf_counter() - start))

    def __enter__(self) -> "StageMeter":
        self._peak_rss, self._peak_alloc = 0, 0
        self._take_sample()
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
        self._take_sample()
        own = max(self._peak_alloc - self.baseline, 0)
        self.result = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "peak_alloc_mb": round(own / 2**20, 1),
                       "peak_rss_mb": round(self._peak_rss / 2**20, 1)}
        if self.device.type == "cuda":
            self.result["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated(self.device) / 2**20, 1)
