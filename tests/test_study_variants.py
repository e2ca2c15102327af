"""Variants in studies: one method under several named configurations, each its own folder, manifest
field and report column, with run ids that hash the resolved configuration only."""
import io

import pytest

from nasbench.analysis.table import runs_table
from nasbench.execution import run_study
from nasbench.runner import RunRequest
from nasbench.study import StudyError, load_study, plan_study

STUDY = """\
budget: smoke
seeds: [0]
methods:
  toy-method: null
  toy-wide: {method: toy-method, hidden: 16}
  toy-same: {method: toy-method, hidden: 8}
tasks:
  toy-task: {n: 48}
"""


def write(tmp_path, text):
    path = tmp_path / "reports" / "variants" / "study.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_variants_expand_to_named_runs_of_their_method(tmp_path, toy_plugins):
    study = load_study(write(tmp_path, STUDY), results=tmp_path / "results")
    assert list(study.methods) == ["toy-method", "toy-wide", "toy-same"]
    assert study.variants == {"toy-wide": "toy-method", "toy-same": "toy-method"}
    requests = study.requests()
    expected = RunRequest("toy-method", "toy-task", "smoke", 0, ("hidden=16", "task.n=48"), variant="toy-wide")
    assert requests[1] == expected
    assert [r.label for r in requests] == ["toy-method", "toy-wide", "toy-same"]
    ids = [p.prepared.run_id for p in plan_study(study)]
    assert ids[0] == ids[2] != ids[1]  # the id hashes the resolved configuration (hidden 8 is the default)


def test_variants_run_into_their_own_folders_and_columns(tmp_path, toy_plugins):
    study = load_study(write(tmp_path, STUDY), results=tmp_path / "results")
    report = run_study(study, "local", stream=io.StringIO(), interactive=False)
    assert sorted(o.status for o in report.outcomes) == ["ok"] * 3
    for label in ("toy-method", "toy-wide", "toy-same"):
        assert (tmp_path / "results" / "toy-task" / label / "seed=0" / "manifest.json").is_file()
    table = runs_table(tmp_path / "results")
    assert sorted(table["method"]) == ["toy-method", "toy-same", "toy-wide"]
    assert set(table["base_method"]) == {"toy-method"}
    again = run_study(study, "local", stream=io.StringIO(), interactive=False)
    assert {o.status for o in again.outcomes} == {"cached"}


@pytest.mark.parametrize("entry, expected", [
    ("bad: {method: toy-methd}", ["unknown method 'toy-methd'", "Did you mean 'toy-method'"]),
    ("'a b': {method: toy-method}", ["becomes a folder", "toy-method-m4"]),
    ("toy-task: {method: 3}", ["expected a method name"]),
    ("toy-x: {method: toy-method, hiden: 3}", ["unknown config key 'hiden'", "hidden"]),
])
def test_bad_variants_are_refused_before_anything_runs(tmp_path, toy_plugins, entry, expected):
    text = f"budget: smoke\nseeds: [0]\nmethods:\n  {entry}\ntasks: [toy-task]\n"
    with pytest.raises(StudyError) as caught:
        plan_study(load_study(write(tmp_path, text), results=tmp_path / "results"))
    for part in expected:
        assert part in str(caught.value)


def test_a_variant_may_not_take_another_methods_name(tmp_path, toy_plugins):
    text = "budget: smoke\nseeds: [0]\nmethods:\n  wrn: {method: toy-method}\ntasks: [toy-task]\n"
    with pytest.raises(StudyError, match="another registered method"):
        load_study(write(tmp_path, text))
