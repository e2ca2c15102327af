"""The DARTS cell network, in its search form (mixed operations weighted by alpha) and its
evaluation form (a genotype's operations, auxiliary head, drop-path), in 1D or 2D.

Paper: H. Liu, K. Simonyan, Y. Yang, "DARTS: Differentiable Architecture Search", ICLR 2019
(arXiv:1806.09055), section 2 and appendix A. Facts and constants from the reference implementation
(github.com/quark0/darts: ``cnn/model_search.py``, ``cnn/model.py``, ``cnn/genotypes.py``) and from
NAS-Bench-360's GAEA runs of the same space (github.com/rtu715/NAS-Bench-360, ``darts/gaea-dense``
and ``darts_1d``); read only, no code copied. Operations: ``darts_ops``.

Shape of both forms [R]:
- stem: conv 3 (no bias) -> BN to ``stem_channels`` (default 3C); token tasks put an embedding in front
  (``vocab_size``; ``(N, L)`` or ``(N, 1, L)`` ids -> ``(N, embedding_dim, L)``), as the suite's CCNN does;
- ``layers`` cells; cells ``layers // 3`` and ``2 * layers // 3`` are reduction cells (stride 2 on the
  edges leaving the two input nodes, channels doubled); a cell after a reduction pre-processes its
  older input with ``FactorizedReduce``, every other input with ReLU -> 1x1 conv -> BN;
- a cell has 2 input nodes and ``steps = 4`` intermediate nodes; node j sums one edge from every
  earlier node (search: 2 + 3 + 4 + 5 = 14 mixed edges) or the genotype's two edges (evaluation); the
  output concatenates the intermediate nodes 2..5 (``multiplier = 4`` times the cell's C channels);
- head: global average pool -> linear; the dense form (``dense=True``) has no reduction cells and a
  per-position linear head, so the output keeps the input's resolution, as NAS-Bench-360 ran GAEA on
  Darcy Flow, PSICOV and Cosmic (``darts/gaea-dense``: its reduction cells are commented out and the
  classifier is applied to the permuted feature map).

Per-stage widths (for channel searches such as FlexCHarts and DMasking): ``cell_channels`` gives the C
of every cell (one int per cell, ``layers`` of them; a cell outputs ``4 * C``), ``stem_channels`` the
stem's width, and ``head_channels`` an optional ReLU -> 1x1 conv -> BN -> ReLU before the pool (the
FlexCHarts variant's 256-channel head). Each cell pre-processes its two inputs to its own C, so any
sequence of widths is valid (C must be even where ``FactorizedReduce`` builds it: in a reduction cell's
skip edges and in the cell after a reduction). ``default_cell_channels(C, layers, dense)`` gives the
paper's widths (C, doubled at each reduction). ``network.cells[i].channels`` is the width in use.

Search form: ``SearchNetwork`` holds ``alpha_normal`` and ``alpha_reduce`` (14 x 8, shared by every
cell of a type; ``arch_parameters()``), kept apart from ``weight_parameters()``. ``mixture`` says how
alpha becomes the mixing weights: ``softmax`` (DARTS: softmax over the 8 ops, alpha initialised
1e-3 N(0, 1) [R]) or ``simplex`` (GAEA: alpha is itself a point on each edge's simplex, initialised
uniform, and is used as the weights; its optimiser keeps it there). Search BatchNorms are not affine [R].

Evaluation form: ``EvalNetwork(genotype, ...)``; ``drop_path_prob`` (set per epoch by the trainer)
drops every non-identity edge's output per example with that probability during training and
rescales the kept ones [R]; the draws come from ``generator`` when one is set (the run's seeded
generator). ``auxiliary=True`` adds the auxiliary classifier after cell ``2 * layers // 3`` (global
tasks only); ``forward`` always returns the logits, and in training mode leaves the auxiliary head's
logits in ``network.aux_logits`` (None otherwise), so the one training loop sees one output.
Departures: the reference's auxiliary head assumes an 8x8 map (5-wide pool, stride 3, then a 2x2
conv); here the 5-wide pool runs when the map is at least 5 wide and an adaptive pool then makes it
2 wide (2x2), so CIFAR's 8x8 gives the reference computation and other sizes still work; parameter
counts are unchanged. Drop-path in 1D and the dense form follow the same rule.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nasbench.methods.backbones.darts_ops import PRIMITIVES, FactorizedReduce, ReLUConvBN, batch_norm, conv, make_op

STEPS, MULTIPLIER, STEM_MULTIPLIER = 4, 4, 3  # [R] model_search.Network defaults
NUM_EDGES = sum(2 + i for i in range(STEPS))  # 14
Gene = tuple[tuple[str, int], ...]  # (operation, input node) x 2 per intermediate node


@dataclass(frozen=True)
class Genotype:
    """A discrete cell pair: for each of the 4 intermediate nodes, two (operation, input node) pairs;
    ``reduce`` is empty when the network has no reduction cells (the dense form)."""

    normal: Gene
    normal_concat: tuple[int, ...] = (2, 3, 4, 5)
    reduce: Gene = ()
    reduce_concat: tuple[int, ...] = (2, 3, 4, 5)

    def to_dict(self) -> dict[str, Any]:
        return {"normal": [list(p) for p in self.normal], "normal_concat": list(self.normal_concat),
                "reduce": [list(p) for p in self.reduce], "reduce_concat": list(self.reduce_concat)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Genotype":
        pairs = lambda key: tuple((str(op), int(i)) for op, i in d.get(key) or ())  # noqa: E731
        return cls(pairs("normal"), tuple(d.get("normal_concat", (2, 3, 4, 5))), pairs("reduce"),
                   tuple(d.get("reduce_concat", (2, 3, 4, 5))))


# [R] genotypes.DARTS_V2 (= DARTS): the second-order CIFAR-10 cells of the paper's Table 1 and Fig. 4-5
DARTS_V2 = Genotype(
    normal=(("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)),
    reduce=(("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
            ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)),
)


def reduction_cells(layers: int, dense: bool) -> tuple[int, ...]:
    """Indices of the reduction cells: 1/3 and 2/3 of the depth [R]; none in the dense form."""
    return () if dense else tuple(sorted({layers // 3, 2 * layers // 3}))


def default_cell_channels(C: int, layers: int, dense: bool = False) -> tuple[int, ...]:
    """The paper's per-cell C: ``C``, doubled at every reduction cell."""
    widths, reductions = [], reduction_cells(layers, dense)
    for i in range(layers):
        C = C * 2 if i in reductions else C
        widths.append(C)
    return tuple(widths)


