"""The runs table and the completeness listing, against hand-written expectations."""
import math

import pytest

from nasbench.analysis.aggregate import aggregate, error_matrix
from nasbench.analysis.table import ReportError, benchmark_runs, completeness, runs_table
from nasbench.study import load_study


def read_study(folder, text):
    """A study read as every study is: its file through nasbench.study (names not resolved)."""
    (folder / "grid").mkdir()
    (folder / "grid" / "study.yaml").write_text("budget: smoke\n" + text)
    return load_study(folder / "grid" / "study.yaml", resolve=False)


@pytest.fixture
def results(tmp_path, write):
    root = tmp_path / "study"
    for seed, err in enumerate([0.10, 0.14, 0.12]):
        write(root, "darcyflow", "dash", seed, err)
    write(root, "darcyflow", "wrn", 0, 0.20)
    write(root, "darcyflow", "wrn", 1, status="failed")  # seed 2 missing
    write(root, "listops", "dash", 0, status="skipped")
    write(root, "listops", "wrn", 0, 0.6)
    write(root, "listops", "wrn", 1, 0.5, data_source="fixture")
    return root


def test_runs_table_keeps_every_run_with_its_fields(results):
    table = runs_table(results)
    assert len(table) == 8
    failed = table[(table["method"] == "wrn") & (table["seed"] == 1) & (table["task"] == "darcyflow")].iloc[0]
    assert failed["status"] == "failed" and math.isnan(failed["error"]) and failed["error_text"] == "planted failed"
    row = table[(table["method"] == "dash") & (table["seed"] == 2)].iloc[0]
    assert row["error"] == 0.12 and row["error_name"] == "relative L2" and row["params"] == 1002
    assert row["retrain_wall_s"] == 4.0 and row["total_wall_s"] == 1 + 2 + 3 + 4 + 5
    assert row["data_source"] == "generated" and row["budget"] == "smoke"


def test_completeness_lists_missing_failed_and_skipped(results):
    problems = completeness(runs_table(results))
    listed = set(zip(problems["task"], problems["method"], problems["seed"], problems["problem"]))
    assert listed == {
        ("darcyflow", "wrn", 1, "failed"), ("darcyflow", "wrn", 2, "missing"),
        ("listops", "dash", 0, "skipped"), ("listops", "dash", 1, "missing"), ("listops", "dash", 2, "missing"),
        ("listops", "wrn", 2, "missing"),
    }


def test_completeness_uses_the_study_grid_when_given(results, tmp_path):
    study = read_study(tmp_path, "methods: {dash: {}, wrn: {}, darts: {}}\ntasks: [darcyflow]\nseeds: [0, 1]\n")
    problems = completeness(runs_table(results), study)
    darcy = problems[problems["task"] == "darcyflow"]
    assert set(zip(darcy["method"], darcy["seed"], darcy["problem"])) == {
        ("wrn", 1, "failed"), ("darts", 0, "missing"), ("darts", 1, "missing")}
    # seed 2 of dash ran although the study lists seeds 0-1: it is reported, not hidden
    assert not ((problems["method"] == "dash") & (problems["seed"] == 2)).any()


def test_fixture_runs_are_left_out_unless_asked_for(results):
    table = runs_table(results)
    assert "fixture" not in set(benchmark_runs(table)["data_source"])
    assert len(benchmark_runs(table, include_fixture=True)) == len(table)


def test_aggregate_mean_std_sem_over_ok_seeds(results):
    agg = aggregate(runs_table(results)).set_index(["task", "method"])
    dash = agg.loc[("darcyflow", "dash")]
    assert dash["mean"] == pytest.approx(0.12)
    assert dash["std"] == pytest.approx(0.02)  # sqrt(((-.02)^2 + .02^2 + 0) / 2)
    assert dash["sem"] == pytest.approx(0.02 / math.sqrt(3))
    wrn = agg.loc[("darcyflow", "wrn")]
    assert (wrn["n_ok"], wrn["n_runs"], wrn["mean"]) == (1, 2, 0.20) and math.isnan(wrn["std"])


def test_error_matrix_is_infinite_where_a_seed_failed_or_is_missing(results, tmp_path):
    matrix = error_matrix(benchmark_runs(runs_table(results)))
    assert matrix.loc["darcyflow", "dash"] == pytest.approx(0.12)
    assert math.isinf(matrix.loc["darcyflow", "wrn"]) and math.isinf(matrix.loc["listops", "dash"])
    assert math.isinf(matrix.loc["listops", "wrn"])  # seeds 1 (fixture, left out) and 2 missing
    study = read_study(tmp_path, "methods: [dash, wrn]\ntasks: [darcyflow, listops]\nseeds: [0]\n")
    only_seed0 = error_matrix(benchmark_runs(runs_table(results)), study)
    assert only_seed0.loc["listops", "wrn"] == 0.6 and only_seed0.loc["darcyflow", "wrn"] == 0.2


def test_missing_or_empty_results_folder_says_how_to_fix(tmp_path):
    with pytest.raises(ReportError, match="(?s)results folder not found: .*nope.*to fix"):
        runs_table(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReportError, match="(?s)no run manifests under .*empty.*--published-only"):
        runs_table(tmp_path / "empty")
