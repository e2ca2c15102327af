"""Contract checks for plugin authors: a method or a task goes through the checks the built-ins pass.

    from nasbench.testing import check_method, check_task

    def test_my_method_keeps_the_contract():
        check_method("my-method")                   # the name of its entry point

    def test_my_task_keeps_the_contract():
        check_task("my-task")

``check_method`` resolves the method through the registry (as every command does), checks its class
attributes, its hooks and its config (defaults for every budget; unknown keys and wrong types refused),
then runs it through the runner at the ``smoke`` budget on a small task on the CPU, twice with the same
seed, watching it: the run must finish, write a valid architecture record, never read the test split
or load the task's data itself, never seed a global generator or read the clock, return its network
on the device it was given, and give the same metric and architecture both times. The task is
``task`` (a name, a ``SmokeTask`` or a Task class) or else the first of ``DEFAULT_SMOKE_TASKS`` the
method supports: fixtures of built-in tasks, written in the official format into a temporary folder.
``check_task`` checks a task the same way and runs a built-in method on it.

Both return a ``ContractReport`` (one line per check) and raise ``ContractError`` naming every check
that failed, unless ``raise_on_failure=False``. ``skip=("determinism",)`` halves the time. pytest is
not needed. The clock and seeding watches are best effort: they see calls made through the ``time``,
``random``, ``numpy.random`` and ``torch`` modules from the plugin's own package.
"""
from __future__ import annotations

import dataclasses
import json
import math
import random
import re
import sys
import tempfile
import time
import typing
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from nasbench import schema
from nasbench.budgets import BUDGETS
from nasbench.config import apply_overrides, to_dict
from nasbench.contracts import (DATA_SOURCES, MetricSpec, SearchMethod, Split, Task, TaskData, TaskShape, TaskView,
                                unsupported_reason)
from nasbench.errors import ConfigError, DuplicateNameError, NasBenchError, PluginError
from nasbench.registry import Registry, methods, tasks
from nasbench.runner import TASK_PREFIX, RunOutcome, RunRequest, execute, prepare
from nasbench.store import RunStore

METHOD_CHECKS = ("registry", "attributes", "hooks", "config", "smoke", "record", "test-split", "global-state",
                 "device", "determinism")
TASK_CHECKS = ("registry", "attributes", "hooks", "config", "data", "smoke", "determinism")
METHOD_HOOKS = {
    "default_config": "@classmethod default_config(cls, budget, task) -> Config: the paper's defaults for the budget",
    "search": "search(self, ctx) -> dict: the architecture {'backbone', 'search_space', 'choices'}",
    "retrain": "retrain(self, ctx, arch, hparams) -> nn.Module: build the final network from arch and train it",
}
TASK_HOOKS = {
    "default_config": "@classmethod default_config(cls, budget) -> Config: sample counts, data folder",
    "shape": "@property shape -> TaskShape: input and output shape (without loading data)",
    "load": "load(self, allow_generate=True, log=print) -> TaskData: the train, val and test splits",
    "loss": "loss(self, output, target) -> Tensor: the training loss",
    "score": "score(self, outputs, split) -> float: the metric over a whole split",
}
TASK_CHECK_METHODS = ("wrn", "ccnn")  # built-in methods check_task tries, first compatible wins
CPU = torch.device("cpu")
ARCH_ID = re.compile(r"[0-9a-f]{16}")
SAMPLE_SHAPES = (
    TaskShape(1, 1, (64,), "classes", 4), TaskShape(2, 3, (16, 16), "classes", 10),
    TaskShape(2, 3, (9, 9), "dense_regression", 1), TaskShape(1, 4, (128,), "multilabel", 8),
    TaskShape(1, 1, (32,), "classes", 2, vocab_size=20), TaskShape(1, 1, (32,), "classes", 2, vocab_size=20, pair_inputs=True),
)


# -- reports ----------------------------------------------------------------------------------------
@dataclass
class CheckResult:
    name: str
    status: str  # ok | failed | skipped
    detail: str = ""


