"""The Ray backend: one Ray Tune trial per run. The only module of the suite that imports ``ray``.

Each trial calls ``trial.run_trial`` (the runner's ``prepare``/``execute``, as ``nasbench run``) in a
Ray worker that holds the study's resources per run (``cpu``, ``gpu``, ``memory``), reports every curve
row to Tune as it is recorded, and writes the run folder itself: the results folder must therefore be
the same path on every node (one machine, or a shared filesystem), as Ray Tune's own storage must.
The driver checks that the folder of every finished trial is visible to it.

``--address`` joins a running cluster (``ray start --head`` on one machine, ``ray start --address``
on the others; ``--address auto`` finds the one started on this machine); without it a new local Ray
instance is started and stopped, even when a cluster runs on this machine. That instance keeps its
temporary files in the study's own temporary folder and its processes end with the study, even
when the study is killed (``reaper.py``).
Every run gets a fresh worker process (``reuse_actors=False``): a process that ran one run keeps that
run's heap (``nasbench.allocator`` keeps freed memory, and fragmentation grows it), so a reused worker
grew from run to run until every later run exceeded ``resources.memory`` at its first epoch (seen in
the first sitting of ``reports/offline-small``: 9.4 to 12.7 GB after five runs). The fresh process
costs an import of torch per run (seconds, against runs of minutes).
A trial that dies (Ray's out-of-memory killer, a segfault, a lost node) or raises outside the runner
is recorded as failed by the driver; Tune's experiment state is thrown away at the end: the run
folders are the record. When Tune's controller itself stops (it does when Ray kills an actor while it
starts, e.g. for memory that other processes on the node took), the study restarts Tune for the runs
not finished yet, up to ``TUNE_RESTARTS`` times; a run still computing in an orphaned worker is not
computed twice (the run's lock, ``runner.execute``).
"""
from __future__ import annotations

import logging
import os
import shutil
import socket
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any, Iterator

import ray
from ray import tune

from nasbench.execution import reaper
from nasbench.execution.progress import Progress
from nasbench.execution.trial import TrialOutcome, TrialSpec, make_spec, record_crash, run_trial
from nasbench.study import PlannedRun, Resources, Study, StudyError, run_key

QUIET_LOGGER = "ray.tune.analysis.experiment_analysis"  # warns that Tune's per-trial logs are absent: on purpose
OUTCOME = "nasbench_outcome"  # the key of a trial's last result that holds its TrialOutcome
TUNE_RESTARTS = 2  # how often a study restarts Tune after its controller died, for the runs not finished
TUNE_FOLDER = ".tune"  # Tune's scratch state inside the results folder (``.tune-<pid>``), removed at start and end
ENV_DEFAULTS = {
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",  # the run folder is the record; no Tune CSV/JSON/TensorBoard
    "TUNE_DISABLE_SIGINT_HANDLER": "1",  # Ctrl-C stops the study at once; an unfinished run leaves nothing
    "RAY_AIR_NEW_OUTPUT": "0",  # with verbose=0: no Tune status tables over the study's own progress line
}


class ClusterError(StudyError):
    """Ray could not be started or joined, or no node can hold one run."""


def run_ray(study: Study, todo: list[PlannedRun], progress: Progress, *, force: bool = False,
            address: str | None = None) -> None:
    with _env_defaults(), ray_session(address), _tune_storage(study.results) as storage:
        check_capacity(study.resources)
        for attempt in range(TUNE_RESTARTS + 1):
            try:
                return _fit(study, todo, progress, force, f"{storage}/{attempt}")
            except Exception as exc:  # Tune's controller died (an actor killed while starting, a lost node)
                todo = [planned for planned in todo if run_key(planned.request) not in progress.outcomes]
                if isinstance(exc, StudyError) or not todo or attempt == TUNE_RESTARTS:
                    raise
                first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
                progress.log(f"warning: Ray Tune stopped ({type(exc).__name__}: {first[:300]}); restarting it for "
                             f"the {len(todo)} unfinished runs (restart {attempt + 1} of {TUNE_RESTARTS})")


def _fit(study: Study, todo: list[PlannedRun], progress: Progress, force: bool, storage: str) -> None:
    specs = [make_spec(study, planned, force) for planned in todo]
    callback = _StudyCallback(study, todo, specs, progress)
    with _quiet(QUIET_LOGGER):
        _tuner(study, specs, storage, callback).fit()


@contextmanager
def ray_session(address: str | None) -> Iterator[None]:
    """Join ``address`` or start a local instance, and leave it afterwards; a caller's session is kept."""
    if address:
        check_reachable(address)
    if ray.is_initialized():
        yield
        return
    with ExitStack() as stack:
        # a local instance lives in the study's own temporary folder and ends with the study (reaper.py)
        temp = None if address else str(stack.enter_context(reaper.session()))
        try:
            ray.init(address=address or "local",  # "local": a new instance even if `ray start` ran on this machine
                     include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING, _temp_dir=temp)
        except Exception as exc:  # ConnectionError, RuntimeError, ValueError... all mean the same to the user
            where = f"join the Ray cluster at {address!r}" if address else "start a local Ray instance"
            raise ClusterError(f"could not {where}: {type(exc).__name__}: {exc}. Start a cluster with "
                               f"`ray start --head` and pass the address it prints, or leave --address out "
                               f"to start a local instance.") from exc
        try:
            yield
        finally:
            ray.shutdown()


def check_reachable(address: str, timeout_s: float = 10.0) -> None:
    """Fail at once when nothing listens at ``host:port`` (``ray.init`` would retry for many minutes)."""
    if address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"--address {address!r} is not host:port (for example 10.0.0.1:6379, as printed by "
                           f"`ray start --head`), nor 'auto' (the cluster started on this machine)")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ClusterError(f"no Ray cluster answers at {address} ({exc}). Start one there with `ray start --head "
                           f"--port={port}`, use the address it prints, or leave --address out to run "
                           f"locally.") from exc


