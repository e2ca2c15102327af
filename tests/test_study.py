"""Study files: strict validation before anything runs, expansion into runs, planning against the
results folder."""
from pathlib import Path

import pytest

from nasbench import schema
from nasbench.registry import methods, tasks
from nasbench.runner import RunRequest, execute, prepare
from nasbench.store import RunStore
from nasbench.study import Resources, StudyError, load_study, parse_memory, plan_study

REPO = Path(__file__).resolve().parents[1]
TOY = """\
budget: smoke
seeds: [0, 1]
methods: [toy-method]
tasks: [toy-task]
"""


def write(tmp_path, text, name="demo"):
    path = tmp_path / "reports" / name / "study.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_expansion_overrides_and_results_folder(tmp_path, toy_plugins, monkeypatch):
    monkeypatch.chdir(tmp_path)
    study = load_study(write(tmp_path, """\
budget: smoke
seeds: [3, 1]
methods:
  toy-method: {hidden: 4, train: {epochs: 2}, train.lr: 0.5}
tasks:
  toy-task: {n: 60}
resources: {cpus: 2, memory: 512MiB}
"""))
    assert study.name == "demo" and study.results == tmp_path / "results" / "demo"
    assert study.resources == Resources(cpus=2.0, gpus=0.0, memory_bytes=512 * 2**20)
    overrides = ("hidden=4", "train.epochs=2", "train.lr=0.5", "task.n=60")
    assert study.requests() == [RunRequest("toy-method", "toy-task", "smoke", 3, overrides),
                                RunRequest("toy-method", "toy-task", "smoke", 1, overrides)]
    planned = plan_study(study)
    assert planned[0].prepared.method_config.train.epochs == 2 and planned[0].prepared.task.config.n == 60
    assert load_study(study.path, results="elsewhere").results == tmp_path / "elsewhere"


@pytest.mark.parametrize("text, expected", [
    (TOY + "seed: [0]\n", ["unknown key 'seed'", "Did you mean 'seeds'", "budget, seeds, methods, tasks"]),
    ("budget: smoke\nmethods: [toy-method]\ntasks: [toy-task]\n", ["lacks seeds"]),
    (TOY.replace("[toy-method]", "[toy-methd]"), ["unknown method 'toy-methd'", "Did you mean 'toy-method'", "wrn"]),
    (TOY.replace("[toy-task]", "[toy-tsk]"), ["unknown task 'toy-tsk'", "Valid tasks:", "toy-task"]),
    (TOY.replace("smoke", "smok"), ["unknown budget 'smok'", "paper"]),
    (TOY + "resources: {cpu: 1}\n", ["unknown key 'cpu' in resources", "cpus, gpus, memory"]),
    (TOY + "resources: {cpus: 0}\n", ["resources.cpus: expected a positive number, got 0"]),
    (TOY + "resources: {memory: 4}\n", ["resources.memory", "4GB or 512MiB", "got 4"]),
    (TOY.replace("[0, 1]", "[0, 0]"), ["distinct non-negative integers", "[0, 0]"]),
    (TOY.replace("[0, 1]", "[-1]"), ["seeds"]),
    (TOY.replace("[0, 1]", "[true]"), ["seeds"]),
    (TOY.replace("[toy-method]", "[toy-method, toy-method]"), ["listed twice"]),
    (TOY + "budget: small\n", ["'budget' is given twice"]),
    (TOY.replace("[toy-method]", "{toy-method: [1]}"), ["methods.toy-method: expected a mapping"]),
    (TOY + "plugins: {method: {}}\n", ["unknown key 'method' in plugins", "Did you mean 'methods'"]),
    (TOY + "plugins: {methods: {x: 'no_such_module:X'}}\n", ["'no_such_module:X'", "ModuleNotFoundError", "PYTHONPATH"]),
    (TOY + "plugins: {methods: {other: 'nasbench.methods.wrn:WRN'}}\n", ["class attribute name is 'wrn'"]),
    ("- a\n- b\n", ["must be a mapping"]),
    ("budget: [\n", ["not valid YAML"]),
])
def test_invalid_study_is_refused_saying_what_is_valid(tmp_path, toy_plugins, text, expected):
    with pytest.raises(StudyError) as error:
        load_study(write(tmp_path, text))
    for part in expected:
        assert part in str(error.value)


