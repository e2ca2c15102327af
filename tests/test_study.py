"""Study files: strict validation before anything runs, expansion into runs, planning against the
results folder. Nothing here runs a run: the real plugins (wrn, darcyflow) are only configured."""
import json
from pathlib import Path

import pytest

from nasbench import schema
from nasbench.registry import methods, tasks
from nasbench.runner import RunRequest
from nasbench.store import RunStore
from nasbench.study import Resources, StudyError, load_study, parse_memory, plan_study

REPO = Path(__file__).resolve().parents[1]
WRN = """\
budget: smoke
seeds: [0, 1]
methods: [wrn]
tasks: [darcyflow]
"""


def write(tmp_path, text, name="demo"):
    path = tmp_path / "reports" / name / "study.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_expansion_overrides_and_results_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    study = load_study(write(tmp_path, """\
budget: smoke
seeds: [3, 1]
methods:
  wrn: {depth: 16, train: {epochs: 3}, train.lr: 0.5}
tasks:
  darcyflow: {n_train: 20, source: generated-approx}
resources: {cpus: 2, memory: 512MiB}
"""))
    assert study.name == "demo" and study.results == tmp_path / "results" / "demo"
    assert study.resources == Resources(cpus=2.0, gpus=0.0, memory_bytes=512 * 2**20)
    overrides = ("depth=16", "train.epochs=3", "train.lr=0.5", "task.n_train=20", "task.source='generated-approx'")
    assert study.requests() == [RunRequest("wrn", "darcyflow", "smoke", 3, overrides),
                                RunRequest("wrn", "darcyflow", "smoke", 1, overrides)]
    run = plan_study(study)[0].prepared
    assert (run.method_config.depth, run.method_config.train.epochs, run.method_config.train.lr) == (16, 3, 0.5)
    assert (run.task.config.n_train, run.task.config.source) == (20, "generated-approx")
    assert load_study(study.path, results="elsewhere").results == tmp_path / "elsewhere"


@pytest.mark.parametrize("text, expected", [
    (WRN + "seed: [0]\n", ["unknown key 'seed'", "Did you mean 'seeds'", "budget, seeds, methods, tasks"]),
    ("budget: smoke\nmethods: [wrn]\ntasks: [darcyflow]\n", ["lacks seeds"]),
    (WRN.replace("[wrn]", "[wrm]"), ["unknown method 'wrm'", "Did you mean 'wrn'", "Valid methods:", "wrn"]),
    (WRN.replace("[darcyflow]", "[darcyflo]"), ["unknown task 'darcyflo'", "Did you mean 'darcyflow'", "Valid tasks:"]),
    (WRN.replace("smoke", "smok"), ["unknown budget 'smok'", "paper"]),
    (WRN + "resources: {cpu: 1}\n", ["unknown key 'cpu' in resources", "cpus, gpus, memory"]),
    (WRN + "resources: {cpus: 0}\n", ["resources.cpus: expected a positive number, got 0"]),
    (WRN + "resources: {memory: 4}\n", ["resources.memory", "4GB or 512MiB", "got 4"]),
    (WRN.replace("[0, 1]", "[0, 0]"), ["distinct non-negative integers", "[0, 0]"]),
    (WRN.replace("[0, 1]", "[-1]"), ["seeds"]),
    (WRN.replace("[0, 1]", "[true]"), ["seeds"]),
    (WRN.replace("[wrn]", "[wrn, wrn]"), ["listed twice"]),
    (WRN + "budget: small\n", ["'budget' is given twice"]),
    (WRN.replace("[wrn]", "{wrn: [1]}"), ["methods.wrn: expected a mapping"]),
    (WRN + "plugins: {method: {}}\n", ["unknown key 'method' in plugins", "Did you mean 'methods'"]),
    (WRN + "plugins: {methods: {x: 'no_such_module:X'}}\n",
     ["'no_such_module:X'", "ModuleNotFoundError", "PYTHONPATH"]),
    (WRN + "plugins: {methods: {other: 'nasbench.methods.wrn:WRN'}}\n", ["class attribute name is 'wrn'"]),
    ("- a\n- b\n", ["must be a mapping"]),
    ("budget: [\n", ["not valid YAML"]),
])
def test_invalid_study_is_refused_saying_what_is_valid(tmp_path, text, expected):
    with pytest.raises(StudyError) as error:
        load_study(write(tmp_path, text))
    for part in expected:
        assert part in str(error.value)


def test_missing_file_says_where_studies_live(tmp_path):
    where = r"not found: .*nothing\.yaml \(a study lives in reports/<study>/study\.yaml\)"
    with pytest.raises(StudyError, match=where):
        load_study(tmp_path / "nothing.yaml")


@pytest.mark.parametrize("text, size", [("4GB", 4 * 10**9), ("512MiB", 512 * 2**20), ("1.5 gib", int(1.5 * 2**30))])
def test_memory_sizes(text, size):
    assert parse_memory(text) == size


def test_bad_override_is_refused_before_any_run_or_folder(tmp_path):
    study = load_study(write(tmp_path, WRN.replace("[wrn]", "{wrn: {train.lrr: 0.1}}")), results=tmp_path / "results")
    with pytest.raises(StudyError, match=r"run darcyflow/wrn/seed=0: unknown config key 'train.lrr'.*'train.lr'"):
        plan_study(study)
    assert not (tmp_path / "results").exists()


def record(store, planned, status, run_id=None):
    """A run folder as the runner leaves it, as far as planning reads it (status and run id)."""
    req = planned.request
    manifest = {schema.RUN_ID: run_id or planned.prepared.run_id, schema.STATUS: status}
    store.write(req.task, req.method, req.seed, {schema.MANIFEST: json.dumps(manifest)})


def test_plan_skips_finished_and_skipped_runs_reruns_failed_and_refuses_conflicts(tmp_path):
    study = load_study(write(tmp_path, WRN.replace("[0, 1]", "[0, 1, 2, 3]")), results=tmp_path / "results")
    planned, store = plan_study(study), RunStore(study.results)
    record(store, planned[0], schema.STATUS_OK)
    record(store, planned[1], schema.STATUS_SKIPPED)
    record(store, planned[2], schema.STATUS_FAILED)
    record(store, planned[3], schema.STATUS_SKIPPED, run_id="of-another-config")
    assert [p.done for p in plan_study(study)] == [True, True, False, False]
    assert [p.done for p in plan_study(study, force=True)] == [False] * 4

    other = load_study(write(tmp_path, WRN.replace("[wrn]", "{wrn: {depth: 16}}").replace("[0, 1]", "[0, 1, 2]")),
                       results=tmp_path / "results")
    with pytest.raises(StudyError, match=r"1 run folder\(s\) .* darcyflow/wrn/seed=0.*--force"):
        plan_study(other)  # seed 0 is ok with another config; skipped (1) and failed (2) are simply redone
    assert [p.done for p in plan_study(other, force=True)] == [False] * 3


@pytest.mark.parametrize("name", ["smoke", "nb360-small"])
def test_committed_studies_cover_every_registered_method(name):
    study = load_study(REPO / "reports" / name / "study.yaml")
    builtin = sorted(n for n, s in methods.sources().items() if s.origin == "nasbench")
    assert sorted(study.methods) == builtin, "a method was added: extend reports/<study>/study.yaml"
    assert study.budget == {"smoke": "smoke", "nb360-small": "small"}[name] and len(study.seeds) == 2
    if name == "nb360-small":
        nb360 = [t for t in tasks.names() if tasks.get(t).family == "nb360"]
        assert sorted(study.tasks) == nb360, "a NAS-Bench-360 task was added: extend reports/nb360-small"
    assert study.plugins == {}, "a committed study must not depend on test plugins"