@dataclass
class ContractReport:
    subject: str
    results: list[CheckResult] = field(default_factory=list)

    def add(self, name: str, status: str, detail: str = "") -> None:
        self.results.append(CheckResult(name, status, detail))

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failures

    def status(self, name: str) -> str | None:
        return next((r.status for r in self.results if r.name == name), None)

    def __str__(self) -> str:
        lines = [f"contract checks of {self.subject}:"]
        lines += [f"  {r.status:<7} {r.name:<13} {r.detail}".rstrip() for r in self.results]
        return "\n".join(lines)

    def raise_for_failures(self) -> "ContractReport":
        if self.failures:
            raise ContractError(self)
        return self


class ContractError(PluginError):
    """A plugin fails one or more contract checks; the message names each check and what it found."""

    def __init__(self, report: ContractReport):
        failed = "\n".join(f"  {r.name}: {r.detail}" for r in report.failures)
        super().__init__(f"{report.subject} breaks the plugin contract ({len(report.failures)} failed check(s)):\n"
                         f"{failed}\nThe contracts are described in docs/plugins.md; nasbench.testing runs these checks.")
        self.report = report


class CheckFailed(Exception):
    """Raised inside a check with what it found wrong."""


def _run_check(report: ContractReport, name: str, skip: Sequence[str], check: Callable[..., str | None],
               *args: Any) -> bool:
    """Run one check into ``report``; True unless it failed."""
    if name in skip:
        report.add(name, "skipped", "skipped by the caller")
        return True
    try:
        note = check(*args)
    except CheckFailed as exc:
        report.add(name, "failed", str(exc))
        return False
    except Exception as exc:  # a check that crashes inside the plugin is that plugin's failure
        report.add(name, "failed", f"{type(exc).__name__}: {exc}")
        return False
    report.add(name, "ok", note or "")
    return True


def _fail_if(problems: list[str]) -> None:
    if problems:
        raise CheckFailed("; ".join(problems))


# -- smoke tasks ------------------------------------------------------------------------------------
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


DEFAULT_SMOKE_TASKS = (  # built-in fixtures a smoke run takes seconds on: 2D dense, then 1D classes
    SmokeTask("darcyflow", ("resolution=41", "source=official", "n_train=8", "n_val=4", "n_test=4"), fixture=True),
    SmokeTask("satellite", ("n_train=64", "n_val=32", "n_test=32"), fixture=True),
)


def smoke_task(task: str | SmokeTask, overrides: Sequence[str] | None = None, fixture: bool | None = None) -> SmokeTask:
    """``task`` as a SmokeTask: a default fixture's settings unless ``overrides`` or ``fixture`` are given."""
    if isinstance(task, SmokeTask):
        return task
    default = next((t for t in DEFAULT_SMOKE_TASKS if t.name == task), None)
    if default is not None and overrides is None and fixture is None:
        return default
    return SmokeTask(task, tuple(overrides or ()), bool(fixture))


# -- resolution -------------------------------------------------------------------------------------
@contextmanager
def _resolved(registry: Registry, obj: Any, report: ContractReport) -> Iterator[type | None]:
    """The plugin class for a name (through the registry) or a class (registered here for the checks,
    unregistered afterwards); None, with a failed ``registry`` check, when it cannot be resolved."""
    try:
        cls, registered, note = _resolve(registry, obj)
    except NasBenchError as exc:
        report.add("registry", "failed", str(exc))
        yield None
        return
    report.add("registry", "ok", note)
    try:
        yield cls
    finally:
        if registered:
            registry.unregister(cls.name)


def _resolve(registry: Registry, obj: Any) -> tuple[type, bool, str]:
    if isinstance(obj, str):
        cls = registry.get(obj)
        return cls, False, f"{obj!r} -> {registry.sources()[obj]}"
    name = getattr(obj, "name", None)
    if not isinstance(obj, type) or not isinstance(name, str) or not name:
        raise PluginError(f"expected a {registry.kind} name or class with a string class attribute 'name', got {obj!r}")
    if name not in registry:
        registry.register(obj)
        return obj, True, f"{name!r} registered by the check (decorator), not by an entry point"
    existing = registry.get(name)
    if existing is not obj:
        raise DuplicateNameError(f"{registry.kind} {name!r} is registered by {registry.sources()[name]}, not by "
                                 f"{obj.__module__}:{obj.__qualname__}; rename one of the two")
    return obj, False, f"{name!r} -> {registry.sources()[name]}"


def _label(obj: Any) -> str:
    return repr(obj) if isinstance(obj, str) else repr(getattr(obj, "name", getattr(obj, "__qualname__", obj)))


