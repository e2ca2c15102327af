"""Wide ResNets of NAS-Bench-360 and DASH: Zagoruyko & Komodakis, "Wide Residual Networks", BMVC 2016
(arXiv:1605.07146), in the forms of Tu et al., "NAS-Bench-360" (NeurIPS 2022 Datasets and Benchmarks,
arXiv:2110.05668) and Shen, Khodak & Talwalkar, "Efficient Architecture Search for Diverse Tasks"
(DASH, NeurIPS 2022, arXiv:2204.07554); reference code github.com/rtu715/NAS-Bench-360 and
github.com/sjunhongshen/DASH. Their training recipes are in ``wrn_recipes``.

Every searchable convolution is built by a ``conv_factory(index, in_channels, out_channels, stride)``
so that DASH can put an aggregated convolution in its place; the default factory builds a plain
convolution with the (kernel, dilation) of ``kernels[index]``.

- ``WideResNet2D``: WRN-depth-k, widths [16, 16k, 32k, 64k], pre-activation blocks, strides
  (1, 1, 2, 2) for classification and all 1 for dense tasks, per-pixel linear head for dense outputs.
  13 searchable convolutions for depth 16 (stem + 2 per block).
- ``WideResNet1D``: three residual blocks of three ConvBlocks (Conv1d, Dropout, BN, ReLU), kernel
  sizes (8, 5, 3), widths [m, 2m, 2m] with m = min(4**(num_classes // 10 + 1), 64); causal padding
  (pad (k-1)d, chomp the tail) as in the reference, or centred with ``causal=False``. 9 searchable convs.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import nn

from nasbench.contracts import TaskShape

ConvFactory = Callable[[int, int, int, int], nn.Module]


def same_conv2d(in_ch: int, out_ch: int, kernel: int, dilation: int, stride: int) -> nn.Conv2d:
    """Convolution keeping the size (divided by the stride) for odd kernels: pad (k//2)·d."""
    return nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=(kernel // 2) * dilation, dilation=dilation)


def xavier_init(model: nn.Module) -> None:
    """Xavier-uniform with gain sqrt(2) on convolutions and linear layers, zero biases (the reference)."""
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight, gain=math.sqrt(2.0))
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class PreActBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int, dropout: float, conv1: nn.Module, conv2: nn.Module):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(in_ch), conv1
        self.drop = nn.Dropout(dropout)
        self.bn2, self.conv2 = nn.BatchNorm2d(out_ch), conv2
        self.relu = nn.ReLU()
        needs_projection = stride != 1 or in_ch != out_ch
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1, stride=stride) if needs_projection else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.relu(self.bn1(x)))
        out = self.conv2(self.relu(self.bn2(self.drop(out))))
        return out + self.shortcut(x)


