"""Dynamic channel allocation: resize every tensor that follows a searched width, and its cost.

FlexCHarts (Yuezuegueler, Dimitriadis, Frossard, "Flexible Channel Dimensions for Differentiable
Architecture Search", arXiv:2306.08021, Section 4.2 and Algorithm 1) grows or truncates the kernels of
a stage at epoch ends when its active width range moves. This module does that for any network that
declares, per searched width, where the width is used (``WidthUse``):

- ``out``: a convolution's or linear layer's output channels (weight dim 0, bias);
- ``in``: its input channels (weight dim 1), for the next layer's inputs;
- ``depthwise``: a depthwise convolution (groups = in = out = width: weight dim 0, bias, groups);
- ``norm``: a BatchNorm layer (weight, bias, running mean and variance).

A use may cover ``blocks`` copies of the width laid end to end (a DARTS cell's output concatenates its
four nodes, so the next cell's 1x1 convolution reads 4 blocks), each of ``width // divisor`` channels
(the two halves of a factorized reduction). Resizing keeps the leading channels of every block exactly
and fills the new ones in one of three ways (``init``): ``zeros`` everywhere (the network's output is
unchanged, but a channel with zero weights and zero BatchNorm scale gets no gradient and stays dead);
``default``, the layer's default initialisation (their mask weights are near zero, so the loss moves
by at most the mask mass they receive); or ``preserving`` (the default): default values where a new
channel is produced (its convolution rows, BatchNorm scale one) and zeros where it is read (the next
layer's input columns), so the output is unchanged exactly and the new channels still learn (the
function-preserving widening of Net2Net: Chen, Goodfellow, Shlens, ICLR 2016, arXiv:1511.05641).
Optimiser state that has the parameter's shape (SGD momentum, Adam moments) is resized the same way,
new entries zero; scalar state (Adam's step) is kept. The optimiser then holds the new parameters in
place of the old ones.

``WidthMacs`` turns the same uses into a multiply-accumulate count that is a polynomial of the widths:
exact (equal to ``nasbench.arch.count_macs``) for integer widths, differentiable for soft widths.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal, Sequence

import torch
from torch import nn

Role = Literal["out", "in", "depthwise", "norm"]
NewInit = Literal["preserving", "zeros", "default"]
_CONV = (nn.Conv1d, nn.Conv2d)
_NORM = (nn.BatchNorm1d, nn.BatchNorm2d)


@dataclass(frozen=True, eq=False)
class WidthUse:
    """One place where searched width ``key`` sets the size of an axis of ``module``."""

    key: int
    module: nn.Module
    role: Role
    blocks: int = 1
    divisor: int = 1

    def size(self, width: int) -> int:
        return self.blocks * (width // self.divisor)


def resize_axis(tensor: torch.Tensor, dim: int, blocks: int, new_block: int, fill: torch.Tensor) -> torch.Tensor:
    """``tensor`` with axis ``dim`` (``blocks`` equal blocks) resized to blocks of ``new_block``: the
    leading entries of every block kept, the others taken from ``fill`` (already of the new shape)."""
    old_block = tensor.shape[dim] // blocks
    keep = min(old_block, new_block)
    out = fill.clone()
    src = tensor.unflatten(dim, (blocks, old_block)).narrow(dim + 1, 0, keep)
    out.unflatten(dim, (blocks, new_block)).narrow(dim + 1, 0, keep).copy_(src)
    return out


def _axes(use: WidthUse) -> list[tuple[str, int]]:
    """(tensor name, axis) pairs of ``use.module`` that the width sets."""
    if use.role == "in":
        return [("weight", 1)]
    names = ["weight", "bias"] + (["running_mean", "running_var"] if use.role == "norm" else [])
    return [(name, 0) for name in names if getattr(use.module, name, None) is not None]


def _fresh(use: WidthUse, name: str, shape: torch.Size, like: torch.Tensor, init: NewInit) -> torch.Tensor:
    """New-shape values for ``use.module.name``: zeros, or what a fresh layer of that shape starts
    with, or (``preserving``) fresh values where new channels are produced and zeros where they are read."""
    module = use.module
    zero = init == "zeros" or (init == "preserving" and use.role == "in")
    if zero and name in ("weight", "bias"):
        return torch.zeros(shape, dtype=like.dtype, device=like.device)
    if name == "running_var" or (name == "weight" and isinstance(module, _NORM)):
        return torch.ones(shape, dtype=like.dtype, device=like.device)
    if name in ("running_mean", "bias"):
        return torch.zeros(shape, dtype=like.dtype, device=like.device)
    fresh = torch.empty(shape, dtype=like.dtype, device=like.device)
    nn.init.kaiming_uniform_(fresh, a=5 ** 0.5)  # the default of nn.ConvNd and nn.Linear
    return fresh


def _set_sizes(use: WidthUse, new: int) -> None:
    m, size = use.module, use.size(new)
    if isinstance(m, _NORM):
        m.num_features = size
    elif isinstance(m, _CONV):
        if use.role == "depthwise":
            m.in_channels = m.out_channels = m.groups = size
        elif use.role == "out":
            m.out_channels = size
        else:
            m.in_channels = size
    elif isinstance(m, nn.Linear):
        if use.role == "out":
            m.out_features = size
        else:
            m.in_features = size


@torch.no_grad()
def reallocate(uses: Iterable[WidthUse], old: int, new: int, optimizers: Sequence[torch.optim.Optimizer] = (),
               init: NewInit = "preserving") -> int:
    """Resize every use of a width from ``old`` to ``new`` channels, with the optimisers' state;
    returns the number of tensors resized (zero when nothing changes)."""
    if old == new:
        return 0
    count = 0
    for use in uses:
        for name, dim in _axes(use):
            tensor = getattr(use.module, name)
            shape = list(tensor.shape)
            shape[dim] = use.size(new)
            fill = _fresh(use, name, torch.Size(shape), tensor, init)
            resized = resize_axis(tensor.detach(), dim, use.blocks, new // use.divisor, fill)
            if isinstance(tensor, nn.Parameter):
                _replace_parameter(use.module, name, tensor, resized, dim, use.blocks, new // use.divisor, optimizers)
            else:
                setattr(use.module, name, resized)  # a buffer: registered names stay buffers
            count += 1
        _set_sizes(use, new)
    return count


def _replace_parameter(module, name, old_param, values, dim, blocks, new_block, optimizers) -> None:
    new_param = nn.Parameter(values, requires_grad=old_param.requires_grad)
    setattr(module, name, new_param)
    for opt in optimizers:
        for group in opt.param_groups:
            group["params"] = [new_param if p is old_param else p for p in group["params"]]
        state = opt.state.pop(old_param, None)
        if state is None:
            continue
        opt.state[new_param] = {
            key: resize_axis(value, dim, blocks, new_block, torch.zeros_like(values))
            if torch.is_tensor(value) and value.shape == old_param.shape else value
            for key, value in state.items()}


# -- cost ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MacTerm:
    """coefficient * in_size * out_size of one layer; a size is (key, blocks / divisor) or a constant."""

    coefficient: float
    inputs: tuple[int | None, float]  # (width key, multiplier) or (None, constant)
    outputs: tuple[int | None, float]


def _size_of(module: nn.Module, role: str, uses: dict[tuple[int, str], WidthUse]) -> tuple[int | None, float]:
    for r in (role, "depthwise"):
        use = uses.get((id(module), r))
        if use is not None:
            return use.key, use.blocks / use.divisor
    fixed = {"in": ("in_channels", "in_features"), "out": ("out_channels", "out_features")}[role]
    return None, float(next(getattr(module, a) for a in fixed if hasattr(module, a)))


class WidthMacs:
    """Multiply-accumulates of a network as a function of its searched widths.

    Built from the network's width uses and one forward pass that records the spatial size of every
    convolution's output (sizes do not depend on widths). Counts what ``count_macs`` counts:
    convolutions (C_in / groups * prod(kernel) * C_out * positions) and linear layers."""

    def __init__(self, model: nn.Module, uses: Iterable[WidthUse], example: torch.Tensor):
        index = {(id(u.module), u.role): u for u in uses}
        positions = _output_positions(model, example)
        self.terms: list[MacTerm] = []
        for module in model.modules():
            if not isinstance(module, (*_CONV, nn.Linear)) or id(module) not in positions:
                continue
            if isinstance(module, _CONV) and module.groups > 1:  # depthwise: C * prod(kernel) * positions
                kernel = module.weight[0].numel()
                self.terms.append(MacTerm(kernel * positions[id(module)], (None, 1.0), _size_of(module, "out", index)))
                continue
            kernel = module.weight[0, 0].numel() if isinstance(module, _CONV) else 1
            self.terms.append(MacTerm(kernel * positions[id(module)], _size_of(module, "in", index),
                                      _size_of(module, "out", index)))

    def __call__(self, widths: torch.Tensor | Sequence[float]) -> torch.Tensor:
        """MACs at ``widths`` (indexed by width key): exact for integers, differentiable for tensors."""
        widths = widths if torch.is_tensor(widths) else torch.tensor(widths, dtype=torch.float64)
        total = widths.new_zeros(())
        for term in self.terms:
            total = total + term.coefficient * _value(term.inputs, widths) * _value(term.outputs, widths)
        return total


def _value(size: tuple[int | None, float], widths: torch.Tensor):
    key, factor = size
    return factor if key is None else widths[key] * factor


@torch.no_grad()
def _output_positions(model: nn.Module, example: torch.Tensor) -> dict[int, int]:
    """Output positions (product of spatial sizes) of every conv and linear layer for one example."""
    found: dict[int, int] = {}

    def hook(module, inputs, output):
        found[id(module)] = output[0, 0].numel() if output.dim() > 2 else 1

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (*_CONV, nn.Linear))]
    was_training = model.training
    try:
        model.eval()
        model(example[:1])
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return found