def edge_offsets() -> list[int]:
    """Index of the first incoming edge of each intermediate node in the 14 rows of alpha."""
    return [sum(2 + k for k in range(i)) for i in range(STEPS)]


# -- the parts around the cells ---------------------------------------------------------------------
class Stem(nn.Module):
    """[token embedding ->] conv 3 (no bias) -> BN [R]."""

    def __init__(self, dims: int, in_channels: int, channels: int, vocab_size: int | None = None,
                 embedding_dim: int = 64):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim) if vocab_size is not None else None
        c_in = embedding_dim if vocab_size is not None else in_channels
        self.conv = conv(dims, c_in, channels, 3, padding=1, bias=False)
        self.bn = batch_norm(dims, channels, True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.embedding is not None:  # token ids (N, L) or (N, 1, L) -> (N, E, L)
            x = self.embedding(x.reshape(x.shape[0], -1).long()).transpose(1, 2)
        return self.bn(self.conv(x))


class Head(nn.Module):
    """[ReLU -> 1x1 conv -> BN -> ReLU ->] global average pool -> linear, or a per-position linear
    (dense form)."""

    def __init__(self, dims: int, channels: int, num_outputs: int, dense: bool, head_channels: int | None = None):
        super().__init__()
        self.expand = None
        if head_channels is not None:
            self.expand = nn.Sequential(ReLUConvBN(dims, channels, head_channels, 1, 1, 0, True), nn.ReLU())
            channels = head_channels
        self.dense = dense
        self.classifier = nn.Linear(channels, num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.expand is not None:
            x = self.expand(x)
        if self.dense:  # per-position linear, channels back to dim 1
            return self.classifier(x.movedim(1, -1)).movedim(-1, 1)
        return self.classifier(x.flatten(2).mean(-1))


def preprocessors(dims: int, c_pp: int, c_p: int, c: int, reduction_prev: bool, affine: bool) -> nn.ModuleList:
    """The two input nodes' pre-processing to the cell's C [R]."""
    first = FactorizedReduce(dims, c_pp, c, affine) if reduction_prev else ReLUConvBN(dims, c_pp, c, 1, 1, 0, affine)
    return nn.ModuleList([first, ReLUConvBN(dims, c_p, c, 1, 1, 0, affine)])


def stage_widths(C: int, layers: int, dense: bool, cell_channels: Sequence[int] | None,
                 stem_channels: int | None) -> tuple[tuple[int, ...], int]:
    widths = tuple(cell_channels) if cell_channels is not None else default_cell_channels(C, layers, dense)
    if len(widths) != layers or min(widths) < 1:
        raise ValueError(f"cell_channels needs {layers} positive widths (one per cell), got {widths}")
    return widths, stem_channels if stem_channels is not None else STEM_MULTIPLIER * C


# -- search form ------------------------------------------------------------------------------------
class MixedOp(nn.Module):
    """sum_o w_o o(x) over the 8 operations; pools are followed by a non-affine BN in search [R]."""

    def __init__(self, dims: int, channels: int, stride: int):
        super().__init__()
        ops = []
        for name in PRIMITIVES:
            op = make_op(name, dims, channels, stride, affine=False)
            ops.append(nn.Sequential(op, batch_norm(dims, channels, False)) if "pool" in name else op)
        self.ops = nn.ModuleList(ops)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return sum(w * op(x) for w, op in zip(weights, self.ops))


class SearchCell(nn.Module):
    def __init__(self, dims: int, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool):
        super().__init__()
        self.reduction, self.channels = reduction, c
        self.preprocess = preprocessors(dims, c_pp, c_p, c, reduction_prev, affine=False)
        self.edges = nn.ModuleList(MixedOp(dims, c, 2 if reduction and j < 2 else 1)
                                   for i in range(STEPS) for j in range(2 + i))

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess[0](s0), self.preprocess[1](s1)]
        for offset in edge_offsets():
            states.append(sum(self.edges[offset + j](h, weights[offset + j]) for j, h in enumerate(states)))
        return torch.cat(states[2:], dim=1)


class SearchNetwork(nn.Module):
    """The supernet: every edge of every cell a mixed op over the 8 operations (module docstring)."""

    def __init__(self, in_channels: int, num_outputs: int, C: int = 16, layers: int = 8, dims: int = 2,
                 dense: bool = False, mixture: str = "softmax", cell_channels: Sequence[int] | None = None,
                 stem_channels: int | None = None, head_channels: int | None = None, vocab_size: int | None = None):
        super().__init__()
        if mixture not in ("softmax", "simplex"):
            raise ValueError(f"mixture must be 'softmax' or 'simplex', got {mixture!r}")
        self.dims, self.dense, self.mixture = dims, dense, mixture
        widths, stem = stage_widths(C, layers, dense, cell_channels, stem_channels)
        self.stem = Stem(dims, in_channels, stem, vocab_size)
        self.cells = nn.ModuleList()
        c_pp, c_p, reduction_prev, reductions = stem, stem, False, reduction_cells(layers, dense)
        for i, c in enumerate(widths):
            self.cells.append(SearchCell(dims, c_pp, c_p, c, i in reductions, reduction_prev))
            c_pp, c_p, reduction_prev = c_p, MULTIPLIER * c, i in reductions
        self.head = Head(dims, c_p, num_outputs, dense, head_channels)
        self.cell_types = ("normal", "reduce") if reductions else ("normal",)
        self.alpha_normal = nn.Parameter(self._initial_alpha())
        self.alpha_reduce = nn.Parameter(self._initial_alpha())

    def _initial_alpha(self) -> torch.Tensor:
        if self.mixture == "simplex":  # GAEA: the centre of every edge's simplex
            return torch.full((NUM_EDGES, len(PRIMITIVES)), 1.0 / len(PRIMITIVES))
        return 1e-3 * torch.randn(NUM_EDGES, len(PRIMITIVES))  # [R] _initialize_alphas

    def alpha(self, cell_type: str) -> nn.Parameter:
        return self.alpha_normal if cell_type == "normal" else self.alpha_reduce

    def arch_parameters(self) -> list[nn.Parameter]:
        """The alphas of the cell types in use (a dense network has no reduction cells)."""
        return [self.alpha(t) for t in self.cell_types]

    def weight_parameters(self) -> list[nn.Parameter]:
        arch = {id(self.alpha_normal), id(self.alpha_reduce)}
        return [p for p in self.parameters() if id(p) not in arch]

    def mixture_weights(self, cell_type: str) -> torch.Tensor:
        """The 14 x 8 mixing weights of a cell type: softmax(alpha), or alpha itself on the simplex."""
        alpha = self.alpha(cell_type)
        return F.softmax(alpha, dim=-1) if self.mixture == "softmax" else alpha

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = {t: self.mixture_weights(t) for t in self.cell_types}
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, weights["reduce" if cell.reduction else "normal"])
        return self.head(s1)

    def genotype(self) -> Genotype:
        with torch.no_grad():
            genes = {t: discretise(self.mixture_weights(t)) for t in self.cell_types}
        return Genotype(normal=genes["normal"], reduce=genes.get("reduce", ()))