# -- structure: attributes, hooks, config -----------------------------------------------------------
def _attributes(cls: type, base: type, extra: dict[str, Callable[[Any], bool]]) -> str:
    problems = [] if isinstance(cls, type) and issubclass(cls, base) else [
        f"{cls.__qualname__} must subclass {base.__module__}.{base.__name__}"]
    for attr in ("citation", *extra):
        value = getattr(cls, attr, None)
        valid = extra.get(attr, lambda v: isinstance(v, str) and v.strip())
        if not valid(value):
            problems.append(f"class attribute {attr} is {value!r}")
    config = getattr(cls, "Config", None)
    if not (isinstance(config, type) and dataclasses.is_dataclass(config) and config.__dataclass_params__.frozen):
        problems.append(f"class attribute Config must be a frozen dataclass (@dataclass(frozen=True)), got {config!r}")
    _fail_if(problems)
    return f"{cls.__module__}:{cls.__qualname__}"


def _method_attributes(cls: type) -> str:
    return _attributes(cls, SearchMethod, {})


def _task_attributes(cls: type) -> str:
    checks = {"family": lambda v: isinstance(v, str) and v.strip(),
              "metric": lambda v: isinstance(v, MetricSpec) and v.direction in ("min", "max")}
    return _attributes(cls, Task, checks)


def missing_hooks(cls: type, hooks: dict[str, str]) -> list[str]:
    """The required hooks ``cls`` does not implement (absent, or still abstract)."""
    abstract = getattr(cls, "__abstractmethods__", frozenset())
    return [hook for hook in hooks if hook in abstract or not hasattr(cls, hook)]


def _hooks(cls: type, hooks: dict[str, str]) -> str:
    missing = missing_hooks(cls, hooks)
    if missing:
        raise CheckFailed(f"{cls.__qualname__} lacks the required hook(s) {', '.join(missing)}: "
                          + "; ".join(f"define {hooks[h]}" for h in missing))
    return ", ".join(hooks)


def _config_problems(cls: type, config: Any, where: str) -> list[str]:
    """Defaults: an instance of ``cls.Config``, valid, frozen, made of JSON values; overrides strict."""
    if not isinstance(config, cls.Config):
        return [f"{where} returned {type(config).__name__}, not an instance of {cls.Config.__name__}"]
    problems = []
    validate = getattr(config, "validate", None)
    if validate is not None:
        try:
            validate()
        except NasBenchError as exc:
            problems.append(f"{where} does not validate: {exc}")
    try:
        json.dumps(to_dict(config), allow_nan=False)
    except (TypeError, ValueError) as exc:
        problems.append(f"{where}: every value must be JSON (numbers, strings, booleans, None, tuples, nested "
                        f"dataclasses), so that the run id and manifest are exact: {exc}")
    return problems + _strictness_problems(config, where)


def _strictness_problems(config: Any, where: str) -> list[str]:
    try:
        apply_overrides(config, ["contract_check_no_such_key=1"])
        return [f"{where}: the unknown key contract_check_no_such_key was accepted"]
    except NasBenchError:
        pass
    except Exception as exc:  # e.g. a type hint that does not resolve: --set cannot work
        return [f"{where}: --set cannot check its keys: {type(exc).__name__}: {exc}"]
    found = _scalar_field(config)
    if found is None:
        return []
    key, wrong = found
    try:
        apply_overrides(config, [f"{key}={wrong}"])
        return [f"{where}: {key}={wrong} (a wrong type) was accepted"]
    except ConfigError:
        return []


WRONG_VALUE = {int: "'not-a-number'", float: "'not-a-number'", bool: "'not-a-bool'", str: "[1, 2]"}


def _scalar_field(config: Any, prefix: str = "") -> tuple[str, str] | None:
    """The first field (depth first) declared int, float, bool or str, and a value of another type."""
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            found = _scalar_field(value, f"{prefix}{f.name}.")
            if found:
                return found
        elif hints[f.name] in WRONG_VALUE:
            return prefix + f.name, WRONG_VALUE[hints[f.name]]
    return None