@contextmanager
def _quiet(name: str) -> Iterator[None]:
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def _env_defaults() -> Iterator[None]:
    """Set ``ENV_DEFAULTS`` (unless the user set them) for the study only."""
    added = {key: value for key, value in ENV_DEFAULTS.items() if key not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


@contextmanager
def _tune_storage(results: Path) -> Iterator[str]:
    """``<results>/.tune-<pid>``: one per driver, so that two studies into one folder do not share it."""
    for stale in results.glob(f"{TUNE_FOLDER}*"):  # left by killed studies; resuming never needs them
        pid = stale.name.rpartition("-")[2]
        if not (pid.isdigit() and reaper.alive(int(pid))) or int(pid) == os.getpid():
            shutil.rmtree(stale, ignore_errors=True)
    folder = results / f"{TUNE_FOLDER}-{os.getpid()}"
    folder.mkdir(parents=True)
    try:
        yield str(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def ray_resources(resources: Resources) -> dict[str, float]:
    need = {"cpu": resources.cpus, "gpu": resources.gpus}
    if resources.memory_bytes is not None:
        need["memory"] = float(resources.memory_bytes)
    return need


def check_capacity(resources: Resources) -> None:
    """Refuse a study whose runs fit on no node: Tune would wait for them forever."""
    need = {"CPU": resources.cpus, "GPU": resources.gpus, "memory": resources.memory_bytes or 0}
    nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    if any(all(node.get(key, 0) >= amount for key, amount in need.items()) for node in nodes):
        return
    offered = "; ".join(f"CPU {n.get('CPU', 0):g}, GPU {n.get('GPU', 0):g}, memory {n.get('memory', 0) / 1e9:.1f} GB"
                        for n in nodes) or "no live node"
    raise ClusterError(f"no node of the Ray cluster can hold one run: each run asks for CPU {resources.cpus:g}, "
                       f"GPU {resources.gpus:g}, memory {need['memory'] / 1e9:.1f} GB; the nodes offer: {offered}. "
                       f"Lower resources in the study file or add nodes to the cluster.")


def _tuner(study: Study, specs: list[TrialSpec], storage: str, callback: tune.Callback) -> tune.Tuner:
    trainable = tune.with_resources(tune.with_parameters(_trial, specs=specs), ray_resources(study.resources))
    label = partial(_label, specs)
    return tune.Tuner(
        trainable,
        param_space={"run": tune.grid_search(list(range(len(specs))))},
        tune_config=tune.TuneConfig(reuse_actors=False, trial_name_creator=label, trial_dirname_creator=label),
        run_config=tune.RunConfig(name=f"nasbench-{study.name}", storage_path=storage, verbose=0,
                                  callbacks=[callback], failure_config=tune.FailureConfig(max_failures=0)),
    )


def _label(specs: list[TrialSpec], trial: Any) -> str:
    request = specs[trial.config["run"]].request
    return f"{request.task}-{request.label}-seed{request.seed}"


def _trial(config: dict[str, Any], specs: list[TrialSpec]) -> None:
    """The body of one Tune trial, in a Ray worker: run, report rows as they come, then the outcome."""
    spec = specs[config["run"]]
    node = ray.get_runtime_context().get_node_id()
    log = partial(print, f"[{spec.key}]", flush=True)  # into the worker's log file, not over the live line
    outcome = run_trial(spec, on_row=lambda row: tune.report(dict(row)), log=log, node=node)
    tune.report({OUTCOME: asdict(outcome)})


class _StudyCallback(tune.Callback):
    """Hands Tune's trial events to the study's progress, and records the trials that died as failed."""

    def __init__(self, study: Study, todo: list[PlannedRun], specs: list[TrialSpec], progress: Progress):
        self.study, self.todo, self.specs, self.progress = study, todo, specs, progress

    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        self.progress.started(self.specs[trial.config["run"]].key)

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        if OUTCOME not in result:
            self.progress.row(self.specs[trial.config["run"]].key, result)

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        found = (trial.last_result or {}).get(OUTCOME)
        if found is None:
            return self._record_crash(trial, "the trial ended without reporting its outcome")
        outcome = TrialOutcome(**found)
        if outcome.run_dir and not Path(outcome.run_dir).exists():
            outcome.error = (f"finished on node {outcome.node}, but {outcome.run_dir} is not visible here: "
                             f"the results folder must be shared by every node")
            self.progress.log(f"warning: {outcome.key}: {outcome.error}")
        self.progress.finished(outcome)

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        text = _error_text(trial)
        if "KeyboardInterrupt" in text:  # Ctrl-C reached the worker too: interrupted, not failed; re-run later
            return
        first = next((line.strip() for line in text.splitlines() if line.strip()), "no error text from Ray")
        self._record_crash(trial, first, detail=text)

    def on_step_end(self, iteration, trials, **info) -> None:
        self.progress.refresh()

    def _record_crash(self, trial: Any, error: str, detail: str | None = None) -> None:
        planned = self.todo[trial.config["run"]]
        outcome = record_crash(planned.prepared, self.study.results, self.study.name,
                               f"trial died: {error}", node=getattr(trial, "node_ip", None), detail=detail)
        self.progress.finished(outcome)


def _error_text(trial: Any) -> str:
    """What Tune wrote about a failed trial (read where it was written: storage may lag behind)."""
    try:
        text = Path(trial.error_file).read_text() if trial.error_file else ""
    except OSError:
        return ""
    return "\n".join(line for line in text.splitlines() if not line.startswith("Failure # "))
