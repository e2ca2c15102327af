"""Study files: ``reports/<study>/study.yaml`` names the runs of a study (methods x tasks x seeds at
one budget) and what each run may use. ``nasbench study FILE`` expands it into runs and executes
them on a backend (``nasbench.execution``). Everything is validated here, before any run starts.

    description: free text for the report            # optional
    budget: smoke                                    # smoke | small | paper
    seeds: [0, 1]
    methods:                                         # a list of names, or name -> overrides
      wrn: {train.epochs: 3}                         # `train: {epochs: 3}` is the same override
      bms-m1: {method: bms, models: 1}               # a variant: its own name, a method and overrides
    tasks: [darcyflow]                               # a list, or name -> task config overrides
    resources: {cpus: 1, gpus: 0, memory: 4GB}       # per run; memory is optional
    results: results/smoke                           # optional; default results/<study>; --results wins
    plugins:                                         # optional: plugins not installed as entry points
      methods: {my-method: "my_package.module:MyMethod"}

A variant names one method under one set of overrides (the ``method`` key says which); several variants
of a method run side by side, each in its own folder (``<results>/<task>/<variant>/seed=<k>``) and its
own column of the report. The run id still hashes the resolved configuration, not the name.

The study's name is the folder that holds the file. Relative ``results`` paths are relative to the
current directory, like ``nasbench run --results``. ``plugins`` is for a plugin under development
(a module on ``PYTHONPATH`` of the driver and of every Ray node): each entry is registered exactly as
an entry point of an installed package would be, in the driver and in every trial process.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any, Mapping

import yaml

from nasbench import schema
from nasbench.budgets import check_budget
from nasbench.errors import ConfigError, NasBenchError, PluginError
from nasbench.registry import Registry, methods, tasks
from nasbench.runner import TASK_PREFIX, PreparedRun, RunRequest, prepare
from nasbench.store import RunStore

STUDY_FILE = "study.yaml"
REQUIRED_KEYS = ("budget", "seeds", "methods", "tasks")
OPTIONAL_KEYS = ("description", "resources", "results", "plugins")
RESOURCE_KEYS = ("cpus", "gpus", "memory")
REGISTRIES: dict[str, Registry] = {"methods": methods, "tasks": tasks}
VARIANT_KEY = "method"
VARIANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
MEMORY_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
                "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


class StudyError(ConfigError):
    """A study file is malformed, names something unknown, or conflicts with the results folder."""


@dataclass(frozen=True)
class Resources:
    """What one run may use: Ray reserves it per trial; the runner checks memory after every epoch."""

    cpus: float = 1.0
    gpus: float = 0.0
    memory_bytes: int | None = None

    @property
    def threads(self) -> int:
        return max(1, int(self.cpus))

    @property
    def device(self) -> str:
        return "cuda" if self.gpus > 0 else "cpu"


@dataclass(frozen=True)
class Study:
    name: str
    path: Path
    budget: str
    seeds: tuple[int, ...]
    methods: dict[str, tuple[str, ...]]  # method -> "key=value" overrides
    tasks: dict[str, tuple[str, ...]]  # task -> "task.key=value" overrides
    resources: Resources = field(default_factory=Resources)
    results: Path = Path("results")
    plugins: dict[str, dict[str, str]] = field(default_factory=dict)  # "methods"/"tasks" -> name -> target
    description: str = ""
    variants: dict[str, str] = field(default_factory=dict)  # variant name -> the method it runs

    def requests(self) -> list[RunRequest]:
        """Every run of the study, task by task, method (or variant) by method, seed by seed."""
        return [RunRequest(self.variants.get(name, name), task, self.budget, seed, method_sets + task_sets,
                           variant=name if name in self.variants else "")
                for task, task_sets in self.tasks.items()
                for name, method_sets in self.methods.items()
                for seed in self.seeds]


@dataclass(frozen=True)
class PlannedRun:
    """One run of a study and what the results folder already holds for it."""

    prepared: PreparedRun
    previous: str | None  # status of the run folder there now (ok, failed, skipped) or None

    @property
    def request(self) -> RunRequest:
        return self.prepared.request

    @property
    def done(self) -> bool:
        return self.previous in (schema.STATUS_OK, schema.STATUS_SKIPPED)


def _previous_status(manifest: dict[str, Any], run_id: str) -> str | None:
    """The status of the record of this very run (same run id), else None."""
    return manifest.get(schema.STATUS) if manifest.get(schema.RUN_ID) == run_id else None


def run_key(request: RunRequest) -> str:
    """How a run is named in progress lines and tables (its folder below the results folder)."""
    return f"{request.task}/{request.label}/seed={request.seed}"


# -- loading ----------------------------------------------------------------------------------------
def load_study(path: Path | str, results: Path | str | None = None, *, resolve: bool = True) -> Study:
    """Read and validate a study file; ``results`` (``--results``) replaces the file's folder.

    ``resolve=False`` (reports) checks the file's structure and values but neither looks its method and
    task names up in the registries nor registers its plugins: a report reads the grid of a study whose
    plugins need not be installed where the report is built."""
    path = Path(path)
    raw = _read_yaml(path)
    try:
        return _build(path, raw, results, resolve)
    except StudyError:
        raise
    except NasBenchError as exc:
        raise StudyError(f"study file {path}: {exc}") from exc


def _build(path: Path, raw: dict[str, Any], results: Path | str | None, resolve: bool = True) -> Study:
    _check_keys(raw, REQUIRED_KEYS + OPTIONAL_KEYS, "the study file", required=REQUIRED_KEYS)
    plugins = _plugins(raw.get("plugins") or {})
    if resolve:
        register_plugins(plugins)
    name = path.resolve().parent.name
    folder = Path(results if results is not None else raw.get("results") or Path("results") / name)
    method_entries, variants = _method_entries(raw["methods"], resolve)
    return Study(
        name=name, path=path, budget=check_budget(_text(raw["budget"], "budget")), seeds=_seeds(raw["seeds"]),
        methods=method_entries, variants=variants, tasks=_entries(raw["tasks"], tasks, TASK_PREFIX, resolve),
        resources=_resources(raw.get("resources") or {}), results=folder.expanduser().resolve(),
        plugins=plugins, description=_text(raw.get("description", ""), "description"),
    )


class _StrictLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice (PyYAML would keep the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise StudyError(f"key {key!r} is given twice ({key_node.start_mark}); keep one of the two")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        hint = f" (a study lives in reports/<study>/{STUDY_FILE})" if path.name != STUDY_FILE else ""
        raise StudyError(f"study file not found: {path}{hint}")
    try:
        raw = yaml.load(path.read_text(), Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)  # one line: where and what, not PyYAML's drawing
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise StudyError(f"study file {path} is not valid YAML: {where}{getattr(exc, 'problem', None) or exc}; "
                         f"fix the file (see the example at the top of nasbench/study.py)") from exc
    if not isinstance(raw, dict):
        raise StudyError(f"study file {path} must be a mapping with keys {', '.join(REQUIRED_KEYS)}; "
                         f"got {type(raw).__name__}")
    return raw


def _check_keys(raw: Mapping[str, Any], valid: tuple[str, ...], where: str, required: tuple[str, ...] = ()) -> None:
    for key in raw:
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise StudyError(f"unknown key {key!r} in {where}.{hint} Valid keys: {', '.join(valid)}.")
    missing = [key for key in required if key not in raw]
    if missing:
        raise StudyError(f"{where} lacks {', '.join(missing)} (required keys: {', '.join(required)})")


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise StudyError(f"{key}: expected a string, got {value!r}")
    return value


def _seeds(value: Any) -> tuple[int, ...]:
    ok = isinstance(value, list) and value and all(type(s) is int and s >= 0 for s in value)
    if not ok or len(set(value)) != len(value):
        raise StudyError(f"seeds: expected a non-empty list of distinct non-negative integers such as [0, 1], "
                         f"got {value!r}")
    return tuple(value)


def _entries(value: Any, registry: Registry, prefix: str, resolve: bool = True) -> dict[str, tuple[str, ...]]:
    """``[a, b]`` or ``{a: {key: value}, b: null}`` -> name -> overrides, each name checked (``resolve``)."""
    kind = f"{registry.kind}s"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        if len(set(value)) != len(value):
            raise StudyError(f"{kind}: a name is listed twice in {value}")
        value = {name: None for name in value}
    if not isinstance(value, dict) or not value:
        raise StudyError(f"{kind}: expected a non-empty list of names or a mapping name -> overrides, "
                         f"got {value!r}. Valid {kind}: {', '.join(registry.names())}")
    for name in value if resolve else ():
        registry.get(str(name))  # raises UnknownNameError listing the valid names
    return {str(name): tuple(prefix + o for o in _overrides(sets or {}, f"{kind}.{name}"))
            for name, sets in value.items()}


def _method_entries(value: Any, resolve: bool = True) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """The ``methods`` entries, where an entry with a ``method`` key is a variant of that method:
    (name -> overrides, variant name -> method), in the file's order."""
    if not isinstance(value, dict):
        return _entries(value, methods, "", resolve), {}
    variants = {str(name): _variant_method(str(name), sets[VARIANT_KEY], resolve) for name, sets in value.items()
                if isinstance(sets, dict) and VARIANT_KEY in sets}
    plain = {name: sets for name, sets in value.items() if str(name) not in variants}
    entries = _entries(plain, methods, "", resolve) if plain else {}
    for name in variants:
        sets = {key: v for key, v in value[name].items() if key != VARIANT_KEY}
        entries[name] = tuple(_overrides(sets, f"methods.{name}"))
    return {str(name): entries[str(name)] for name in value}, variants