def _method_config(cls: type, view: TaskView) -> str:
    problems = []
    for budget in BUDGETS:
        where = f"default_config({budget!r}, {view.name})"
        config = cls.default_config(budget, view)
        if config != cls.default_config(budget, view):
            problems.append(f"{where} differs between two calls (the run id would change)")
        problems += _config_problems(cls, config, where)
        if not isinstance(cls.budget_notes(budget), str):
            problems.append(f"budget_notes({budget!r}) must return a string")
    problems += [f"unsupported_reason({s}) returned {r!r}, not None or a non-empty string"
                 for s in SAMPLE_SHAPES for r in [cls.unsupported_reason(s)] if not (r is None or (isinstance(r, str) and r))]
    _fail_if(problems)
    return f"defaults for {', '.join(BUDGETS)} on {view.name}; unknown keys and wrong types refused"


def _task_config(cls: type) -> str:
    problems = []
    for budget in BUDGETS:
        where = f"default_config({budget!r})"
        config = cls.default_config(budget)
        if config != cls.default_config(budget):
            problems.append(f"{where} differs between two calls (the run id would change)")
        problems += _config_problems(cls, config, where)
        if not isinstance(cls.budget_notes(budget), str):
            problems.append(f"budget_notes({budget!r}) must return a string")
        if not problems and not isinstance(cls(config).shape, TaskShape):
            problems.append(f"shape of the {budget!r} task is not a TaskShape")
    _fail_if(problems)
    return f"defaults for {', '.join(BUDGETS)}; unknown keys and wrong types refused"


# -- watching a run ---------------------------------------------------------------------------------
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


def _watch_task(task: Task, watch: Watch) -> None:
    """Make ``task.load`` report a load during a method's stage and hand out a watched test split."""
    original = task.load

    def load(allow_generate: bool = True, log: Callable[[str], None] = print) -> TaskData:
        watch.flag("test-split", "the task's data were loaded (task.load)")
        data = original(allow_generate=allow_generate, log=log)
        data.test = _WatchedSplit(data.test, watch)
        return data

    task.load = load  # type: ignore[method-assign]


def _watched_method(cls: type[SearchMethod], watch: Watch) -> type[SearchMethod]:
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

    return type(cls.__name__, (cls,), {"__module__": cls.__module__, **{h: staged(h) for h in ("search", "tune", "retrain")}})


def plugin_package(cls: type) -> str:
    """The package a plugin's own code lives in (``nasbench.methods`` for a built-in)."""
    parts = cls.__module__.split(".")
    return ".".join(parts[:2]) if parts[0] == "nasbench" and len(parts) > 2 else parts[0]


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
    prepared.method_cls = _watched_method(prepared.method_cls, watch)
    _watch_task(prepared.task, watch)
    with watch.globals_watched():
        outcome = execute(prepared, RunStore(root / results), device=CPU, log=logs.append, force=True)
    return WatchedRun(outcome, watch, logs)


# -- checks of a run --------------------------------------------------------------------------------
def _smoke(run: WatchedRun) -> str:
    m = run.manifest
    if m.get(schema.STATUS) != schema.STATUS_OK:
        trace = (m.get("traceback") or "").strip().splitlines()[-6:]
        raise CheckFailed(f"the run is {m.get(schema.STATUS)}: {m.get(schema.ERROR)}"
                          + ("\n      " + "\n      ".join(trace) if trace else ""))
    metric = m[schema.METRIC]
    if not math.isfinite(metric["value"]):
        raise CheckFailed(f"the test {metric['name']} is {metric['value']}")
    seconds = sum(s.get("wall_s", 0.0) for s in m.get(schema.COSTS, {}).values())
    return (f"{m[schema.METHOD]} on {m[schema.TASK]} ({m[schema.DATA_SOURCE]} data): test {metric['name']} "
            f"{metric['value']:.4g} in {seconds:.1f} s")


