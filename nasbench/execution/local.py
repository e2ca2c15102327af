"""The local backend: the study's runs one after the other, in this process (debugging and tests).

Each run goes through the same ``run_trial`` as a Ray trial does, with the study's resources. An
error that escapes the runner (a plugin that cannot be imported, a conflicting run that appeared
meanwhile) is recorded as a failed run, as the Ray backend does with a trial that errors; Ctrl-C
stops the study, and the run in progress leaves nothing behind.
"""
from __future__ import annotations

import traceback
from functools import partial

import torch

from nasbench.execution.progress import Progress
from nasbench.execution.trial import make_spec, record_crash, run_trial
from nasbench.study import PlannedRun, Study, StudyError


def run_local(study: Study, todo: list[PlannedRun], progress: Progress, *, force: bool = False) -> None:
    if study.resources.gpus > 0 and not torch.cuda.is_available():
        raise StudyError(f"study {study.name} asks for resources.gpus = {study.resources.gpus}, but this machine "
                         f"has no CUDA device; set gpus: 0, or use --backend ray on a cluster with GPUs")
    for planned in todo:
        spec = make_spec(study, planned, force)
        progress.started(spec.key)
        try:
            outcome = run_trial(spec, on_row=partial(progress.row, spec.key), log=progress.log)
        except Exception as exc:  # outside the runner's own recording; keep going like a Ray trial error
            outcome = record_crash(planned.prepared, study.results, study.name, f"{type(exc).__name__}: {exc}",
                                   detail=traceback.format_exc())
        progress.finished(outcome)
