"""Plugins for the study tests: a tiny task and methods that run in well under a second.

Ray workers are separate processes and do not see the decorator registrations of the test process,
so a test study names these under ``plugins:`` (``TOY_PLUGINS``) and every trial process imports
them from here (``PYTHONPATH`` = tests/execution). They do not import ``conftest``: with several
``conftest.py`` files in the tree, which module that name means depends on the collection order.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from nasbench.contracts import MetricSpec, SearchMethod, Split, Task, TaskData, TaskShape
from nasbench.training import TrainConfig, fit

TOY_PLUGINS = {
    "methods": {name: f"study_plugins:{cls}" for name, cls in (
        ("study-method", "StudyMethod"), ("study-odd-seeds-fail", "OddSeedsFail"),
        ("study-process-dies", "ProcessDies"), ("study-sleepy", "Sleepy"))},
    "tasks": {"study-task": "study_plugins:StudyTask"},
}


@dataclass(frozen=True)
class StudyTaskConfig:
    n: int = 96


class StudyTask(Task):
    """Two classes; the label is the sign of the mean of channel 0 (a planted, learnable signal)."""

    name = "study-task"
    family = "test"
    citation = "tests"
    Config = StudyTaskConfig
    metric = MetricSpec("accuracy", "max", "0-1 error")
    loads = 0

    @classmethod
    def default_config(cls, budget):
        return StudyTaskConfig()

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
class StudyMethodConfig:
    hidden: int = 8
    sleep_s: float = 0.0
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=3, batch_size=8, lr=0.1))


class StudyMethod(SearchMethod):
    name = "study-method"
    citation = "tests"
    Config = StudyMethodConfig

    @classmethod
    def default_config(cls, budget, task):
        return StudyMethodConfig()

    def search(self, ctx):
        return {"backbone": "mlp", "search_space": {"id": "toy"}, "choices": {"hidden": self.config.hidden}}

    def retrain(self, ctx, arch, hparams):
        model = nn.Sequential(nn.Flatten(), nn.Linear(32, self.config.hidden), nn.ReLU(),
                              nn.Linear(self.config.hidden, 2))
        fit(model, ctx, self.config.train)
        return model


class OddSeedsFail(StudyMethod):
    """Raises inside the plugin for odd seeds: the runner records those runs as failed."""

    name = "study-odd-seeds-fail"

    def search(self, ctx):
        if ctx.seed % 2:
            raise RuntimeError(f"planted failure for seed {ctx.seed}")
        return super().search(ctx)


class ProcessDies(StudyMethod):
    """Kills its own process, as an out-of-memory killer or a segfault would: no runner left to record it."""

    name = "study-process-dies"

    def search(self, ctx):
        os._exit(3)


class Sleepy(StudyMethod):
    """A run of a chosen length (``sleep_s``) that holds no CPU: resume and scheduling tests on a busy machine."""

    name = "study-sleepy"

    def search(self, ctx):
        time.sleep(self.config.sleep_s)
        return super().search(ctx)
