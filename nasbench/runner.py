"""The runner owns the loop: data, device, seeding, stages, timing, the test evaluation and the
record. A method only computes inside the stages it is handed.

``prepare`` resolves names, configs and overrides (every user error surfaces here, before any
work); ``execute`` runs the stages and writes the run folder atomically.
"""
from __future__ import annotations

import io
import json
import random
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from nasbench import provenance, schema
from nasbench.allocator import keep_freed_memory
from nasbench.arch import arch_id, content_hash, count_macs, count_parameters
from nasbench.budgets import DEFAULT_BUDGET, check_budget
from nasbench.config import apply_overrides, to_dict
from nasbench.contracts import RunContext, SearchMethod, Split, Task, TaskData, TaskView, unsupported_reason
from nasbench.curves import CurveLog
from nasbench.errors import ConfigError, DataError, DeviceError, RunConflictError
from nasbench.meter import StageMeter, run_baseline
from nasbench.registry import methods, tasks
from nasbench.store import RunStore
from nasbench.training import predict

TASK_PREFIX = "task."
USER_ERRORS = (DataError, ConfigError, DeviceError)  # not a result of the run: the user or the machine must act


@dataclass(frozen=True)
class RunRequest:
    method: str
    task: str
    budget: str = DEFAULT_BUDGET
    seed: int = 0
    overrides: tuple[str, ...] = ()  # "key=value" for the method, "task.key=value" for the task
    variant: str = ""  # a study's name for this method plus overrides; names the run folder and the table column

    @property
    def label(self) -> str:
        """How the run is named in folders and tables: the variant's name, else the method's."""
        return self.variant or self.method


@dataclass
class PreparedRun:
    request: RunRequest
    method_cls: type[SearchMethod]
    task: Task
    method_config: Any
    run_id: str


@dataclass
class RunOutcome:
    status: str  # ok | failed | skipped | cached (finished before, not recomputed)
    run_dir: Path
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def error_value(self) -> float | None:
        return self.manifest.get(schema.METRIC, {}).get("error")


def prepare(request: RunRequest) -> PreparedRun:
    """Resolve and validate everything a run needs; raises NasBenchError on any bad input."""
    check_budget(request.budget)
    if request.seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {request.seed}")
    method_cls, task_cls = methods.get(request.method), tasks.get(request.task)
    task_sets = [o[len(TASK_PREFIX):] for o in request.overrides if o.startswith(TASK_PREFIX)]
    method_sets = [o for o in request.overrides if not o.startswith(TASK_PREFIX)]
    task = task_cls(apply_overrides(task_cls.default_config(request.budget), task_sets))
    method_config = method_cls.default_config(request.budget, TaskView(task))
    method_config = apply_overrides(method_config, method_sets)
    run_id = content_hash({
        "method": request.method, "method_config": to_dict(method_config), "task": request.task,
        "task_config": to_dict(task.config), "budget": request.budget, "seed": request.seed,
    })
    return PreparedRun(request, method_cls, task, method_config, run_id)


def seed_everything(seed: int) -> tuple[torch.Generator, np.random.Generator]:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed), np.random.default_rng(seed)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(name: str | None) -> torch.device:
    """``--device``: None (cuda if available, else cpu), ``cpu``, ``cuda`` or ``cuda:N``; anything else,
    or a CUDA device this machine lacks, raises DeviceError before any work."""
    if name is None:
        return default_device()
    cuda_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    here = f"this machine has {cuda_count} CUDA device(s)" if cuda_count else "this torch build or machine has no CUDA"
    valid = "cpu" + (f", cuda, cuda:0..cuda:{cuda_count - 1}" if cuda_count else "")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        raise DeviceError(f"--device {name!r} is not a device name; valid here: {valid} ({here}). "
                          f"Leave --device out to use cuda when available, else cpu.") from None
    if device.type == "cpu" or (device.type == "cuda" and (device.index or 0) < cuda_count):
        return device
    raise DeviceError(f"--device {name!r} is not available: {here}; valid here: {valid}. "
                      f"Use --device cpu, or leave --device out.")


def execute(
    run: PreparedRun,
    store: RunStore,
    *,
    study: str = "",
    force: bool = False,
    device: torch.device | None = None,
    log: Callable[[str], None] = print,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    raise_user_errors: bool = False,
) -> RunOutcome:
    """Run the stages of one run and write its folder; a failure is recorded, not raised, except (with
    ``raise_user_errors``, for ``nasbench run``) missing or corrupt data and settings a plugin refuses,
    which are raised and leave nothing written.

    The run's lock is held from the first look at its folder to the last write: a second process
    asking for the same run waits here, then finds the run finished (``cached``) and computes nothing."""
    req = run.request
    lock = store.lock(req.task, req.method, req.seed)
    waited = not lock.acquire(blocking=False)
    if waited:
        log(f"waiting: {lock.holder()} is computing {store.run_dir(req.task, req.method, req.seed)}; "
            f"this process takes its result when it is done")
        lock.acquire()
    try:
        return _execute_locked(run, store, study, force and not waited, device, log, on_row, raise_user_errors)
    finally:
        lock.release()


