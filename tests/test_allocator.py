"""The glibc allocator setting every run and benchmark applies."""
import sys

import torch

from nasbench.allocator import keep_freed_memory


def test_keep_freed_memory_applies_on_glibc_linux_and_leaves_results_unchanged():
    x = torch.randn(64, 64, generator=torch.Generator().manual_seed(0))
    before = (x @ x).sum().item()
    applied = keep_freed_memory()
    if sys.platform.startswith("linux"):
        import platform
        assert applied == (platform.libc_ver()[0] == "glibc")
    else:
        assert applied is False
    big = torch.ones(64 * 2**20 // 4)  # above glibc's mmap threshold: now served from the heap
    assert big.sum().item() == big.numel()
    assert (x @ x).sum().item() == before
