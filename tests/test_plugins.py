"""Plugins from outside the suite (issue 9).

The example distribution ``examples/nasbench-randomsearch`` is built and installed with pip into a
temporary folder that goes on ``PYTHONPATH`` (entry points are found in its ``*.dist-info``; the test
environment itself is never modified), then listed, run, checked with ``nasbench.testing`` and run in a
study. Plugin problems are reported clearly, from distributions written on disk. The contract checks
catch what they claim to catch.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from nasbench import cli, runner, schema
from nasbench.contracts import MetricSpec, SearchMethod, Task, TaskShape
from nasbench.errors import NasBenchError, PluginError
from nasbench.registry import Registry
from nasbench.testing import (
    METHOD_CHECKS,
    METHOD_HOOKS,
    ContractError,
    SmokeTask,
    Watch,
    WatchedRun,
    check_method,
    check_task,
    missing_hooks,
    shape_kind,
    smoke_task,
    smoke_tasks,
)
from nasbench.testing.runs import device_ok as device_check  # the one check a CPU-only machine cannot trigger in a run

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "nasbench-randomsearch"
GUIDE = ROOT / "docs" / "plugins.md"


# -- installing distributions -----------------------------------------------------------------------
def pip_install(source: Path, site: Path) -> None:
    """``pip install --target site`` of a copy of ``source`` (the build leaves nothing in the checkout)."""
    copy = site.parent / f"src-{source.name}"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-q",
                           "--target", str(site), str(copy)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr


def run_with(site: Path, *args: str, data: Path, timeout: int = 900):
    """``python ARGS`` with ``site`` on PYTHONPATH, as a user's shell with the plugin installed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
           "NASBENCH_DATA": str(data)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture(scope="session")
def example_site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("plugin-site") / "site"
    pip_install(EXAMPLE, site)
    return site


def write_study(root: Path, methods: list[str], tasks: list[str], seeds: list[int]) -> Path:
    """A study that names plugins only by name: no ``plugins:`` key, so every process uses entry points."""
    path = root / "reports" / "plugin-demo" / "study.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"budget": "smoke", "seeds": seeds, "methods": methods, "tasks": tasks,
                                    "resources": {"cpus": 1}, "results": str(root / "results")}))
    return path


def manifests(results: Path) -> dict[str, dict]:
    return {str(p.parent.relative_to(results)): json.loads(p.read_text()) for p in results.glob(schema.RUN_GLOB)}


# -- the example plugin, installed ------------------------------------------------------------------
def test_installed_example_is_listed_with_its_distribution(example_site, tmp_path):
    out = run_with(example_site, "-m", "nasbench", "list", data=tmp_path)
    assert out.returncode == 0, out.stderr
    listed = r"randomsearch\s+nasbench_randomsearch\.method:RandomSearch\s+\[nasbench-randomsearch\]"
    assert re.search(listed, out.stdout)
    assert re.search(r"tones\s+nasbench_randomsearch\.tones:Tones\s+\[nasbench-randomsearch\]", out.stdout)
    assert (example_site / "nasbench_randomsearch-0.1.0.dist-info" / "entry_points.txt").is_file()


