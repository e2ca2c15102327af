"""The comparison: flags, intervals, controls, tests and Pareto fronts against hand-computed values
and scipy, and a report of a synthetic study with one diverged run (test data, not results)."""
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nasbench import schema
from nasbench.analysis import compare as cmp
from nasbench.analysis.compare_plots import plot_error_cost
from nasbench.analysis.comparison import (
    bar_top,
    best_lines,
    constant_sentence,
    constant_tasks,
    control_sentence,
    incomplete_sentence,
    prepared,
    rank_sentence,
)
from nasbench.analysis.plots import plot_task_bars
from nasbench.analysis.table import runs_table
from nasbench.report import ReportRequest, build_report

DIVERGED = 56.0  # as planted by the diverged_study fixture (conftest)


def test_flags_the_diverged_run_and_not_seed_noise(diverged_study):
    table = prepared(runs_table(diverged_study))
    flagged = table[table["flag"] != ""]
    assert [(r.task, r.method, r.seed) for r in flagged.itertuples()] == [("darcyflow", "dash", 2)]
    assert flagged["flag"].iloc[0].startswith("diverged (1.11e+03 x the median of its cell's other seeds")
    noise = pd.DataFrame({"task": "t", "method": "m", "seed": [0, 1, 2], "status": "ok",
                          "error": [0.050, 0.051, 0.060]})
    assert (cmp.flag_runs(noise)["flag"] == "").all()  # a modified z-score would flag 0.060 (z = 5.5)
    both = noise.assign(error=[0.05, DIVERGED, math.nan])
    assert list(cmp.flag_runs(both)["flag"].str.split(" ").str[0]) == ["", "diverged", "non-finite"]


def test_figure_axes_are_set_by_the_runs_that_did_not_diverge(diverged_study):
    table = prepared(runs_table(diverged_study))
    points = cmp.cost_points(table)
    ax = plot_error_cost(points[points["task"] == "darcyflow"], "cpu_s")
    low, high = ax.get_ylim()
    assert 0.04 < low < 0.05 and 0.09 < high < 0.1  # the clean runs span 0.050 .. 0.092
    assert any(text.get_text() == "56" for text in ax.texts)  # the flagged run is marked with its value
    darcy = points[points["task"] == "darcyflow"]
    inside, outside = (plot_error_cost(darcy, "cpu_s", constant=c).get_legend_handles_labels()[1] for c in (0.07, 5.0))
    assert "constant prediction" in inside and "constant prediction" not in outside  # 5.0 would squash the axes
    top = bar_top(table)
    assert set(top) == {"darcyflow"} and top["darcyflow"] == pytest.approx(1.15 * (0.091 + 0.001))
    cells = pd.DataFrame({"label": ["dash", "wrn"], "mean": [(0.05 + 0.051 + DIVERGED) / 3, 0.091],
                          "std": [0.0, 0.001], "published": False})
    assert plot_task_bars(cells, top=top["darcyflow"]).get_ylim() == (0, pytest.approx(top["darcyflow"]))


def test_intervals_best_method_and_control_pairs(diverged_study):
    table = prepared(runs_table(diverged_study))
    cells = cmp.cell_intervals(table)
    wrn = cells[(cells["task"] == "cifar100") & (cells["method"] == "wrn")].iloc[0]
    values = np.array([0.340, 0.341, 0.342])
    half = stats.t.ppf(0.975, 2) * values.std(ddof=1) / math.sqrt(3)
    assert (wrn["mean"], wrn["ci_low"], wrn["ci_high"]) == pytest.approx((0.341, 0.341 - half, 0.341 + half))
    best = cmp.best_per_task(cells).set_index("task")
    assert best.loc["cifar100", "best"] == "dash" and best.loc["cifar100", "separable"]
    assert best.loc["darcyflow", "best"] == "random-dash"  # the diverged seed counts in dash's mean
    pairs = cmp.control_comparison(table)
    assert set(pairs["task"]) == {"darcyflow", "cifar100", "listops"} and set(pairs["control"]) == {"random-dash"}
    assert (pairs.set_index("task")["log_ratio"] < 0).to_dict() == {"cifar100": True, "darcyflow": False,
                                                                     "listops": True}
    variant = table.assign(base_method=table["method"], method=table["method"].replace({"dash": "dash-fast"}))
    assert set(cmp.control_comparison(variant)["method"]) == {"dash-fast"}  # a study variant of dash