def discretise(weights: torch.Tensor) -> Gene:
    """Each intermediate node keeps its 2 strongest incoming edges (strength: the largest weight of an
    operation other than ``none``), each with its strongest operation other than ``none`` [P, R]."""
    none = PRIMITIVES.index("none")
    w = weights.detach().clone().float().cpu()
    w[:, none] = -float("inf")
    gene = []
    for i, offset in enumerate(edge_offsets()):
        rows = w[offset: offset + 2 + i]
        strength = rows.max(dim=1).values
        # stable: ties go to the earlier input node, as the reference's sorted() does
        edges = sorted(range(2 + i), key=lambda j: -float(strength[j]))[:2]
        gene.extend((PRIMITIVES[int(rows[j].argmax())], j) for j in edges)
    return tuple(gene)


def sample_gene(rng: np.random.Generator) -> Gene:
    """A uniform draw from one cell type's discrete space, the space ``discretise`` maps into: every
    intermediate node i takes 2 distinct inputs of its i + 2 predecessors (an unordered pair, uniform
    over the C(i + 2, 2)) and, for each, one of the 7 operations other than ``none``, uniformly (as the
    random search of Li and Talwalkar, UAI 2019, samples the DARTS space)."""
    operations = [name for name in PRIMITIVES if name != "none"]
    gene = []
    for i in range(STEPS):
        inputs = sorted(rng.choice(i + 2, size=2, replace=False).tolist())
        gene.extend((operations[int(rng.integers(len(operations)))], j) for j in inputs)
    return tuple(gene)


