"""One writer per run, a run's own memory figure, and a Ray study that ends with what it started."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from reliability_plugins import PLUGINS
from study_helpers import PLUGIN_PATH, nasbench, run_folders, write_study

from nasbench.execution.reaper import MARK, PREFIX, marked_processes
from nasbench.runner import RunRequest, execute, prepare
from nasbench.store import RunStore
from nasbench.study import register_plugins


def test_two_local_studies_into_one_folder_compute_each_run_exactly_once(tmp_path, toy_study_env):
    count_file = tmp_path / "computed.txt"
    seeds = list(range(6))
    path = write_study(tmp_path, methods={"counted": {"count_file": str(count_file), "sleep_s": 0.4}}, seeds=seeds,
                       plugins=PLUGINS)
    first, second = (nasbench("study", str(path), "--backend", "local") for _ in range(2))
    outputs = [p.communicate(timeout=300)[0] for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    computed = [int(line.split()[0]) for line in count_file.read_text().splitlines()]
    assert sorted(computed) == seeds, f"runs computed more than once or not at all: {sorted(computed)}"
    runs = run_folders(tmp_path / "results" / "toy")
    assert len(runs) == len(seeds) and {m["status"] for m in runs.values()} == {"ok"}
    assert sum(out.count("cached") for out in outputs) > 0  # the second study found runs the first finished


def _search_peaks(megabytes: list[int], results: Path) -> list[dict]:
    """The search stage's costs of a holds-memory run per size, one after the other in this process."""
    register_plugins(PLUGINS)
    costs = []
    for i, size in enumerate(megabytes):
        run = prepare(RunRequest("holds-memory", "study-task", "smoke", i, (f"megabytes={size}",)))
        outcome = execute(run, RunStore(results), log=lambda *_: None)
        costs.append(outcome.manifest["stages"]["search"])
    return costs


def test_a_small_run_after_a_large_one_in_the_same_process_reports_its_own_peak(tmp_path, toy_study_env):
    small, large = 40, 400
    script = (f"import sys, json; sys.path[:0] = {PLUGIN_PATH.split(os.pathsep)!r}; "
              f"from test_reliability import _search_peaks; from pathlib import Path; "
              f"print(json.dumps(_search_peaks([{small}], Path({str(tmp_path / 'alone')!r}))[0]))")
    alone = json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                                      timeout=300).stdout.splitlines()[-1])
    after_large = _search_peaks([large, small], tmp_path / "shared")[1]
    assert small <= alone["peak_alloc_mb"] < small * 1.5
    assert after_large["peak_alloc_mb"] == pytest.approx(alone["peak_alloc_mb"], rel=0.10)
    # the process-wide resident figure is what carried the large run over: it would fail this test
    assert after_large["peak_rss_mb"] - alone["peak_rss_mb"] > (large - small) / 2


def _wait_for(condition, timeout_s: float, step_s: float = 0.2):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step_s)
    return condition()


def test_a_killed_ray_study_leaves_no_process_and_no_temporary_folder(tmp_path, toy_study_env):
    path = write_study(tmp_path, methods={"study-sleepy": {"sleep_s": 60.0}}, seeds=[0])
    driver = nasbench("study", str(path), "--backend", "ray")
    folder = str(Path(tempfile.gettempdir()) / f"{PREFIX}{driver.pid}")
    try:  # kill once Ray's agents and a worker are up: the moment that used to leave them behind
        assert _wait_for(lambda: len(marked_processes(folder)) >= 5, 180), "Ray did not start in 180 s"
        started = marked_processes(folder)
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.communicate(timeout=30)
    assert _wait_for(lambda: not marked_processes(folder) and not Path(folder).exists(), 10), \
        f"left after 10 s: {marked_processes(folder)} of {started}, folder exists: {Path(folder).exists()}"
    assert MARK not in os.environ
