"""Dolan-Moré profiles against hand-worked tables (ties, failures, zero errors)."""
import math

import numpy as np
import pandas as pd
import pytest

from nasbench.analysis.profiles import performance_profile, performance_ratios, profile_summary
from nasbench.analysis.table import ReportError

INF = math.inf


@pytest.fixture
def errors():
    # t2: C failed (inf); t4: A missing (NaN); t2 is a tie between A and B
    return pd.DataFrame({"A": [0.2, 1.0, 0.3, np.nan], "B": [0.1, 1.0, 0.6, 5.0], "C": [0.4, INF, 0.45, 4.0]},
                        index=["t1", "t2", "t3", "t4"])


def test_ratios_by_hand(errors):
    expected = pd.DataFrame({"A": [2.0, 1.0, 1.0, INF], "B": [1.0, 1.0, 2.0, 1.25], "C": [4.0, INF, 1.5, 1.0]},
                            index=errors.index)
    pd.testing.assert_frame_equal(performance_ratios(errors), expected)


def test_profile_values_by_hand(errors):
    profile = performance_profile(errors, taus=[1, 1.5, 2, 4, INF]).pivot(index="tau", columns="method", values="rho")
    expected = {1: (0.5, 0.5, 0.25), 1.5: (0.5, 0.75, 0.5), 2: (0.75, 1.0, 0.5), 4: (0.75, 1.0, 0.75),
                INF: (0.75, 1.0, 0.75)}  # failed and missing never count, not even at tau = inf
    for tau, rhos in expected.items():
        assert tuple(profile.loc[tau, ["A", "B", "C"]]) == pytest.approx(rhos), tau


def test_default_taus_are_the_breakpoints(errors):
    profile = performance_profile(errors)
    assert sorted(profile["tau"].unique()) == [1.0, 1.25, 1.5, 2.0, 4.0]
    last = profile[profile["tau"] == 4.0].set_index("method")["rho"]
    assert tuple(last[["A", "B", "C"]]) == pytest.approx((0.75, 1.0, 0.75))


def test_summary_orders_by_wins(errors):
    summary = profile_summary(errors)
    assert list(summary.columns) == ["method", "rho(1)", "rho(1.1)", "rho(2)", "rho(inf)"]
    assert summary["method"].tolist() == ["B", "A", "C"]  # ties at rho(1) broken by rho(1.1)


def test_zero_best_error_shifts_by_a_fraction_of_the_smallest_positive_error():
    errors = pd.DataFrame({"A": [0.0, 0.0], "B": [0.5, 0.0], "C": [0.2, INF], "D": [INF, 0.0]}, index=["t", "all0"])
    ratios = performance_ratios(errors, zero_shift=0.01)
    delta = 0.01 * 0.2
    assert ratios.loc["t"].tolist() == pytest.approx([1.0, (0.5 + delta) / delta, (0.2 + delta) / delta, INF])
    assert ratios.loc["all0"].tolist() == [1.0, 1.0, INF, 1.0]


def test_task_nobody_solved_still_counts_in_the_denominator():
    errors = pd.DataFrame({"A": [0.1, INF], "B": [0.2, np.nan]}, index=["t1", "t2"])
    rho = performance_profile(errors, taus=[INF]).set_index("method")["rho"]
    assert rho["A"] == 0.5 and rho["B"] == 0.5


def test_negative_errors_are_rejected_with_a_fix():
    with pytest.raises(ReportError, match="non-negative.*\n.*to fix"):
        performance_ratios(pd.DataFrame({"A": [-0.1]}, index=["t"]))
    with pytest.raises(ReportError, match="empty"):
        performance_profile(pd.DataFrame())