def _record(run: WatchedRun) -> str:
    arch = run.watch.arch
    if not isinstance(arch, dict) or not isinstance(arch.get("choices"), dict) or not arch["choices"]:
        raise CheckFailed(f"search must return a dict with a non-empty dict 'choices' (and 'backbone', "
                          f"'search_space'); got {type(arch).__name__} {str(arch)[:200]}")
    try:
        choices = json.loads(json.dumps(arch, allow_nan=False))["choices"]
    except (TypeError, ValueError) as exc:
        raise CheckFailed(f"the architecture returned by search is not plain JSON ({exc}); use lists, numbers, "
                          f"strings, booleans and None (no tensors, numpy values or nan)") from exc
    record = json.loads((run.outcome.run_dir / schema.ARCH).read_text())
    cost = record.get("cost", {})
    problems = [] if ARCH_ID.fullmatch(str(record.get("arch_id"))) else [f"arch_id {record.get('arch_id')!r}"]
    problems += [f"cost.{k} is {cost.get(k)!r}, expected a positive integer"
                 for k in ("params", "macs") if not (isinstance(cost.get(k), int) and cost[k] > 0)]
    if record.get("choices") != choices:
        problems.append("arch.json's choices differ from those search returned")
    _fail_if(problems)
    return f"arch_id {record['arch_id']}, {cost['params']} parameters, {cost['macs']} MACs"


def _watched(kind: str, explain: str) -> Callable[[WatchedRun], str]:
    def check(run: WatchedRun) -> str:
        if run.watch.found[kind]:
            raise CheckFailed(f"{'; '.join(run.watch.found[kind])}. {explain}")
        return "none seen"

    return check


_test_split = _watched("test-split", "A method sees ctx.train and ctx.val only; the runner alone evaluates "
                                     "on the test split.")
_global_state = _watched("global-state", "Use ctx.generator and ctx.rng (seeded by the runner); the runner "
                                         "times every stage.")


def _device(run: WatchedRun) -> str:
    model = run.watch.model
    if not isinstance(model, torch.nn.Module):
        raise CheckFailed(f"retrain must return the trained torch.nn.Module, got {type(model).__name__}")
    elsewhere = {str(t.device) for t in [*model.parameters(), *model.buffers()] if t.device != CPU}
    if elsewhere:
        raise CheckFailed(f"the run was given device cpu, but the network is on {', '.join(sorted(elsewhere))}; "
                          f"move it with .to(ctx.device), never choose a device")
    return "the network is on ctx.device"


def _determinism(first: WatchedRun, second: WatchedRun) -> str:
    a, b = first.manifest, second.manifest
    if b.get(schema.STATUS) != schema.STATUS_OK:
        raise CheckFailed(f"the second run with the same seed is {b.get(schema.STATUS)}: {b.get(schema.ERROR)}")
    va, vb = a[schema.METRIC]["value"], b[schema.METRIC]["value"]
    problems = []
    if not math.isclose(va, vb, rel_tol=1e-6, abs_tol=1e-9):
        problems.append(f"two runs with seed {a[schema.SEED]} on the CPU gave test {a[schema.METRIC]['name']} "
                        f"{va!r} and {vb!r}")
    if a.get("arch_id") != b.get("arch_id"):
        problems.append(f"two runs with the same seed found architectures {a.get('arch_id')} and {b.get('arch_id')}")
    if problems:
        problems.append("draw every random number from ctx.generator, ctx.rng or the global generators the runner seeded")
    _fail_if(problems)
    return f"same metric and arch_id twice with seed {a[schema.SEED]}"


def _run_checks(report: ContractReport, skip: Sequence[str], runs: list[WatchedRun], names: Sequence[str]) -> None:
    first = runs[0]
    ran = _run_check(report, "smoke", skip, _smoke, first)
    table = {"record": _record, "test-split": _test_split, "global-state": _global_state, "device": _device}
    for name in names:
        if name == "determinism":
            if len(runs) > 1 and ran:
                _run_check(report, name, skip, _determinism, first, runs[1])
            else:
                report.add(name, "skipped", "skipped by the caller" if name in skip else "needs a successful smoke run")
        elif name in ("test-split", "global-state") or ran:
            _run_check(report, name, skip, table[name], first)
        else:
            report.add(name, "skipped", "needs a successful smoke run")


def _skip_rest(report: ContractReport, names: Sequence[str], why: str) -> None:
    done = {r.name for r in report.results}
    for name in names:
        if name not in done:
            report.add(name, "skipped", why)


@contextmanager
def _folder(workdir: Path | str | None) -> Iterator[Path]:
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)
        yield Path(workdir)
        return
    with tempfile.TemporaryDirectory(prefix="nasbench-contract-") as tmp:
        yield Path(tmp)