def _execute_locked(run: PreparedRun, store: RunStore, study: str, force: bool, device: torch.device | None,
                    log: Callable[[str], None], on_row, raise_user_errors: bool) -> RunOutcome:
    keep_freed_memory()
    req = run.request
    run_dir = store.run_dir(req.task, req.label, req.seed)
    previous = store.read(req.task, req.label, req.seed)
    if previous is not None and previous.get(schema.STATUS) == schema.STATUS_OK and not force:
        if previous.get(schema.RUN_ID) != run.run_id:
            raise RunConflictError(
                f"{run_dir} holds a finished run with a different configuration "
                f"(run id {previous.get(schema.RUN_ID)}, this one {run.run_id}). "
                f"Use --force to replace it, or --results DIR to write elsewhere."
            )
        return RunOutcome("cached", run_dir, previous)

    device = device or default_device()
    manifest = _base_manifest(run, study, device)
    files: dict[str, bytes | str] = {}
    reason = unsupported_reason(run.method_cls, run.task.shape)
    if reason is not None:
        manifest.update({schema.STATUS: schema.STATUS_SKIPPED, schema.ERROR: reason})
        return _finish(store, run, manifest, files)

    curves = CurveLog(on_row=_timed(on_row))
    try:
        _run_stages(run, device, manifest, files, curves, log)
        manifest[schema.STATUS] = schema.STATUS_OK
    except (KeyboardInterrupt, SystemExit):
        raise  # an interrupted run leaves nothing behind; the study re-runs it
    except USER_ERRORS:
        if raise_user_errors:  # `nasbench run`: missing data or a bad setting is the user's to fix, not a run result
            raise
        _record_failure(manifest, log)
    except Exception:  # a run that fails is recorded as failed; the study goes on
        _record_failure(manifest, log)
    files[schema.CURVES] = curves.to_csv()
    return _finish(store, run, manifest, files)


def _record_failure(manifest: dict[str, Any], log: Callable[[str], None]) -> None:
    """Called inside an ``except``: the error and its traceback go into the manifest."""
    exc = sys.exc_info()[1]
    manifest.update({schema.STATUS: schema.STATUS_FAILED, schema.ERROR: f"{type(exc).__name__}: {exc}",
                     "traceback": traceback.format_exc()})
    log(f"run failed: {first_line(manifest[schema.ERROR])} (traceback under 'traceback' in the run's manifest)")


def first_line(text: str | None) -> str:
    """The first non-empty line of an error text (what a console shows of a failed run)."""
    return next((line.strip() for line in (text or "").splitlines() if line.strip()), "(no error text)")


def _run_stages(run: PreparedRun, device, manifest, files, curves: CurveLog, log) -> None:
    req, costs = run.request, manifest[schema.COSTS]
    generator, rng = seed_everything(req.seed)
    stage_meter = partial(StageMeter, device, baseline=run_baseline())  # peaks above what the process held before

    with stage_meter() as meter:
        data: TaskData = run.task.load(allow_generate=True, log=log)
    costs["data"] = meter.result
    manifest[schema.DATA_SOURCE] = data.data_source
    sizes = {s.name: len(s) for s in (data.train, data.val, data.test)}
    manifest["data"] = {"source": data.data_source, "sizes": sizes,
                        **data.detail}

    ctx = RunContext(task=TaskView(run.task), train=data.train, val=data.val, device=device, seed=req.seed,
                     generator=generator, rng=rng, budget=req.budget, curves=curves, log=log)
    method = run.method_cls(run.method_config)

    curves.stage = "search"
    with stage_meter() as meter:
        arch = method.search(ctx)
    costs["search"] = meter.result

    curves.stage = "tune"
    with stage_meter() as meter:
        hparams = method.tune(ctx, arch)
    costs["tune"] = meter.result

    curves.stage = "retrain"
    with stage_meter() as meter:
        model = method.retrain(ctx, arch, hparams)
    costs["retrain"] = meter.result

    curves.stage = "evaluate"
    with stage_meter() as meter:  # the only place the test split is read
        outputs = predict(model, data.test, device)
        value = run.task.score(outputs, data.test)
        constant = constant_baseline(run.task, outputs, data.test)
    costs["evaluate"] = meter.result
    if constant is not None:
        manifest["data"][schema.CONSTANT_BASELINE] = constant

    metric = run.task.metric
    manifest[schema.METRIC] = {"name": metric.name, "value": value, "direction": metric.direction,
                               "error_name": metric.error_name, "error": metric.to_error(value),
                               "split": "test", "epoch": "last"}
    record = _arch_record(run, arch, hparams, model, data, manifest)
    manifest.update(arch_id=record["arch_id"], params=record["cost"]["params"], macs=record["cost"]["macs"])
    files[schema.ARCH] = json.dumps(record, indent=2, default=_jsonable)
    files[schema.FINAL] = json.dumps({schema.RUN_ID: run.run_id, **manifest[schema.METRIC]}, indent=2)
    buffer = io.BytesIO()
    torch.save({"split": "test", "predictions": run.task.decode(outputs).to(torch.float32)}, buffer)
    files[schema.PREDICTIONS] = buffer.getvalue()


