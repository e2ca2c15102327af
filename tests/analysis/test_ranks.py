"""Ranks, bootstrap intervals and Kendall tau-b against hand computations and scipy."""
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau

from nasbench.analysis.ranks import (
    average_ranks,
    bootstrap_ranks,
    kendall_tau_b,
    rank_table,
    ranking_fidelity,
    task_ranks,
    tau_against,
    tau_between_tasks,
)
from nasbench.analysis.table import ReportError

INF = math.inf
REFERENCE = Path(__file__).resolve().parents[2] / "results" / "reference"


def test_ranks_by_hand_with_ties_and_failures():
    errors = pd.DataFrame({"A": [0.2, 1.0, 0.3, np.nan, INF], "B": [0.1, 1.0, 0.25, 5.0, INF],
                           "C": [0.4, INF, 0.45, 4.0, 1.0]}, index=["t1", "t2", "t3", "t4", "t5"])
    expected = [[2, 1, 3], [1.5, 1.5, 3], [2, 1, 3], [3, 2, 1], [2.5, 2.5, 1]]
    assert task_ranks(errors).to_numpy().tolist() == expected
    means = average_ranks(errors)
    assert means.to_dict() == pytest.approx({"A": 11 / 5, "B": 8 / 5, "C": 11 / 5})
    assert means.index[0] == "B"


def test_rank_table_point_is_the_rank_of_seed_means_and_intervals_collapse_with_one_seed():
    cube = np.array([[[0.1], [0.2], [0.3]], [[0.3], [0.2], [0.1]]])  # 2 tasks, 3 methods, 1 seed
    table = rank_table(cube, ["t1", "t2"], ["A", "B", "C"], n_boot=50).set_index("method")
    assert table["mean_rank"].to_dict() == {"A": 2.0, "B": 2.0, "C": 2.0}
    assert (table["ci_low"] == table["mean_rank"]).all() and (table["ci_high"] == table["mean_rank"]).all()


def test_bootstrap_interval_is_tight_for_separated_methods_and_wide_for_overlapping_ones():
    rng = np.random.default_rng(3)
    seeds = 5
    a = 0.10 + 0.001 * rng.random((4, seeds))      # always best
    b = np.clip(0.5 + 0.1 * rng.standard_normal((4, seeds)), 0.2, 0.8)  # b and c overlap
    c = np.clip(0.5 + 0.1 * rng.standard_normal((4, seeds)), 0.2, 0.8)
    cube = np.stack([a, b, c], axis=1)
    table = rank_table(cube, list("wxyz"), ["A", "B", "C"], n_boot=400, seed=1).set_index("method")
    assert table.loc["A", ["ci_low", "ci_high"]].tolist() == [1.0, 1.0]
    for m in "BC":
        assert table.loc[m, "ci_low"] < table.loc[m, "ci_high"]
        assert 2.0 <= table.loc[m, "ci_low"] <= table.loc[m, "mean_rank"] <= table.loc[m, "ci_high"] <= 3.0
    again = rank_table(cube, list("wxyz"), ["A", "B", "C"], n_boot=400, seed=1).set_index("method")
    pd.testing.assert_frame_equal(table, again)  # seeded: a report is reproducible
    with pytest.raises(ReportError, match="n_boot >= 1"):
        rank_table(cube, list("wxyz"), ["A", "B", "C"], n_boot=0)


def test_bootstrap_replicates_resample_within_cells_by_hand():
    # one task, two methods, two seeds: A = {0, 3}, B = {1, 2}. Seed means of a replicate: A in {0, 1.5, 3},
    # B in {1, 1.5, 2}; so A's rank is 1 (A<B), 1.5 (tie at 1.5) or 2, and every one of them occurs.
    cube = np.array([[[0.0, 3.0], [1.0, 2.0]]])
    replicates = bootstrap_ranks(cube, n_boot=2000, seed=0)
    assert set(np.unique(replicates[:, 0])) == {1.0, 1.5, 2.0}
    assert np.allclose(replicates.sum(axis=1), 3.0)
    # P(A rank 1) = P(mean_A=0) * 1 + P(mean_A=1.5) * P(mean_B=2) = 1/4 + 1/2 * 1/4 = 0.375
    assert np.mean(replicates[:, 0] == 1.0) == pytest.approx(0.375, abs=0.04)


