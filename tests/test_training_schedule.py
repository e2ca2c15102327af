"""The loop's schedule arithmetic (``schedule_steps``, ``scaled_lr``: the rule that shortens a search
and keeps the paper's total step length) and its row of the state at initialisation."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from toy_plugins import ToyTask, ToyTaskConfig

from nasbench.contracts import RunContext, TaskView
from nasbench.curves import CurveLog
from nasbench.training import TrainConfig, fit, scaled_lr, schedule_steps


def test_schedule_steps_weigh_epochs_by_the_lr_factor():
    step = TrainConfig(epochs=100, batch_size=10, lr=0.1, milestones=(60,), gamma=0.2)
    assert schedule_steps(step) == pytest.approx(60 + 40 * 0.2)
    assert schedule_steps(step, steps_per_epoch=19) == pytest.approx(68 * 19)
    cosine = TrainConfig(epochs=50, batch_size=1, lr=1.0, schedule="cosine")
    assert schedule_steps(cosine) == pytest.approx(25.5)  # sum of 0.5 (1 + cos(pi e / 50)): 25 + 0.5 x 1
    assert schedule_steps(TrainConfig(epochs=0, batch_size=1, lr=1.0)) == 0


def test_scaled_lr_keeps_lr_times_steps():
    assert scaled_lr(3e-4, 19_550, 40) * 40 == pytest.approx(3e-4 * 19_550)
    assert scaled_lr(0.005, 68.0, 4.0) == pytest.approx(0.085)
    assert scaled_lr(0.005, 68.0, 0.0) == 0.005  # no steps: nothing to scale


def _ctx() -> RunContext:
    task = ToyTask(ToyTaskConfig(n=64))
    data = task.load()
    return RunContext(task=TaskView(task), train=data.train, val=data.val, device=torch.device("cpu"), seed=0,
                      generator=torch.Generator().manual_seed(0), rng=np.random.default_rng(0), budget="smoke",
                      curves=CurveLog())


@pytest.mark.parametrize("log_initial", [True, False])
def test_the_row_at_initialisation_holds_the_epoch_log_columns_only(log_initial):
    torch.manual_seed(0)
    model, ctx = nn.Sequential(nn.Flatten(), nn.LazyLinear(2)), _ctx()
    model(ctx.train.inputs[:1])  # materialise the lazy layer before the state is read
    first = model[1].weight.detach().clone()
    fit(model, ctx, TrainConfig(epochs=2, batch_size=16, lr=0.5), log_initial=log_initial,
        epoch_log=lambda m: {"signal_shift": float((m[1].weight.detach() - first).abs().sum())})
    rows = ctx.curves.rows
    assert [r["epoch"] for r in rows] == ([-1, 0, 1] if log_initial else [0, 1])
    if log_initial:
        assert rows[0] == {"stage": "", "epoch": -1, "signal_shift": 0.0}
    assert rows[-1]["signal_shift"] > 0 and "train_loss" in rows[-1]