def sample_genotype(rng: np.random.Generator, reduction: bool) -> Genotype:
    """A normal cell and (when the network has reduction cells) a reduction cell, drawn independently."""
    return Genotype(normal=sample_gene(rng), reduce=sample_gene(rng) if reduction else ())


# -- evaluation form --------------------------------------------------------------------------------
def drop_path(x: torch.Tensor, drop_prob: float, generator: torch.Generator | None) -> torch.Tensor:
    """Zero whole examples of an edge's output with probability ``drop_prob``, scale the rest [R]."""
    keep = 1.0 - drop_prob
    draws = torch.rand(x.shape[0], generator=generator, device=generator.device if generator else x.device)
    mask = (draws < keep).to(device=x.device, dtype=x.dtype).view(-1, *([1] * (x.dim() - 1)))
    return x / keep * mask


class EvalCell(nn.Module):
    def __init__(self, dims: int, genotype: Genotype, c_pp: int, c_p: int, c: int, reduction: bool,
                 reduction_prev: bool):
        super().__init__()
        self.reduction, self.channels = reduction, c
        self.preprocess = preprocessors(dims, c_pp, c_p, c, reduction_prev, affine=True)
        gene, self.concat = (genotype.reduce, genotype.reduce_concat) if reduction else (
            genotype.normal, genotype.normal_concat)
        if len(gene) != 2 * STEPS:
            raise ValueError(f"a {'reduce' if reduction else 'normal'} cell needs {2 * STEPS} (op, input) pairs, "
                             f"got {len(gene)}")
        self.inputs = [j for _, j in gene]
        self.ops = nn.ModuleList(make_op(name, dims, c, 2 if reduction and j < 2 else 1, affine=True)
                                 for name, j in gene)
        self.multiplier = len(self.concat)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0,
                generator: torch.Generator | None = None) -> torch.Tensor:
        states = [self.preprocess[0](s0), self.preprocess[1](s1)]
        for node in range(STEPS):
            total = 0
            for k in (2 * node, 2 * node + 1):
                h = self.ops[k](states[self.inputs[k]])
                if self.training and drop_prob > 0 and not isinstance(self.ops[k], nn.Identity):
                    h = drop_path(h, drop_prob, generator)
                total = total + h
            states.append(total)
        return torch.cat([states[i] for i in self.concat], dim=1)


