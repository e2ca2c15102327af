"""Watching a run: what a method does while its stages run (test-split reads, global seeding, clock reads)."""
from __future__ import annotations

import random
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from nasbench.contracts import SearchMethod, Split, Task, TaskData
from nasbench.runner import RunOutcome, RunRequest, execute, prepare
from nasbench.store import RunStore
from nasbench.testing.smoke import SmokeTask

CPU = torch.device("cpu")
SEEDERS = ((random, "seed"), (np.random, "seed"), (torch, "manual_seed"), (torch, "seed"),
           (torch.cuda, "manual_seed"), (torch.cuda, "manual_seed_all"))
CLOCKS = tuple((time, name) for name in ("time", "time_ns", "perf_counter", "perf_counter_ns", "monotonic",
                                         "monotonic_ns", "process_time", "process_time_ns"))


class Watch:
    """What a method does while its stages (search, tune, retrain) run."""

    def __init__(self, package: str):
        self.package = package  # the plugin's own modules: clock reads from these are flagged
        self.stage: str | None = None
        self.found: dict[str, list[str]] = {"test-split": [], "global-state": []}
        self.arch: Any = None
        self.model: Any = None

    @contextmanager
    def inside(self, stage: str) -> Iterator[None]:
        self.stage = stage
        try:
            yield
        finally:
            self.stage = None

    def flag(self, kind: str, what: str) -> None:
        text = f"{what} during {self.stage}"
        if self.stage is not None and text not in self.found[kind]:
            self.found[kind].append(text)

    def _from_plugin(self, depth: int = 2) -> bool:
        caller = sys._getframe(depth).f_globals.get("__name__", "")
        return caller == self.package or caller.startswith(self.package + ".")

    @contextmanager
    def globals_watched(self) -> Iterator[None]:
        """Replace the global seeding and clock functions by watching wrappers while the run lasts."""
        saved = [(owner, name, getattr(owner, name)) for owner, name in SEEDERS + CLOCKS]
        for owner, name, original in saved:
            setattr(owner, name, self._wrap(owner, name, original))
        try:
            yield
        finally:
            for owner, name, original in saved:
                setattr(owner, name, original)

    def _wrap(self, owner: Any, name: str, original: Callable) -> Callable:
        label = f"{getattr(owner, '__name__', owner)}.{name}()"
        clock = (owner, name) in CLOCKS

        def watched(*args: Any, **kwargs: Any) -> Any:
            if self.stage is not None and (not clock or self._from_plugin()):
                self.flag("global-state", f"{label} {'read the clock' if clock else 'seeded a global generator'}")
            return original(*args, **kwargs)

        return watched


class _WatchedSplit(Split):
    """The test split, reporting every read of its tensors to the watch."""

    def __init__(self, split: Split, watch: Watch):
        self._watch = watch
        super().__init__(split.name, split.inputs, split.targets, split.meta)

    @property
    def inputs(self) -> torch.Tensor:
        self._watch.flag("test-split", "the test split's inputs were read")
        return self._inputs

    @inputs.setter
    def inputs(self, value: torch.Tensor) -> None:
        self._inputs = value

    @property
    def targets(self) -> torch.Tensor:
        self._watch.flag("test-split", "the test split's targets were read")
        return self._targets

    @targets.setter
    def targets(self, value: torch.Tensor) -> None:
        self._targets = value


def watch_task(task: Task, watch: Watch) -> None:
    """Make ``task.load`` report a load during a method's stage and hand out a watched test split."""
    original = task.load

    def load(allow_generate: bool = True, log: Callable[[str], None] = print) -> TaskData:
        watch.flag("test-split", "the task's data were loaded (task.load)")
        data = original(allow_generate=allow_generate, log=log)
        data.test = _WatchedSplit(data.test, watch)
        return data

    task.load = load  # type: ignore[method-assign]


def watched_method(cls: type[SearchMethod], watch: Watch) -> type[SearchMethod]:
    """A subclass of ``cls`` whose stages run inside the watch and hand their results to it."""

    def staged(hook: str) -> Callable:
        original = getattr(cls, hook)

        def stage(self: SearchMethod, ctx: Any, *args: Any) -> Any:
            with watch.inside(hook):
                result = original(self, ctx, *args)
            if hook == "search":
                watch.arch = result
            elif hook == "retrain":
                watch.model = result
            return result

        return stage

    stages = {hook: staged(hook) for hook in ("search", "tune", "retrain")}
    return type(cls.__name__, (cls,), {"__module__": cls.__module__, **stages})


def plugin_package(cls: type) -> str:
    """The package a plugin's own code lives in (``nasbench.methods`` for a built-in; the module itself
    for a plugin class of the core, such as the random-search controls of ``nasbench.controls``)."""
    parts = cls.__module__.split(".")
    return ".".join(parts[:2]) if parts[0] == "nasbench" else parts[0]


@dataclass
class WatchedRun:
    outcome: RunOutcome
    watch: Watch
    logs: list[str]

    @property
    def manifest(self) -> dict[str, Any]:
        return self.outcome.manifest


def watched_run(method: str, smoke: SmokeTask, root: Path, *, budget: str = "smoke", seed: int = 0,
                overrides: Sequence[str] = (), results: str = "run", package: str | None = None) -> WatchedRun:
    """One run through the runner's ``prepare``/``execute`` on the CPU, watched, into ``root/results``."""
    sets = tuple(overrides) + smoke.materialise(budget, root)
    prepared = prepare(RunRequest(method, smoke.name, budget, seed, sets))
    watch, logs = Watch(package or plugin_package(prepared.method_cls)), []
    prepared.method_cls = watched_method(prepared.method_cls, watch)
    watch_task(prepared.task, watch)
    with watch.globals_watched():
        outcome = execute(prepared, RunStore(root / results), device=CPU, log=logs.append, force=True)
    return WatchedRun(outcome, watch, logs)