# -- methods ----------------------------------------------------------------------------------------
def pick_smoke_task(cls: type[SearchMethod], candidates: Sequence[SmokeTask], budget: str = "smoke") -> SmokeTask:
    """The first of ``candidates`` the method runs on; CheckFailed with every reason otherwise."""
    reasons = []
    for candidate in candidates:
        reason = unsupported_reason(cls, candidate.instance(budget).shape)
        if reason is None:
            return candidate
        reasons.append(f"{candidate.name}: {reason}")
    raise CheckFailed(f"{cls.name} runs on none of the smoke tasks ({'; '.join(reasons)}); pass task=<a task it "
                      f"supports>, e.g. check_method({cls.name!r}, task='my-task')")


def check_method(method: str | type[SearchMethod], task: str | SmokeTask | type[Task] | None = None, *,
                 budget: str = "smoke", seed: int = 0, overrides: Sequence[str] = (),
                 task_overrides: Sequence[str] | None = None, fixture: bool | None = None, skip: Sequence[str] = (),
                 workdir: Path | str | None = None, raise_on_failure: bool = True) -> ContractReport:
    """Run the method contract checks (``METHOD_CHECKS``) on ``method``, a registered name or a class.

    ``task``: where to run it (default: the first compatible of ``DEFAULT_SMOKE_TASKS``); with
    ``task_overrides`` (task config keys, without ``task.``) and ``fixture`` (write the task's fixture
    first). ``overrides``: method config ``key=value`` sets. ``skip``: names of checks not to run."""
    report = ContractReport(f"method {_label(method)}")
    with ExitStack() as stack:
        cls = stack.enter_context(_resolved(methods, method, report))
        if cls is not None:
            candidates = _method_smoke_tasks(stack, task, task_overrides, fixture)
            _check_method_class(report, cls, candidates, budget, seed, overrides, skip,
                                stack.enter_context(_folder(workdir)))
        _skip_rest(report, METHOD_CHECKS, "needs the plugin to resolve")
    return report.raise_for_failures() if raise_on_failure else report


def _method_smoke_tasks(stack: ExitStack, task: Any, overrides: Sequence[str] | None,
                        fixture: bool | None) -> list[SmokeTask]:
    """The candidate tasks of a method's smoke runs; a Task class is registered for the checks."""
    if task is None:
        return list(DEFAULT_SMOKE_TASKS)
    if isinstance(task, type):
        holder = ContractReport(f"task {_label(task)}")
        if stack.enter_context(_resolved(tasks, task, holder)) is None:
            raise PluginError(f"the task of the smoke run cannot be used: {holder.results[0].detail}")
        task = task.name
    return [smoke_task(task, overrides, fixture)]


def _check_method_class(report: ContractReport, cls: type[SearchMethod], candidates: list[SmokeTask], budget: str,
                        seed: int, overrides: Sequence[str], skip: Sequence[str], root: Path) -> None:
    report.subject = f"method {cls.name!r} ({cls.__module__}:{cls.__qualname__})"
    structure = [_run_check(report, "attributes", (), _method_attributes, cls),
                 _run_check(report, "hooks", (), _hooks, cls, METHOD_HOOKS)]
    if not all(structure):
        return _skip_rest(report, METHOD_CHECKS, "needs the class attributes and hooks")
    try:
        smoke = pick_smoke_task(cls, candidates, budget)
    except CheckFailed as exc:
        report.add("smoke", "failed", str(exc))
        return _skip_rest(report, METHOD_CHECKS, "needs a task the method runs on")
    report.subject += f" on {smoke.name} ({budget})"
    if not _run_check(report, "config", skip, _method_config, cls, TaskView(smoke.instance(budget, None))):
        return _skip_rest(report, METHOD_CHECKS, "needs a valid config")
    if "smoke" in skip:
        return _skip_rest(report, METHOD_CHECKS, "skipped by the caller (the smoke runs)")
    runs = _start_runs(report, cls.name, smoke, root, budget, seed, overrides, 1 if "determinism" in skip else 2)
    if runs is None:
        return _skip_rest(report, METHOD_CHECKS, "needs a run that starts")
    _run_checks(report, skip, runs, ("record", "test-split", "global-state", "device", "determinism"))


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
    _fail_if(problems)
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
            problems.append(f"{expected} inputs {tuple(split.inputs.shape)} do not end in shape.input_size {shape.input_size}")
        elif shape.vocab_size is None and not shape.pair_inputs and split.inputs.shape[1] != shape.in_channels:
            problems.append(f"{expected} inputs {tuple(split.inputs.shape)} have not shape.in_channels={shape.in_channels}")
    return problems


