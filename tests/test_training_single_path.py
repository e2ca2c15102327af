"""The single-path loop feature of ``fit``: one path per step, and only that path moves."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from nasbench.contracts import RunContext, TaskView
from nasbench.curves import CurveLog
from nasbench.training import SinglePathSampling, TrainConfig, drop_zero_grads, fit
from toy_plugins import ToyTask, ToyTaskConfig

CHOICES, LAYERS = 3, 2


class RoutedSupernet(nn.Module):
    """Each layer runs only its chosen block (the SPOS form)."""

    def __init__(self, masked: bool = False):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList(nn.Sequential(nn.Conv1d(2, 2, 3, padding=1), nn.BatchNorm1d(2), nn.ReLU())
                          for _ in range(CHOICES)) for _ in range(LAYERS))
        self.head = nn.Linear(2, 2)
        self.masked, self.path = masked, (0,) * LAYERS

    def set_path(self, path):
        self.path = tuple(path)

    def forward(self, x):
        for layer, choice in zip(self.layers, self.path):
            if self.masked:  # every block runs, the others are multiplied by zero: their gradients are zero
                x = sum(block(x) * float(i == choice) for i, block in enumerate(layer))
            else:
                x = layer[choice](x)
        return self.head(x.mean(-1))


def _ctx(seed: int = 0) -> RunContext:
    task = ToyTask(ToyTaskConfig(n=96))
    data = task.load()
    return RunContext(task=TaskView(task), train=data.train, val=data.val, device=torch.device("cpu"), seed=seed,
                      generator=torch.Generator().manual_seed(seed), rng=np.random.default_rng(seed), budget="smoke",
                      curves=CurveLog())


def _state(model: nn.Module, path) -> dict[str, torch.Tensor]:
    """Parameters and buffers of the blocks off ``path``."""
    return {name: t.detach().clone() for name, t in {**dict(model.named_parameters()), **dict(model.named_buffers())}.items()
            if name.startswith("layers.") and int(name.split(".")[2]) != path[int(name.split(".")[1])]}


def _one_step_after_warmup(masked: bool, drop: bool):
    """Train a few steps over random paths (momentum buffers everywhere), then one step on a fixed path."""
    torch.manual_seed(0)
    model, ctx = RoutedSupernet(masked), _ctx()
    cfg = TrainConfig(epochs=1, batch_size=8, lr=0.1, momentum=0.9, weight_decay=1e-2, batches_per_epoch=4)
    rng = np.random.default_rng(0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-2)
    feature = SinglePathSampling(lambda: tuple(rng.integers(CHOICES, size=LAYERS)))
    hooks = feature.hooks() if drop else {"before_step": feature.before_step}
    fit(model, ctx, cfg, optimizers=[opt], **hooks)
    path = (1, 2)
    before = _state(model, path)
    fixed = SinglePathSampling(lambda: path)
    hooks = fixed.hooks() if drop else {"before_step": fixed.before_step}
    fit(model, ctx, TrainConfig(epochs=1, batch_size=8, lr=0.1, batches_per_epoch=1), optimizers=[opt], **hooks)
    return before, _state(model, path), feature


def test_off_path_parameters_and_bn_buffers_are_bit_identical_after_a_step():
    for masked in (False, True):
        before, after, feature = _one_step_after_warmup(masked, drop=True)
        assert feature.steps == 4 and before.keys() == after.keys() and len(before) > 0
        for name in before:
            # a masked supernet runs every block forward, so only its parameters are held still
            if not masked or "running" not in name and "num_batches" not in name:
                assert torch.equal(before[name], after[name]), (masked, name)


def test_without_the_drop_momentum_and_decay_move_zero_gradient_blocks():
    """The check above can fail: a masked supernet's off-path blocks move when zero gradients stay."""
    before, after, _ = _one_step_after_warmup(masked=True, drop=False)
    moved = [name for name in before if not torch.equal(before[name], after[name])]
    assert any(name.endswith("weight") for name in moved)


def test_drop_zero_grads_keeps_partly_nonzero_gradients():
    a, b = nn.Parameter(torch.ones(3)), nn.Parameter(torch.ones(3))
    holder = nn.Module()
    holder.a, holder.b = a, b
    a.grad, b.grad = torch.zeros(3), torch.tensor([0.0, 1.0, 0.0])
    drop_zero_grads(holder)
    assert a.grad is None and torch.equal(b.grad, torch.tensor([0.0, 1.0, 0.0]))


def test_each_step_draws_a_fresh_path_and_the_model_applies_it():
    seen = []
    model, ctx = RoutedSupernet(), _ctx()
    paths = iter([(0, 1), (2, 2), (1, 0)])
    feature = SinglePathSampling(lambda: next(paths), apply=lambda m, p: (seen.append(p), m.set_path(p)))
    fit(model, ctx, TrainConfig(epochs=1, batch_size=8, lr=0.1, batches_per_epoch=3), **feature.hooks())
    assert seen == [(0, 1), (2, 2), (1, 0)] and model.path == (1, 0) and feature.path == (1, 0)
