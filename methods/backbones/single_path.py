"""The single-path supernet of ShuffleNetV2 choice blocks of SPOS, 1D and 2D from one definition.

Guo et al., "Single Path One-Shot Neural Architecture Search with Uniform Sampling", ECCV 2020
(arXiv:1904.00420); reference implementation github.com/megvii-model/SinglePathOneShot
(``src/Supernet/blocks.py``, ``network.py``), read for facts and constants only.

- Stem: 3x3 convolution to 16 channels -> BN -> ReLU. 20 choice layers in stages of [4, 4, 8, 4]
  with outputs [64, 160, 320, 640]; the first layer of a stage may change width and stride. Head:
  1x1 convolution to 1024 -> BN -> ReLU -> global average pool -> Dropout 0.1 -> Linear (no bias).
- Choices per layer: a ShuffleNetV2 block with a 3x3, 5x5 or 7x7 depthwise convolution, or the
  Xception-style block (three 3x3 depthwise convolutions). A block that keeps width and size splits
  its input by channel shuffle, passes one half through and transforms the other; a block that
  changes width or stride transforms the whole input in a main branch and a projection branch
  (depthwise -> BN -> 1x1 -> BN -> ReLU) and concatenates both. Main branch width ("mid") is half the
  block's output [R].
- Sizes for the input: the ImageNet form (stride-2 stem, every stage opens with stride 2: /32) on
  large inputs; on inputs whose smallest side is at most 32 the CIFAR form of the SPOS CIFAR ports
  (stride-1 stem and first stage, stride 2 at the first layers of stages 2 and 3: /4).
  ``stem_stride`` overrides the stem's stride (2 quarters the MACs of the CIFAR form on small inputs).
- Channel search (optional): a block's mid width is a scale in {0.2, 0.4, ..., 1.6} of its base
  width. Each convolution and BatchNorm holds its weight at the widest mid width and a path uses the
  first c channels of it (``SlicedConv``, ``SlicedBatchNorm``), so narrower widths share weights.
- Supernet BatchNorm has no affine parameters, as in the reference supernet; the standalone
  network of one path (``SinglePathSupernet(spec, path=...)``: one block per layer at its width)
  has affine BatchNorm, as the reference's evaluation network.

A path is ``Path(choices, widths)``: one choice index per layer, and one width index per layer (into
``spec.width_scales``) or None without channel search. ``set_path`` routes the next forward passes;
``macs_table`` gives the multiply-accumulates of every (layer, choice, width) for the search's cost
cap and the FLOPs-binned sampler, counted by ``nasbench.arch.count_macs``.

Departures: global average pooling instead of AvgPool(7) (the same on 224 x 224 inputs, and it
takes every input size); the ImageNet form's stem is the only place a 1D network differs from the
2D one (both are the same classes with ``dims`` 1 or 2).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from nasbench.arch import count_macs
from nasbench.errors import ConfigError

BLOCK_NAMES = ("shuffle3", "shuffle5", "shuffle7", "xception")  # the reference's choice order
KERNELS = (3, 5, 7, 3)
WIDTH_SCALES = (0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6)  # channel search [P]: x the base mid width


class Path(NamedTuple):
    """One architecture of the supernet: choice index per layer, width index per layer or None."""

    choices: tuple[int, ...]
    widths: tuple[int, ...] | None = None


@dataclass(frozen=True)
class SupernetSpec:
    """The shape of a single-path supernet. Defaults: the reference's ImageNet supernet."""

    dims: int
    in_channels: int
    num_outputs: int
    input_size: tuple[int, ...] = (224, 224)
    stem_channels: int = 16
    stage_repeats: tuple[int, ...] = (4, 4, 8, 4)
    stage_channels: tuple[int, ...] = (64, 160, 320, 640)
    last_channels: int = 1024
    stem: str = "auto"  # "auto": "cifar" when the smallest input side is <= 32, else "imagenet"
    stem_stride: int | None = None  # None: the form's (cifar 1, imagenet 2)
    channel_search: bool = False
    width_scales: tuple[float, ...] = WIDTH_SCALES
    dropout: float = 0.1

    def validate(self) -> None:
        if len(self.stage_repeats) != len(self.stage_channels) or min(self.stage_repeats, default=0) < 1:
            raise ConfigError(f"single-path supernet: need one repeat count >= 1 per stage, got "
                              f"repeats {self.stage_repeats} for channels {self.stage_channels}")
        widths = (self.stem_channels, *self.stage_channels)
        if any(c % 4 for c in self.stage_channels) or any(b <= a for a, b in zip(widths, widths[1:])):
            raise ConfigError(f"single-path supernet: stage channels must grow from the stem's "
                              f"{self.stem_channels} and be multiples of 4 (channel shuffle halves them), "
                              f"got {self.stage_channels}")
        if self.stem not in ("auto", "cifar", "imagenet"):
            raise ConfigError(f"single-path supernet: stem must be auto, cifar or imagenet, got {self.stem!r}")

    @property
    def layers(self) -> int:
        return sum(self.stage_repeats)

    @property
    def stem_form(self) -> str:
        if self.stem != "auto":
            return self.stem
        return "cifar" if min(self.input_size) <= 32 else "imagenet"

    def strides(self) -> tuple[int, list[int]]:
        """Stride of the stem and of each stage's first layer."""
        if self.stem_form == "imagenet":
            return self.stem_stride or 2, [2] * len(self.stage_repeats)
        return self.stem_stride or 1, [2 if 0 < s < 3 else 1 for s in range(len(self.stage_repeats))]

    def layer_plan(self) -> list[tuple[int, int, int]]:
        """(input channels, output channels, stride) of every choice layer."""
        _, first_strides = self.strides()
        plan, width = [], self.stem_channels
        for repeats, out, stride in zip(self.stage_repeats, self.stage_channels, first_strides):
            plan.append((width, out, stride))
            plan += [(out, out, 1)] * (repeats - 1)
            width = out
        return plan

    def widths_of(self, path: Path) -> list[int | None]:
        """Mid width of every layer on ``path`` (None: the block's full base width)."""
        if path.widths is None:
            return [None] * self.layers
        return [mid_width(out, self.width_scales[w]) for (_, out, _), w in zip(self.layer_plan(), path.widths)]


