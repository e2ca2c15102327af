"""Plugins for the study tests: a tiny task and methods that run in well under a second.

Ray workers are separate processes and do not see the decorator registrations of the test process,
so a test study names these under ``plugins:`` (``TOY_PLUGINS``) and every trial process imports
them from here (``PYTHONPATH`` = tests/execution and tests, for ``toy_plugins``). They do not import
``conftest``: with several ``conftest.py`` files in the tree, which module that name means depends on
the collection order.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from toy_plugins import ToyTask, toy_model

from nasbench.contracts import SearchMethod
from nasbench.training import TrainConfig, fit

TOY_PLUGINS = {
    "methods": {name: f"study_plugins:{cls}" for name, cls in (
        ("study-method", "StudyMethod"), ("study-odd-seeds-fail", "OddSeedsFail"),
        ("study-process-dies", "ProcessDies"), ("study-sleepy", "Sleepy"), ("study-cannot", "Cannot"))},
    "tasks": {"study-task": "study_plugins:StudyTask"},
}


class StudyTask(ToyTask):
    """The runner tests' toy task under its own name and load counter."""

    name = "study-task"
    loads = 0


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
        model = toy_model(self.config.hidden)
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


class Cannot(ProcessDies):
    """Can run on no task (its ``unsupported_reason``); were it ever started, its process would die."""

    name = "study-cannot"

    @classmethod
    def unsupported_reason(cls, shape):
        return "planted: this method runs on no task"
