"""The DARTS cell network with one searchable width per stage, as FlexCHarts searches it.

Network (FlexCHarts, arXiv:2306.08021, Section 5.1): a fixed stem (3x3 convolution, ``stem`` channels,
BatchNorm), ``len(widths)`` stages, each one cell of a DARTS genotype (DARTS_V2 by default; Liu,
Simonyan, Yang, "DARTS: Differentiable Architecture Search", ICLR 2019, arXiv:1806.09055), reduction
cells at positions n // 3 and 2n // 3, and a fixed head (ReLU, 1x1 convolution to ``head`` channels,
BatchNorm, ReLU, global average pool, linear). Every layer of a stage has the stage's width: both
preprocessing convolutions, every operation's convolutions and BatchNorms; the cell's output
concatenates its four nodes (4 x width). 1D tasks get the same network with 1D layers.

For the search, a stage is *allocated* with more channels than it will keep, and ``stage_masks``
(one mask per stage, or None) multiply the output of every BatchNorm of the stage: the combined
prefix mask of DMaskingNAS / FlexCHarts (``channel_masks``). Pools and identities pass masked inputs
on, so a masked channel is zero in every node. ``width_uses()`` lists, per stage, every tensor axis the
width sets (``channel_allocation``), which resizing and the MACs model share.

Departures from the DARTS reference code, and why:
- the factorized reduction interleaves its two half-width convolutions (channel 2i from the first,
  2i + 1 from the second) instead of concatenating them: the same function class up to a fixed
  permutation, but a prefix mask and a resize then keep every channel in place when the width changes;
  the shifted branch is padded back to the first branch's size, so odd sizes (7 x 7) work too;
- drop-path draws its masks from the generator the method hands in (never the global one);
- no auxiliary head (the paper retrains with one, weight 0.4): ``fit`` takes one output per forward.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nasbench.methods.backbones.channel_allocation import WidthUse

# DARTS_V2 of the DARTS reference (genotypes.py): (operation, input node) per edge, two edges per node
DARTS_V2 = {
    "normal": (("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
               ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)),
    "reduce": (("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
               ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)),
}
NODES = 4  # intermediate nodes per cell; the output concatenates all four


class StageMask:
    """The current mask of one stage, shared by that stage's BatchNorms (None: no mask)."""

    def __init__(self) -> None:
        self.value: torch.Tensor | None = None


class MaskedNorm(nn.Module):
    def __init__(self, dims: int, channels: int, stage: StageMask, affine: bool = True):
        super().__init__()
        self.bn = (nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d)(channels, affine=affine)
        self.stage = stage

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, mask = self.bn(x), self.stage.value
        return out if mask is None else out * mask.view(1, -1, *(1,) * (x.dim() - 2))


def conv(dims: int, *args, **kwargs) -> nn.Module:
    return (nn.Conv1d if dims == 1 else nn.Conv2d)(*args, bias=False, **kwargs)


class ReLUConvBN(nn.Module):
    def __init__(self, dims, c_in, c_out, stage: StageMask, affine):
        super().__init__()
        self.conv, self.norm = conv(dims, c_in, c_out, 1), MaskedNorm(dims, c_out, stage, affine)

    def forward(self, x):
        return self.norm(self.conv(F.relu(x)))


