"""The command line as a user types it."""
import json
import os
import subprocess
import sys

import pytest
import torch

from nasbench.registry import tasks
from nasbench.tasks.nb360.darcyflow import relative_l2

NASBENCH = [sys.executable, "-m", "nasbench"]


def nasbench(*args, data_root, cwd=None):
    env = {**os.environ, "NASBENCH_DATA": str(data_root)}
    return subprocess.run([*NASBENCH, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=900)


def test_list_shows_builtin_plugins(data_root):
    out = nasbench("list", data_root=data_root)
    assert out.returncode == 0 and "wrn" in out.stdout and "darcyflow" in out.stdout
    described = [name for name in tasks.names() if tasks.get(name).description]
    for name in described:  # each description on the line below its name, read without importing the plugin
        lines = out.stdout.splitlines()
        row = next(i for i, line in enumerate(lines) if line.split()[:1] == [name])
        assert lines[row + 1].strip() == tasks.get(name).description


def test_unknown_method_exits_nonzero_listing_valid_names(data_root):
    out = nasbench("run", "nosuchmethod", "darcyflow", data_root=data_root)
    assert out.returncode != 0
    assert "unknown method 'nosuchmethod'" in out.stderr and "wrn" in out.stderr


def test_bad_override_is_rejected_before_any_work(tmp_path):
    out = nasbench("run", "wrn", "darcyflow", "--set", "train.lr=oops", "--results", str(tmp_path / "r"),
                   data_root=tmp_path / "data")
    assert out.returncode == 2 and "train.lr='oops'" in out.stderr
    assert not (tmp_path / "data").exists() and not (tmp_path / "r").exists()


def test_data_path_names_where_files_are_looked_for(tmp_path):
    out = nasbench("data", "darcyflow", "--path", data_root=tmp_path)
    assert out.returncode == 0 and "missing" in out.stdout
    assert str(tmp_path / "nb360" / "darcyflow" / "piececonst_r421_N1024_smooth1.mat") in out.stdout


def test_smoke_run_writes_a_complete_folder_and_is_not_repeated(tmp_path, data_root):
    results = tmp_path / "results"
    out = nasbench("run", "wrn", "darcyflow", "--budget", "smoke", "--results", str(results), data_root=data_root)
    assert out.returncode == 0, out.stderr
    run_dir = results / "darcyflow" / "wrn" / "seed=0"
    assert {p.name for p in run_dir.iterdir()} >= {"manifest.json", "curves.csv", "arch.json", "final.json",
                                                   "predictions.pt"}
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "ok" and manifest["data_source"] == "generated"
    # recompute the metric independently: saved (decoded) predictions against the raw test fields
    from nasbench.tasks.nb360.darcyflow import DarcyFlow

    os.environ["NASBENCH_DATA"] = str(data_root)
    try:
        task = DarcyFlow(DarcyFlow.default_config("smoke"))
        test = task.load(allow_generate=False).test
    finally:
        del os.environ["NASBENCH_DATA"]
    saved = torch.load(run_dir / "predictions.pt")["predictions"]
    expected = relative_l2(saved.double(), test.targets.double()).mean().item()
    assert manifest["metric"]["value"] == pytest.approx(expected, rel=1e-5)
    assert json.loads((run_dir / "final.json").read_text())["value"] == manifest["metric"]["value"]

    again = nasbench("run", "wrn", "darcyflow", "--budget", "smoke", "--results", str(results), data_root=data_root)
    assert again.returncode == 0 and "already finished" in again.stdout
    assert json.loads((run_dir / "manifest.json").read_text())["finished_at"] == manifest["finished_at"]


def test_check_prints_the_method_task_matrix(data_root):
    out = nasbench("check", "--budget", "smoke", data_root=data_root)
    assert out.returncode == 0, out.stderr
    header, *rows = out.stdout.splitlines()
    assert "wrn" in header.split()
    darcy = next(r for r in rows if r.startswith("darcyflow"))
    assert darcy.split()[1 + header.split()[1:].index("wrn")] == "runs"
    described = {name: tasks.get(name).description for name in tasks.names()}
    assert all(f"  {name:<16} {text or '(no description)'}" in out.stdout for name, text in described.items())