def _variant_method(name: str, method: Any, resolve: bool = True) -> str:
    if not isinstance(method, str):
        raise StudyError(f"methods.{name}.method: expected a method name such as bms, got {method!r}")
    if resolve:
        methods.get(method)  # raises UnknownNameError listing the valid names
    if not VARIANT_NAME.fullmatch(name):
        raise StudyError(f"methods.{name}: a variant's name becomes a folder; use letters, digits, '.', '_' and "
                         f"'-' (starting with a letter or digit), e.g. {method}-m4")
    if resolve and name != method and name in methods.names():
        raise StudyError(f"methods.{name}: the variant's name is another registered method; rename the variant, "
                         f"e.g. {method}-{name}")
    return method


def _overrides(sets: Any, where: str, parent: str = "") -> list[str]:
    """``{train: {lr: 0.1}, depth: 10}`` -> ``["train.lr=0.1", "depth=10"]``."""
    if not isinstance(sets, dict):
        raise StudyError(f"{where}: expected a mapping key -> value such as {{train.lr: 0.01}}, got {sets!r}")
    out = []
    for key, value in sets.items():
        dotted = f"{parent}{key}"
        out += _overrides(value, where, dotted + ".") if isinstance(value, dict) else [f"{dotted}={value!r}"]
    return out


