"""The Ray backend on a local Ray instance: the same run folders as the local backend, rows reported
per epoch, failures recorded whether the plugin raises or its process dies."""
import io
import socket
import time

import pytest
from reliability_plugins import PLUGINS
from study_helpers import curves_without_time, leftovers, run_folders, write_study

from nasbench import schema
from nasbench.execution import run_study
from nasbench.execution.ray_backend import ClusterError, ray_session
from nasbench.study import load_study, plan_study


@pytest.fixture(scope="module")
def ray_instance():
    """One local Ray instance for the module, started with the toy plugins importable by its workers."""
    with pytest.MonkeyPatch.context() as patch:
        from study_helpers import PLUGIN_PATH

        patch.setenv("PYTHONPATH", PLUGIN_PATH)
        with ray_session(None):
            yield


def quiet_run(study, backend, **kwargs):
    return run_study(study, backend, stream=io.StringIO(), interactive=False, **kwargs)


def test_local_and_ray_produce_the_same_run_folders_and_metrics(tmp_path, toy_study_env, ray_instance):
    fields = dict(methods={"study-method": {"train.epochs": 4}, "study-odd-seeds-fail": {}}, seeds=[0, 1, 2])
    local = load_study(write_study(tmp_path, **fields), results=tmp_path / "local")
    ray = load_study(write_study(tmp_path, **fields), results=tmp_path / "ray")
    local_report, ray_report = quiet_run(local, "local"), quiet_run(ray, "ray")

    local_runs, ray_runs = run_folders(local.results), run_folders(ray.results)
    assert sorted(local_runs) == sorted(ray_runs) and len(ray_runs) == 6
    for key, manifest in local_runs.items():
        other = ray_runs[key]
        for field in (schema.RUN_ID, schema.STATUS, schema.METRIC, schema.ERROR, "method_config", "task_config"):
            assert manifest.get(field) == other.get(field), (key, field)
        assert curves_without_time(local.results / key) == curves_without_time(ray.results / key)
        if manifest[schema.STATUS] == "ok":
            assert (local.results / key / schema.PREDICTIONS).read_bytes() == \
                (ray.results / key / schema.PREDICTIONS).read_bytes()
    statuses = sorted(o.status for o in ray_report.outcomes)
    assert statuses == ["failed"] + ["ok"] * 5 and "planted failure for seed 1" in ray_report.failed[0].error
    assert all(o.node for o in ray_report.outcomes) and not any(o.node for o in local_report.outcomes)
    assert ray_report.rows_reported["study-task/study-method/seed=0"] == 4  # one Tune result per epoch
    assert not leftovers(ray.results) and not (ray.results / ".tune").exists()
    assert {o.status for o in quiet_run(ray, "ray").outcomes} == {"cached", "failed"}  # only the failed re-ran


def test_a_trial_whose_process_dies_is_recorded_failed_and_the_others_finish(tmp_path, toy_study_env,
                                                                             ray_instance):
    study = load_study(write_study(tmp_path, methods=["study-process-dies", "study-method"], seeds=[0]))
    report = quiet_run(study, "ray")
    status = {o.key: o.status for o in report.outcomes}
    assert status == {"study-task/study-process-dies/seed=0": "failed", "study-task/study-method/seed=0": "ok"}
    died = run_folders(study.results)["study-task/study-process-dies/seed=0"]
    assert died["status"] == "failed" and died["error"].startswith("trial died: ") and died["crashed"]
    assert "died unexpectedly" in died["error"] and "worker process has died" in died["traceback"]
    assert died["run_id"] == plan_study(study)[0].prepared.run_id and not leftovers(study.results)


def test_runs_no_node_can_hold_are_refused_before_anything_runs(tmp_path, toy_study_env, ray_instance):
    study = load_study(write_study(tmp_path, resources={"cpus": 64}))
    with pytest.raises(ClusterError, match=r"each run asks for CPU 64, .* the nodes offer: CPU 2"):
        quiet_run(study, "ray")
    assert run_folders(study.results) == {}


@pytest.mark.parametrize("address, text", [("127.0.0.1:{port}", "no Ray cluster answers at 127.0.0.1:"),
                                           ("nowhere", "is not host:port")])
def test_an_address_where_no_cluster_answers_is_refused_at_once(tmp_path, toy_study_env, address, text):
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    study = load_study(write_study(tmp_path))
    start = time.monotonic()
    with pytest.raises(ClusterError, match=text):
        quiet_run(study, "ray", address=address.format(port=port))
    assert time.monotonic() - start < 15 and run_folders(study.results) == {}


def test_a_tune_controller_that_dies_is_restarted_for_the_unfinished_runs_only(tmp_path, toy_study_env,
                                                                               ray_instance, monkeypatch):
    """Ray's memory monitor can kill an actor while it starts; Tune then raises out of ``fit`` (seen
    in a real study while another process took the node's memory). The study goes on."""
    from nasbench.execution import ray_backend

    real_fit, calls = ray_backend._fit, []

    def dies_once(study, todo, progress, force, storage):
        calls.append([planned.request.seed for planned in todo])
        if len(calls) == 1:
            real_fit(study, todo[:1], progress, force, storage)
            raise RuntimeError("Caught unexpected exception: 1 worker(s) were killed due to the node running low")
        real_fit(study, todo, progress, force, storage)

    monkeypatch.setattr(ray_backend, "_fit", dies_once)
    study = load_study(write_study(tmp_path, methods=["study-method"], seeds=[0, 1, 2]))
    stream = io.StringIO()
    report = run_study(study, "ray", stream=stream, interactive=False)
    assert calls == [[0, 1, 2], [1, 2]]  # the finished run is not run again
    assert sorted(o.status for o in report.outcomes) == ["ok"] * 3
    assert "restarting it for the 2 unfinished runs" in stream.getvalue()
    assert len(run_folders(study.results)) == 3 and not leftovers(study.results)


def test_every_run_gets_a_fresh_worker_process(tmp_path, toy_study_env, ray_instance):
    """A reused worker keeps the heap of the runs before it and grows past resources.memory."""
    count_file = tmp_path / "computed.txt"
    study = load_study(write_study(tmp_path, methods={"counted": {"count_file": str(count_file), "sleep_s": 0.0}},
                                   seeds=[0, 1, 2], plugins=PLUGINS))
    report = quiet_run(study, "ray")
    assert sorted(o.status for o in report.outcomes) == ["ok"] * 3
    pids = [line.split()[1] for line in count_file.read_text().splitlines()]
    assert len(pids) == 3 == len(set(pids))


def test_runs_a_method_cannot_make_are_recorded_skipped_by_the_study_process(tmp_path, toy_study_env, ray_instance):
    study = load_study(write_study(tmp_path, methods=["study-cannot", "study-method"], seeds=[0, 1]))
    report = quiet_run(study, "ray")
    by_method = {(o.method, o.seed): o for o in report.outcomes}
    assert {by_method[("study-cannot", s)].status for s in (0, 1)} == {"skipped"}
    assert all(by_method[("study-cannot", s)].node is None for s in (0, 1))  # no Ray trial was started
    assert all(by_method[("study-method", s)].status == "ok" and by_method[("study-method", s)].node for s in (0, 1))
    manifest = run_folders(study.results)["study-task/study-cannot/seed=0"]
    assert manifest[schema.STATUS] == "skipped" and manifest[schema.ERROR] == "planted: this method runs on no task"
