"""DASH's kernel/dilation search space on the Wide-ResNet backbones of NAS-Bench-360.

Every searchable convolution of the backbone (13 in WRN-16-k, 7 in WRN-10-k, 9 in the 1D WRN;
``nasbench.methods.backbones.wrn``) takes one pair (k, d) from K x D. K and D are those of the
DASH reference implementation (``src/task_configs.py``, ``get_config``): 2D K = {3, 5, 7, 9},
D = {1, 3, 7, 15}; 1D K = {3, 7, 11, 15, 19}, D = {1, 3, 7, 15}.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from torch import nn

from nasbench.contracts import TaskShape
from nasbench.methods.backbones.wrn import WideResNet1D, WideResNet2D

K_2D, D_2D = (3, 5, 7, 9), (1, 3, 7, 15)
K_1D, D_1D = (3, 7, 11, 15, 19), (1, 3, 7, 15)

Kernels = list[tuple[int, int]]


def default_space(dims: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """DASH's (K, D) for tasks of ``dims`` dimensions."""
    return (K_2D, D_2D) if dims == 2 else (K_1D, D_1D)


@dataclass(frozen=True)
class Backbone:
    """Which WRN a network is: depth and width in 2D; the 1D WRN has fixed depth."""

    depth: int = 16
    widen: int = 1
    mid_channels: int | None = None  # 1D WRN width; None: the reference's min(4 ** (classes // 10 + 1), 64)
    causal: bool = True  # 1D WRN padding of the reference
    dropout: float = 0.0

    def name(self, dims: int) -> str:
        return f"wrn-{self.depth}-{self.widen}" if dims == 2 else "wrn1d"


def build_network(shape: TaskShape, backbone: Backbone, kernels: Sequence[tuple[int, int]] | None = None) -> nn.Module:
    """The WRN for ``shape`` with one (k, d) per searchable convolution (None: the backbone's own)."""
    kernels = [tuple(pair) for pair in kernels] if kernels is not None else None
    if shape.dims == 2:
        return WideResNet2D(shape.in_channels, shape.num_outputs, backbone.depth, backbone.widen, backbone.dropout,
                            dense=shape.dense, kernels=kernels)
    return WideResNet1D(shape.in_channels, shape.num_outputs, backbone.mid_channels, backbone.dropout,
                        dense=shape.dense, kernels=kernels, causal=backbone.causal)


def searchable_layers(shape: TaskShape, backbone: Backbone) -> int:
    """How many convolutions of the backbone pick a (k, d)."""
    return build_network(shape, backbone).num_searchable


def sample_kernels(rng: np.random.Generator, layers: int, kernel_sizes: Sequence[int],
                   dilations: Sequence[int]) -> Kernels:
    """One architecture: every layer draws (k, d) uniformly from K x D, independently of the others."""
    picks = rng.integers(len(kernel_sizes) * len(dilations), size=layers)
    return [(int(kernel_sizes[i // len(dilations)]), int(dilations[i % len(dilations)])) for i in picks]


def receptive_field(kernel: int, dilation: int) -> int:
    return (kernel - 1) * dilation + 1
