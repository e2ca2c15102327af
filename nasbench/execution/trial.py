"""One run of a study: the same body on every backend, so that ``local`` and ``ray`` produce the same
run folders. It registers the study's plugins (a Ray worker is a fresh process), calls the runner's
``prepare``/``execute`` like ``nasbench run`` does, with the study's resources: as many torch threads
as CPUs, ``cuda`` only when GPUs are asked for, and the memory limit checked after every epoch.
"""
from __future__ import annotations

import os
import resource
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from nasbench import schema
from nasbench.errors import NasBenchError
from nasbench.runner import PreparedRun, RunOutcome, RunRequest, execute, prepare
from nasbench.store import RunStore
from nasbench.study import PlannedRun, Resources, Study, register_plugins, run_key

RowCallback = Callable[[dict[str, Any]], None]


class MemoryLimitExceeded(NasBenchError):
    """A run's process holds more memory than the study's ``resources.memory``."""


@dataclass(frozen=True)
class TrialSpec:
    """Everything a trial process needs to run one run of a study (plain data: it travels to Ray)."""

    request: RunRequest
    results: str  # absolute: a Ray worker has its own working directory
    study: str
    resources: Resources
    plugins: dict[str, dict[str, str]] = field(default_factory=dict)
    force: bool = False
    cwd: str = ""  # the driver's, so that relative paths in overrides mean what they mean there

    @property
    def key(self) -> str:
        return run_key(self.request)


@dataclass
class TrialOutcome:
    """What the study reports about one run, whichever backend ran it."""

    task: str
    method: str
    seed: int
    status: str  # ok | failed | skipped | cached (finished before this study started)
    run_dir: str | None = None
    run_wall_s: float | None = None  # sum of the run's stage wall times, from its manifest
    trial_wall_s: float | None = None  # prepare + execute, measured around them
    node: str | None = None  # Ray node id (None on the local backend)
    error: str | None = None
    metric_error: float | None = None  # the test metric in the task's error form
    error_name: str | None = None

    @property
    def key(self) -> str:
        return f"{self.task}/{self.method}/seed={self.seed}"


def make_spec(study: Study, planned: PlannedRun, force: bool = False) -> TrialSpec:
    return TrialSpec(planned.request, str(study.results), study.name, study.resources, study.plugins,
                     force, os.getcwd())


def run_trial(spec: TrialSpec, on_row: RowCallback | None = None, log: Callable[[str], None] = print,
              node: str | None = None) -> TrialOutcome:
    """Run one run where this function is called; failures inside the run are recorded, not raised."""
    start = time.perf_counter()
    if spec.cwd and Path(spec.cwd).is_dir():
        os.chdir(spec.cwd)
    register_plugins(spec.plugins)
    prepared = prepare(spec.request)
    with torch_threads(spec.resources.threads):
        outcome = execute(prepared, RunStore(spec.results), study=spec.study, force=spec.force,
                          device=torch.device(spec.resources.device), log=log,
                          on_row=memory_guard(spec.resources.memory_bytes, on_row))
    return outcome_of(spec.request, outcome, time.perf_counter() - start, node)


def outcome_of(request: RunRequest, outcome: RunOutcome, trial_wall_s: float | None = None,
               node: str | None = None) -> TrialOutcome:
    manifest = outcome.manifest
    metric = manifest.get(schema.METRIC) or {}
    stages = manifest.get(schema.COSTS) or {}
    run_wall = sum(float(s.get("wall_s", 0.0)) for s in stages.values()) if stages else None
    return TrialOutcome(request.task, request.label, request.seed, outcome.status, str(outcome.run_dir), run_wall,
                        trial_wall_s, node, manifest.get(schema.ERROR), metric.get("error"), metric.get("error_name"))


def cached_outcome(planned: PlannedRun, results: Path) -> TrialOutcome:
    """The outcome of a run the results folder already holds."""
    req = planned.request
    store = RunStore(results)
    outcome = RunOutcome("cached", store.run_dir(req.task, req.label, req.seed),
                         store.read(req.task, req.label, req.seed) or {})
    return outcome_of(req, outcome)


def record_crash(prepared: PreparedRun, results: Path | str, study: str, error: str,
                 node: str | None = None, detail: str | None = None) -> TrialOutcome:
    """Record as failed a run whose process died or whose trial raised before the runner could.

    Uses the runner's own manifest builder so that the record has the shape of every other run."""
    from nasbench.runner import _base_manifest, _finish  # the one record format; see the module note

    req, store = prepared.request, RunStore(results)
    manifest = _base_manifest(prepared, study, torch.device("cpu"))
    manifest.update({schema.STATUS: schema.STATUS_FAILED, schema.ERROR: error, "device": None, "resources": None,
                     "host": {"ray_node": node}, "traceback": detail, "crashed": True})
    lock = store.lock(req.task, req.method, req.seed)
    if not lock.acquire(blocking=False):  # a live process computes the run: its record is the one to keep
        return outcome_of(req, RunOutcome(schema.STATUS_FAILED, store.run_dir(req.task, req.method, req.seed),
                                          manifest), None, node)
    try:
        outcome = _finish(store, prepared, manifest, {schema.CURVES: "stage,epoch\n"})
    finally:
        lock.release()
    return outcome_of(req, outcome, None, node)


# -- resources --------------------------------------------------------------------------------------
@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """``n`` torch threads inside the block (None: leave torch's setting alone)."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def resident_bytes() -> int:
    """This process's resident memory now (Linux), else its peak (other systems)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def memory_guard(limit: int | None, on_row: RowCallback | None) -> RowCallback:
    """A row callback that fails the run once its process holds more than ``limit`` bytes.

    Checked after every epoch (a spike inside an epoch is Ray's or the OS's out-of-memory killer's to
    catch; the study then records the run as failed from the crash). On the local backend the process
    is the study's own, so its baseline counts too."""

    def check(row: dict[str, Any]) -> None:
        used = resident_bytes()
        if limit is not None and used > limit:
            raise MemoryLimitExceeded(
                f"the run's process holds {used / 1e6:.0f} MB after {row.get('stage')} epoch {row.get('epoch')}, "
                f"above resources.memory = {limit / 1e6:.0f} MB of the study; raise resources.memory in the "
                f"study file or make the run smaller (batch size, subset)"
            )
        if on_row is not None:
            on_row(row)

    return check
