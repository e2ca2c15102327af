import csv
import json

import pytest
import torch

from nasbench import schema
from nasbench.contracts import Split, TaskView
from nasbench.errors import ConfigError, RunConflictError, UnknownNameError
from nasbench.runner import RunRequest, execute, prepare
from nasbench.store import RunStore


def run(tmp_path, *overrides, seed=0, force=False, method="toy-method", task="toy-task"):
    prepared = prepare(RunRequest(method, task, "smoke", seed, tuple(overrides)))
    return execute(prepared, RunStore(tmp_path), force=force, log=lambda s: None)


def test_run_writes_every_file_with_costs_and_provenance(tmp_path, toy_plugins):
    outcome = run(tmp_path)
    assert outcome.status == "ok"
    files = {p.name for p in outcome.run_dir.iterdir()}
    assert {schema.MANIFEST, schema.CURVES, schema.ARCH, schema.FINAL, schema.PREDICTIONS} <= files
    manifest = json.loads((outcome.run_dir / schema.MANIFEST).read_text())
    assert manifest["data_source"] == "fixture" and manifest["budget"] == "smoke"
    for stage in ("data", "search", "tune", "retrain", "evaluate"):
        assert {"wall_s", "cpu_s", "peak_rss_mb"} <= set(manifest["stages"][stage])
    assert manifest["versions"]["torch"] == torch.__version__
    arch = json.loads((outcome.run_dir / schema.ARCH).read_text())
    assert arch["choices"] == {"hidden": 8} and arch["cost"]["params"] == 32 * 8 + 8 + 8 * 2 + 2
    assert arch["cost"]["macs"] == 32 * 8 + 8 * 2
    rows = list(csv.DictReader((outcome.run_dir / schema.CURVES).open()))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"] and all(r["stage"] == "retrain" for r in rows)
    assert manifest["metric"]["error"] == pytest.approx(1 - manifest["metric"]["value"])


def test_metric_equals_recomputation_from_saved_predictions(tmp_path, toy_plugins):
    task_cls, _ = toy_plugins
    outcome = run(tmp_path)
    saved = torch.load(outcome.run_dir / schema.PREDICTIONS)["predictions"]
    test = task_cls(task_cls.default_config("smoke")).load().test
    accuracy = (saved.argmax(1) == test.targets).float().mean().item()
    assert outcome.manifest["metric"]["value"] == pytest.approx(accuracy)


def test_finished_run_is_cached_and_conflicts_are_refused(tmp_path, toy_plugins):
    first = run(tmp_path)
    loads = toy_plugins[0].loads
    again = run(tmp_path)
    assert again.status == "cached" and toy_plugins[0].loads == loads  # no work at all
    assert again.manifest["run_id"] == first.manifest["run_id"]
    with pytest.raises(RunConflictError):
        run(tmp_path, "hidden=4")
    assert run(tmp_path, "hidden=4", force=True).manifest["method_config"]["hidden"] == 4


def test_same_seed_same_result_other_seed_other_run(tmp_path, toy_plugins):
    a = run(tmp_path / "a", seed=3).manifest
    b = run(tmp_path / "b", seed=3).manifest
    c = run(tmp_path / "a", seed=4).manifest
    assert a["metric"] == b["metric"] and a["run_id"] == b["run_id"] != c["run_id"]


def test_method_sees_train_and_val_only(tmp_path, toy_plugins):
    run(tmp_path)
    assert toy_plugins[1].seen_splits == ["train", "val"]
    view = TaskView(toy_plugins[0](toy_plugins[0].default_config("smoke")))
    with pytest.raises(PermissionError):
        view.score(torch.zeros(2, 2), Split("test", torch.zeros(2, 1), torch.zeros(2)))


@pytest.mark.parametrize("override, text", [("fail=True", "planted failure"), ("nan=True", "TrainingDiverged")])
def test_failures_are_recorded_not_raised(tmp_path, toy_plugins, override, text):
    outcome = run(tmp_path, override)
    assert outcome.status == "failed" and text in outcome.manifest["error"]
    assert json.loads((outcome.run_dir / schema.MANIFEST).read_text())["status"] == "failed"


def test_unsupported_pair_is_skipped_with_reason(tmp_path, toy_plugins, isolated_data):
    outcome = run(tmp_path, task="darcyflow")
    assert outcome.status == "skipped" and "1D tasks only" in outcome.manifest["error"]


def test_bad_input_is_rejected_before_any_work(toy_plugins):
    with pytest.raises(UnknownNameError):
        prepare(RunRequest("toy-methd", "toy-task"))
    with pytest.raises(ConfigError):
        prepare(RunRequest("toy-method", "toy-task", overrides=("train.lr=oops",)))
    with pytest.raises(UnknownNameError):
        prepare(RunRequest("toy-method", "toy-task", budget="huge"))


def test_a_run_records_what_a_constant_prediction_scores_on_its_test_split(tmp_path, toy_plugins):
    task_cls, _ = toy_plugins
    manifest = run(tmp_path).manifest
    test = task_cls(task_cls.default_config("smoke")).load().test
    majority = max((test.targets == label).float().mean().item() for label in (0, 1))  # by hand
    constant = manifest["data"]["constant_baseline"]
    assert constant["value"] == pytest.approx(majority) and constant["error"] == pytest.approx(1 - majority)
    assert 0.5 <= constant["value"] < 1.0 and "ignores its input" in constant["rule"]
