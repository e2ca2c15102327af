"""Keep freed memory in the process for reuse instead of handing it back to the OS (glibc only).

glibc serves every allocation above its mmap threshold (at most 32 MiB) with a fresh ``mmap`` and
unmaps it when it is freed, so a training step that allocates and frees the same 30-100 MB
activations on every step page-faults them in again on every step: on this 2-core machine
``nasbench perf dnarch`` spent about as much time in the kernel as in user code. ``keep_freed_memory``
switches those mmaps off and raises the trim threshold, so freed blocks are reused, as PyTorch's
caching allocator does on GPUs. The cost: the process's resident size stays near its peak.
"""
from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_MAX = -1, -2, -4  # glibc malloc.h
TRIM_THRESHOLD = 2**31 - 1  # mallopt takes an int: return memory only above 2 GiB of free heap top
TOP_PAD = 256 * 2**20  # grow the heap in steps of 256 MiB


def keep_freed_memory() -> bool:
    """Configure glibc malloc as described above; False (and nothing changed) elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(option, value) == 1 for option, value in
               ((M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, TRIM_THRESHOLD), (M_TOP_PAD, TOP_PAD)))