def _resources(value: Any) -> Resources:
    if not isinstance(value, dict):
        raise StudyError(f"resources: expected a mapping such as {{cpus: 1, gpus: 0, memory: 4GB}}, got {value!r}")
    _check_keys(value, RESOURCE_KEYS, "resources")
    cpus, gpus = value.get("cpus", 1), value.get("gpus", 0)
    for key, number, least in (("cpus", cpus, 0), ("gpus", gpus, -1)):
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not number > least:
            relation = "positive" if least == 0 else "non-negative"
            raise StudyError(f"resources.{key}: expected a {relation} number, got {number!r}")
    memory = value.get("memory")
    return Resources(float(cpus), float(gpus), None if memory is None else parse_memory(memory))


def parse_memory(text: Any) -> int:
    """``"4GB"`` -> 4e9 bytes, ``"512MiB"`` -> 512 * 2**20."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]+)\s*", str(text))
    unit = match.group(2).upper() if match else ""
    if isinstance(text, bool) or not match or unit not in MEMORY_UNITS or float(match.group(1)) <= 0:
        raise StudyError(f"resources.memory: expected a positive size with a unit such as 4GB or 512MiB, "
                         f"got {text!r} (units: {', '.join(u if len(u) < 3 else u[0] + 'iB' for u in MEMORY_UNITS)})")
    return int(float(match.group(1)) * MEMORY_UNITS[unit])


# -- plugins ----------------------------------------------------------------------------------------
def _plugins(value: Any) -> dict[str, dict[str, str]]:
    if not isinstance(value, dict):
        raise StudyError(f"plugins: expected {{methods: {{name: 'module:Class'}}, tasks: {{...}}}}, got {value!r}")
    _check_keys(value, tuple(REGISTRIES), "plugins")
    out: dict[str, dict[str, str]] = {}
    for kind, entries in value.items():
        good = isinstance(entries, dict) and all(isinstance(t, str) and ":" in t for t in entries.values())
        if not good:
            raise StudyError(f"plugins.{kind}: expected a mapping name -> 'module:Class', got {entries!r}")
        out[kind] = {str(name): target for name, target in entries.items()}
    return out


def register_plugins(plugins: Mapping[str, Mapping[str, str]]) -> None:
    """Register a study's plugins as entry points would; already registered is fine."""
    for kind, entries in plugins.items():
        for name, target in entries.items():
            REGISTRIES[kind].register(_import_plugin(REGISTRIES[kind], name, target))


