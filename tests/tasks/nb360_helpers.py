"""Shared by the NAS-Bench-360 task tests: fixture folders, learning settings, chance levels.

A task's smoke settings are its own (``Task.smoke_overrides``, read through ``nasbench.testing.smoke_task``);
what stays here is test data of the learning checks: the WRN settings under which a smoke run must beat
chance on each fixture's planted signal."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from nasbench.registry import tasks
from nasbench.tasks.nb360 import metrics
from nasbench.testing import smoke_task

NB360_TASKS = ("cifar100", "spherical", "ninapro", "fsd50k", "psicov", "cosmic", "ecg", "satellite", "deepsea")

# Task settings of the learning check where the task's smoke settings (sized for seconds per method,
# not for learning) read too few examples to beat chance: these replace them (each on top of the
# task's smoke-budget defaults). Satellite's 24 classes need 512 training series.
LEARNING_TASK_SETTINGS = {
    "satellite": ("task.n_train=512",),
    "ecg": ("task.n_train=24",),
    "deepsea": ("task.n_train=96",),
}
# Method overrides of the WRN baseline per task (its smoke network, WRN-10-1 / a 1-D WRN): a
# constant learning rate (the smoke milestones are set for 2 epochs) and a few small-batch epochs,
# so each run takes seconds and still learns the planted signal.
_FLAT = ("train.milestones=()", "train.lr=0.05")
WRN_SETTINGS = {
    "cifar100": _FLAT + ("train.epochs=4", "train.batch_size=16"),
    "spherical": _FLAT + ("train.epochs=6", "train.batch_size=16"),
    "ninapro": _FLAT + ("train.epochs=6", "train.batch_size=16"),
    "fsd50k": _FLAT + ("train.epochs=5", "train.batch_size=8"),
    "psicov": _FLAT + ("train.epochs=10", "train.batch_size=2", "train.lr=0.01"),
    "cosmic": _FLAT + ("train.epochs=2", "train.batch_size=4"),
    "ecg": _FLAT + ("train.epochs=2", "train.batch_size=32"),
    "satellite": _FLAT + ("train.epochs=3", "train.batch_size=32", "mid_channels=8"),
    "deepsea": _FLAT + ("train.epochs=2", "train.batch_size=16", "train.lr=0.2", "mid_channels=16"),
}


def smoke_sets(name: str) -> tuple[str, ...]:
    """The task's own smoke settings as run overrides (``task.key=value``)."""
    return tuple(f"task.{o}" for o in smoke_task(name).overrides)


def fixture_task(name: str, folder: Path, *task_sets: str, budget: str = "smoke"):
    """The task configured for ``budget``, reading ``folder``, with ``task.key=value`` sets."""
    from nasbench.config import apply_overrides

    cls = tasks.get(name)
    config = dataclasses.replace(cls.default_config(budget), data_dir=str(folder))
    return cls(apply_overrides(config, [s.removeprefix("task.") for s in task_sets]))


def write_fixture(name: str, folder: Path, seed: int = 0) -> Path:
    fixture_task(name, folder).write_fixture(folder, seed=seed)
    return folder


def chance(name: str, task, data) -> float:
    """The metric of the best input-blind prediction (a constant), on the test split."""
    test = data.test
    if name in ("cifar100", "spherical", "ninapro", "satellite"):
        return float(np.bincount(test.targets.numpy()).max() / len(test))
    if name in ("cosmic", "deepsea"):
        return 0.5
    if name == "fsd50k":
        constant = torch.zeros(len(test), task.shape.num_outputs)
        return task.score(constant, test)
    if name == "ecg":
        truth = metrics.majority_vote(test.targets.numpy(), np.asarray(test.meta["record"]))
        return max(metrics.macro_f1(truth, np.full_like(truth, c), 4) for c in range(4))
    if name == "psicov":  # MAE8 of predicting the mean training target everywhere (lower is better)
        mean = float(np.mean([y.mean() for _, y in data.train.batches(4)]))
        return task.score(torch.full((len(test), 1, task.config.crop, task.config.crop), mean), test)
    raise KeyError(name)


def beats_chance(task, value: float, level: float) -> bool:
    return value < level if task.metric.direction == "min" else value > level
