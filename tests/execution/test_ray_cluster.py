"""Slow checks of the Ray backend as a user drives it: a two-node cluster on loopback, a study killed
with SIGKILL and restarted, the committed smoke study, the scheduling overhead per trial."""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from study_helpers import PLUGIN_PATH, leftovers, nasbench, run_folders, write_study

pytestmark = pytest.mark.slow
RAY = str(Path(sys.executable).with_name("ray"))
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout=300.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def kill_group(process: subprocess.Popen) -> None:
    """Kill what a test started: the process and everything in its session (Ray's daemons included)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


def trial_log(results: Path) -> list[dict]:
    return [json.loads(line) for line in (results / "trials.jsonl").read_text().splitlines()]


@pytest.fixture
def two_node_cluster(tmp_path):
    """`ray start --head` (1 CPU) and one worker node (1 CPU) on loopback, each its own process."""
    temp_dir = tempfile.mkdtemp(prefix="nbray", dir="/tmp")  # short: Ray's socket paths have a length limit
    port = free_port()
    env = {**os.environ, "PYTHONPATH": PLUGIN_PATH, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    common = ["--block", "--num-cpus=1", "--node-ip-address=127.0.0.1", "--disable-usage-stats"]
    started = []
    try:
        started.append(subprocess.Popen([RAY, "start", "--head", f"--port={port}", f"--temp-dir={temp_dir}",
                                         "--include-dashboard=false", *common], env=env, start_new_session=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        address = f"127.0.0.1:{port}"
        wait_for(lambda: _nodes_alive(address, env) >= 1, 120, "the head node")
        started.append(subprocess.Popen([RAY, "start", f"--address={address}", *common], env=env,
                                        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for(lambda: _nodes_alive(address, env) >= 2, 120, "the worker node")
        yield address, env
    finally:
        for process in reversed(started):
            kill_group(process)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _nodes_alive(address: str, env: dict) -> int:
    out = subprocess.run([RAY, "status", f"--address={address}"], env=env, capture_output=True, text=True)
    section = out.stdout.split("Active:")[-1].split("Pending:")[0] if "Active:" in out.stdout else ""
    return sum(1 for line in section.splitlines() if "node_" in line)


def test_two_node_cluster_runs_trials_on_both_nodes(tmp_path, two_node_cluster):
    address, env = two_node_cluster
    path = write_study(tmp_path, methods={"study-sleepy": {"sleep_s": 2.0}}, seeds=[0, 1, 2, 3])
    study = subprocess.run([sys.executable, "-m", "nasbench", "study", str(path), "--address", address], env=env,
                           capture_output=True, text=True, timeout=600)
    assert study.returncode == 0, study.stdout + study.stderr
    results = tmp_path / "results" / "toy"
    assert {m["status"] for m in run_folders(results).values()} == {"ok"} and len(run_folders(results)) == 4
    nodes = {entry["node"] for entry in trial_log(results)}
    assert len(nodes) == 2, nodes  # each node has 1 CPU and each run asks for 1: both nodes took runs


def test_study_killed_with_sigkill_resumes_with_every_run_exactly_once(tmp_path):
    path = write_study(tmp_path, methods={"study-sleepy": {"sleep_s": 2.0}}, seeds=list(range(6)),
                       resources={"cpus": 2})  # one run at a time on this 2-core machine
    results = tmp_path / "results" / "toy"
    first = nasbench("study", str(path))
    try:
        wait_for(lambda: len(run_folders(results)) >= 2 or first.poll() is not None, 300, "two finished runs")
        first.send_signal(signal.SIGKILL)  # the driver only, as `kill -9 <pid>` would
        first.wait(timeout=30)
        before = run_folders(results)
        assert 2 <= len(before) < 6 and all(m["status"] == "ok" for m in before.values())

        second = nasbench("study", str(path))
        out, _ = second.communicate(timeout=600)
        assert second.returncode == 0, out
    finally:
        kill_group(first)  # Ray daemons of the killed driver, if still there
    after = run_folders(results)
    assert sorted(after) == [f"study-task/study-sleepy/seed={s}" for s in range(6)]
    assert all(m["status"] == "ok" for m in after.values()) and not leftovers(results)
    assert all(after[key] == manifest for key, manifest in before.items())  # finished runs not recomputed
    assert not list(results.glob(".tune")) and not list(results.glob("*/*/.tmp-*"))


def test_committed_smoke_study_completes_and_a_rerun_does_no_work(tmp_path, data_root):
    env = {"NASBENCH_DATA": str(data_root)}
    study = REPO / "reports" / "smoke" / "study.yaml"
    first = nasbench("study", str(study), "--results", str(tmp_path / "smoke"), env=env)
    out, _ = first.communicate(timeout=1200)
    assert first.returncode == 0, out
    runs = run_folders(tmp_path / "smoke")
    assert runs and {m["status"] for m in runs.values()} <= {"ok", "skipped"}
    second = nasbench("study", str(study), "--results", str(tmp_path / "smoke"), env=env)
    out, _ = second.communicate(timeout=600)
    assert second.returncode == 0 and f"({len(runs)} cached)" in out, out
    assert run_folders(tmp_path / "smoke") == runs


def test_scheduling_overhead_per_trial_is_below_two_seconds(tmp_path):
    """(study wall - sum of run times) / runs, one run at a time (2 CPUs each): Ray's import, start
    and stop (12-25 s on this shared 2-core machine, depending on its load) spread over 20 runs, plus
    Tune's cost per trial (about 0.1 s). Sleeping runs keep the figure about scheduling, not load."""
    path = write_study(tmp_path, methods={"study-sleepy": {"sleep_s": 2.0}}, seeds=list(range(20)),
                       resources={"cpus": 2})
    study = nasbench("study", str(path))
    out, _ = study.communicate(timeout=900)
    assert study.returncode == 0, out
    overhead = float(out.split("(wall - run times) / runs = ")[1].split(" s")[0])
    print(f"scheduling overhead per trial: {overhead:.2f} s")
    assert overhead < 2.0, out