class WideResNet2D(nn.Module):
    def __init__(self, in_channels: int, num_outputs: int, depth: int = 16, widen: int = 4, dropout: float = 0.0,
                 dense: bool = False, kernels: Sequence[tuple[int, int]] | None = None,
                 conv_factory: ConvFactory | None = None):
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError(f"WRN depth must be 6n+4, got {depth}")
        n = (depth - 4) // 6
        widths = [16, 16 * widen, 32 * widen, 64 * widen]
        strides = [1, 1, 1] if dense else [1, 2, 2]
        self.num_searchable = 1 + 2 * 3 * n
        kernels = list(kernels or wrn_kernels(2, depth))
        factory = conv_factory or (lambda i, cin, cout, s: same_conv2d(cin, cout, *kernels[i], s))
        self.stem = factory(0, in_channels, widths[0], 1)
        blocks, index, in_ch = [], 1, widths[0]
        for group, stride in enumerate(strides):
            out_ch = widths[group + 1]
            for b in range(n):
                s = stride if b == 0 else 1
                # the stride sits on conv2 of the first block of a group, as in the DASH backbone
                blocks.append(PreActBlock(in_ch, out_ch, s, dropout, factory(index, in_ch, out_ch, 1),
                                          factory(index + 1, out_ch, out_ch, s)))
                index, in_ch = index + 2, out_ch
        self.blocks = nn.Sequential(*blocks)
        self.bn, self.relu = nn.BatchNorm2d(in_ch), nn.ReLU()
        self.dense = dense
        self.head = nn.Linear(in_ch, num_outputs)
        xavier_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn(self.blocks(self.stem(x))))
        if self.dense:  # the per-pixel "channel-matching" linear layer
            return self.head(out.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self.head(out.mean(dim=(2, 3)))


def causal_conv1d(in_ch: int, out_ch: int, kernel: int, dilation: int, causal: bool = True) -> nn.Module:
    if causal:
        return CausalConv1d(in_ch, out_ch, kernel, dilation)
    total = (kernel - 1) * dilation  # centred; an even total puts the extra sample on the right
    return nn.Sequential(nn.ConstantPad1d((total // 2, total - total // 2), 0.0),
                         nn.Conv1d(in_ch, out_ch, kernel, dilation=dilation))


class CausalConv1d(nn.Module):
    """Pad (k-1)·d on both sides, convolve, chomp the last (k-1)·d samples: output t sees inputs <= t."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, dilation: int):
        super().__init__()
        self.chomp = (kernel - 1) * dilation
        self.conv = nn.Conv1d(in_ch, out_ch, kernel, dilation=dilation, padding=self.chomp)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return out[..., : out.shape[-1] - self.chomp] if self.chomp else out


class ResBlock1D(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, convs: Sequence[nn.Module], dropout: float, skip_equal_widths: bool):
        super().__init__()
        layers = []
        for i, conv in enumerate(convs):
            layers += [conv, nn.Dropout(dropout), nn.BatchNorm1d(out_ch), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        if in_ch != out_ch:
            self.shortcut: nn.Module | None = nn.Sequential(nn.Conv1d(in_ch, out_ch, 1), nn.BatchNorm1d(out_ch))
        else:  # the reference has no skip when widths are equal; skip_equal_widths adds an identity
            self.shortcut = nn.Identity() if skip_equal_widths else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return out + self.shortcut(x) if self.shortcut is not None else out


def wrn1d_mid_channels(num_classes: int) -> int:
    return min(4 ** (num_classes // 10 + 1), 64)


class WideResNet1D(nn.Module):
    def __init__(self, in_channels: int, num_outputs: int, mid_channels: int | None = None, dropout: float = 0.0,
                 dense: bool = False, kernels: Sequence[tuple[int, int]] | None = None, causal: bool = True,
                 skip_equal_widths: bool = False, conv_factory: ConvFactory | None = None):
        super().__init__()
        mid = mid_channels or wrn1d_mid_channels(num_outputs)
        widths = [in_channels, mid, 2 * mid, 2 * mid]
        self.num_searchable = 9
        kernels = list(kernels or wrn_kernels(1))
        factory = conv_factory or (lambda i, cin, cout, s: causal_conv1d(cin, cout, *kernels[i], causal=causal))
        blocks = []
        for b in range(3):
            cin, cout = widths[b], widths[b + 1]
            convs = [factory(3 * b + j, cin if j == 0 else cout, cout, 1) for j in range(3)]
            blocks.append(ResBlock1D(cin, cout, convs, dropout, skip_equal_widths))
        self.blocks = nn.Sequential(*blocks)
        self.dense = dense
        self.head = nn.Linear(widths[-1], num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.blocks(x)
        if self.dense:
            return self.head(out.transpose(1, 2)).transpose(1, 2)
        return self.head(out.mean(dim=-1))


def wrn_kernels(dims: int, depth: int = 16) -> list[tuple[int, int]]:
    """The (kernel, dilation) of every searchable convolution of the plain backbone, stem first."""
    if dims == 2:
        return [(3, 1)] * (1 + 6 * ((depth - 4) // 6))
    return [(8, 1), (5, 1), (3, 1)] * 3


def build_wrn(shape: TaskShape, depth: int = 16, widen: int = 4, dropout: float = 0.0, mid_channels: int | None = None,
              causal: bool = True, kernels: Sequence[tuple[int, int]] | None = None,
              conv_factory: ConvFactory | None = None) -> nn.Module:
    """The WRN for a task of ``shape``: WRN-depth-widen in 2D, the 1D WRN (``mid_channels``,
    ``causal``) in 1D; ``kernels`` or ``conv_factory`` set the searchable convolutions."""
    if shape.dims == 2:
        return WideResNet2D(shape.in_channels, shape.num_outputs, depth, widen, dropout, dense=shape.dense,
                            kernels=kernels, conv_factory=conv_factory)
    return WideResNet1D(shape.in_channels, shape.num_outputs, mid_channels, dropout, dense=shape.dense,
                        kernels=kernels, causal=causal, conv_factory=conv_factory)
