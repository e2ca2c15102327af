"""DARTS search: the two halves of the training split, the supernet, the alternating steps through
``nasbench.training.fit`` (weights) and its ``ArchitectureSteps`` loop feature (alpha), the search
signal per epoch, and the architecture record."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from nasbench.arch import count_macs, example_input
from nasbench.contracts import RunContext, Split, TaskShape
from nasbench.methods.backbones.darts_cells import (
    NUM_EDGES,
    PRIMITIVES,
    EvalNetwork,
    Genotype,
    SearchNetwork,
    count_eval_parameters,
    reduction_cells,
    sample_genotype,
)
from nasbench.methods.darts.architect import Architect
from nasbench.methods.darts.config import DARTSConfig
from nasbench.training import ArchitectureSteps, epoch_examples, fit


def split_halves(train: Split, portion: float, generator: torch.Generator,
                 limit: int | None = None) -> tuple[Split, Split]:
    """Disjoint random parts of the training split: ``portion`` of it trains the weights, the rest
    trains alpha [R train_portion]; ``limit`` caps the examples used in all."""
    order = torch.randperm(len(train), generator=generator)[: limit or len(train)]
    cut = min(max(int(portion * len(order)), 1), len(order) - 1)
    parts = []
    for name, idx in (("train-weights", order[:cut]), ("train-arch", order[cut:])):
        idx = idx.sort().values
        parts.append(Split(name, train.inputs[idx], train.targets[idx], train.meta))
    return parts[0], parts[1]


def build_search_network(shape: TaskShape, c: DARTSConfig) -> SearchNetwork:
    return SearchNetwork(shape.in_channels, shape.num_outputs, c.C, c.layers, dims=shape.dims, dense=shape.dense,
                         mixture="simplex" if c.update == "gaea" else "softmax", vocab_size=shape.vocab_size)


class SearchSignal:
    """Curve columns saying whether the search moved (``signal_*``: the suite's convention): the mean
    entropy (nats; ln 8 = 2.08 is uniform) of the edges' mixing weights, and how many edges' argmax
    changed since initialisation, of how many edges."""

    def __init__(self, net: SearchNetwork):
        self.net = net
        self.initial = {t: self._argmax(t) for t in net.cell_types}

    def _argmax(self, cell_type: str) -> torch.Tensor:
        return self.net.mixture_weights(cell_type).detach().argmax(dim=-1).cpu()

    def __call__(self, model: torch.nn.Module) -> dict[str, float]:
        row, entropies, changed = {}, [], 0
        for t in self.net.cell_types:
            w = self.net.mixture_weights(t).detach().cpu().clamp_min(1e-12)
            entropy = -(w * w.log()).sum(dim=-1)
            row[f"edge_entropy_{t}"] = float(entropy.mean())
            entropies.append(entropy)
            changed += int((self._argmax(t) != self.initial[t]).sum())
        row.update(signal_edge_entropy=float(torch.cat(entropies).mean()), signal_changed=changed,
                   signal_decisions=NUM_EDGES * len(self.net.cell_types))
        return row


def run_search(ctx: RunContext, c: DARTSConfig) -> tuple[SearchNetwork, dict[str, Any]]:
    """Train w on one half and alpha on the other, alternating step by step [P Alg. 1]."""
    net = build_search_network(ctx.task.shape, c).to(ctx.device)
    weights_half, arch_half = split_halves(ctx.train, c.train_portion, ctx.generator, c.search_examples)
    cfg = c.search
    weight_optimizer = torch.optim.SGD(net.weight_parameters(), lr=cfg.lr, momentum=cfg.momentum,
                                       weight_decay=cfg.weight_decay)  # [R] plain momentum, no Nesterov
    architect = Architect(net, ctx.task.loss, weight_optimizer, c)
    feature = ArchitectureSteps(arch_half, cfg.batch_size, architect.step, ctx.device, ctx.generator)
    val = ctx.val if c.search_val_samples is None else ctx.val.subset(min(c.search_val_samples, len(ctx.val)),
                                                                     ctx.generator)
    signal = SearchSignal(net)
    ctx.log(f"darts search: order {c.order}, {c.update}, {c.layers} cells, C={c.C}, {cfg.epochs} epochs on "
            f"{len(weights_half)} (weights) / {len(arch_half)} (alpha) training examples")
    score = fit(net, ctx, cfg, train=weights_half, val=val, optimizers=[weight_optimizer],
                epoch_log=signal, log_initial=True, **feature.hooks())
    stats = {"weight_examples": len(weights_half), "arch_examples": len(arch_half), "arch_steps": feature.steps,
             "supernet_val_score": score, "val_samples": len(val), **signal(net)}
    return net, stats


# -- the record -------------------------------------------------------------------------------------
def eval_choices(shape: TaskShape, genotype: Genotype, c: DARTSConfig) -> dict[str, Any]:
    """What rebuilds the evaluation network: the genotype and its sizes."""
    return {"genotype": genotype.to_dict(), "dims": shape.dims, "dense": shape.dense, "C": c.retrain_C,
            "layers": c.retrain_layers, "auxiliary": c.auxiliary and not shape.dense}


def build_eval_network(shape: TaskShape, choices: dict[str, Any]) -> EvalNetwork:
    return EvalNetwork(Genotype.from_dict(choices["genotype"]), shape.in_channels, shape.num_outputs, choices["C"],
                       choices["layers"], dims=choices["dims"], dense=choices["dense"], auxiliary=choices["auxiliary"],
                       vocab_size=shape.vocab_size)


def arch_record(net: SearchNetwork, shape: TaskShape, c: DARTSConfig, stats: dict[str, Any]) -> dict[str, Any]:
    """spec 3.4 in the runner's envelope: both genotypes, the mixing weights of both cell types, the
    order and update rule, and the size of the evaluation network."""
    with torch.no_grad():
        weights = {t: [[round(float(v), 6) for v in row] for row in net.mixture_weights(t).cpu()]
                   for t in net.cell_types}
    details = {"order": c.order, "update": c.update, "mixing_weights": weights,
               "edges": NUM_EDGES * len(net.cell_types), "search_network": {"C": c.C, "layers": c.layers},
               "search": stats}
    return genotype_record(net.genotype(), shape, c, details)


def genotype_record(genotype: Genotype, shape: TaskShape, c: DARTSConfig, details: dict[str, Any]) -> dict[str, Any]:
    """The record of ``genotype`` (searched or sampled): choices, space and the evaluation network's size."""
    choices = eval_choices(shape, genotype, c)
    eval_net = build_eval_network(shape, choices)
    cell_types = ["normal", "reduce"] if genotype.reduce else ["normal"]
    return {
        "backbone": f"darts-eval-{c.retrain_layers}x{c.retrain_C}" + ("-dense" if shape.dense else ""),
        "search_space": {"id": "darts-cell", "operations": list(PRIMITIVES), "edges_per_cell": NUM_EDGES,
                         "cell_types": cell_types,
                         # per cell type: 2 of the i + 2 inputs of node i, 7 operations each (no 'none')
                         "log10_size": round(len(cell_types) * sum(
                             math.log10(math.comb(2 + i, 2) * 7 ** 2) for i in range(4)), 3)},
        "choices": choices,
        "details": details,
        # the paper's count (Table 1), without the auxiliary head that only training runs; it stands
        # for the record's parameters, the count with the head beside it
        "cost": {"params": count_eval_parameters(eval_net), "eval_params": count_eval_parameters(eval_net),
                 "eval_params_with_auxiliary": sum(p.numel() for p in eval_net.parameters()),
                 "eval_macs": count_macs(eval_net, example_input(shape))},
    }


def sampled_record(shape: TaskShape, c: DARTSConfig, rng: np.random.Generator) -> dict[str, Any]:
    """A genotype drawn uniformly from the cell space of the search network (reduction cells unless dense)."""
    genotype = sample_genotype(rng, reduction=bool(reduction_cells(c.layers, shape.dense)))
    return genotype_record(genotype, shape, c, {"order": c.order, "update": c.update, "sampled": True})


def search_examples(c: DARTSConfig, train_size: int) -> int:
    """Training examples of the search: the weight steps on their half, and one architecture batch of
    the other half before each (``split_halves`` and ``ArchitectureSteps``)."""
    used = min(c.search_examples or train_size, train_size)
    weights_half = min(max(int(c.train_portion * used), 1), used - 1)
    per_epoch = epoch_examples(weights_half, c.search)
    steps = -(-per_epoch // c.search.batch_size)
    return c.search.epochs * (per_epoch + steps * min(c.search.batch_size, used - weights_half))
