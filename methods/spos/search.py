"""SPOS search: train the supernet one uniformly sampled path per step, then evolve paths under the
cost cap, each scored by the supernet after BatchNorm recalibration (see the package docstring)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from nasbench.contracts import RunContext, Split
from nasbench.errors import ConfigError
from nasbench.methods.backbones.single_path import (
    BLOCK_NAMES,
    Path,
    SinglePathSupernet,
    SupernetSpec,
    recalibrate_batchnorm,
)
from nasbench.methods.spos.config import SPOSConfig
from nasbench.methods.spos.evolution import Evaluated, EvolutionSearch
from nasbench.methods.spos.space import FlopsBinnedSampler, PathCosts, UniformSampler, uniform_path
from nasbench.training import SinglePathSampling, TrainConfig, evaluate, fit, make_optimizer


def decay_groups(model: nn.Module, cfg: TrainConfig) -> list[dict[str, Any]]:
    """Weight decay on convolution and linear weights only, none on BN parameters or biases [R]."""
    decay = [p for p in model.parameters() if p.dim() > 1]
    rest = [p for p in model.parameters() if p.dim() <= 1]
    return [{"params": decay}, {"params": rest, "weight_decay": 0.0}]


def train(model: nn.Module, ctx: RunContext, cfg: TrainConfig, **hooks) -> float:
    """``fit`` with the SPOS optimiser (SGD, decay on weights only)."""
    optimizer = make_optimizer(decay_groups(model, cfg), cfg)
    return fit(model, ctx, cfg, optimizers=[optimizer], **hooks)


@dataclass
class Scorer:
    """Scores one path of the supernet: BN recalibrated on fixed training batches, then the task
    metric on a fixed validation subset, returned in its error form (the fitness, lower is better)."""

    supernet: SinglePathSupernet
    ctx: RunContext
    recalibration: list[torch.Tensor]
    val: Split
    batch_size: int

    def score(self, path: Path) -> float:
        self.supernet.set_path(path)
        recalibrate_batchnorm(self.supernet, self.recalibration)
        return evaluate(self.supernet, self.ctx, self.val, self.batch_size)

    def __call__(self, path: Path) -> float:
        return self.ctx.task.metric.to_error(self.score(path))


def recalibration_batches(ctx: RunContext, batches: int, batch_size: int) -> list[torch.Tensor]:
    """``batches`` batches of training inputs drawn once, so every candidate is recalibrated alike."""
    count = min(batches * batch_size, len(ctx.train))
    subset = ctx.train.subset(count, ctx.generator)  # inputs may be a lazy view: read them through batches
    return [inputs.to(ctx.device) for inputs, _ in subset.batches(batch_size)]


def val_subset(ctx: RunContext, count: int) -> Split:
    return ctx.val if count >= len(ctx.val) else ctx.val.subset(count, ctx.generator)


def cost_cap(config: SPOSConfig, costs: PathCosts) -> float | None:
    """The cap in MACs: ``cost_cap_macs`` when given, else the fraction of the largest path."""
    smallest = costs.extreme(min)
    cap = config.cost_cap_macs
    if cap is None and config.cost_cap_fraction is not None:
        cap = config.cost_cap_fraction * costs.extreme(max)
    if cap is not None and cap < smallest:
        raise ConfigError(f"spos: the cost cap {cap:,.0f} MACs is below the smallest path of this supernet "
                          f"({smallest:,} MACs; largest {costs.extreme(max):,}); raise cost_cap_macs or "
                          f"cost_cap_fraction (a fraction of the largest path)")
    return cap


def make_sampler(config: SPOSConfig, spec: SupernetSpec, ctx: RunContext, costs: PathCosts):
    if config.sampling == "flops_binned":
        return FlopsBinnedSampler(spec, ctx.rng, costs, config.flops_bins, config.flops_bin_tries)
    return UniformSampler(spec, ctx.rng)


def train_supernet(ctx: RunContext, config: SPOSConfig, supernet: SinglePathSupernet, costs: PathCosts,
                   probe: Scorer) -> SinglePathSampling:
    """Supernet training through ``fit``'s single-path loop feature; after every epoch the curve's
    validation score is that of one fixed probe path, its BN statistics recalibrated first."""
    sampler = make_sampler(config, supernet.spec, ctx, costs)
    feature = SinglePathSampling(sampler)
    probe_path = uniform_path(supernet.spec, ctx.rng)

    def epoch_end(model, epoch, optimizers) -> None:
        model.set_path(probe_path)
        recalibrate_batchnorm(model, probe.recalibration[: config.probe_recalibration_batches])

    def epoch_log(model) -> dict[str, float]:
        row = {"paths_sampled": feature.steps}
        if isinstance(sampler, FlopsBinnedSampler):
            row["flops_bin_misses"] = sampler.misses
        return row

    train(supernet, ctx, config.supernet, val=probe.val, epoch_end=epoch_end, epoch_log=epoch_log,
          **feature.hooks())
    return feature


# curve names of the evolution's fitness: the suite's search-signal columns (error form, lower is better)
SIGNAL_COLUMNS = {"best_fitness": "signal_best_fitness", "mean_fitness": "signal_mean_fitness"}


def run_search(ctx: RunContext, config: SPOSConfig) -> tuple[list[Evaluated], EvolutionSearch, dict[str, Any]]:
    """Train the supernet, evolve; return the evaluated paths (best first), the search, and facts."""
    spec = config.spec(ctx.task.shape)
    costs = PathCosts(spec)
    cap = cost_cap(config, costs)
    supernet = SinglePathSupernet(spec).to(ctx.device)
    e = config.evolution
    scorer = Scorer(supernet, ctx, recalibration_batches(ctx, e.recalibration_batches, e.recalibration_batch_size),
                    val_subset(ctx, e.val_examples), config.supernet.eval_batch_size)
    feature = train_supernet(ctx, config, supernet, costs, scorer)
    offset = config.supernet.epochs  # evolution rows follow the supernet's epochs in the search stage

    def on_generation(row: dict) -> None:  # the fitness columns are the search signal (generation 0: random)
        ctx.curves.record(offset + row["generation"], **{SIGNAL_COLUMNS.get(k, k): v for k, v in row.items()})
        ctx.log(f"spos generation {row['generation']}: best {row['best_fitness']:.4f} mean {row['mean_fitness']:.4f} "
                f"({row['evaluations']} evaluated, {row['rejected_over_cap']} over the cap)")

    search = EvolutionSearch(spec, e, ctx.rng, scorer, costs, cap, on_generation)
    ranked = search.run()
    facts = {"cost_cap_macs": cap, "largest_path_macs": costs.extreme(max), "smallest_path_macs": costs.extreme(min),
             "paths_sampled": feature.steps, "block_names": list(BLOCK_NAMES), "val_examples": len(scorer.val)}
    return ranked, search, facts
