"""Smoke tasks and smoke methods, chosen from the registries: the core names no method and no task.

A task's smoke settings are its own: ``Task.smoke_overrides`` (task config keys) and ``Task.write_fixture``
(a small data set in the official format). Every registered task that writes a fixture is a smoke task.
Smoke tasks are ordered by the kind of their shape (``SHAPE_KINDS``: 2D dense, then 1D real-valued
sequences, then 2D classification, then token sequences, so that a method meets the hardest output
first) and, within a kind, by the size of one smoke input (channels x positions), then by name: the
first of a kind is the cheapest of that kind.

``check_task`` runs a method on the task: the first registered method that runs on the task's shape,
plain backbones (``SearchMethod.baseline``) before search methods, then by name.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from nasbench.config import apply_overrides
from nasbench.contracts import SearchMethod, Task, TaskShape, unsupported_reason
from nasbench.errors import NasBenchError
from nasbench.registry import methods, tasks
from nasbench.runner import TASK_PREFIX
from nasbench.testing.report import CheckFailed

SHAPE_KINDS = ("2d-dense", "1d", "2d-classes", "1d-tokens")


def shape_kind(shape: TaskShape) -> str:
    """``2d-dense`` (fields, segmentation), ``1d`` (real-valued sequences of any output), ``2d-classes``
    (classes or labels of an image) or ``1d-tokens`` (token sequences, which need an embedding)."""
    if shape.dims == 1:
        return "1d-tokens" if shape.vocab_size is not None else "1d"
    return "2d-dense" if shape.dense else "2d-classes"


@dataclass(frozen=True)
class SmokeTask:
    """A task for a smoke run: a registered name, task config overrides (without ``task.``), and whether
    its ``write_fixture`` writes the data into a temporary folder first (set as the config's ``data_dir``)."""

    name: str
    overrides: tuple[str, ...] = ()
    fixture: bool = False

    def instance(self, budget: str, data_dir: Path | None = None) -> Task:
        cls = tasks.get(self.name)
        sets = list(self.overrides) + ([f"data_dir={str(data_dir)!r}"] if data_dir is not None else [])
        return cls(apply_overrides(cls.default_config(budget), sets))

    def data_dir(self, root: Path) -> Path | None:
        """Where the fixture goes under ``root`` (None: the task finds or generates its own data)."""
        return root / "data" / self.name if self.fixture else None

    def materialise(self, budget: str, root: Path) -> tuple[str, ...]:
        """Write the fixture (if any) under ``root``; return the run's ``task.`` overrides."""
        sets = tuple(TASK_PREFIX + o for o in self.overrides)
        folder = self.data_dir(root)
        if folder is None:
            return sets
        if not folder.exists():
            self.instance(budget, folder).write_fixture(folder, seed=0)
        return sets + (f"{TASK_PREFIX}data_dir={str(folder)!r}",)


def writes_fixture(cls: type[Task]) -> bool:
    """Whether the task class defines ``write_fixture`` (the contract's default raises)."""
    return getattr(cls, "write_fixture", Task.write_fixture) is not Task.write_fixture


def smoke_task(task: str | SmokeTask, overrides: Sequence[str] | None = None, fixture: bool | None = None) -> SmokeTask:
    """``task`` as a SmokeTask: its class's ``smoke_overrides`` and fixture unless ``overrides`` or
    ``fixture`` are given."""
    if isinstance(task, SmokeTask):
        return task
    cls = tasks.get(task)
    sets = cls.smoke_overrides if overrides is None else overrides
    return SmokeTask(task, tuple(sets), writes_fixture(cls) if fixture is None else bool(fixture))


def smoke_size(shape: TaskShape) -> int:
    """Channels x positions of one input: the cost of a smoke run grows with it."""
    return shape.in_channels * math.prod(shape.input_size) * (2 if shape.pair_inputs else 1)


def smoke_tasks(budget: str = "smoke") -> list[tuple[SmokeTask, TaskShape]]:
    """Every registered task that writes a fixture, with its smoke shape, in the order described above.
    A task that cannot be imported or configured is left out (``check_task`` reports it)."""
    found = []
    for name in tasks.names():
        try:
            if not writes_fixture(tasks.get(name)):
                continue
            smoke = smoke_task(name)
            shape = smoke.instance(budget).shape
        except NasBenchError:
            continue
        found.append((smoke, shape))
    return sorted(found, key=lambda pair: (SHAPE_KINDS.index(shape_kind(pair[1])), smoke_size(pair[1]), pair[0].name))


def pick_smoke_task(cls: type[SearchMethod], candidates: Sequence[SmokeTask], budget: str = "smoke") -> SmokeTask:
    """The first of ``candidates`` the method runs on; CheckFailed with every reason otherwise."""
    reasons = []
    for candidate in candidates:
        reason = unsupported_reason(cls, candidate.instance(budget).shape)
        if reason is None:
            return candidate
        reasons.append(f"{candidate.name}: {reason}")
    raise CheckFailed(f"{cls.name} runs on none of the smoke tasks ({'; '.join(reasons) or 'none given'}); pass "
                      f"task=<a task it supports>, e.g. check_method({cls.name!r}, task='my-task')")


def smoke_methods() -> list[type[SearchMethod]]:
    """Registered methods that import, plain backbones first, then by name."""
    found = []
    for name in methods.names():
        try:
            found.append(methods.get(name))
        except NasBenchError:
            continue
    return sorted(found, key=lambda cls: (not getattr(cls, "baseline", False), cls.name))


def pick_smoke_method(shape: TaskShape, method: str | None = None) -> str:
    """``method``, or the first of ``smoke_methods()`` that runs on a task of ``shape``."""
    candidates = [methods.get(method)] if method else smoke_methods()
    for cls in candidates:
        if unsupported_reason(cls, shape) is None:
            return cls.name
    names = ", ".join(cls.name for cls in candidates) or "(no method is registered)"
    raise CheckFailed(f"none of {names} runs on a task of shape {shape}; pass method=<a method that does>")


# -- the method x task matrix of the test suite ----------------------------------------------------
@dataclass(frozen=True)
class SmokePair:
    """One method on one smoke task; ``reason`` says why the method skips it (None: it runs);
    ``fast`` marks the pairs of the quick suite."""

    method: str
    task: SmokeTask
    reason: str | None
    fast: bool

    @property
    def id(self) -> str:
        return f"{self.method}-{self.task.name}"


def smoke_matrix(budget: str = "smoke") -> Iterator[SmokePair]:
    """Every registered method x every smoke task. Fast: each method on the first task it runs on of
    each shape kind (the cheapest 2D dense, 1D, 2D classification and token task), and every pair it
    skips (a skip costs nothing). A random-search control (``control_of``) trains its method's networks
    several times over, with code its method's rows already run on every kind: it is fast on the first
    task it runs on only."""
    candidates = smoke_tasks(budget)
    for cls in smoke_methods():
        first_of_kind: set[str] = set()
        for smoke, shape in candidates:
            reason = unsupported_reason(cls, shape)
            kind = shape_kind(shape)
            fast = reason is not None or (kind not in first_of_kind and not (cls.control_of and first_of_kind))
            if reason is None:
                first_of_kind.add(kind)
            yield SmokePair(cls.name, smoke, reason, fast)
