"""A user's mistake or a broken environment: one or two lines and exit 2, before any work; exit 1 only
for runs that ran and failed, with the reason on the console; Ctrl-C says how to resume."""
import json
from pathlib import Path

import numpy as np
import pytest

from nasbench import cli, schema
from nasbench.analysis.table import completeness, runs_table
from nasbench.errors import CorruptDataError, DeviceError, ResultsFolderError
from nasbench.runner import resolve_device
from nasbench.store import RunStore, check_writable


def run_cli(capsys, *args):
    code = cli.main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("name, message", [("foo", "is not a device name"), ("cuda:99", "is not available")])
def test_a_device_this_machine_lacks_is_refused_with_the_valid_names(name, message):
    with pytest.raises(DeviceError, match=message) as caught:
        resolve_device(name)
    assert "valid here: cpu" in str(caught.value)
    assert resolve_device("cpu").type == "cpu"


def test_results_that_are_a_file_or_unwritable_are_refused_before_any_work(tmp_path, capsys, toy_plugins):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    code, out, err = run_cli(capsys, "run", "toy-method", "toy-task", "--results", a_file)
    assert code == 2 and "is a file, not a folder" in err and "--results DIR" in err and out == ""
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2
    with pytest.raises(ResultsFolderError, match="cannot be written"):
        check_writable(Path("/proc/nasbench-not-here"))


def test_train_ranges_are_checked_up_front(tmp_path, capsys, toy_plugins):
    for setting, valid in (("train.momentum=-3", "0 <= momentum <= 1"), ("train.weight_decay=-1", ">= 0"),
                           ("train.grad_clip=0", "None or a number > 0"), ("train.gamma=0", "> 0")):
        code, _, err = run_cli(capsys, "run", "toy-method", "toy-task", "--set", setting, "--results", tmp_path / "r")
        assert code == 2 and valid in err, (setting, err)
    assert not (tmp_path / "r").exists()


def test_a_failed_run_prints_its_reason_and_where_the_traceback_is(tmp_path, capsys, toy_plugins):
    code, out, err = run_cli(capsys, "run", "toy-method", "toy-task", "--set", "fail=True", "--results", tmp_path)
    assert code == 1 and "run failed: RuntimeError: planted failure" in err
    manifest_path = tmp_path / "toy-task" / "toy-method" / "seed=0" / "manifest.json"
    assert f"traceback: {manifest_path}" in err and "Traceback" in json.loads(manifest_path.read_text())["traceback"]


def test_ctrl_c_in_a_run_says_how_to_resume(tmp_path, capsys, toy_plugins, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("nasbench.runner._run_stages", interrupted)
    code, _, err = run_cli(capsys, "run", "toy-method", "toy-task", "--results", tmp_path)
    assert code == 130 and err.startswith("interrupted:") and "run the same command again" in err
    assert "Traceback" not in err and not list(tmp_path.glob("*/*/seed=0"))


def test_a_truncated_manifest_is_reported_as_corrupt_not_missing(tmp_path, capsys, toy_plugins):
    for seed in (0, 1):
        assert run_cli(capsys, "run", "toy-method", "toy-task", "--seed", seed, "--results", tmp_path)[0] == 0
    manifest = tmp_path / "toy-task" / "toy-method" / "seed=1" / schema.MANIFEST
    manifest.write_text(manifest.read_text()[:100])
    problems = completeness(runs_table(tmp_path))
    assert problems[["seed", "problem"]].values.tolist() == [[1, "corrupt"]]
    assert "corrupt manifest" in problems["detail"][0] and "not valid JSON" in problems["detail"][0]
    assert [m[schema.STATUS] for _, m in RunStore(tmp_path).manifests()] == ["ok"]  # resuming ignores it


@pytest.fixture
def generated_darcy(tmp_path, monkeypatch):
    """A tiny generated Darcy Flow folder (both parts) written by the task's own writer."""
    from nasbench.tasks.nb360 import darcyflow

    monkeypatch.setenv("NASBENCH_DATA", str(tmp_path / "data"))
    task = darcyflow.DarcyFlow(darcyflow.DarcyFlow.default_config("smoke"))
    rng = np.random.default_rng(0)
    for part, n in task._needed().items():
        size = task.config.size
        fields = rng.random((n, size, size)), rng.random((n, size, size))
        darcyflow._save_generated(task.generated_path(part, n), *fields,
                                  {"part": part, "n": n, "seed": 0, "approx": False, "generator": "test"})
    return task


@pytest.mark.parametrize("damage, said", [("no-n", r"lacks the key\(s\) n"), ("not-json", "is not JSON"),
                                          ("empty", "is empty"), ("missing", "is missing")])
def test_a_broken_sidecar_is_reported_and_never_regenerated_over(generated_darcy, damage, said):
    task = generated_darcy
    mat = task.generated_path("smooth1", task._needed()["smooth1"])
    sidecar = mat.with_suffix(".json")
    if damage == "no-n":
        sidecar.write_text(json.dumps({k: v for k, v in json.loads(sidecar.read_text()).items() if k != "n"}))
    elif damage == "missing":
        sidecar.unlink()
    else:
        sidecar.write_text("" if damage == "empty" else "{oops")
    before = (mat.read_bytes(), mat.stat().st_mtime_ns)
    for action in (task.verify, lambda: task.load(allow_generate=True, log=lambda *_: None)):
        with pytest.raises(CorruptDataError, match=said) as caught:
            action()
        assert f"delete {mat}" in str(caught.value)
    assert (mat.read_bytes(), mat.stat().st_mtime_ns) == before


def test_check_and_list_show_where_each_tasks_data_stands(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NASBENCH_DATA", str(tmp_path / "empty"))
    code, out, _ = run_cli(capsys, "check", "--budget", "smoke")
    data_section = out.split("\ndata")[1].split("\nmethods:")[0]
    rows = {line.split()[0]: line for line in data_section.splitlines()[1:]}
    assert code == 0 and "generated on demand" in rows["darcyflow"] and "--generate" in rows["darcyflow"]
    assert "needs download" in rows["cifar10"] and "nasbench data cifar10 --download" in rows["cifar10"]
    cifar = next(line for line in out.splitlines() if line.startswith("cifar10 "))
    assert "needs data" in cifar and "runs" not in cifar  # not "runs" for a task whose data is absent
    code, out, _ = run_cli(capsys, "list", "--data")
    assert code == 0 and "needs download" in out and "generated on demand" in out
