"""Tones: tell the period of a noisy tone, a small 1D task defined by its generative process.

No benchmark defines this task: it is the example plugin's own, small enough for a laptop and shaped
so that the receptive field matters (a long period needs a large kernel or dilation to be seen).

Process (version ``tones-1``), for each example independently:
- class c uniform in {0, ..., classes - 1}; period P = base_period * 2 ** c samples;
- amplitude a ~ U(0.5, 1.5), phase phi ~ U(0, 2 pi), offset b ~ N(0, 0.5 ** 2);
- x_t = b + a sin(2 pi t / P + phi) + noise * e_t, e_t ~ N(0, 1), t = 0, ..., length - 1
  (noise 2.0 by default: the tone is well below the noise in any short window); one input channel.
Splits are independent draws from fixed seeds (train 1, val 2, test 3), the same for every run seed,
method and machine; data are made in memory at each load (milliseconds) and recorded as
``generated``: the defining process itself, not an approximation of a benchmark's files.
Metric: accuracy (error form: 0-1 error); loss: cross-entropy.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch.nn import functional as F

from nasbench.contracts import MetricSpec, Split, Task, TaskData, TaskShape
from nasbench.errors import ConfigError

PROCESS = "tones-1"
SPLIT_SEEDS = {"train": 1, "val": 2, "test": 3}


@dataclass(frozen=True)
class TonesConfig:
    n_train: int = 10_000
    n_val: int = 2_000
    n_test: int = 2_000
    length: int = 256
    classes: int = 4
    base_period: int = 4  # periods 4, 8, 16, 32 samples for 4 classes
    noise: float = 2.0  # at 1.0 the task is too easy to rank methods (docs/measurements.md)

    def validate(self) -> None:
        if min(self.n_train, self.n_val, self.n_test) < 1 or self.classes < 2 or self.base_period < 2:
            raise ConfigError(f"tones: need n_train, n_val, n_test >= 1, classes >= 2 and base_period >= 2; got {self}")
        longest = self.base_period * 2 ** (self.classes - 1)
        if longest > self.length:
            raise ConfigError(f"tones: the longest period ({longest} samples) exceeds length={self.length}; "
                              f"raise length to at least {longest} or lower classes/base_period")
        if self.noise < 0:
            raise ConfigError(f"tones: noise must be >= 0, got {self.noise}")


BUDGETS = {
    "smoke": dict(n_train=64, n_val=32, n_test=32, length=64),
    "small": dict(n_train=2_000, n_val=500, n_test=1_000),
    "paper": dict(),
}


def generate_tones(config: TonesConfig, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(inputs (n, 1, length) float32, labels (n,) int64) drawn from the process with ``seed``."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(config.classes, size=n)
    period = config.base_period * 2.0 ** labels
    amplitude, phase = rng.uniform(0.5, 1.5, n), rng.uniform(0.0, 2 * np.pi, n)
    offset = rng.normal(0.0, 0.5, n)
    t = np.arange(config.length)
    tone = amplitude[:, None] * np.sin(2 * np.pi * t[None] / period[:, None] + phase[:, None])
    x = offset[:, None] + tone + config.noise * rng.standard_normal((n, config.length))
    return x[:, None, :].astype(np.float32), labels.astype(np.int64)


class Tones(Task):
    name = "tones"
    family = "synthetic"
    citation = "nasbench-randomsearch example plugin: a generated task (no publication)"
    Config = TonesConfig
    metric = MetricSpec(name="accuracy", direction="max", error_name="0-1 error")

    def __init__(self, config: TonesConfig):
        config.validate()
        super().__init__(config)

    @classmethod
    def default_config(cls, budget: str) -> TonesConfig:
        return TonesConfig(**BUDGETS[budget])

    @classmethod
    def budget_notes(cls, budget: str) -> str:
        c = cls.default_config(budget)
        return f"{c.n_train}/{c.n_val}/{c.n_test} train/val/test tones of length {c.length}"

    @property
    def shape(self) -> TaskShape:
        c = self.config
        return TaskShape(dims=1, in_channels=1, input_size=(c.length,), output="classes", num_outputs=c.classes)

    def can_generate(self) -> bool:
        return True

    def generate(self, log: Callable[[str], None] = print) -> None:
        log("tones: the data are generated in memory at every load (deterministic, milliseconds); nothing to write")

    def load(self, allow_generate: bool = True, log: Callable[[str], None] = print) -> TaskData:
        c = self.config
        counts = {"train": c.n_train, "val": c.n_val, "test": c.n_test}
        splits = {}
        for part, n in counts.items():
            x, y = generate_tones(c, n, SPLIT_SEEDS[part])
            splits[part] = Split(part, torch.from_numpy(x), torch.from_numpy(y))
        return TaskData(splits["train"], splits["val"], splits["test"], "generated",
                        {"process": PROCESS, "seeds": dict(SPLIT_SEEDS)})

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(output, target)

    def score(self, outputs: torch.Tensor, split: Split) -> float:
        return (outputs.argmax(1) == split.targets).float().mean().item()
