"""Plugins for the study tests. Ray workers are separate processes and do not see the decorator
registrations of the test process, so a test study names its plugins under ``plugins:`` and every
trial process imports them from here and from ``conftest`` (``PYTHONPATH`` = tests, tests/execution).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

from conftest import ToyMethod, ToyMethodConfig

TOY_PLUGINS = {
    "methods": {"toy-method": "conftest:ToyMethod", "toy-odd-seeds-fail": "study_plugins:OddSeedsFail",
                "toy-process-dies": "study_plugins:ProcessDies", "toy-sleepy": "study_plugins:Sleepy"},
    "tasks": {"toy-task": "conftest:ToyTask"},
}


class OddSeedsFail(ToyMethod):
    """Raises inside the plugin for odd seeds: the runner records those runs as failed."""

    name = "toy-odd-seeds-fail"

    def search(self, ctx):
        if ctx.seed % 2:
            raise RuntimeError(f"planted failure for seed {ctx.seed}")
        return super().search(ctx)


class ProcessDies(ToyMethod):
    """Kills its own process, as an out-of-memory killer or a segfault would: no runner left to record it."""

    name = "toy-process-dies"

    def search(self, ctx):
        os._exit(3)


@dataclass(frozen=True)
class SleepyConfig(ToyMethodConfig):
    sleep_s: float = 1.0


class Sleepy(ToyMethod):
    """A run of a chosen length that holds no CPU: resume and scheduling tests on a busy machine."""

    name = "toy-sleepy"
    Config = SleepyConfig

    @classmethod
    def default_config(cls, budget, task):
        return SleepyConfig()

    def search(self, ctx):
        time.sleep(self.config.sleep_s)
        return super().search(ctx)
