"""Executing a study: expand it into runs, skip the finished ones, run the others on a backend.

Backends: ``local`` (sequential, in-process; ``local.py``) and ``ray`` (one Ray Tune trial per run;
``ray_backend.py``, the only module of the suite that imports ``ray``, imported only when chosen).
Both call the same ``trial.run_trial`` -> ``runner.prepare``/``execute`` as ``nasbench run``.

The results folder is the only state: a run whose folder holds an ok (or skipped) manifest with the
same run id is not run again; a failed one is; a run interrupted by a kill left at most a hidden
temporary folder, removed here before the study starts. Two studies may share a results folder at
the same time: each run is computed under its lock (``RunStore.lock``), so the second study to reach
a run waits for the first and then finds it finished. ``<results>/trials.jsonl`` gets one line per
run executed (status, node, run and trial seconds): a history for reports and overhead figures, never read to resume.
Runs a method cannot make (its ``unsupported_reason`` for the task's shape) are recorded as skipped
by the study's own process, whatever the backend: no worker is started to write a reason.
"""
from __future__ import annotations

import json
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import TextIO

import torch

from nasbench import schema
from nasbench.contracts import unsupported_reason
from nasbench.errors import UnknownNameError
from nasbench.execution.local import run_local
from nasbench.execution.progress import Progress, clock_text, summary_table
from nasbench.execution.trial import TrialOutcome, cached_outcome
from nasbench.store import RunStore
from nasbench.study import PlannedRun, Study, StudyError, load_study, plan_study, run_key

BACKENDS = ("ray", "local")
DEFAULT_BACKEND = "ray"
TRIAL_LOG = "trials.jsonl"  # in the results folder: one line per run executed, where and how long (not state)


@dataclass
class StudyReport:
    study: Study
    outcomes: list[TrialOutcome]  # in the study's order; a run an interrupt stopped is absent
    wall_s: float
    interrupted: bool = False
    rows_reported: dict[str, int] = field(default_factory=dict)  # curve rows the driver received per run

    @property
    def executed(self) -> list[TrialOutcome]:
        return [o for o in self.outcomes if o.status != "cached"]

    @property
    def failed(self) -> list[TrialOutcome]:
        return [o for o in self.outcomes if o.status == schema.STATUS_FAILED]

    def overhead_per_run(self) -> float | None:
        """(study wall time - sum of the run times) / runs executed: the scheduling cost per run when
        runs execute one at a time (resources that fill the machine); None when nothing ran."""
        timed = [o.run_wall_s for o in self.executed if o.run_wall_s is not None]
        return (self.wall_s - sum(timed)) / len(timed) if timed else None

    def totals(self) -> str:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(Counter(o.status for o in self.outcomes).items()))
        run_s = sum(o.run_wall_s or 0.0 for o in self.executed)
        text = (f"study {self.study.name}: {len(self.outcomes)}/{len(self.study.requests())} runs ({counts}); "
                f"wall {clock_text(self.wall_s)} ({self.wall_s:.1f} s), sum of run times {run_s:.1f} s")
        overhead = self.overhead_per_run()
        if overhead is not None and overhead >= 0:
            text += f", (wall - run times) / runs = {overhead:.2f} s per run"
        elif overhead is not None:  # runs overlapped: the formula only measures one-at-a-time studies
            text += f", {run_s / self.wall_s:.2f} runs in parallel on average"
        return text + f"\nresults: {self.study.results}"


def run_study(study: Study, backend: str = DEFAULT_BACKEND, *, address: str | None = None, force: bool = False,
              stream: TextIO | None = None, interactive: bool | None = None) -> StudyReport:
    """Run every run of ``study`` not finished yet; Ctrl-C stops it and the report says so.

    The wall time counts from here: importing the backend, starting and stopping Ray included."""
    start, interrupted = time.perf_counter(), False
    execute_runs = _backend(backend, address)
    store = RunStore(study.results)
    store.ensure_writable()  # before Ray starts or any run computes: nothing is computed to be thrown away
    store.clean_partial()
    planned = plan_study(study, force)
    progress = Progress(study.name, len(planned), [cached_outcome(p, study.results) for p in planned if p.done],
                        stream, interactive, on_finished=partial(append_trial_log, study.results, backend))
    todo = [p for p in planned if not p.done]
    progress.refresh(force=True)
    try:
        todo = record_skips_here(study, todo, progress, force)
        if todo:
            execute_runs(study, todo, progress, force=force)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        progress.close()
    outcomes = [progress.outcomes[run_key(p.request)] for p in planned if run_key(p.request) in progress.outcomes]
    return StudyReport(study, outcomes, time.perf_counter() - start, interrupted, dict(progress.rows))


def record_skips_here(study: Study, todo: list[PlannedRun], progress: Progress, force: bool) -> list[PlannedRun]:
    """Write the runs no method can make (``unsupported_reason``) in this process, where recording the
    reason takes milliseconds, rather than start a worker per skip; return the runs left to compute.
    A study that asks for GPUs this process lacks leaves them to its backend (the manifest names the device)."""
    if study.resources.gpus > 0 and not torch.cuda.is_available():
        return todo
    cannot = [unsupported_reason(p.prepared.method_cls, p.prepared.task.shape) is not None for p in todo]
    if any(cannot):
        run_local(study, [p for p, skip in zip(todo, cannot) if skip], progress, force=force)
    return [p for p, skip in zip(todo, cannot) if not skip]


def append_trial_log(results: Path, backend: str, outcome: TrialOutcome) -> None:
    """Append one executed run to ``<results>/trials.jsonl`` (history for reports; resuming ignores it)."""
    results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with open(results / TRIAL_LOG, "a") as handle:
        handle.write(json.dumps({**asdict(outcome), "backend": backend, "finished_at": stamp}) + "\n")


def _backend(name: str, address: str | None):
    if name not in BACKENDS:
        raise UnknownNameError("backend", name, BACKENDS)
    if name == "local":
        if address:
            raise StudyError(f"--address {address} joins a Ray cluster; it needs --backend ray, not local")
        return run_local
    from nasbench.execution.ray_backend import check_reachable, run_ray

    if address:
        check_reachable(address)  # up front, even when every run is finished: a wrong address is a mistake
    return partial(run_ray, address=address)


def study_command(path: Path, backend: str = DEFAULT_BACKEND, address: str | None = None,
                  results: Path | None = None, force: bool = False) -> int:
    """``nasbench study``: 0 when every run is ok or skipped, 1 when one failed, 130 when interrupted."""
    study = load_study(path, results)
    report = run_study(study, backend, address=address, force=force)
    print(summary_table(report.outcomes))
    print(report.totals())
    if report.interrupted:
        left = len(study.requests()) - len(report.outcomes)
        print(f"interrupted: {left} run(s) not finished; run the same command again to resume", file=sys.stderr)
        return 130
    return 1 if report.failed else 0


__all__ = ["BACKENDS", "StudyReport", "run_study", "study_command", "load_study"]
