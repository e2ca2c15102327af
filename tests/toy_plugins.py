"""A tiny task and method for runner and CLI tests (kept out of conftest.py: several conftest
modules share that module name, and dataclass annotations are resolved through the module)."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from nasbench.contracts import MetricSpec, SearchMethod, Split, Task, TaskData, TaskShape
from nasbench.training import TrainConfig, fit


@dataclass(frozen=True)
class ToyTaskConfig:
    n: int = 96
    data_dir: str | None = None


class ToyTask(Task):
    """Two classes; the label is the sign of the mean of channel 0 (planted, learnable signal)."""

    name = "toy-task"
    family = "test"
    citation = "tests"
    Config = ToyTaskConfig
    metric = MetricSpec("accuracy", "max", "0-1 error")
    loads = 0

    @classmethod
    def default_config(cls, budget):
        return ToyTaskConfig()

    @property
    def shape(self):
        return TaskShape(dims=1, in_channels=2, input_size=(16,), output="classes", num_outputs=2)

    def load(self, allow_generate=True, log=print):
        type(self).loads += 1
        g = torch.Generator().manual_seed(123)
        x = torch.randn(self.config.n, 2, 16, generator=g)
        y = (x[:, 0].mean(1) > 0).long()
        third = self.config.n // 3
        return TaskData(Split("train", x[:third], y[:third]), Split("val", x[third:2 * third], y[third:2 * third]),
                        Split("test", x[2 * third:], y[2 * third:]), "fixture")

    def loss(self, output, target):
        return nn.functional.cross_entropy(output, target)

    def score(self, outputs, split):
        return (outputs.argmax(1) == split.targets).float().mean().item()


@dataclass(frozen=True)
class ToyMethodConfig:
    hidden: int = 8
    fail: bool = False
    nan: bool = False
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=3, batch_size=8, lr=0.1))


class ToyMethod(SearchMethod):
    name = "toy-method"
    citation = "tests"
    Config = ToyMethodConfig
    seen_splits: list = []

    @classmethod
    def default_config(cls, budget, task):
        return ToyMethodConfig()

    @classmethod
    def unsupported_reason(cls, shape):
        return "toy-method runs on 1D tasks only" if shape.dims != 1 else None

    def search(self, ctx):
        type(self).seen_splits = [ctx.train.name, ctx.val.name]
        if self.config.fail:
            raise RuntimeError("planted failure")
        return {"backbone": "mlp", "search_space": {"id": "toy"}, "choices": {"hidden": self.config.hidden}}

    def retrain(self, ctx, arch, hparams):
        model = toy_model(self.config.hidden)
        if self.config.nan:
            nn.init.constant_(model[1].weight, float("nan"))
        fit(model, ctx, self.config.train)
        return model


def toy_model(hidden: int) -> nn.Module:
    """The toy methods' network for the toy task's (2, 16) inputs."""
    return nn.Sequential(nn.Flatten(), nn.Linear(32, hidden), nn.ReLU(), nn.Linear(hidden, 2))


@dataclass(frozen=True)
class ToySpaceConfig:
    widths: tuple[int, ...] = (2, 4, 8, 16)  # the space: the hidden width of toy_model
    diverge: tuple[int, ...] = ()  # widths whose training diverges (NaN weights)
    search_epochs: int = 2  # the toy search trains one network this long: the budget its control matches
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=4, batch_size=8, lr=0.1))


class ToySpaceMethod(SearchMethod):
    """A method with a search space its random-search control can sample (the control contract)."""

    name = "toy-space"
    citation = "tests"
    Config = ToySpaceConfig
    retrain_recipe = "train"

    @classmethod
    def default_config(cls, budget, task):
        return ToySpaceConfig()

    @classmethod
    def sample_architecture(cls, config, shape, rng):
        hidden = config.widths[int(rng.integers(len(config.widths)))]
        return {"backbone": "mlp", "search_space": {"id": "toy-space", "widths": list(config.widths)},
                "choices": {"hidden": hidden}}

    @classmethod
    def search_examples(cls, config, shape, train_size):
        return config.search_epochs * train_size

    @classmethod
    def describe_record(cls, record):
        return {"hidden": record["choices"]["hidden"]}

    def search(self, ctx):
        return {"backbone": "mlp", "search_space": {"id": "toy-space"}, "choices": {"hidden": self.config.widths[-1]}}

    def retrain(self, ctx, arch, hparams):
        model = toy_model(arch["choices"]["hidden"])
        if arch["choices"]["hidden"] in self.config.diverge:
            nn.init.constant_(model[1].weight, float("nan"))
        fit(model, ctx, self.config.train)
        return model
