"""Training the mixture and selecting a configuration (Section 2.3 of the paper).

``train_mixture`` runs the suite's one training loop over M supernets with the single-path loop
feature: before every step the ``BalancedSampler`` draws (c, m), the step trains supernet m on
configuration c, and after the step the same (c, m) is scored on one validation minibatch and
a_{c,m} moves by Eq. 2. ``select`` then takes m*(c) = argmax_m p(m | c) for every configuration,
scores f_c(.; w_{m*}) on the whole validation split (or, with ``top_k``, only the top_k
configurations by a_{c,m*}), and ranks them.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import torch
from torch import nn

from nasbench.contracts import RunContext, Split
from nasbench.methods.backbones.pooling_resnet import Config, PoolingSpace
from nasbench.methods.bms.balance import kl_to_uniform
from nasbench.methods.bms.mixture import BalancedSampler, MixtureOfSupernets, ValidationStream
from nasbench.training import SinglePathSampling, evaluate, fit


def higher_is_better(ctx: RunContext, value: float) -> float:
    """The task metric turned so that larger is better (the paper's accuracy)."""
    return value if ctx.task.metric.direction == "max" else -value


@torch.no_grad()
def minibatch_score(model: nn.Module, ctx: RunContext, batch: tuple[torch.Tensor, torch.Tensor]) -> float:
    """Acc(f_c(x, w_m), y) of Eq. 2: top-1 accuracy on one validation minibatch, in eval mode (as the
    authors' code). The paper's accuracy whatever the task's metric: a task metric may need more than
    a minibatch holds (ECG's F1 groups windows by record); the selection scores with the task's metric."""
    model.eval()
    inputs, targets = batch
    predictions = model(inputs.to(ctx.device)).argmax(dim=1).cpu()
    model.train()
    return float((predictions == targets).float().mean())


def steps_per_epoch(split: Split, batch_size: int, limit: int | None) -> int:
    batches = split.num_batches(batch_size)
    return min(batches, limit) if limit else batches


def train_mixture(ctx: RunContext, config: Any, space: PoolingSpace, configs: list[Config]):
    """Train M supernets for M x E_1 epochs; return the mixture and its sampler."""
    shape, models = ctx.task.shape, config.models
    mixture = MixtureOfSupernets(space, configs, models, shape.dims, shape.in_channels, shape.num_outputs)
    recipe = replace(config.search, epochs=config.search.epochs * models)  # epochs proportional to M [P]
    total = recipe.epochs * steps_per_epoch(ctx.train, recipe.batch_size, recipe.batches_per_epoch)
    sampler = BalancedSampler(len(configs), models, total, ctx.rng, beta=config.beta, tau_start=config.tau_start,
                              tau_end_factor=config.tau_end_factor, tolerance=config.ipf_tolerance,
                              max_sweeps=config.ipf_max_sweeps, initial=config.ema_initial,
                              first_replaces=config.ema_first_replaces)
    feature = SinglePathSampling(sampler)
    stream = ValidationStream(ctx.val, config.ema_batch_size, ctx.generator)
    default = configs.index(space.default) if space.default in configs else 0

    def after_step(model: nn.Module) -> None:
        c, m = feature.path
        sampler.update(c, m, minibatch_score(model, ctx, next(stream)))

    def epoch_end(model: nn.Module, epoch: int, optimizers) -> None:
        # the epoch's validation curve: the default configuration on its most likely supernet
        model.set_path((default, int(sampler.best_models()[default])))

    fit(mixture, ctx, recipe, **feature.hooks(), after_step=after_step, epoch_end=epoch_end,
        epoch_log=lambda model: search_signal(sampler), log_initial=True)
    return mixture, sampler


def search_signal(sampler: BalancedSampler) -> dict[str, float]:
    """Per-epoch curve columns saying whether the search moved: the temperature, the IPF sweeps and
    the KL of p(m) left, how concentrated p(m | c) is (mean over c of max_m; 1/M is uniform), the
    spread of the predicted scores a_{c,m*} over configurations, and the smallest model share of steps."""
    balanced = sampler.balance()
    conditional = balanced.conditional
    best = sampler.accuracy[np.arange(len(conditional)), conditional.argmax(axis=1)]
    shares = sampler.counts.sum(axis=0) / max(sampler.counts.sum(), 1)
    return {"tau": sampler.tau, "ipf_sweeps": balanced.sweeps, "ipf_kl_pm": balanced.kl,
            "signal_p_m_given_c_max": float(conditional.max(axis=1).mean()), "signal_score_spread": float(best.std()),
            "score_best": float(best.max()), "model_share_min": float(shares.min()),
            "model_share_kl": kl_to_uniform(shares) if shares.sum() else 0.0}


def select(ctx: RunContext, config: Any, mixture: MixtureOfSupernets, sampler: BalancedSampler,
           configs: list[Config]) -> list[dict[str, Any]]:
    """One row per configuration: m*, p(m* | c), a_{c,m*} and (for the evaluated ones) the score on
    the whole validation split; sorted best first (unevaluated rows last, by a_{c,m*})."""
    best = sampler.best_models()
    conditional = sampler.balanced.conditional
    rows = [{"config": list(c), "model": int(best[i]), "p_m_given_c": float(conditional[i, best[i]]),
             "a_cm": float(sampler.accuracy[i, best[i]]), "score": None} for i, c in enumerate(configs)]
    order = sorted(range(len(rows)), key=lambda i: -rows[i]["a_cm"])
    chosen = order[: config.top_k] if config.top_k else order
    for i in chosen:
        mixture.set_path((i, rows[i]["model"]))
        rows[i]["score"] = evaluate(mixture, ctx, ctx.val, config.search.eval_batch_size)
    ranked = sorted(rows, key=lambda r: (r["score"] is None, -(higher_is_better(ctx, r["score"]) if r["score"]
                                                                is not None else r["a_cm"])))
    for rank, row in enumerate(ranked, 1):
        row["rank"] = rank
    return ranked