@pytest.mark.parametrize("seed", range(25))
def test_kendall_tau_b_equals_scipy_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 30))
    x, y = rng.integers(0, 4, n).astype(float), rng.integers(0, 5, n).astype(float)
    expected = kendalltau(x, y, variant="b").statistic
    result = kendall_tau_b(x, y)
    assert (math.isnan(expected) and math.isnan(result)) or result == pytest.approx(expected, abs=1e-12)


def test_kendall_tau_b_by_hand():
    # 6 pairs: 5 concordant, 1 discordant (items 2 and 3 swap) -> (5 - 1) / 6
    assert kendall_tau_b([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    # one pair tied in x (items 1, 2), one in y (items 3, 4), the other 4 concordant -> 4 / sqrt(5 * 5)
    assert kendall_tau_b([1, 1, 2, 3], [1, 2, 3, 3]) == pytest.approx(0.8)
    # a failed run (inf) ranks last and ties with another failed run
    assert kendall_tau_b([0.1, math.inf, math.inf], [1, 2, 2]) == pytest.approx(1.0)


def test_kendall_tau_b_treats_inf_as_a_tied_worst_value_and_drops_nan():
    x = [0.1, 0.2, INF, INF, 0.5, np.nan]
    y = [1.0, 3.0, 2.0, 9.0, 4.0, 0.0]
    expected = kendalltau([0.1, 0.2, 1e9, 1e9, 0.5], y[:5]).statistic
    assert kendall_tau_b(x, y) == pytest.approx(expected)
    assert math.isnan(kendall_tau_b([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ReportError, match="one length"):
        kendall_tau_b([1, 2], [1, 2, 3])


def test_tau_between_tasks_and_against_a_reference():
    errors = pd.DataFrame({"A": [0.1, 0.3, 0.2], "B": [0.2, 0.2, 0.3], "C": [0.3, 0.1, INF]}, index=["t1", "t2", "t3"])
    taus = tau_between_tasks(errors)
    assert taus.loc["t1", "t2"] == pytest.approx(-1.0) and taus.loc["t1", "t3"] == pytest.approx(1.0)
    assert np.allclose(taus.to_numpy(), taus.to_numpy().T) and np.allclose(np.diag(taus), 1.0)
    reference = pd.DataFrame({"A": [1.0, 5.0], "C": [2.0, np.nan], "D": [3.0, 1.0]}, index=["t1", "t2"])
    against = tau_against(errors, reference).set_index("task")
    assert against.loc["t1", "tau_b"] == pytest.approx(1.0) and against.loc["t1", "methods"] == "A, C"
    assert against.loc["t2", "n_methods"] == 1 and math.isnan(against.loc["t2", "tau_b"])


def test_ranking_fidelity_on_two_columns_of_scores():
    truth = pd.read_csv(REFERENCE / "bms_resnet20_cifar10_pooling_ground_truth.csv")
    rng = np.random.default_rng(0)
    scores = pd.DataFrame({"supernet": truth["test_accuracy"] + rng.normal(0, 0.8, len(truth)),
                           "standalone": truth["test_accuracy"]})
    result = ranking_fidelity(scores, "supernet", "standalone")
    assert result["n"] == 36 and result["variant"].startswith("Kendall tau-b")
    assert result["tau_b"] == pytest.approx(kendalltau(scores["supernet"], scores["standalone"]).statistic)
    with pytest.raises(ReportError, match="not in the scores"):
        ranking_fidelity(scores, "nope", "standalone")
