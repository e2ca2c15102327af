"""DASH's hyper-parameter stage and retraining: the discretised network (WRN-16-4 in 2D, the 1D WRN
in 1D) with the searched (k, d) per layer, one saved initial state for every grid point and for
the final run, a grid of (lr, dropout, weight decay, momentum) scored on the validation split, and
the retraining with the chosen point ([P] 3.3 and A.5.2, [R] main.py and get_hp_configs)."""
from __future__ import annotations

import itertools
import math
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from nasbench.contracts import RunContext, TaskShape
from nasbench.errors import TrainingDiverged
from nasbench.methods.backbones.wrn import build_wrn
from nasbench.methods.dash.config import DASHConfig, TuneConfig
from nasbench.training import TrainConfig, fit

HP_KEYS = ("lr", "dropout", "weight_decay", "momentum")


def build_retrain_network(shape: TaskShape, choices: dict[str, Any], dropout: float = 0.0) -> nn.Module:
    """The final network from the record's choices alone: WRN-depth-widen (2D) or the 1D WRN,
    plain convolutions with the searched (k, d) per layer."""
    return build_wrn(shape, depth=choices["depth"], widen=choices.get("widen") or 1, dropout=dropout,
                     mid_channels=choices.get("mid_channels"), causal=choices.get("causal") is not False,
                     kernels=[(int(k), int(d)) for k, d in choices["kernels"]])


def hp_grid(t: TuneConfig) -> list[dict[str, float]]:
    """lr-major product of the grid axes, as the reference iterates it."""
    return [dict(zip(HP_KEYS, point)) for point in itertools.product(t.lrs, t.dropouts, t.weight_decays, t.momenta)]


def reference_subsample(n_batches: int) -> float:
    """[R] get_hp_configs: the fraction of training batches per tuning epoch, by the number of batches."""
    if n_batches < 50:
        return 0.2
    if n_batches < 100:
        return 0.1
    return 0.05 if n_batches < 500 else 0.01


def recipe(c: DASHConfig, hp: dict[str, float], epochs: int, batches: int | None) -> TrainConfig:
    """The retraining recipe at grid point ``hp``: SGD, Nesterov when momentum > 0, no clipping [R]."""
    return replace(c.retrain, epochs=epochs, lr=hp["lr"], momentum=hp["momentum"], weight_decay=hp["weight_decay"],
                   batches_per_epoch=batches)


def run_tuning(ctx: RunContext, c: DASHConfig, choices: dict[str, Any],
               init_state: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Train every grid point from ``init_state`` on a subsample of the training split, score it on
    the validation split, and keep the best; stop early when a whole lr left the best unchanged."""
    grid, sign = hp_grid(c.tune), (1.0 if ctx.task.metric.direction == "min" else -1.0)
    n_batches = ctx.train.num_batches(c.retrain.batch_size)
    ratio = c.tune.subsample or reference_subsample(n_batches)
    batches = min(int(ratio * n_batches) + 1, n_batches)
    trials, best_before = [], None
    for index, hp in enumerate(grid):
        if index and hp["lr"] != grid[index - 1]["lr"]:
            best = min(t["key"] for t in trials)
            if c.tune.early_stop and best_before is not None and best == best_before:
                break
            best_before = best
        score = _trial(ctx, c, choices, init_state, hp, batches, index)
        trials.append({**hp, "val_score": score, "key": sign * score if math.isfinite(score) else math.inf})
    chosen = min(trials, key=lambda t: t["key"])  # first of equals, as the reference's argwhere
    return {**{k: chosen[k] for k in HP_KEYS}, "tuning": {
        "grid_size": len(grid), "evaluated": [{k: t[k] for k in (*HP_KEYS, "val_score")} for t in trials],
        "stopped_early": len(trials) < len(grid), "epochs": c.tune.epochs, "batches_per_epoch": batches,
        "subsample": ratio, "metric": ctx.task.metric.name}}


def _trial(ctx, c, choices, init_state, hp, batches, index) -> float:
    model = build_retrain_network(ctx.task.shape, choices, hp["dropout"]).to(ctx.device)
    model.load_state_dict(init_state)
    ctx.log(f"dash tune: grid point {index}: " + ", ".join(f"{k}={hp[k]:g}" for k in HP_KEYS))
    try:
        return fit(model, ctx, recipe(c, hp, c.tune.epochs, batches), epoch_log=lambda m: {"grid_point": index})
    except TrainingDiverged as exc:  # a diverging grid point loses; the stage goes on
        ctx.log(f"dash tune: grid point {index} diverged ({exc})")
        return math.nan
