"""ResNets whose pooling positions are a parameter: the search spaces of the Balanced Mixture of
SuperNets (M. Javan, M. Toews, M. Pedersoli, "Balanced Mixture of SuperNets for Learning the CNN
Pooling Architecture", 2023; Section 2.1 and Table 5; code github.com/mehravehj/Balanced-Mixture-of-SuperNets).

A network has L searchable *units* (residual blocks; in the CIFAR spaces the stem counts as the first
unit) and p max-pooling layers (2 x 2, stride 2). A pooling configuration is [n_0, ..., n_p]: n_i >= 1
units run at resolution i and sum n_i = L, so the first unit always runs at full resolution and there
are C(L - 1, p) configurations (``pooling_configurations``). The number of channels of a block is tied
to its index, not to its resolution (the paper: "a pre-defined number of channels ... the same number
of parameters in all architectures"), and a 1 x 1 projection shortcut joins blocks of different widths.

Table 5 rows (``SPACES``):

| space | units | pools | configurations | default |
|---|---|---|---|---|
| resnet20 (CIFAR-10)          | stem + 9 basic blocks [16 x 3, 32 x 3, 64 x 3]        | 2 | 36  | [4, 3, 3] |
| resnet18 (CIFAR-10)          | stem + 8 basic blocks [64 x 2, 128 x 2, 256 x 2, 512 x 2] | 3 | 56  | [3, 2, 2, 2] |
| resnet50 (CIFAR-100)         | stem + 16 bottlenecks [256 x 3, 512 x 4, 1024 x 6, 2048 x 3] | 3 | 560 | [4, 4, 6, 3] |
| resnet50-food101 (Food101)   | 16 bottlenecks after a fixed 7 x 7 stem and max-pool    | 3 | 455 | [3, 4, 6, 3] |
| resnet18-imagenet (ImageNet) | 8 basic blocks after a fixed 7 x 7 stem and max-pool    | 3 | 35  | [2, 2, 2, 2] |

The same module is a supernet: every configuration uses every weight, so setting ``config`` before a
forward pass picks the sub-network (all configurations share weights fully, Section 2.2). 2D and 1D
networks come from one definition (``dims``). Max-pooling uses ``ceil_mode`` so that odd sizes (28 ->
14 -> 7 -> 4 for Fashion-MNIST) never reach zero.

Departures: the head is a 1 x 1 convolution to the classes followed by global average pooling (the
paper removes the fully connected layer without saying what produces the logits; the authors'
ResNet-20 code makes the last block output one channel per class instead, which changes that block's
width with the task; a 1 x 1 convolution keeps every block's width the paper's). The ResNet-18 CIFAR
default [3, 2, 2, 2] counts the stem as a unit, as Table 5's L = 9 requires.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal, Sequence

import torch
from torch import nn

from nasbench.errors import ConfigError

Config = tuple[int, ...]


def pooling_configurations(units: int, poolings: int) -> list[Config]:
    """Every [n_0..n_p] with n_i >= 1 and sum L, in lexicographic order (the order of the paper's
    Table 6): the compositions of L into p + 1 positive parts, C(L - 1, p) of them."""
    if units < poolings + 1 or poolings < 0:
        raise ConfigError(f"pooling space: need units >= poolings + 1 >= 1, got units={units}, poolings={poolings}")
    configs = []
    for cuts in itertools.combinations(range(1, units), poolings):  # where the pools sit between units
        bounds = (0, *cuts, units)
        configs.append(tuple(b - a for a, b in zip(bounds, bounds[1:])))
    return configs


def pool_after_units(config: Sequence[int]) -> list[int]:
    """Indices of the units after which a pool sits (cumulative counts, 0-based): [4, 3, 3] -> [3, 6]."""
    return [int(v) - 1 for v in itertools.accumulate(config)][:-1]


@dataclass(frozen=True)
class PoolingSpace:
    """One row of Table 5: the units, their widths, the number of pools and the default configuration."""

    name: str
    block: Literal["basic", "bottleneck"]
    widths: tuple[int, ...]  # output channels of each residual block, by block index
    poolings: int
    default: Config
    stem_width: int
    stem: Literal["cifar", "imagenet"]  # "cifar": 3x3 conv, a unit; "imagenet": fixed 7x7/2 conv + max-pool

    @property
    def units(self) -> int:
        return len(self.widths) + (self.stem == "cifar")

    def configurations(self) -> list[Config]:
        return pooling_configurations(self.units, self.poolings)

    def check(self, config: Sequence[int]) -> Config:
        config = tuple(int(v) for v in config)
        if len(config) != self.poolings + 1 or min(config) < 1 or sum(config) != self.units:
            raise ConfigError(f"pooling configuration {list(config)} is not in the {self.name} space: need "
                              f"{self.poolings + 1} counts >= 1 summing to {self.units} units, "
                              f"e.g. {list(self.default)}")
        return config


def _repeat(pairs: Sequence[tuple[int, int]]) -> tuple[int, ...]:
    return tuple(width for width, count in pairs for _ in range(count))


SPACES: dict[str, PoolingSpace] = {
    "resnet20": PoolingSpace("resnet20", "basic", _repeat([(16, 3), (32, 3), (64, 3)]), 2, (4, 3, 3), 16, "cifar"),
    "resnet18": PoolingSpace("resnet18", "basic", _repeat([(64, 2), (128, 2), (256, 2), (512, 2)]), 3, (3, 2, 2, 2),
                             64, "cifar"),
    "resnet50": PoolingSpace("resnet50", "bottleneck", _repeat([(256, 3), (512, 4), (1024, 6), (2048, 3)]), 3,
                             (4, 4, 6, 3), 64, "cifar"),
    "resnet50-food101": PoolingSpace("resnet50-food101", "bottleneck",
                                     _repeat([(256, 3), (512, 4), (1024, 6), (2048, 3)]), 3, (3, 4, 6, 3), 64,
                                     "imagenet"),
    "resnet18-imagenet": PoolingSpace("resnet18-imagenet", "basic", _repeat([(64, 2), (128, 2), (256, 2), (512, 2)]),
                                      3, (2, 2, 2, 2), 64, "imagenet"),
}


def get_space(name: str) -> PoolingSpace:
    if name not in SPACES:
        from nasbench.errors import UnknownNameError

        raise UnknownNameError("pooling space", name, SPACES)
    return SPACES[name]


def _layers(dims: int) -> tuple[type, type, type]:
    if dims == 1:
        return nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d
    if dims == 2:
        return nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d
    raise ConfigError(f"pooling ResNet: dims must be 1 or 2, got {dims}")


def _projection(conv, norm, in_ch: int, out_ch: int) -> nn.Module:
    """The shortcut: identity for equal widths, else a 1x1 convolution and BatchNorm."""
    return nn.Identity() if in_ch == out_ch else nn.Sequential(conv(in_ch, out_ch, 1, bias=False), norm(out_ch))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and ReLU, plus the shortcut (stride 1: pooling moves)."""

    def __init__(self, dims: int, in_ch: int, out_ch: int):
        super().__init__()
        conv, norm, _ = _layers(dims)
        self.body = nn.Sequential(conv(in_ch, out_ch, 3, padding=1, bias=False), norm(out_ch), nn.ReLU(inplace=True),
                                  conv(out_ch, out_ch, 3, padding=1, bias=False), norm(out_ch))
        self.shortcut = _projection(conv, norm, in_ch, out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 with a quarter of the output width in the middle, plus the shortcut."""

    def __init__(self, dims: int, in_ch: int, out_ch: int):
        super().__init__()
        conv, norm, _ = _layers(dims)
        mid = out_ch // 4
        self.body = nn.Sequential(conv(in_ch, mid, 1, bias=False), norm(mid), nn.ReLU(inplace=True),
                                  conv(mid, mid, 3, padding=1, bias=False), norm(mid), nn.ReLU(inplace=True),
                                  conv(mid, out_ch, 1, bias=False), norm(out_ch))
        self.shortcut = _projection(conv, norm, in_ch, out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


def _stem(space: PoolingSpace, dims: int, in_channels: int) -> nn.Module:
    conv, norm, pool = _layers(dims)
    if space.stem == "cifar":
        return nn.Sequential(conv(in_channels, space.stem_width, 3, padding=1, bias=False), norm(space.stem_width),
                             nn.ReLU(inplace=True))
    return nn.Sequential(conv(in_channels, space.stem_width, 7, stride=2, padding=3, bias=False),
                         norm(space.stem_width), nn.ReLU(inplace=True), pool(3, stride=2, padding=1))


class PoolingResNet(nn.Module):
    """A ResNet of ``space`` whose pools follow ``config`` (settable between forward passes)."""

    def __init__(self, space: PoolingSpace, dims: int, in_channels: int, num_classes: int,
                 config: Sequence[int] | None = None):
        super().__init__()
        conv, _, pool = _layers(dims)
        self.space, self.dims = space, dims
        self.stem = _stem(space, dims, in_channels)
        block = BasicBlock if space.block == "basic" else Bottleneck
        widths = (space.stem_width, *space.widths)
        self.blocks = nn.ModuleList(block(dims, a, b) for a, b in zip(widths, widths[1:]))
        self.pool = pool(2, stride=2, ceil_mode=True)
        self.head = conv(widths[-1], num_classes, 1)
        self.config = space.check(config if config is not None else space.default)
        _kaiming_init(self)

    @property
    def config(self) -> Config:
        return self._config

    @config.setter
    def config(self, value: Sequence[int]) -> None:
        self._config = self.space.check(value)
        self._pool_after = set(pool_after_units(self._config))

    def units(self) -> list[nn.Module]:
        """The searchable units in order: the stem (CIFAR spaces) and every block."""
        return ([self.stem] if self.space.stem == "cifar" else []) + list(self.blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.space.stem == "imagenet":
            x = self.stem(x)  # fixed, not a unit
        for index, unit in enumerate(self.units()):
            x = unit(x)
            if index in self._pool_after:
                x = self.pool(x)
        return self.head(x).flatten(2).mean(-1)

    def feature_shapes(self, x: torch.Tensor) -> list[tuple[int, ...]]:
        """The output shape of every unit for input ``x`` (for checks of the downsampling)."""
        shapes = []
        with torch.no_grad():
            if self.space.stem == "imagenet":
                x = self.stem(x)
            for index, unit in enumerate(self.units()):
                x = unit(x)
                shapes.append(tuple(x.shape))
                if index in self._pool_after:
                    x = self.pool(x)
        return shapes


def _kaiming_init(model: nn.Module) -> None:
    """He initialisation of convolutions (the ResNet paper's), unit BatchNorm, zero biases."""
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def space_size(space: PoolingSpace) -> int:
    """C(L - 1, p): the number of configurations of ``space`` (Table 5's last column)."""
    return math.comb(space.units - 1, space.poolings)
