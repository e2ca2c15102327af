"""Structural checks: class attributes, hooks, and configs (defaults for every budget, strict overrides)."""
from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any, Callable

from nasbench.budgets import BUDGETS
from nasbench.config import apply_overrides, to_dict
from nasbench.contracts import MetricSpec, SearchMethod, Task, TaskShape, TaskView
from nasbench.errors import ConfigError, NasBenchError
from nasbench.testing.report import CheckFailed, fail_if

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
SAMPLE_SHAPES = (
    TaskShape(1, 1, (64,), "classes", 4), TaskShape(2, 3, (16, 16), "classes", 10),
    TaskShape(2, 3, (9, 9), "dense_regression", 1), TaskShape(1, 4, (128,), "multilabel", 8),
    TaskShape(1, 1, (32,), "classes", 2, vocab_size=20),
    TaskShape(1, 1, (32,), "classes", 2, vocab_size=20, pair_inputs=True),
)



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
    fail_if(problems)
    return f"{cls.__module__}:{cls.__qualname__}"


def method_attributes(cls: type) -> str:
    return _attributes(cls, SearchMethod, {})


def task_attributes(cls: type) -> str:
    checks = {"family": lambda v: isinstance(v, str) and v.strip(),
              "metric": lambda v: isinstance(v, MetricSpec) and v.direction in ("min", "max")}
    return _attributes(cls, Task, checks)


def missing_hooks(cls: type, hooks: dict[str, str]) -> list[str]:
    """The required hooks ``cls`` does not implement (absent, or still abstract)."""
    abstract = getattr(cls, "__abstractmethods__", frozenset())
    return [hook for hook in hooks if hook in abstract or not hasattr(cls, hook)]


def hooks_ok(cls: type, hooks: dict[str, str]) -> str:
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


def method_config(cls: type, view: TaskView) -> str:
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
                 for s in SAMPLE_SHAPES for r in [cls.unsupported_reason(s)]
                 if not (r is None or (isinstance(r, str) and r))]
    fail_if(problems)
    return f"defaults for {', '.join(BUDGETS)} on {view.name}; unknown keys and wrong types refused"


def task_config(cls: type) -> str:
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
    fail_if(problems)
    return f"defaults for {', '.join(BUDGETS)}; unknown keys and wrong types refused"

