"""The eight candidate operations of the DARTS cell space, built in 1D or 2D from one definition.

Paper: H. Liu, K. Simonyan, Y. Yang, "DARTS: Differentiable Architecture Search", ICLR 2019
(arXiv:1806.09055). Constants from the reference implementation (github.com/quark0/darts,
``cnn/operations.py``) and from NAS-Bench-360's 1D port of it (github.com/rtu715/NAS-Bench-360,
``darts_1d``); read for facts only, no code was copied.

Every operation maps C channels to C channels and divides the length (1D) or height and width (2D)
by its stride, rounding up (``ceil(n / 2)`` at stride 2 for every operation, so odd sizes work):

- ``none``: zeros (the "no edge" choice);
- ``max_pool_3x3``, ``avg_pool_3x3``: 3-wide pooling, padding 1, the average not counting the padding;
- ``skip_connect``: identity, or ``FactorizedReduce`` at stride 2;
- ``sep_conv_3x3``, ``sep_conv_5x5``: twice ReLU -> depthwise conv -> pointwise conv -> BN, the stride
  on the first depthwise conv;
- ``dil_conv_3x3``, ``dil_conv_5x5``: ReLU -> depthwise conv with dilation 2 -> pointwise conv -> BN.

``affine`` is the BatchNorm's learnable scale and shift: off in the search network, on in the
evaluation network [R]. ``FactorizedReduce`` departs from the reference on odd sizes only: the
reference convolves ``x[..., 1:, 1:]``, whose output is one shorter than the first path's when the
size is odd; here the shifted input is padded back to the size first, which leaves even sizes
exactly as the reference computes them (the padded position is never sampled by the stride).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

PRIMITIVES: tuple[str, ...] = (  # [R] genotypes.PRIMITIVES, in this order (alpha's columns)
    "none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
    "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5",
)


def conv(dims: int, *args, **kwargs) -> nn.Module:
    return (nn.Conv1d if dims == 1 else nn.Conv2d)(*args, **kwargs)


def batch_norm(dims: int, channels: int, affine: bool) -> nn.Module:
    return (nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d)(channels, affine=affine)


class ReLUConvBN(nn.Sequential):
    """ReLU -> conv (no bias) -> BN: the cells' input preprocessing (1x1) and the stem's shape."""

    def __init__(self, dims: int, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool):
        super().__init__(nn.ReLU(), conv(dims, c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
                         batch_norm(dims, c_out, affine))


class DilConv(nn.Sequential):
    """ReLU -> depthwise conv (dilated) -> pointwise conv -> BN."""

    def __init__(self, dims: int, c_in: int, c_out: int, kernel: int, stride: int, padding: int, dilation: int,
                 affine: bool):
        super().__init__(
            nn.ReLU(),
            conv(dims, c_in, c_in, kernel, stride=stride, padding=padding, dilation=dilation, groups=c_in, bias=False),
            conv(dims, c_in, c_out, 1, bias=False),
            batch_norm(dims, c_out, affine))


class SepConv(nn.Sequential):
    """Two stacked separable convolutions (ReLU -> depthwise -> pointwise -> BN); the first strides."""

    def __init__(self, dims: int, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool):
        super().__init__(DilConv(dims, c_in, c_in, kernel, stride, padding, 1, affine),
                         DilConv(dims, c_in, c_out, kernel, 1, padding, 1, affine))


class Zero(nn.Module):
    """The ``none`` operation: zeros of the strided shape."""

    def __init__(self, dims: int, stride: int):
        super().__init__()
        self.dims, self.stride = dims, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        index = (slice(None), slice(None)) + (slice(None, None, self.stride),) * self.dims
        return x[index].mul(0.0)


class FactorizedReduce(nn.Module):
    """Halve the resolution without losing every other position: two 1x1 stride-2 convolutions, on
    the input and on the input shifted by one, concatenated, then BN [R]. ``c_out`` must be even."""

    def __init__(self, dims: int, c_in: int, c_out: int, affine: bool):
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even number of output channels, got {c_out}")
        self.dims = dims
        self.relu = nn.ReLU()
        self.conv_1 = conv(dims, c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = conv(dims, c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = batch_norm(dims, c_out, affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = x[(slice(None), slice(None)) + (slice(1, None),) * self.dims]
        shifted = F.pad(shifted, (0, 1) * self.dims)  # back to the input's size (see module docstring)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


def _pool(dims: int, kind: str, stride: int) -> nn.Module:
    if kind == "max":
        return (nn.MaxPool1d if dims == 1 else nn.MaxPool2d)(3, stride=stride, padding=1)
    return (nn.AvgPool1d if dims == 1 else nn.AvgPool2d)(3, stride=stride, padding=1, count_include_pad=False)


OpFactory = Callable[[int, int, int, bool], nn.Module]  # (dims, C, stride, affine)
OPS: dict[str, OpFactory] = {  # [R] operations.OPS: kernel, padding and dilation of each op
    "none": lambda dims, c, stride, affine: Zero(dims, stride),
    "max_pool_3x3": lambda dims, c, stride, affine: _pool(dims, "max", stride),
    "avg_pool_3x3": lambda dims, c, stride, affine: _pool(dims, "avg", stride),
    "skip_connect": lambda dims, c, stride, affine: (
        nn.Identity() if stride == 1 else FactorizedReduce(dims, c, c, affine)),
    "sep_conv_3x3": lambda dims, c, stride, affine: SepConv(dims, c, c, 3, stride, 1, affine),
    "sep_conv_5x5": lambda dims, c, stride, affine: SepConv(dims, c, c, 5, stride, 2, affine),
    "dil_conv_3x3": lambda dims, c, stride, affine: DilConv(dims, c, c, 3, stride, 2, 2, affine),
    "dil_conv_5x5": lambda dims, c, stride, affine: DilConv(dims, c, c, 5, stride, 4, 2, affine),
}


def make_op(name: str, dims: int, channels: int, stride: int, affine: bool) -> nn.Module:
    """One candidate operation by its name in ``PRIMITIVES``."""
    if name not in OPS:
        raise ValueError(f"unknown DARTS operation {name!r}; the operations are {', '.join(PRIMITIVES)}")
    return OPS[name](dims, channels, stride, affine)
