"""The local backend, the progress line and the summary; Ctrl-C on a running study."""
import io
import re
import signal
import time

import pytest
from study_helpers import leftovers, nasbench, run_folders, write_study
from study_plugins import StudyTask

from nasbench.errors import UnknownNameError
from nasbench.execution import run_study, study_command
from nasbench.execution.progress import Progress, summary_table
from nasbench.execution.trial import TrialOutcome
from nasbench.study import StudyError, load_study


def quiet_run(study, backend="local", **kwargs):
    return run_study(study, backend, stream=io.StringIO(), interactive=False, **kwargs)


def test_failed_run_is_recorded_others_finish_and_rerun_redoes_only_failed(tmp_path, toy_study_env):
    study = load_study(write_study(tmp_path, methods=["study-method", "study-odd-seeds-fail"]))
    report = quiet_run(study)
    status = {o.key: o.status for o in report.outcomes}
    assert status == {"study-task/study-method/seed=0": "ok", "study-task/study-method/seed=1": "ok",
                      "study-task/study-odd-seeds-fail/seed=0": "ok",
                      "study-task/study-odd-seeds-fail/seed=1": "failed"}
    assert "planted failure for seed 1" in report.failed[0].error
    folders = run_folders(study.results)
    assert {k: m["status"] for k, m in folders.items()} == status and not leftovers(study.results)

    loads = StudyTask.loads
    again = quiet_run(study)
    assert {o.key: o.status for o in again.outcomes} == {**{k: "cached" for k in status if status[k] == "ok"},
                                                         "study-task/study-odd-seeds-fail/seed=1": "failed"}
    assert StudyTask.loads == loads + 1  # only the failed run loaded data again
    for key, manifest in run_folders(study.results).items():
        assert status[key] == "failed" or manifest == folders[key]  # finished runs untouched


def test_run_above_its_memory_is_recorded_failed(tmp_path, toy_study_env):
    study = load_study(write_study(tmp_path, seeds=[0], resources={"cpus": 1, "memory": "1MB"}))
    (outcome,) = quiet_run(study).outcomes
    assert outcome.status == "failed" and "MemoryLimitExceeded" in outcome.error
    assert "above resources.memory = 1 MB" in outcome.error


def test_runs_use_the_study_cpus_as_torch_threads(tmp_path, toy_study_env):
    study = load_study(write_study(tmp_path, seeds=[0], resources={"cpus": 1}))
    quiet_run(study)
    assert run_folders(study.results)["study-task/study-method/seed=0"]["host"]["torch_threads"] == 1


def test_backend_and_address_are_checked(tmp_path, toy_study_env):
    study = load_study(write_study(tmp_path))
    with pytest.raises(UnknownNameError, match="unknown backend 'dask'.*Valid backends: local, ray"):
        quiet_run(study, backend="dask")
    with pytest.raises(StudyError, match="--address 1.2.3.4:6379 joins a Ray cluster; it needs --backend ray"):
        quiet_run(study, address="1.2.3.4:6379")
    assert not study.results.exists()


def test_study_command_prints_the_summary_and_fails_when_a_run_failed(tmp_path, toy_study_env, capsys):
    path = write_study(tmp_path, methods=["study-odd-seeds-fail"])
    assert study_command(path, "local") == 1
    out = capsys.readouterr().out
    assert "study-task  study-odd-seeds-fail  1     failed" in out and "planted failure for seed 1" in out
    assert "study toy: 2/2 runs (1 failed, 1 ok)" in out


def outcome(seed, status, run_s=1.0, error=None):
    return TrialOutcome("t", "m", seed, status, run_wall_s=run_s, error=error,
                        metric_error=0.25 if status == "ok" else None, error_name="0-1 error")


def test_progress_line_counts_and_estimates_remaining_time():
    now = [0.0]
    out = io.StringIO()
    progress = Progress("s", 5, [outcome(0, "cached")], stream=out, interactive=False, clock=lambda: now[0])
    progress.started("t/m/seed=1")
    assert progress.line() == "study s: 1/5 done (0 failed, 1 cached), 1 running, 0:00 elapsed, ~? left"
    now[0] = 30.0
    progress.finished(outcome(1, "ok"))
    progress.started("t/m/seed=2")
    now[0] = 60.0
    progress.finished(outcome(2, "failed", error="RuntimeError: boom"))
    # 2 runs finished here in 60 s, 2 to go: about 60 s left
    assert progress.line() == "study s: 3/5 done (1 failed, 1 cached), 0 running, 1:00 elapsed, ~1:00 left"
    assert "failed: t/m/seed=2: RuntimeError: boom" in out.getvalue()


def test_summary_table_lists_every_run_and_why_one_failed():
    table = summary_table([outcome(0, "ok"), outcome(1, "failed", None, "RuntimeError: boom")])
    lines = table.splitlines()
    assert lines[0].split() == ["task", "method", "seed", "status", "test", "error", "run", "s", "node"]
    assert lines[2].split() == ["t", "m", "0", "ok", "0.25", "(0-1", "error)", "1.0", "-"]
    assert lines[3].split() == ["t", "m", "1", "failed", "-", "-", "-"]
    assert lines[-1] == "  t/m/seed=1: RuntimeError: boom"


def wait_for(predicate, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_ctrl_c_keeps_finished_runs_leaves_nothing_half_written_and_resume_completes(tmp_path):
    path = write_study(tmp_path, methods={"study-sleepy": {"sleep_s": 1.0}}, seeds=[0, 1, 2, 3])
    results = tmp_path / "results" / "toy"
    first = nasbench("study", str(path), "--backend", "local")
    wait_for(lambda: len(run_folders(results)) >= 1 or first.poll() is not None)
    first.send_signal(signal.SIGINT)
    out, _ = first.communicate(timeout=60)
    assert first.returncode == 130 and "run the same command again to resume" in out, out
    before = run_folders(results)
    assert 1 <= len(before) < 4 and all(m["status"] == "ok" for m in before.values()) and not leftovers(results)

    second = nasbench("study", str(path), "--backend", "local")
    out, _ = second.communicate(timeout=120)
    assert second.returncode == 0, out
    after = run_folders(results)
    assert sorted(after) == [f"study-task/study-sleepy/seed={s}" for s in range(4)] and not leftovers(results)
    assert all(after[key] == manifest for key, manifest in before.items())  # not recomputed
    assert len(re.findall(r"study-sleepy +\d +cached", out)) == len(before)
