"""``check_method`` and ``check_task``: the contract checks of one plugin, from its structure to two
watched smoke runs."""
from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any, Sequence

import torch

from nasbench.contracts import DATA_SOURCES, SearchMethod, Split, Task, TaskData, TaskView
from nasbench.errors import PluginError
from nasbench.registry import methods, tasks
from nasbench.testing.report import CheckFailed, ContractReport, fail_if, run_check, skip_rest
from nasbench.testing.resolve import label, resolved, work_folder
from nasbench.testing.runs import determinism_ok, run_checks, task_run_ok
from nasbench.testing.smoke import SmokeTask, pick_smoke_method, pick_smoke_task, smoke_task, smoke_tasks
from nasbench.testing.structure import (
    METHOD_HOOKS,
    TASK_HOOKS,
    hooks_ok,
    method_attributes,
    method_config,
    task_attributes,
    task_config,
)
from nasbench.testing.watch import WatchedRun, watched_run

METHOD_CHECKS = ("registry", "attributes", "hooks", "config", "smoke", "record", "test-split", "global-state",
                 "device", "determinism")
TASK_CHECKS = ("registry", "attributes", "hooks", "config", "data", "smoke", "determinism")


def check_method(method: str | type[SearchMethod], task: str | SmokeTask | type[Task] | None = None, *,
                 budget: str = "smoke", seed: int = 0, overrides: Sequence[str] = (),
                 task_overrides: Sequence[str] | None = None, fixture: bool | None = None, skip: Sequence[str] = (),
                 workdir: Path | str | None = None, raise_on_failure: bool = True) -> ContractReport:
    """Run the method contract checks (``METHOD_CHECKS``) on ``method``, a registered name or a class.

    ``task``: where to run it (default: the first registered smoke task the method runs on, in the order of
    ``nasbench.testing.smoke``: the cheapest 2D dense task first, then 1D, then 2D classification); with
    ``task_overrides`` (task config keys, without ``task.``) and ``fixture`` (write the task's fixture
    first). ``overrides``: method config ``key=value`` sets. ``skip``: names of checks not to run."""
    report = ContractReport(f"method {label(method)}")
    with ExitStack() as stack:
        cls = stack.enter_context(resolved(methods, method, report))
        if cls is not None:
            candidates = _method_smoke_tasks(stack, task, task_overrides, fixture)
            _check_method_class(report, cls, candidates, budget, seed, overrides, skip,
                                stack.enter_context(work_folder(workdir)))
        skip_rest(report, METHOD_CHECKS, "needs the plugin to resolve")
    return report.raise_for_failures() if raise_on_failure else report


def _method_smoke_tasks(stack: ExitStack, task: Any, overrides: Sequence[str] | None,
                        fixture: bool | None) -> list[SmokeTask]:
    """The candidate tasks of a method's smoke runs; a Task class is registered for the checks."""
    if task is None:
        return [smoke for smoke, _ in smoke_tasks()]
    if isinstance(task, type):
        holder = ContractReport(f"task {label(task)}")
        if stack.enter_context(resolved(tasks, task, holder)) is None:
            raise PluginError(f"the task of the smoke run cannot be used: {holder.results[0].detail}")
        task = task.name
    return [smoke_task(task, overrides, fixture)]


def _check_method_class(report: ContractReport, cls: type[SearchMethod], candidates: list[SmokeTask], budget: str,
                        seed: int, overrides: Sequence[str], skip: Sequence[str], root: Path) -> None:
    report.subject = f"method {cls.name!r} ({cls.__module__}:{cls.__qualname__})"
    structure = [run_check(report, "attributes", (), method_attributes, cls),
                 run_check(report, "hooks", (), hooks_ok, cls, METHOD_HOOKS)]
    if not all(structure):
        return skip_rest(report, METHOD_CHECKS, "needs the class attributes and hooks")
    try:
        smoke = pick_smoke_task(cls, candidates, budget)
    except CheckFailed as exc:
        report.add("smoke", "failed", str(exc))
        return skip_rest(report, METHOD_CHECKS, "needs a task the method runs on")
    report.subject += f" on {smoke.name} ({budget})"
    if not run_check(report, "config", skip, method_config, cls, TaskView(smoke.instance(budget, None))):
        return skip_rest(report, METHOD_CHECKS, "needs a valid config")
    if "smoke" in skip:
        return skip_rest(report, METHOD_CHECKS, "skipped by the caller (the smoke runs)")
    runs = _start_runs(report, cls.name, smoke, root, budget, seed, overrides, 1 if "determinism" in skip else 2)
    if runs is None:
        return skip_rest(report, METHOD_CHECKS, "needs a run that starts")
    run_checks(report, skip, runs, ("record", "test-split", "global-state", "device", "determinism"))


def _start_runs(report: ContractReport, method: str, smoke: SmokeTask, root: Path, budget: str, seed: int,
                overrides: Sequence[str], count: int) -> list[WatchedRun] | None:
    """``count`` watched runs; None, with a failed ``smoke`` check, when they cannot even be prepared
    (a refused override, a fixture that cannot be written): the runner records failures after that."""
    try:
        return [watched_run(method, smoke, root, budget=budget, seed=seed, overrides=overrides, results=f"run{i}")
                for i in range(count)]
    except Exception as exc:  # raised by prepare or by the task's write_fixture, before the runner records
        report.add("smoke", "failed", f"the run could not start: {type(exc).__name__}: {exc}")
        return None