CONSTANT_RULES = {
    "classes": "the best single class, predicted for every test example: the most a predictor that ignores "
               "its input can score on this test split",
    "dense_regression": "the output 0 for every test example, which the task decodes to the training split's mean "
                        "target where it normalises targets by their training statistics",
}


def constant_baseline(task: Task, outputs: torch.Tensor, test: Split) -> dict[str, Any] | None:
    """The task's own test metric for a prediction that ignores its input (``CONSTANT_RULES``), scored
    beside the run's so a report can say which runs learned nothing a constant does not give. Only the
    run's output shape is used, never its values. None for output kinds without a rule here."""
    kind = task.shape.output
    if kind == "classes":
        scores = []
        for label in range(outputs.shape[-1]):
            constant = torch.zeros_like(outputs)
            constant[..., label] = 1.0
            scores.append(task.score(constant, test))
        value = max(scores) if task.metric.direction == "max" else min(scores)
    elif kind == "dense_regression":
        value = task.score(torch.zeros_like(outputs), test)
    else:
        return None
    return {"value": value, "error": task.metric.to_error(value), "rule": CONSTANT_RULES[kind]}


def _arch_record(run: PreparedRun, arch, hparams, model, data: TaskData, manifest) -> dict[str, Any]:
    """The common envelope of every architecture record (docs/plugins.md, "The architecture record") around
    the method's own choices."""
    req = run.request
    example = data.val.inputs[:1].to(next(model.parameters()).device)
    return {
        "method": req.method, "task": req.task, "seed": req.seed, "arch_id": arch_id(req.method, arch),
        "backbone": arch.get("backbone"), "search_space": arch.get("search_space", {}),
        "choices": arch.get("choices", {}), "details": arch.get("details", {}),
        "cost": {"params": count_parameters(model), "macs": count_macs(model, example), **arch.get("cost", {})},
        "search_stats": manifest[schema.COSTS].get("search", {}),
        "retrain": hparams or None,
        "provenance": {"nasbench": manifest["versions"]["nasbench"], "run_id": run.run_id},
    }


def _base_manifest(run: PreparedRun, study: str, device: torch.device) -> dict[str, Any]:
    req = run.request
    return {
        "schema_version": schema.SCHEMA_VERSION, schema.RUN_ID: run.run_id, schema.STUDY: study,
        schema.METHOD: req.method, "variant": req.variant or None, schema.TASK: req.task, schema.SEED: req.seed,
        schema.BUDGET: req.budget,
        schema.STATUS: None, schema.ERROR: None, "overrides": list(req.overrides),
        "method_config": to_dict(run.method_config), "task_config": to_dict(run.task.config),
        "budget_notes": {"method": run.method_cls.budget_notes(req.budget),
                         "task": type(run.task).budget_notes(req.budget)},
        "citation": {"method": run.method_cls.citation, "task": type(run.task).citation},
        "control_of": run.method_cls.control_of or None,  # a random-search control names its method
        schema.DATA_SOURCE: None, schema.COSTS: {}, "versions": provenance.versions(), "host": provenance.host(),
        "device": provenance.describe_device(device),
        # what a cost or a bit-for-bit result depends on: compare runs only when these agree
        "resources": {"device": str(device), "torch_threads": torch.get_num_threads()},
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _finish(store: RunStore, run: PreparedRun, manifest, files) -> RunOutcome:
    manifest["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    files[schema.MANIFEST] = json.dumps(manifest, indent=2, default=_jsonable)
    req = run.request
    where = store.write(req.task, req.label, req.seed, files)
    return RunOutcome(manifest[schema.STATUS], where, manifest)


def _timed(on_row):
    start = time.perf_counter()

    def add_time(row: dict[str, Any]) -> None:
        row["elapsed_s"] = round(time.perf_counter() - start, 3)
        if on_row is not None:
            on_row(row)

    return add_time


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if isinstance(obj, (np.ndarray, torch.Tensor)):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)
