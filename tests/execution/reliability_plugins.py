"""Plugins for the reliability tests: a method that counts its computations in a file, and one that
holds a chosen amount of memory for a while (per-run memory figures)."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import torch
from study_plugins import StudyMethod

from nasbench.training import TrainConfig

PLUGINS = {"methods": {"counted": "reliability_plugins:Counted", "holds-memory": "reliability_plugins:HoldsMemory"},
           "tasks": {"study-task": "study_plugins:StudyTask"}}


@dataclass(frozen=True)
class CountedConfig:
    hidden: int = 8
    sleep_s: float = 0.5
    count_file: str = ""  # one line is appended per computation of a run: "<seed> <pid>"
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=1, batch_size=8, lr=0.1))


class Counted(StudyMethod):
    name = "counted"
    Config = CountedConfig

    @classmethod
    def default_config(cls, budget, task):
        return CountedConfig()

    def search(self, ctx):
        with open(self.config.count_file, "a") as handle:
            handle.write(f"{ctx.seed} {os.getpid()}\n")
        time.sleep(self.config.sleep_s)
        return super().search(ctx)


@dataclass(frozen=True)
class HoldsMemoryConfig:
    hidden: int = 8
    megabytes: int = 40
    hold_s: float = 0.5
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=1, batch_size=8, lr=0.1))


class HoldsMemory(StudyMethod):
    """Allocates ``megabytes`` of tensors in its search stage and holds them for ``hold_s``."""

    name = "holds-memory"
    Config = HoldsMemoryConfig

    @classmethod
    def default_config(cls, budget, task):
        return HoldsMemoryConfig()

    def search(self, ctx):
        block = torch.ones(self.config.megabytes * 2**20 // 4)  # float32: 4 bytes each, every page touched
        time.sleep(self.config.hold_s)
        del block
        return super().search(ctx)