# -- tasks ------------------------------------------------------------------------------------------
def _data(smoke: SmokeTask, budget: str, root: Path) -> str:
    smoke.materialise(budget, root)
    loads = []
    for _ in range(2):
        task = smoke.instance(budget, smoke.data_dir(root))
        loads.append((task, task.load(allow_generate=True, log=lambda _: None)))
    (task, data), (_, again) = loads
    problems = _data_problems(task, data)
    for a, b in zip(_splits(data), _splits(again)) if not problems else ():
        if not (torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets)):
            problems.append(f"two loads give different {a.name} splits (loading must be deterministic)")
    fail_if(problems)
    sizes = "/".join(str(len(s)) for s in _splits(data))
    return f"{data.data_source} data, train/val/test {sizes}, inputs {tuple(data.train.inputs.shape[1:])}"


def _splits(data: TaskData) -> list[Split]:
    return [data.train, data.val, data.test]


def _data_problems(task: Task, data: TaskData) -> list[str]:
    if not isinstance(data, TaskData):
        return [f"load returned {type(data).__name__}, not TaskData"]
    shape, problems = task.shape, []
    if data.data_source not in DATA_SOURCES:
        problems.append(f"data_source {data.data_source!r} is not one of {', '.join(DATA_SOURCES)}")
    for expected, split in zip(("train", "val", "test"), _splits(data)):
        if split.name != expected or len(split) == 0:
            problems.append(f"the {expected} split is named {split.name!r} and holds {len(split)} examples")
        size = tuple(split.inputs.shape[-len(shape.input_size):])
        if size != tuple(shape.input_size):
            problems.append(f"{expected} inputs {tuple(split.inputs.shape)} do not end in "
                            f"shape.input_size {shape.input_size}")
        elif shape.vocab_size is None and not shape.pair_inputs and split.inputs.shape[1] != shape.in_channels:
            problems.append(f"{expected} inputs {tuple(split.inputs.shape)} have not "
                            f"shape.in_channels={shape.in_channels}")
    return problems


def check_task(task: str | SmokeTask | type[Task], method: str | None = None, *, budget: str = "smoke",
               seed: int = 0, overrides: Sequence[str] | None = None, fixture: bool | None = None,
               method_overrides: Sequence[str] = (), skip: Sequence[str] = (), workdir: Path | str | None = None,
               raise_on_failure: bool = True) -> ContractReport:
    """Run the task contract checks (``TASK_CHECKS``) on ``task``, a registered name or a class.

    ``overrides``: task config keys (without ``task.``) for the smoke runs; ``fixture``: write the task's
    fixture first; ``method``: the method of the smoke runs (default: the first registered method that runs
    on the task, plain backbones first; see ``nasbench.testing.smoke``); ``method_overrides``: its
    ``key=value`` sets."""
    report = ContractReport(f"task {label(task.name if isinstance(task, SmokeTask) else task)}")
    with ExitStack() as stack:
        cls = stack.enter_context(resolved(tasks, task.name if isinstance(task, SmokeTask) else task, report))
        if cls is not None:
            smoke = smoke_task(task if isinstance(task, SmokeTask) else cls.name, overrides, fixture)
            _check_task_class(report, cls, smoke, method, budget, seed, method_overrides, skip,
                              stack.enter_context(work_folder(workdir)))
        skip_rest(report, TASK_CHECKS, "needs the plugin to resolve")
    return report.raise_for_failures() if raise_on_failure else report


def _check_task_class(report: ContractReport, cls: type[Task], smoke: SmokeTask, method: str | None, budget: str,
                      seed: int, method_overrides: Sequence[str], skip: Sequence[str], root: Path) -> None:
    report.subject = f"task {cls.name!r} ({cls.__module__}:{cls.__qualname__})"
    structure = [run_check(report, "attributes", (), task_attributes, cls),
                 run_check(report, "hooks", (), hooks_ok, cls, TASK_HOOKS)]
    if not all(structure) or not run_check(report, "config", skip, task_config, cls):
        return skip_rest(report, TASK_CHECKS, "needs the class attributes, hooks and a valid config")
    if not run_check(report, "data", skip, _data, smoke, budget, root):
        return skip_rest(report, TASK_CHECKS, "needs the task's data to load")
    if "smoke" in skip:
        return skip_rest(report, TASK_CHECKS, "skipped by the caller (the smoke runs)")
    try:
        method = pick_smoke_method(smoke.instance(budget).shape, method)
    except CheckFailed as exc:
        report.add("smoke", "failed", str(exc))
        return skip_rest(report, TASK_CHECKS, "needs a method that runs on the task")
    runs = _start_runs(report, method, smoke, root, budget, seed, method_overrides, 1 if "determinism" in skip else 2)
    if runs is not None and run_check(report, "smoke", skip, task_run_ok, runs[0]) and len(runs) > 1:
        run_check(report, "determinism", skip, determinism_ok, runs[0], runs[1])
    skip_rest(report, TASK_CHECKS, "needs a successful smoke run")
