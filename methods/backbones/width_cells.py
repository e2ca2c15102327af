"""The DARTS cell network (``darts_cells.EvalNetwork``) as a channel search uses it: one width per stage,
a channel mask per stage, and the list of every tensor axis a stage's width sets.

FlexCHarts (Yuezuegueler, Dimitriadis, Frossard, arXiv:2306.08021, Section 5.1) searches one width per
stage of a DARTS_V2 network (a stage is one cell; every layer of it has the stage's width): both
preprocessing layers, every operation's convolutions and BatchNorms; the cell's output concatenates
its four nodes (4 x width), which the next cells' preprocessing and the head read.

- ``width_network``: the evaluation network of ``darts_cells`` with ``cell_channels = widths``, its
  factorized reductions made ``InterleavedReduce`` (below) when it is a supernet whose widths change;
- ``StageMasks``: forward hooks that multiply every BatchNorm output of stage s by ``masks[s]`` (the
  combined prefix mask of DMaskingNAS / FlexCHarts, ``channel_masks``); pools and identities pass
  masked inputs on, so a masked channel is zero in every node of the stage;
- ``width_uses``: per stage, every axis its width sets (``channel_allocation``), which reallocation and
  the MACs model share.

``InterleavedReduce`` puts channel 2i of a factorized reduction from its first convolution and 2i + 1
from its second, instead of concatenating the halves. The function class is the same (a fixed
permutation of channels), but with concatenated halves a width change moves the second half's
channels to new positions, where the identity edges of DARTS_V2 add them to other channels: a resize
would change the function. Interleaved, every channel keeps its position, so a prefix mask keeps the
first f / 2 channels of each half (what a width-f reduction computes) and growing a stage with zero-read
new channels leaves the output unchanged. The retrained network (fixed widths) uses the reference's
concatenation.
"""
from __future__ import annotations

from functools import partial
from typing import Sequence

import torch
from torch import nn

from nasbench.methods.backbones.channel_allocation import WidthUse
from nasbench.methods.backbones.darts_cells import DARTS_V2, EvalCell, EvalNetwork, Genotype
from nasbench.methods.backbones.darts_ops import FactorizedReduce

_CONV, _NORM = (nn.Conv1d, nn.Conv2d), (nn.BatchNorm1d, nn.BatchNorm2d)
NODES = 4  # a cell's output concatenates its four intermediate nodes


class InterleavedReduce(FactorizedReduce):
    """``FactorizedReduce`` with its two halves interleaved (see the module docstring)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = x[(slice(None), slice(None)) + (slice(1, None),) * self.dims]
        shifted = nn.functional.pad(shifted, (0, 1) * self.dims)
        return self.bn(torch.stack((self.conv_1(x), self.conv_2(shifted)), dim=2).flatten(1, 2))


def _interleave(module: nn.Module) -> None:
    for name, child in module.named_children():
        if type(child) is FactorizedReduce:
            twin = InterleavedReduce(child.dims, child.conv_1.in_channels, 2 * child.conv_1.out_channels,
                                     child.bn.affine)
            twin.load_state_dict(child.state_dict())
            setattr(module, name, twin)
        else:
            _interleave(child)


def width_network(dims: int, in_channels: int, num_outputs: int, widths: Sequence[int], stem: int, head: int,
                  genotype: Genotype = DARTS_V2, supernet: bool = False, auxiliary: bool = False,
                  vocab_size: int | None = None) -> EvalNetwork:
    """The DARTS network with ``widths[s]`` channels per node in stage s; a ``supernet`` interleaves its
    factorized reductions (its widths change during the search); ``vocab_size``: a token stem."""
    if any(w < 2 or w % 2 for w in widths):
        raise ValueError(f"every stage width must be even and >= 2 (factorized reductions halve it), "
                         f"got {list(widths)}")
    net = EvalNetwork(genotype, in_channels, num_outputs, layers=len(widths), dims=dims, auxiliary=auxiliary,
                      cell_channels=[int(w) for w in widths], stem_channels=stem, head_channels=head,
                      vocab_size=vocab_size)
    if supernet:
        _interleave(net)
    return net


class StageMasks:
    """Multiplies every BatchNorm output of stage s of ``net`` by ``values[s]`` (None: unmasked)."""

    def __init__(self, net: EvalNetwork):
        self.values: list[torch.Tensor | None] = [None] * len(net.cells)
        self.handles = [m.register_forward_hook(partial(self._apply, s))
                        for s, cell in enumerate(net.cells) for m in cell.modules() if isinstance(m, _NORM)]

    def _apply(self, stage: int, module: nn.Module, inputs, output: torch.Tensor) -> torch.Tensor:
        mask = self.values[stage]
        return output if mask is None else output * mask.view(1, -1, *(1,) * (output.dim() - 2))

    def set(self, masks: Sequence[torch.Tensor] | None) -> None:
        self.values = list(masks) if masks is not None else [None] * len(self.values)


def width_uses(net: EvalNetwork) -> list[list[WidthUse]]:
    """Per stage, every axis its width sets: inside its cell, and where the next cells and the head
    read its output (4 blocks, one per node)."""
    uses: list[list[WidthUse]] = [[] for _ in net.cells]
    for s, cell in enumerate(net.cells):
        uses[s] += _cell_uses(s, cell)
        for pre, source in zip(cell.preprocess, (s - 2, s - 1)):
            if source >= 0:  # the stem's output has a fixed width
                convs = [pre.conv_1, pre.conv_2] if isinstance(pre, FactorizedReduce) else [pre[1]]
                uses[source] += [WidthUse(source, m, "in", blocks=NODES) for m in convs]
    if net.head.expand is not None:
        head_conv = net.head.expand[0][1]
        uses[-1].append(WidthUse(len(net.cells) - 1, head_conv, "in", blocks=NODES))
    else:
        uses[-1].append(WidthUse(len(net.cells) - 1, net.head.classifier, "in", blocks=NODES))
    return uses


def _cell_uses(s: int, cell: EvalCell) -> list[WidthUse]:
    """Inside cell s: the preprocessing outputs, and every convolution and BatchNorm of the operations."""
    uses, in_reduce = [], set()
    for module in cell.modules():
        if isinstance(module, FactorizedReduce):
            in_reduce |= {id(module.conv_1), id(module.conv_2)}
            uses += [WidthUse(s, module.conv_1, "out", divisor=2), WidthUse(s, module.conv_2, "out", divisor=2)]
            if module is not cell.preprocess[0]:  # a stride-2 skip edge reads the stage's own width
                uses += [WidthUse(s, module.conv_1, "in"), WidthUse(s, module.conv_2, "in")]
    preprocess_convs = {id(pre[1]) for pre in cell.preprocess if not isinstance(pre, FactorizedReduce)}
    for module in cell.modules():
        if isinstance(module, _NORM):
            uses.append(WidthUse(s, module, "norm"))
        elif isinstance(module, _CONV) and id(module) not in in_reduce:
            if module.groups > 1:
                uses.append(WidthUse(s, module, "depthwise"))
            else:
                uses.append(WidthUse(s, module, "out"))
                if id(module) not in preprocess_convs:
                    uses.append(WidthUse(s, module, "in"))
    return uses