def test_missing_file_says_where_studies_live(tmp_path):
    with pytest.raises(StudyError, match=r"not found: .*nothing\.yaml \(a study lives in reports/<study>/study\.yaml\)"):
        load_study(tmp_path / "nothing.yaml")


@pytest.mark.parametrize("text, size", [("4GB", 4 * 10**9), ("512MiB", 512 * 2**20), ("1.5 gib", int(1.5 * 2**30))])
def test_memory_sizes(text, size):
    assert parse_memory(text) == size


def test_bad_override_is_refused_before_any_run_or_folder(tmp_path, toy_plugins):
    study = load_study(write(tmp_path, TOY.replace("[toy-method]", "{toy-method: {train.lrr: 0.1}}")),
                       results=tmp_path / "results")
    with pytest.raises(StudyError, match=r"run toy-task/toy-method/seed=0: unknown config key 'train.lrr'.*Did you mean 'train.lr'"):
        plan_study(study)
    assert not (tmp_path / "results").exists()


def test_plan_skips_finished_runs_reruns_failed_and_refuses_conflicts(tmp_path, toy_plugins):
    study = load_study(write(tmp_path, TOY.replace("[0, 1]", "[0, 1, 2]")), results=tmp_path / "results")
    first = plan_study(study)
    store = RunStore(study.results)
    execute(first[0].prepared, store, log=lambda s: None)  # seed 0 ok
    execute(prepare(RunRequest("toy-method", "toy-task", "smoke", 1, ("fail=True",))), store, log=lambda s: None)
    execute(prepare(RunRequest("toy-method", "toy-task", "smoke", 2)), store, log=lambda s: None)
    (store.run_dir("toy-task", "toy-method", 2) / schema.MANIFEST).write_text(
        (store.run_dir("toy-task", "toy-method", 2) / schema.MANIFEST).read_text().replace('"ok"', '"failed"'))
    assert [p.done for p in plan_study(study)] == [True, False, False]

    conflicting = load_study(write(tmp_path, TOY.replace("[toy-method]", "{toy-method: {hidden: 4}}")),
                             results=tmp_path / "results")
    with pytest.raises(StudyError, match=r"1 run folder\(s\) .* toy-task/toy-method/seed=0.*--force"):
        plan_study(conflicting)
    assert [p.done for p in plan_study(conflicting, force=True)] == [False, False]


def test_unsupported_pair_is_planned_and_a_skipped_record_counts_as_done(tmp_path, toy_plugins, isolated_data):
    study = load_study(write(tmp_path, TOY.replace("[toy-task]", "[darcyflow]")), results=tmp_path / "r")
    planned = plan_study(study)
    outcome = execute(planned[0].prepared, RunStore(study.results), log=lambda s: None)
    assert outcome.status == schema.STATUS_SKIPPED and "1D tasks only" in outcome.manifest["error"]
    assert [p.done for p in plan_study(study)] == [True, False]


@pytest.mark.parametrize("name", ["smoke", "nb360-small"])
def test_committed_studies_cover_every_registered_method(name):
    study = load_study(REPO / "reports" / name / "study.yaml")
    assert sorted(study.methods) == methods.names(), "a method was added: extend reports/<study>/study.yaml"
    assert study.budget == {"smoke": "smoke", "nb360-small": "small"}[name] and len(study.seeds) == 2
    if name == "nb360-small":
        nb360 = [t for t in tasks.names() if tasks.get(t).family == "nb360"]
        assert sorted(study.tasks) == nb360, "a NAS-Bench-360 task was added: extend reports/nb360-small"
    assert study.plugins == {}, "a committed study must not depend on test plugins"