class FactorizedReduce(nn.Module):
    """Stride-2 1x1 convolutions of x and of x shifted by one, interleaved (see the docstring)."""

    def __init__(self, dims, c_in, c_out, stage: StageMask, affine):
        super().__init__()
        self.conv_1 = conv(dims, c_in, c_out // 2, 1, stride=2)
        self.conv_2 = conv(dims, c_in, c_out // 2, 1, stride=2)
        self.norm = MaskedNorm(dims, c_out, stage, affine)

    def forward(self, x):
        x = F.relu(x)
        shifted = x[..., 1:] if x.dim() == 3 else x[..., 1:, 1:]
        shifted = F.pad(shifted, (0, 1) * (x.dim() - 2))
        a, b = self.conv_1(x), self.conv_2(shifted)
        return self.norm(torch.stack((a, b), dim=2).flatten(1, 2))


class SepConv(nn.Module):
    """Two stacked ReLU -> depthwise -> pointwise -> BN (DARTS sep_conv)."""

    def __init__(self, dims, c, kernel, stride, stage, affine):
        super().__init__()
        pad = kernel // 2
        self.dw1, self.pw1 = conv(dims, c, c, kernel, stride=stride, padding=pad, groups=c), conv(dims, c, c, 1)
        self.norm1 = MaskedNorm(dims, c, stage, affine)
        self.dw2, self.pw2 = conv(dims, c, c, kernel, padding=pad, groups=c), conv(dims, c, c, 1)
        self.norm2 = MaskedNorm(dims, c, stage, affine)

    def forward(self, x):
        x = self.norm1(self.pw1(self.dw1(F.relu(x))))
        return self.norm2(self.pw2(self.dw2(F.relu(x))))


class DilConv(nn.Module):
    """ReLU -> depthwise with dilation 2 -> pointwise -> BN (DARTS dil_conv)."""

    def __init__(self, dims, c, kernel, stride, stage, affine):
        super().__init__()
        self.dw = conv(dims, c, c, kernel, stride=stride, padding=kernel // 2 * 2, dilation=2, groups=c)
        self.pw, self.norm = conv(dims, c, c, 1), MaskedNorm(dims, c, stage, affine)

    def forward(self, x):
        return self.norm(self.pw(self.dw(F.relu(x))))


class Pool(nn.Module):
    def __init__(self, dims, kind, stride):
        super().__init__()
        if kind == "max":
            self.pool = (nn.MaxPool1d if dims == 1 else nn.MaxPool2d)(3, stride=stride, padding=1)
        else:
            self.pool = (nn.AvgPool1d if dims == 1 else nn.AvgPool2d)(3, stride=stride, padding=1,
                                                                        count_include_pad=False)

    def forward(self, x):
        return self.pool(x)


def make_op(name: str, dims: int, c: int, stride: int, stage: StageMask, affine: bool) -> nn.Module:
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(dims, c, c, stage, affine)
    if name in ("max_pool_3x3", "avg_pool_3x3"):
        return Pool(dims, name[:3], stride)
    kind, _, size = name.rpartition("_")
    kernel = int(size.split("x")[0])
    if kind == "sep_conv":
        return SepConv(dims, c, kernel, stride, stage, affine)
    if kind == "dil_conv":
        return DilConv(dims, c, kernel, stride, stage, affine)
    raise ValueError(f"unknown DARTS operation {name!r}")


class Cell(nn.Module):
    def __init__(self, dims, genotype, c_pp, c_p, c, reduction, reduction_prev, affine, stage: StageMask):
        super().__init__()
        self.reduction, self.stage = reduction, stage
        self.pre0 = (FactorizedReduce(dims, c_pp, c, stage, affine) if reduction_prev
                     else ReLUConvBN(dims, c_pp, c, stage, affine))
        self.pre1 = ReLUConvBN(dims, c_p, c, stage, affine)
        edges = genotype["reduce" if reduction else "normal"]
        self.inputs = [index for _, index in edges]
        self.ops = nn.ModuleList(make_op(name, dims, c, 2 if reduction and index < 2 else 1, stage, affine)
                                 for name, index in edges)
        self.drop_prob, self.generator = 0.0, None

    def forward(self, s0, s1):
        states = [self.pre0(s0), self.pre1(s1)]
        for node in range(NODES):
            total = 0
            for edge in (2 * node, 2 * node + 1):
                total = total + self._drop(self.ops[edge], self.ops[edge](states[self.inputs[edge]]))
            states.append(total)
        return torch.cat(states[2:], dim=1)

    def _drop(self, op, h):
        """Drop-path on non-identity operations while training (DARTS), masks from the method's generator."""
        if not self.training or self.drop_prob <= 0 or isinstance(op, nn.Identity):
            return h
        keep = 1.0 - self.drop_prob
        device = self.generator.device if self.generator is not None else h.device
        shape = (h.shape[0],) + (1,) * (h.dim() - 1)
        mask = torch.bernoulli(torch.full(shape, keep, device=device), generator=self.generator)
        return h * mask.to(h.device, h.dtype) / keep


def reduction_positions(cells: int) -> tuple[int, ...]:
    """DARTS: reduction cells at n // 3 and 2n // 3 (distinct, so one cell never reduces twice)."""
    return tuple(sorted({cells // 3, 2 * cells // 3}))


def base_widths(cells: int, width: int) -> list[int]:
    """The DARTS widths: ``width``, doubled at every reduction cell."""
    reductions, widths = reduction_positions(cells), []
    for i in range(cells):
        width *= 2 if i in reductions else 1
        widths.append(width)
    return widths


class WidthCellNetwork(nn.Module):
    """Stem, one DARTS cell per stage with ``widths[s]`` channels per node, head. ``stage_masks``
    (set by a channel search) multiplies every BatchNorm output of stage s by ``stage_masks[s]``."""

    def __init__(self, dims: int, in_channels: int, num_classes: int, widths: Sequence[int], stem: int = 108,
                 head: int = 256, genotype: dict = DARTS_V2, affine: bool = True):
        super().__init__()
        if dims not in (1, 2) or any(w < 2 or w % 2 for w in widths):
            raise ValueError(f"need dims 1 or 2 and even widths >= 2, got dims={dims}, widths={list(widths)}")
        self.dims, self.widths = dims, [int(w) for w in widths]
        self.stem = nn.Sequential(conv(dims, in_channels, stem, 3, padding=1),
                                  (nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d)(stem))
        self.stages = [StageMask() for _ in widths]
        reductions, self.sources = reduction_positions(len(widths)), []
        c_pp, c_p, prev_reduction, cells = stem, stem, False, []
        for i, c in enumerate(self.widths):
            cells.append(Cell(dims, genotype, c_pp, c_p, c, i in reductions, prev_reduction, affine, self.stages[i]))
            self.sources.append((i - 2 if i >= 2 else None, i - 1 if i >= 1 else None))  # None: the stem
            c_pp, c_p, prev_reduction = c_p, NODES * c, i in reductions
        self.cells = nn.ModuleList(cells)
        self.head = nn.Sequential(nn.ReLU(), conv(dims, c_p, head, 1), (nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d)(head),
                                  nn.ReLU())
        self.classifier = nn.Linear(head, num_classes)
        self.stage_masks: list[torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        masks = self.stage_masks or [None] * len(self.cells)
        s0 = s1 = self.stem(x)
        for stage, cell, mask in zip(self.stages, self.cells, masks):
            stage.value = mask
            s0, s1 = s1, cell(s0, s1)
        for stage in self.stages:
            stage.value = None  # no tensor of this step outlives it
        out = self.head(s1)
        return self.classifier(out.flatten(2).mean(-1))

    def set_drop_path(self, prob: float, generator: torch.Generator | None) -> None:
        for cell in self.cells:
            cell.drop_prob, cell.generator = prob, generator

    def width_uses(self) -> list[list[WidthUse]]:
        """Per stage, every axis its width sets (see ``channel_allocation``)."""
        uses: list[list[WidthUse]] = [[] for _ in self.cells]
        for s, cell in enumerate(self.cells):
            uses[s] += _inner_uses(s, cell)
            for pre, source in ((cell.pre0, self.sources[s][0]), (cell.pre1, self.sources[s][1])):
                if source is not None:  # the previous cell's 4 nodes feed this preprocessing
                    convs = [pre.conv] if isinstance(pre, ReLUConvBN) else [pre.conv_1, pre.conv_2]
                    uses[source] += [WidthUse(source, m, "in", blocks=NODES) for m in convs]
        uses[-1].append(WidthUse(len(self.cells) - 1, self.head[1], "in", blocks=NODES))
        return uses


def _inner_uses(s: int, cell: Cell) -> list[WidthUse]:
    """The axes inside cell ``s``: outputs of its preprocessing, everything inside its operations."""
    uses = []
    for module in cell.modules():
        if isinstance(module, FactorizedReduce):
            uses += [WidthUse(s, module.conv_1, "out", divisor=2), WidthUse(s, module.conv_2, "out", divisor=2)]
            if module is not cell.pre0:  # a stride-2 skip inside the cell reads the stage's width
                uses += [WidthUse(s, module.conv_1, "in"), WidthUse(s, module.conv_2, "in")]
        elif isinstance(module, ReLUConvBN):
            uses.append(WidthUse(s, module.conv, "out"))
        elif isinstance(module, (SepConv, DilConv)):
            for child in module.children():
                if isinstance(child, (nn.Conv1d, nn.Conv2d)):
                    uses.append(WidthUse(s, child, "depthwise") if child.groups > 1 else WidthUse(s, child, "out"))
                    if child.groups == 1:
                        uses.append(WidthUse(s, child, "in"))
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            uses.append(WidthUse(s, module, "norm"))
    return uses