class AuxiliaryHead(nn.Module):
    """ReLU -> 5-wide avg pool (stride 3) -> 1x1 conv 128 -> BN -> ReLU -> 2-wide conv 768 -> BN ->
    ReLU -> linear [R AuxiliaryHeadCIFAR]; an adaptive pool to 2 wide makes any map size work."""

    def __init__(self, dims: int, channels: int, num_outputs: int):
        super().__init__()
        self.dims = dims
        self.features = nn.Sequential(
            conv(dims, channels, 128, 1, bias=False), batch_norm(dims, 128, True), nn.ReLU(),
            conv(dims, 128, 768, 2, bias=False), batch_norm(dims, 768, True), nn.ReLU())
        self.classifier = nn.Linear(768, num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(x)
        if min(x.shape[2:]) >= 5:
            pool = F.avg_pool1d if self.dims == 1 else F.avg_pool2d
            x = pool(x, 5, stride=3, padding=0, count_include_pad=False)
        x = (F.adaptive_avg_pool1d if self.dims == 1 else F.adaptive_avg_pool2d)(x, 2)
        return self.classifier(self.features(x).flatten(1))


class EvalNetwork(nn.Module):
    """A genotype's network: the same stem, cells and head as the search form (module docstring)."""

    def __init__(self, genotype: Genotype, in_channels: int, num_outputs: int, C: int = 36, layers: int = 20,
                 dims: int = 2, dense: bool = False, auxiliary: bool = False,
                 cell_channels: Sequence[int] | None = None, stem_channels: int | None = None,
                 head_channels: int | None = None, vocab_size: int | None = None):
        super().__init__()
        widths, stem = stage_widths(C, layers, dense, cell_channels, stem_channels)
        self.stem = Stem(dims, in_channels, stem, vocab_size)
        self.cells = nn.ModuleList()
        self.aux_position = 2 * layers // 3
        self.auxiliary_head, aux_channels = None, None
        c_pp, c_p, reduction_prev, reductions = stem, stem, False, reduction_cells(layers, dense)
        for i, c in enumerate(widths):
            cell = EvalCell(dims, genotype, c_pp, c_p, c, i in reductions, reduction_prev)
            self.cells.append(cell)
            c_pp, c_p, reduction_prev = c_p, cell.multiplier * c, i in reductions
            aux_channels = c_p if i == self.aux_position else aux_channels
        if auxiliary and not dense and aux_channels is not None:
            self.auxiliary_head = AuxiliaryHead(dims, aux_channels, num_outputs)
        self.head = Head(dims, c_p, num_outputs, dense, head_channels)
        self.drop_path_prob = 0.0
        self.generator: torch.Generator | None = None
        self.aux_logits: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.aux_logits = None
        s0 = s1 = self.stem(x)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob, self.generator)
            # the head's last BatchNorm sees one value per channel and example: a batch of one (the
            # tail of an epoch) has no batch statistics, so that batch trains without the head
            if i == self.aux_position and self.auxiliary_head is not None and self.training and len(x) > 1:
                self.aux_logits = self.auxiliary_head(s1)
        return self.head(s1)


def count_eval_parameters(model: EvalNetwork) -> int:
    """Parameters without the auxiliary head, as the paper counts them ([R] utils.count_parameters_in_MB)."""
    return sum(p.numel() for name, p in model.named_parameters() if not name.startswith("auxiliary_head"))


class RetrainHooks:
    """The evaluation network's retraining recipe (DARTS, FlexCHarts, DMasking) as ``fit``'s hooks
    [P A.1.2, R train.py]: the auxiliary head's loss (weight 0.4) added to the task loss, and the
    path-dropout probability ramped linearly from 0 at the first epoch towards ``drop_path`` at the last."""

    def __init__(self, net: EvalNetwork, loss, aux_weight: float, drop_path: float, epochs: int):
        self.net, self.loss, self.aux_weight = net, loss, aux_weight
        self.drop_path, self.epochs = drop_path, max(epochs, 1)
        self.targets: torch.Tensor | None = None
        self.epoch_prob = net.drop_path_prob = 0.0  # the probability of the epoch that just ran

    def before_step(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> None:
        self.targets = targets  # the auxiliary loss needs them after the forward pass

    def add_loss(self, model: nn.Module, task_loss: torch.Tensor) -> torch.Tensor:
        if self.net.aux_logits is None or self.aux_weight == 0:
            return task_loss
        return task_loss + self.aux_weight * self.loss(self.net.aux_logits, self.targets)

    def epoch_end(self, model: nn.Module, epoch: int, optimizers: list) -> None:
        self.epoch_prob = self.net.drop_path_prob
        self.net.drop_path_prob = self.drop_path * (epoch + 1) / self.epochs

    def epoch_log(self, model: nn.Module) -> dict[str, float]:
        return {"drop_path_prob": self.epoch_prob}

    def hooks(self) -> dict[str, Any]:
        return {"before_step": self.before_step, "add_loss": self.add_loss, "epoch_end": self.epoch_end,
                "epoch_log": self.epoch_log}