def _task_smoke_method(shape: TaskShape, method: str | None) -> str:
    names = [method] if method else [m for m in TASK_CHECK_METHODS if m in methods]
    for name in names:
        if unsupported_reason(methods.get(name), shape) is None:
            return name
    raise CheckFailed(f"none of {', '.join(names)} runs on a task of shape {shape}; pass method=<a method that does>")


def _task_run(run: WatchedRun) -> str:
    note = _smoke(run)
    m = run.manifest
    metric = m[schema.METRIC]
    if not math.isclose(metric["error"], MetricSpec(metric["name"], metric["direction"], "").to_error(metric["value"])):
        raise CheckFailed(f"the error form {metric['error']} does not follow from the metric {metric['value']}")
    return note


def check_task(task: str | SmokeTask | type[Task], method: str | None = None, *, budget: str = "smoke",
               seed: int = 0, overrides: Sequence[str] | None = None, fixture: bool | None = None,
               method_overrides: Sequence[str] = (), skip: Sequence[str] = (), workdir: Path | str | None = None,
               raise_on_failure: bool = True) -> ContractReport:
    """Run the task contract checks (``TASK_CHECKS``) on ``task``, a registered name or a class.

    ``overrides``: task config keys (without ``task.``) for the smoke runs; ``fixture``: write the task's
    fixture first; ``method``: the method of the smoke runs (default: the first of ``TASK_CHECK_METHODS``
    that supports the task); ``method_overrides``: its ``key=value`` sets."""
    report = ContractReport(f"task {_label(task.name if isinstance(task, SmokeTask) else task)}")
    with ExitStack() as stack:
        cls = stack.enter_context(_resolved(tasks, task.name if isinstance(task, SmokeTask) else task, report))
        if cls is not None:
            smoke = smoke_task(task if isinstance(task, SmokeTask) else cls.name, overrides, fixture)
            _check_task_class(report, cls, smoke, method, budget, seed, method_overrides, skip,
                              stack.enter_context(_folder(workdir)))
        _skip_rest(report, TASK_CHECKS, "needs the plugin to resolve")
    return report.raise_for_failures() if raise_on_failure else report


def _check_task_class(report: ContractReport, cls: type[Task], smoke: SmokeTask, method: str | None, budget: str,
                      seed: int, method_overrides: Sequence[str], skip: Sequence[str], root: Path) -> None:
    report.subject = f"task {cls.name!r} ({cls.__module__}:{cls.__qualname__})"
    structure = [_run_check(report, "attributes", (), _task_attributes, cls),
                 _run_check(report, "hooks", (), _hooks, cls, TASK_HOOKS)]
    if not all(structure) or not _run_check(report, "config", skip, _task_config, cls):
        return _skip_rest(report, TASK_CHECKS, "needs the class attributes, hooks and a valid config")
    if not _run_check(report, "data", skip, _data, smoke, budget, root):
        return _skip_rest(report, TASK_CHECKS, "needs the task's data to load")
    if "smoke" in skip:
        return _skip_rest(report, TASK_CHECKS, "skipped by the caller (the smoke runs)")
    try:
        method = _task_smoke_method(smoke.instance(budget).shape, method)
    except CheckFailed as exc:
        report.add("smoke", "failed", str(exc))
        return _skip_rest(report, TASK_CHECKS, "needs a method that runs on the task")
    runs = _start_runs(report, method, smoke, root, budget, seed, method_overrides, 1 if "determinism" in skip else 2)
    if runs is not None and _run_check(report, "smoke", skip, _task_run, runs[0]) and len(runs) > 1:
        _run_check(report, "determinism", skip, _determinism, runs[0], runs[1])
    _skip_rest(report, TASK_CHECKS, "needs a successful smoke run")


__all__ = ["check_method", "check_task", "ContractReport", "ContractError", "CheckResult", "SmokeTask",
           "DEFAULT_SMOKE_TASKS", "METHOD_CHECKS", "TASK_CHECKS", "METHOD_HOOKS", "TASK_HOOKS", "missing_hooks",
           "watched_run", "pick_smoke_task", "smoke_task"]