def test_example_runs_through_nasbench_run(example_site, tmp_path):
    out = run_with(example_site, "-m", "nasbench", "run", "randomsearch", "tones", "--budget", "smoke",
                   "--results", str(tmp_path / "results"), data=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    run_dir = tmp_path / "results" / "tones" / "randomsearch" / "seed=0"
    manifest = json.loads((run_dir / schema.MANIFEST).read_text())
    assert manifest["status"] == "ok" and manifest["data_source"] == "generated"
    assert manifest["method_config"]["candidates"] == 3 and "3 candidates" in manifest["budget_notes"]["method"]
    arch = json.loads((run_dir / schema.ARCH).read_text())
    space = arch["search_space"]
    assert space["id"] == "dash-kd" and len(arch["choices"]["kernels"]) == space["layers"] == 9
    assert all(k in space["K"] and d in space["D"] for k, d in arch["choices"]["kernels"])
    best = arch["details"]["candidates"][arch["details"]["best"]]
    assert best["kernels"] == arch["choices"]["kernels"] and len(arch["details"]["candidates"]) == 3
    search_rows = [line for line in (run_dir / schema.CURVES).read_text().splitlines() if line.startswith("search,")]
    assert len(search_rows) == 3  # one epoch per candidate, each row tagged with its candidate


def test_example_passes_the_contract_checks(example_site, tmp_path):
    code = ("from nasbench.testing import check_method, check_task; "
            "print(check_method('randomsearch', task='tones')); print(check_task('tones'))")
    out = run_with(example_site, "-c", code, data=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "(from nasbench-randomsearch)" in out.stdout and "failed" not in out.stdout
    assert out.stdout.count("ok      determinism") == 2 and "ok      test-split" in out.stdout


def test_example_runs_in_a_study_on_the_local_backend(example_site, tmp_path):
    study = write_study(tmp_path, ["randomsearch", "wrn"], ["tones"], [0])
    out = run_with(example_site, "-m", "nasbench", "study", str(study), "--backend", "local", data=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    runs = manifests(tmp_path / "results")
    assert sorted(runs) == ["tones/randomsearch/seed=0", "tones/wrn/seed=0"]
    assert all(m["status"] == "ok" and m["study"] == "plugin-demo" for m in runs.values())


@pytest.mark.slow
def test_example_runs_in_a_ray_study_resolved_in_the_workers(example_site, tmp_path):
    study = write_study(tmp_path, ["randomsearch"], ["tones"], [0, 1])
    out = run_with(example_site, "-m", "nasbench", "study", str(study), "--backend", "ray", data=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    trials = [json.loads(line) for line in (tmp_path / "results" / "trials.jsonl").read_text().splitlines()]
    assert sorted(t["seed"] for t in trials) == [0, 1]
    assert all(t["status"] == "ok" and t["node"] and t["backend"] == "ray" for t in trials)  # ran in Ray workers
    assert {m["status"] for m in manifests(tmp_path / "results").values()} == {"ok"}


@pytest.mark.slow
def test_example_passes_the_checks_on_the_darcy_flow_fixture(example_site, tmp_path):
    out = run_with(example_site, "-c", "from nasbench.testing import check_method; print(check_method('randomsearch'))",
                   data=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"on {smoke_tasks()[0][0].name} (smoke)" in out.stdout and "fixture data" in out.stdout


def guide_block(first_line: str) -> str:
    """The fenced code block of docs/plugins.md whose first line is ``first_line``."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", GUIDE.read_text(), flags=re.S)
    return next(b for b in blocks if b.startswith(first_line + "\n"))


def test_the_quick_start_of_the_guide_works_as_written(tmp_path):
    """The issue's acceptance test: a package written from docs/plugins.md alone, installed with pip."""
    package = tmp_path / "my-nas"
    (package / "src" / "my_nas").mkdir(parents=True)
    (package / "pyproject.toml").write_text(guide_block("# pyproject.toml"))
    (package / "src" / "my_nas" / "__init__.py").write_text("")
    (package / "src" / "my_nas" / "method.py").write_text(guide_block("# src/my_nas/method.py"))
    site = tmp_path / "site"
    pip_install(package, site)
    listed = run_with(site, "-m", "nasbench", "list", data=tmp_path)
    assert re.search(r"my-method\s+my_nas\.method:MyMethod\s+\[my-nas\]", listed.stdout), listed.stdout + listed.stderr
    checked = run_with(site, "-c", "from nasbench.testing import check_method; print(check_method('my-method'))",
                       data=tmp_path)
    assert checked.returncode == 0 and "on satellite (smoke)" in checked.stdout, checked.stdout + checked.stderr


# -- plugin problems, from distributions on disk ----------------------------------------------------
def fake_distribution(site: Path, dist: str, entry_points: dict[str, dict[str, str]],
                      modules: dict[str, str] | None = None) -> None:
    """What pip leaves of a distribution: ``*.dist-info`` with METADATA and entry_points.txt, and modules."""
    info = site / f"{dist.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
    groups = [f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in eps.items())
              for group, eps in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(groups))
    for name, source in (modules or {}).items():
        (site / f"{name}.py").write_text(source)


@pytest.fixture
def plugin_site(tmp_path, monkeypatch):
    """A folder on sys.path for fake distributions, and fresh registries in the CLI and the runner that
    read the entry points again (the process-wide ones have read them already)."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    fresh = {"methods": Registry("method", "nasbench.methods"), "tasks": Registry("task", "nasbench.tasks")}
    for module in (cli, runner):
        for kind, registry in fresh.items():
            monkeypatch.setattr(module, kind, registry)
    before = set(sys.modules)
    yield site
    for name in set(sys.modules) - before:
        if name.startswith("nb_fake_"):
            del sys.modules[name]


def cli_main(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_plugin_that_fails_to_import_is_named_with_its_distribution(plugin_site, tmp_path, capsys):
    fake_distribution(plugin_site, "nasbench-broken", {"nasbench.methods": {"broken-method": "nb_fake_broken:Broken"}},
                      {"nb_fake_broken": "raise ImportError('needs libfoo, which is not installed')\n"})
    code, out, _ = cli_main(capsys, "list")
    assert code == 0 and re.search(r"broken-method\s+nb_fake_broken:Broken\s+\[nasbench-broken\]", out)
    code, _, err = cli_main(capsys, "run", "broken-method", "darcyflow", "--results", str(tmp_path / "r"))
    assert code == 2
    assert "'broken-method'" in err and "(from nasbench-broken)" in err and "ImportError: needs libfoo" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("name, other", [("twin", "nasbench-twin-b"), ("wrn", "nasbench")])
def test_two_distributions_declaring_one_name_is_an_error_naming_both(plugin_site, capsys, name, other):
    fake_distribution(plugin_site, "nasbench-twin-a", {"nasbench.methods": {name: "nb_fake_a:A"}})
    if other != "nasbench":  # else the suite itself declares the other "wrn"
        fake_distribution(plugin_site, other, {"nasbench.methods": {name: "nb_fake_b:B"}})
    code, _, err = cli_main(capsys, "list")
    assert code == 2 and f"method {name!r} is declared twice" in err
    assert "(from nasbench-twin-a)" in err and f"(from {other})" in err and "Uninstall one" in err


def test_an_entry_point_name_differing_from_the_class_name_is_refused_with_both(plugin_site, tmp_path, capsys):
    fake_distribution(plugin_site, "nasbench-alias", {"nasbench.methods": {"alias": "nb_fake_alias:Named"}},
                      {"nb_fake_alias": "from nasbench.methods.wrn import WRN\n\n\n"
                                        "class Named(WRN):\n    name = 'named'\n"})
    code, _, err = cli_main(capsys, "run", "alias", "darcyflow", "--results", str(tmp_path / "r"))
    assert code == 2 and "entry point 'alias'" in err and "name is 'named'" in err and "must be equal" in err


class NoRetrain(SearchMethod):
    name = "no-retrain"
    citation = "tests"

    @dataclass(frozen=True)
    class Config:
        width: int = 4

    @classmethod
    def default_config(cls, budget, task):
        return cls.Config()

    def search(self, ctx):
        return {"backbone": "none", "choices": {"width": self.config.width}}


class NoScore(Task):
    name = "no-score"
    family = "test"
    citation = "tests"
    metric = MetricSpec("accuracy", "max", "0-1 error")

    @dataclass(frozen=True)
    class Config:
        n: int = 8

    @classmethod
    def default_config(cls, budget):
        return cls.Config()

    @property
    def shape(self):
        return TaskShape(dims=1, in_channels=1, input_size=(4,), output="classes", num_outputs=2)

    def load(self, allow_generate=True, log=print):
        raise AssertionError("the checks must stop before loading a task that lacks a hook")

    def loss(self, output, target):
        return nn.functional.cross_entropy(output, target)


def test_a_missing_hook_fails_the_contract_check_with_the_hook_name(toy_plugins):
    with pytest.raises(ContractError) as info:
        check_method(NoRetrain, task="toy-task")
    message = str(info.value)
    assert "hooks: NoRetrain lacks the required hook(s) retrain" in message
    assert "retrain(self, ctx, arch, hparams) -> nn.Module" in message and isinstance(info.value, NasBenchError)
    assert info.value.report.status("smoke") == "skipped" and missing_hooks(NoRetrain, METHOD_HOOKS) == ["retrain"]

    with pytest.raises(ContractError, match=r"hooks: NoScore lacks the required hook\(s\) score: define score"):
        check_task(NoScore)


def test_an_unknown_name_fails_the_registry_check_with_close_names():
    with pytest.raises(ContractError, match=r"registry: unknown method 'wrm'. Did you mean 'wrn'"):
        check_method("wrm")


# -- what the contract checks catch ----------------------------------------------------------------
def test_a_method_keeping_the_contract_passes_every_check(toy_plugins):
    report = check_method(toy_plugins[1], task="toy-task")
    assert [(r.name, r.status) for r in report.results] == [(name, "ok") for name in METHOD_CHECKS]
    assert "registered by the check" not in str(report) and "toy-task" in report.subject


def test_a_method_reading_the_test_split_is_caught(toy_plugins):
    class PeeksAtTest(toy_plugins[1]):
        name = "peeks-at-test"

        def search(self, ctx):
            test = ctx.task._task.load().test  # the task object behind the view: not allowed
            self.leak = float(test.targets.float().mean())
            return super().search(ctx)

    report = check_method(PeeksAtTest, task="toy-task", skip=("determinism",), raise_on_failure=False)
    failed = {r.name: r.detail for r in report.failures}
    assert list(failed) == ["test-split"] and report.status("smoke") == "ok"
    assert "the task's data were loaded (task.load) during search" in failed["test-split"]
    assert "the test split's targets were read during search" in failed["test-split"]


def test_a_method_seeding_globally_or_reading_the_clock_is_caught(toy_plugins):
    class Impatient(toy_plugins[1]):
        name = "impatient"

        def search(self, ctx):
            torch.manual_seed(1234)
            self.started = time.perf_counter()
            return super().search(ctx)

    report = check_method(Impatient, task="toy-task", skip=("determinism",), raise_on_failure=False)
    failed = {r.name: r.detail for r in report.failures}
    assert list(failed) == ["global-state"]
    assert "torch.manual_seed() seeded a global generator during search" in failed["global-state"]
    assert "time.perf_counter() read the clock during search" in failed["global-state"]
    assert torch.manual_seed.__module__ == "torch.random" and time.perf_counter.__module__ == "time"  # restored


def test_a_method_drawing_from_an_unseeded_generator_is_caught(toy_plugins):
    class Unseeded(toy_plugins[1]):
        name = "unseeded"

        def search(self, ctx):
            arch = super().search(ctx)
            arch["choices"]["salt"] = int(np.random.default_rng().integers(2 ** 62))  # OS entropy, not ctx.rng
            return arch

    with pytest.raises(ContractError) as info:
        check_method(Unseeded, task="toy-task")
    assert [r.name for r in info.value.report.failures] == ["determinism"]
    assert "two runs with the same seed found architectures" in str(info.value)


def test_a_network_left_on_another_device_is_caught():
    watch = Watch("anything")
    watch.model = nn.Linear(2, 2, device="meta")
    with pytest.raises(Exception, match=r"given device cpu, but the network is on meta.*ctx\.device"):
        device_check(WatchedRun(None, watch, []))


@dataclass
class MutableConfig:  # not frozen
    width: int = 4


@dataclass(frozen=True)
class UnresolvableConfig:
    width: NoSuchType = 4  # noqa: F821  (a hint --set cannot resolve)


@pytest.mark.parametrize("config, default, expected", [
    (MutableConfig, MutableConfig, "attributes: class attribute Config must be a frozen dataclass"),
    (UnresolvableConfig, UnresolvableConfig, "--set cannot check its keys: NameError"),
    (UnresolvableConfig, dict, "returned dict, not an instance of UnresolvableConfig"),
])
def test_config_problems_are_caught_before_any_run(toy_plugins, config, default, expected):
    bad = type("BadConfig", (toy_plugins[1],), {"name": "bad-config", "Config": config,
                                                "default_config": classmethod(lambda cls, budget, task: default())})
    with pytest.raises(ContractError, match=re.escape(expected)) as info:
        check_method(bad, task="toy-task")
    assert info.value.report.status("smoke") in ("skipped", None)


def test_a_run_that_cannot_start_is_a_failed_smoke_check(toy_plugins):
    report = check_method(toy_plugins[1], task="toy-task", overrides=["no_such_key=1"], raise_on_failure=False)
    assert [r.name for r in report.failures] == ["smoke"] and report.status("config") == "ok"
    assert "the run could not start: UnknownNameError: unknown config key 'no_such_key'" in report.failures[0].detail
    skipped = check_method(toy_plugins[1], task="toy-task", skip=("smoke",))
    assert {r.name: r.status for r in skipped.results}["determinism"] == "skipped"


def test_a_task_with_a_wrong_data_source_and_shape_is_caught(toy_plugins):
    class Mislabelled(toy_plugins[0]):
        name = "mislabelled"

        def load(self, allow_generate=True, log=print):
            data = super().load(allow_generate, log)
            data.data_source = "real"
            data.test.inputs = data.test.inputs[..., :8]
            return data

    report = check_task(Mislabelled, raise_on_failure=False)
    failed = {r.name: r.detail for r in report.failures}
    assert list(failed) == ["data"] and "data_source 'real' is not one of official, generated" in failed["data"]
    assert "test inputs (32, 2, 8) do not end in shape.input_size (16,)" in failed["data"]


def test_builtins_pass_on_the_default_fixtures(isolated_data):
    first = smoke_tasks()[0]  # the registry's cheapest 2D dense task, with its own smoke settings
    assert shape_kind(first[1]) == "2d-dense" and first[0].fixture
    method = check_method("wrn", skip=("determinism",))
    assert f"on {first[0].name} (smoke)" in method.subject and "fixture data" in str(method)
    assert smoke_task("satellite").fixture
    task = check_task("satellite", skip=("determinism",))  # its own smoke_overrides and fixture
    assert "fixture data, train/val/test" in str(task) and task.status("smoke") == "ok"
    with pytest.raises(PluginError, match="runs on none of the smoke tasks"):
        check_method("wrn", task=SmokeTask("listops"), skip=("determinism",))


def test_a_broken_plugin_is_one_row_of_check_and_the_others_still_show(plugin_site, capsys):
    fake_distribution(plugin_site, "nasbench-broken", {"nasbench.methods": {"broken-method": "nb_fake_gone:Broken",
                                                                           "alias": "nasbench.methods.wrn:WRN"}})
    code, out, _ = cli_main(capsys, "check", "--budget", "smoke")
    header, darcy = out.splitlines()[0].split(), next(r for r in out.splitlines() if r.startswith("darcyflow")).split()
    assert code == 0 and darcy[header.index("broken-method")] == "broken" and darcy[header.index("wrn")] == "runs"
    assert "method broken-method: method 'broken-method' could not be imported" in out
    assert "method alias: method entry point 'alias' points to nasbench.methods.wrn:WRN" in out