def test_pairwise_tests_are_scipys_wilcoxon_with_holm():
    rng = np.random.default_rng(0)
    cube = np.exp(rng.normal(size=(3, 3, 4)))
    cube[:, 0, :] *= 0.5
    table = cmp.pairwise_tests(cube, ["a", "b", "c"])
    diff = np.log(cube[:, 0, :].ravel() / cube[:, 1, :].ravel())
    assert table.loc[0, "p"] == pytest.approx(stats.wilcoxon(diff).pvalue)
    assert cmp.holm(np.array([0.01, 0.04, 0.03])) == pytest.approx([0.03, 0.06, 0.06])
    assert cmp.friedman(cube)["blocks"] == 12


def test_pareto_front():
    cost, error = np.array([1.0, 2.0, 3.0, 2.5, np.nan]), np.array([0.5, 0.3, 0.1, 0.4, 0.0])
    assert list(cmp.pareto_front(cost, error)) == [True, True, True, False, False]


def test_best_so_far_reads_the_curve_columns(tmp_path, write):
    run_dir = write(tmp_path / "r", "darcyflow", "spos", 0, 0.1)
    (run_dir / schema.CURVES).write_text("stage,epoch,elapsed_s,best_fitness\nsearch,0,1.0,0.5\nsearch,1,2.0,0.6\n"
                                         "search,2,3.0,0.2\nretrain,0,4.0,\n")
    curves = cmp.best_so_far(runs_table(tmp_path / "r"))
    assert list(curves["best"]) == [0.5, 0.5, 0.2] and list(curves["elapsed_s"]) == [1.0, 2.0, 3.0]


def test_report_opens_with_the_verdict_and_flags_the_diverged_run(diverged_study, tmp_path):
    md = build_report(ReportRequest(tmp_path / "report", diverged_study, n_boot=50))["md"].read_text()
    verdict = md[md.index("## Verdict"):md.index("suite version")]
    assert "**Best method per task**" in verdict and "- cifar100 (0-1 error): **dash** 0.301 [" in verdict
    assert "**Average rank** over 3 task(s)" in verdict
    assert "dash has a lower mean error than its control random-dash on 2 of 3 task(s) where both finished" in verdict
    assert "**1 run(s) flagged**" in verdict and "darcyflow/dash/seed 2 (error 56)" in verdict
    assert "1 torch thread(s) on cpu (27 runs)" in verdict
    assert "| darcyflow | dash | 0.05 | 0.051 | 56 ! | seed 2: diverged" in md
    assert "figures/error-cost.png" in md and "Friedman chi2" in md


def test_the_control_sentence_counts_only_tasks_where_both_finished():
    nan = math.nan
    pairs = pd.DataFrame({"method": "bms", "control": "random-bms", "task": ["a", "b", "c", "d"],
                          "method_mean": [0.1, nan, nan, 0.3], "control_mean": [0.2, nan, 0.5, 0.2],
                          "separable": [True, False, False, False]})
    text = control_sentence(pairs)
    assert "bms has a lower mean error than its control random-bms on 1 of 2 task(s) where both finished" in text
    assert "(intervals apart on 1), and only random-bms finished on 1 more" in text
    nothing = pairs.assign(method_mean=nan, control_mean=nan)
    assert control_sentence(nothing) == ("**Against random search**: no method and its control have both "
                                         "finished on a task yet.")