def mid_width(out_channels: int, scale: float) -> int:
    """The main branch's width at ``scale`` of its base, half the block's output [R]."""
    return max(1, int(round(scale * (out_channels // 2))))


def channel_shuffle(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split channels into the even-indexed and the odd-indexed half (ShuffleNetV2's shuffle, any dims)."""
    n, c = x.shape[:2]
    pairs = x.reshape(n, c // 2, 2, *x.shape[2:])
    return pairs[:, :, 0], pairs[:, :, 1]


def conv_channels_last(x: torch.Tensor, weight: torch.Tensor, stride: int, padding: int, groups: int) -> torch.Tensor:
    """A 1D or 2D convolution computed as a 2D one on channels-last tensors (1D: height 1). On a CPU
    the backward pass of a depthwise convolution is 10-30x faster in that layout than in the
    contiguous one (PyTorch 2.13, 2 threads: 7x7 depthwise on 128 x 16 x 28 x 28, 0.31 s vs 8.4 s)."""
    if x.dim() == 3:
        out = F.conv2d(x.unsqueeze(2).contiguous(memory_format=torch.channels_last), weight.unsqueeze(2), None,
                       (1, stride), (0, padding), 1, groups)
        return out.squeeze(2)
    return F.conv2d(x.contiguous(memory_format=torch.channels_last), weight, None, stride, padding, 1, groups)


class SlicedConv(nn.Module):
    """A bias-free convolution holding its weight at the widest size; a forward pass uses the first
    ``out_channels`` filters and the first ``x.shape[1]`` input channels (depthwise: the first
    ``x.shape[1]`` filters). 'Same' padding k // 2."""

    def __init__(self, dims: int, in_channels: int, out_channels: int, kernel: int = 1, stride: int = 1,
                 depthwise: bool = False):
        super().__init__()
        self.dims, self.stride, self.depthwise, self.kernel = dims, stride, depthwise, kernel
        fan_in = 1 if depthwise else in_channels
        self.weight = nn.Parameter(torch.empty(out_channels, fan_in, *(kernel,) * dims))
        nn.init.normal_(self.weight, 0, 1.0 / fan_in)  # the reference's initialisation

    def forward(self, x: torch.Tensor, out_channels: int | None = None) -> torch.Tensor:
        c = x.shape[1]
        weight = self.weight[:c] if self.depthwise else self.weight[: out_channels or self.weight.shape[0], :c]
        return conv_channels_last(x, weight, self.stride, self.kernel // 2, c if self.depthwise else 1)

    def macs(self, inputs: torch.Tensor, output: torch.Tensor) -> int:
        fan_in = 1 if self.depthwise else inputs.shape[1]
        return fan_in * self.kernel ** self.dims * output[0].numel()


class SlicedBatchNorm(_BatchNorm):
    """BatchNorm over the first ``x.shape[1]`` channels of its (widest) parameters and buffers; the
    running statistics of the other channels stay as they are."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected (N, C, ...) input, got shape {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative average (BN recalibration)
                factor = 1.0 / float(self.num_batches_tracked)
        use_batch = self.training or not self.track_running_stats
        def part(t):
            return None if t is None else t[:c]
        return F.batch_norm(x, part(self.running_mean), part(self.running_var), part(self.weight), part(self.bias),
                            use_batch, factor, self.eps)


class Branch(nn.Module):
    """A chain of (conv, BN, ReLU?) units; ``width`` cuts the units marked as mid-width."""

    def __init__(self, dims: int, units: Sequence[tuple[int, int, int, int, bool, bool, bool]], affine: bool):
        """``units``: (in, out, kernel, stride, depthwise, relu, out is mid-width) per unit."""
        super().__init__()
        self.convs = nn.ModuleList(SlicedConv(dims, i, o, k, s, dw) for i, o, k, s, dw, _, _ in units)
        self.norms = nn.ModuleList(SlicedBatchNorm(o, affine=affine) for _, o, _, _, _, _, _ in units)
        self.relu = [u[5] for u in units]
        self.mid = [u[6] for u in units]

    def forward(self, x: torch.Tensor, width: int | None = None) -> torch.Tensor:
        for conv, norm, relu, mid in zip(self.convs, self.norms, self.relu, self.mid):
            x = norm(conv(x, width if mid else None))
            x = F.relu(x) if relu else x
        return x


def shuffle_units(inp: int, mid: int, outputs: int, kernel: int, stride: int):
    """pw -> BN -> ReLU, dw k x k (stride) -> BN, pw-linear -> BN -> ReLU [R]."""
    return [(inp, mid, 1, 1, False, True, True), (mid, mid, kernel, stride, True, False, True),
            (mid, outputs, 1, 1, False, True, False)]


def xception_units(inp: int, mid: int, outputs: int, stride: int):
    """dw 3x3 (stride) -> BN, pw -> BN -> ReLU, then twice more dw 3x3 -> BN, pw -> BN -> ReLU [R]."""
    return [(inp, inp, 3, stride, True, False, False), (inp, mid, 1, 1, False, True, True),
            (mid, mid, 3, 1, True, False, True), (mid, mid, 1, 1, False, True, True),
            (mid, mid, 3, 1, True, False, True), (mid, outputs, 1, 1, False, True, False)]


class ChoiceBlock(nn.Module):
    """One choice block (``BLOCK_NAMES[choice]``) from ``in_channels`` to ``out_channels``; its main
    branch is ``max_mid`` wide at most, a forward pass may use its first ``width`` channels."""

    def __init__(self, dims: int, choice: int, in_channels: int, out_channels: int, stride: int, max_mid: int,
                 affine: bool = True):
        super().__init__()
        self.split = stride == 1 and in_channels == out_channels  # keep half, transform half (shuffle)
        main_in = in_channels // 2 if self.split else in_channels
        outputs = out_channels - main_in
        kernel = KERNELS[choice]
        units = (xception_units(main_in, max_mid, outputs, stride) if BLOCK_NAMES[choice] == "xception"
                 else shuffle_units(main_in, max_mid, outputs, kernel, stride))
        self.main = Branch(dims, units, affine)
        self.proj = None if self.split else Branch(dims, [(main_in, main_in, kernel, stride, True, False, False),
                                                          (main_in, main_in, 1, 1, False, True, False)], affine)

    def forward(self, x: torch.Tensor, width: int | None = None) -> torch.Tensor:
        if self.split:
            kept, x = channel_shuffle(x)
            return torch.cat((kept, self.main(x, width)), 1)
        return torch.cat((self.proj(x), self.main(x, width)), 1)


def _stem(spec: SupernetSpec, affine: bool) -> Branch:
    stride, _ = spec.strides()
    return Branch(spec.dims, [(spec.in_channels, spec.stem_channels, 3, stride, False, True, False)], affine)


class SinglePathSupernet(nn.Module):
    """The supernet of ``spec`` (every choice of every layer), or with ``path`` the standalone network
    of that one path (one block per layer, built at its width, affine BatchNorm)."""

    def __init__(self, spec: SupernetSpec, path: Path | None = None):
        super().__init__()
        spec.validate()
        self.spec, self.standalone = spec, path is not None
        affine = self.standalone
        widths = spec.widths_of(path) if path is not None else [None] * spec.layers
        self.stem = _stem(spec, affine)
        self.layers = nn.ModuleList()
        for index, (inp, out, stride) in enumerate(spec.layer_plan()):
            choices = range(len(BLOCK_NAMES)) if path is None else [path.choices[index]]
            max_mid = widths[index] or self._max_mid(out)
            self.layers.append(nn.ModuleList(ChoiceBlock(spec.dims, c, inp, out, stride, max_mid, affine)
                                             for c in choices))
        self.head = Branch(spec.dims, [(spec.stage_channels[-1], spec.last_channels, 1, 1, False, True, False)], affine)
        self.dropout = nn.Dropout(spec.dropout)
        self.classifier = nn.Linear(spec.last_channels, spec.num_outputs, bias=False)
        nn.init.normal_(self.classifier.weight, 0, 0.01)
        nn.init.normal_(self.stem.convs[0].weight, 0, 0.01)
        self.path = path if path is not None else Path((0,) * spec.layers)

    def _max_mid(self, out_channels: int) -> int:
        scale = max(self.spec.width_scales) if self.spec.channel_search else 1.0
        return mid_width(out_channels, scale)

    def set_path(self, path: Path) -> None:
        """Route the next forward passes through ``path`` (supernet only)."""
        if self.standalone:
            raise ValueError("a standalone network has one path; build a new one for another")
        self.path = check_path(self.spec, path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        widths = self.spec.widths_of(self.path) if not self.standalone else [None] * self.spec.layers
        for layer, choice, width in zip(self.layers, self.path.choices, widths):
            x = layer[0 if self.standalone else choice](x, width)
        x = self.head(x).mean(dim=tuple(range(2, x.dim())))
        return self.classifier(self.dropout(x))

    def block(self, layer: int, choice: int) -> ChoiceBlock:
        return self.layers[layer][0 if self.standalone else choice]


def check_path(spec: SupernetSpec, path: Path) -> Path:
    """``path`` as a Path of plain ints, or a ValueError saying what is wrong with it."""
    choices = tuple(int(c) for c in path[0])
    widths = None if path[1] is None else tuple(int(w) for w in path[1])
    if len(choices) != spec.layers or not all(0 <= c < len(BLOCK_NAMES) for c in choices):
        raise ValueError(f"path needs {spec.layers} choices in 0..{len(BLOCK_NAMES) - 1}, got {choices}")
    if (widths is None) == spec.channel_search or (
            widths is not None and (len(widths) != spec.layers
                                    or not all(0 <= w < len(spec.width_scales) for w in widths))):
        raise ValueError(f"path widths must be {'one index per layer' if spec.channel_search else 'None'}"
                         f" (channel_search={spec.channel_search}), got {widths}")
    return Path(choices, widths)


def sliced_state(supernet: SinglePathSupernet, path: Path) -> dict[str, torch.Tensor]:
    """The supernet's weights and BN statistics of ``path``, cut to its widths and named as in the
    standalone network of that path (BN affine parameters of the standalone network are not in it)."""
    standalone_names = {}
    for name, tensor in supernet.state_dict().items():
        parts = name.split(".")
        if parts[0] == "layers":
            layer, choice = int(parts[1]), int(parts[2])
            if choice != path.choices[layer]:
                continue
            parts[2] = "0"
        standalone_names[".".join(parts)] = tensor
    reference = SinglePathSupernet(supernet.spec, path=path).state_dict()
    return {name: standalone_names[name][tuple(slice(0, n) for n in ref.shape)].clone()
            for name, ref in reference.items() if name in standalone_names}


def macs_table(spec: SupernetSpec) -> tuple[int, list[list[list[int]]]]:
    """MACs outside the choice layers, and ``table[layer][choice][width index]`` of each block (one
    entry when there is no channel search), counted on one example by ``count_macs``."""
    net = SinglePathSupernet(spec).eval()
    x = torch.zeros(1, spec.in_channels, *spec.input_size)
    fixed = count_macs(net.stem, x)
    table = []
    with torch.no_grad():
        x = net.stem(x)
    scales = spec.width_scales if spec.channel_search else (None,)
    for (inp, out, stride), layer in zip(spec.layer_plan(), net.layers):
        widths = [None if s is None else mid_width(out, s) for s in scales]
        table.append([[count_macs(_AtWidth(block, w), x) for w in widths] for block in layer])
        with torch.no_grad():
            x = layer[0](x)
    fixed += count_macs(net.head, x) + spec.last_channels * spec.num_outputs
    return fixed, table


class _AtWidth(nn.Module):
    def __init__(self, block: ChoiceBlock, width: int | None):
        super().__init__()
        self.block, self.width = block, width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x, self.width)


def path_macs(fixed: int, table: list[list[list[int]]], path: Path) -> int:
    widths = path.widths or (0,) * len(path.choices)
    return fixed + sum(table[layer][c][w] for layer, (c, w) in enumerate(zip(path.choices, widths)))


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, batches) -> None:
    """Reset every BatchNorm's running statistics (mean 0, variance 1) and refill them with the
    cumulative average over ``batches`` of inputs, in train mode without gradients. A supernet's
    statistics mix every path; one path needs its own before it is scored [P, R]."""
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    momenta = [m.momentum for m in norms]
    was_training = model.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: every recalibration batch weighs the same
    model.train()
    try:
        for inputs in batches:
            model(inputs)
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        model.train(was_training)