def _import_plugin(registry: Registry, name: str, target: str) -> type:
    module_name, _, attr = target.partition(":")
    try:
        obj: Any = import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except Exception as exc:  # whatever the import raises, the fix is the module or PYTHONPATH
        raise PluginError(f"plugin {registry.kind} {name!r} could not be imported from {target!r}: "
                          f"{type(exc).__name__}: {exc}. Is its module on PYTHONPATH (of every Ray node)?") from exc
    if getattr(obj, "name", None) != name:
        raise PluginError(f"plugin {registry.kind} {name!r} points to {target}, whose class attribute name is "
                          f"{getattr(obj, 'name', None)!r}; the two names must be equal.")
    return obj


# -- planning ---------------------------------------------------------------------------------------
def plan_study(study: Study, force: bool = False) -> list[PlannedRun]:
    """Prepare every run (every override checked) and read what the results folder holds for it.

    A finished run (ok or skipped) with the same run id is done; a failed or missing one is to run.
    An ok run with another id is a conflict (the runner would refuse it too): refused before anything runs,
    unless ``force``."""
    store, planned, conflicts = RunStore(study.results), [], []
    for request in study.requests():
        try:
            prepared = prepare(request)
        except NasBenchError as exc:
            raise StudyError(f"study file {study.path}: run {run_key(request)}: {exc}") from exc
        manifest = store.read(request.task, request.label, request.seed) or {}
        if manifest.get(schema.STATUS) == schema.STATUS_OK and manifest.get(schema.RUN_ID) != prepared.run_id:
            conflicts.append(run_key(request))
        planned.append(PlannedRun(prepared, None if force else _previous_status(manifest, prepared.run_id)))
    if conflicts and not force:
        raise StudyError(
            f"{len(conflicts)} run folder(s) in {study.results} hold finished runs of another configuration: "
            f"{', '.join(conflicts[:5])}{' ...' if len(conflicts) > 5 else ''}. Use --force to recompute them, "
            f"or --results DIR to write this study elsewhere."
        )
    return planned