def test_the_rank_sentence_names_the_methods_ranked_last_because_they_do_not_apply():
    ranks = pd.DataFrame({"method": ["a", "b", "c"], "mean_rank": [1.0, 2.5, 2.5],
                          "ci_low": [1.0, 2.0, 2.0], "ci_high": [1.0, 3.0, 3.0]})
    plain = rank_sentence(ranks, 4)
    assert plain.startswith("**Average rank** over 4 task(s)") and "a 1.00 [1.00, 1.00] < b" in plain
    assert "does not apply" not in plain
    text = rank_sentence(ranks, 4, pd.Series({"b": 2, "c": 2, "d": 1}))
    assert "ranks last there, as a failure does in a performance profile: d on 1 of 4; b, c on 2 of 4;" in text


def test_an_incomplete_study_says_so_first_and_counts_what_has_not_run_per_task():
    study = SimpleNamespace(requests=lambda: [None] * 6, path="reports/s/study.yaml")
    problems = pd.DataFrame({"task": ["a", "b", "b", "b"], "method": "m", "seed": [0, 0, 1, 2],
                             "problem": ["skipped", "missing", "missing", "failed"], "detail": ""})
    text = incomplete_sentence(problems, study)
    assert text.startswith("**Incomplete study**: 4 of the study file's 6 runs have a run folder; "
                           "2 have not run yet (b 2)")
    assert "`nasbench study reports/s/study.yaml` computes the rest" in text
    assert incomplete_sentence(problems[problems["problem"] != "missing"], study) == ""


def test_runs_a_constant_prediction_matches_are_marked_and_named():
    nan = math.nan
    rows = [("listops", "m1", seed, err, "0-1 error", const) for seed, err, const in
            [(0, 0.8125, 0.8164), (1, 0.8164, nan), (2, 0.79, nan)]]  # runs before the record: NaN
    rows += [("listops", "m2", seed, 0.627, "0-1 error", 0.8164) for seed in range(3)]
    rows += [("darcyflow", "m3", 0, 0.04, "relative L2", 0.5), ("darcyflow", "m3", 1, 0.55, "relative L2", 0.5)]
    table = pd.DataFrame(rows, columns=["task", "method", "seed", "error", "error_name", "constant_error"])
    table = table.assign(status="ok", flag="", test_size=np.where(table["task"] == "listops", 512, 100))
    marked = cmp.mark_constant_level(table)
    margin = 2 * math.sqrt(0.8164 * (1 - 0.8164) / 512)  # 0.0342 by hand: two binomial standard errors
    assert 0.79 > 0.8164 - margin  # so m1's seed 2 is within it
    assert marked.groupby("method")["constant_level"].apply(list).to_dict() == {
        "m1": [True, True, True], "m2": [False, False, False], "m3": [False, True]}
    assert (marked.loc[marked["task"] == "listops", "constant_error"] == 0.8164).all()  # filled from the task
    text = constant_sentence(marked)
    assert "on darcyflow m3 (1 of 2 seeds); on listops m1 (every seed)." in text and "listops 0.816" in text
    rows = cmp.seed_table(marked).set_index(["task", "method"])
    assert rows.loc[("listops", "m1"), "seed 2"] == "0.79 =" and rows.loc[("listops", "m2"), "flags"] == ""
    assert rows.loc[("darcyflow", "m3"), "flags"] == "seed 1: no better than a constant prediction"
    assert "Every finished run beats" in constant_sentence(cmp.mark_constant_level(table[table["method"] == "m2"]))
    assert constant_sentence(cmp.mark_constant_level(table.assign(constant_error=nan))) == ""
    only_constant = cmp.mark_constant_level(table[table["method"] != "m2"])
    assert "on listops every finished run (every method, every seed: 3 runs)." in constant_sentence(only_constant)
    assert constant_tasks(only_constant) == ["listops"] and constant_tasks(marked) == []
    best = cmp.best_per_task(cmp.cell_intervals(only_constant)).set_index("task")
    lines = dict(zip(best.index, best_lines(best.reset_index(), constant_tasks(only_constant))))
    assert lines["listops"].endswith("no run on this task beats a constant prediction (below): at this budget it "
                                     "separates no method")
    assert "constant" not in lines["darcyflow"]
