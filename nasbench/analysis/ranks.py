"""Average ranks with bootstrap intervals, and Kendall's tau-b between rankings.

Ranks: on each task the methods are ranked by error, 1 = best; ties share the average of the ranks
they span; a failed, skipped or missing cell (``inf``) ranks after every finite one (several such
cells tie among themselves). The average rank of a method is the mean over tasks.

Bootstrap over seeds: each replicate resamples, independently in every (task, method) cell, the
cell's seeds with replacement, averages them (a failed seed is ``inf``), ranks per task and averages
over tasks. The interval is the percentile interval of those replicates. With one seed per cell it
collapses to the point.

Kendall tau-b (Kendall 1945, the variant with the tie correction) is ``scipy.stats.kendalltau(x, y,
variant="b")``: (n_c - n_d) / sqrt((n0 - n1)(n0 - n2)) with n0 = n(n-1)/2 pairs, n1 (n2) the pairs tied
in the first (second) ranking. The suite's handling around it: a pair with a NaN is dropped, a failed
run (``inf``) is a value that ranks last and ties with another ``inf`` (scipy sees the ranks, so it
never meets an ``inf``), and tau is NaN (no scipy warning) with fewer than two pairs or a constant
ranking.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, rankdata

from nasbench.analysis.aggregate import cube_means
from nasbench.analysis.table import ReportError

TAU_VARIANT = "Kendall tau-b (ties corrected)"
N_BOOTSTRAP = 1000
CI_LEVEL = 0.95


def _as_errors(errors: pd.DataFrame) -> np.ndarray:
    values = errors.to_numpy(dtype=float)
    return np.where(np.isnan(values), np.inf, values)


def task_ranks(errors: pd.DataFrame) -> pd.DataFrame:
    """Task x method ranks (1 = lowest error, ties averaged, failed/missing last)."""
    return pd.DataFrame(rankdata(_as_errors(errors), method="average", axis=1),
                        index=errors.index, columns=errors.columns)


def average_ranks(errors: pd.DataFrame) -> pd.Series:
    """Mean rank of each method over the tasks, best (lowest) first."""
    if errors.empty:
        raise ReportError("average ranks need at least one task and one method; got an empty matrix")
    return task_ranks(errors).mean(axis=0).sort_values().rename("mean_rank")


def bootstrap_ranks(cube: np.ndarray, n_boot: int = N_BOOTSTRAP, seed: int = 0) -> np.ndarray:
    """Average ranks of ``n_boot`` replicates, array [replicate, method], from an error cube
    [task, method, seed] (``inf`` = failed or missing)."""
    rng = np.random.default_rng(seed)
    n_tasks, n_methods, n_seeds = cube.shape
    picks = rng.integers(0, n_seeds, size=(n_boot, n_tasks, n_methods, n_seeds))
    resampled = np.take_along_axis(np.broadcast_to(cube, picks.shape), picks, axis=-1).mean(axis=-1)
    return rankdata(resampled, method="average", axis=-1).mean(axis=1)


def rank_table(cube: np.ndarray, tasks: list, methods: list, n_boot: int = N_BOOTSTRAP,
               level: float = CI_LEVEL, seed: int = 0) -> pd.DataFrame:
    """Per method: average rank of the seed means, bootstrap percentile interval, seeds per cell."""
    if n_boot < 1 or not 0 < level < 1:
        raise ReportError(f"bootstrap needs n_boot >= 1 and 0 < level < 1; got n_boot={n_boot}, level={level}\n"
                          f"  to fix: e.g. `nasbench report STUDY --bootstrap 1000`")
    point = task_ranks(cube_means(cube, tasks, methods)).mean(axis=0)
    replicates = bootstrap_ranks(cube, n_boot, seed)
    low, high = np.percentile(replicates, [50 * (1 - level), 50 * (1 + level)], axis=0)
    table = pd.DataFrame({"method": methods, "mean_rank": point.to_numpy(), "ci_low": low, "ci_high": high,
                          "n_tasks": len(tasks), "seeds_per_cell": cube.shape[2]})
    return table.sort_values(["mean_rank", "method"], ignore_index=True)


def kendall_tau_b(x, y) -> float:
    """Kendall's tau-b of two paired score vectors; pairs with a NaN are dropped; ``inf`` is a value
    (it ties with ``inf``)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ReportError(f"kendall_tau_b needs two 1-D vectors of one length; got shapes {x.shape} and {y.shape}")
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = rankdata(x[keep]), rankdata(y[keep])  # tau-b depends on the order alone; ranks make inf a value
    if len(x) < 2 or np.all(x == x[0]) or np.all(y == y[0]):
        return float("nan")
    return float(kendalltau(x, y, variant="b").statistic)


def tau_between_tasks(errors: pd.DataFrame) -> pd.DataFrame:
    """Task x task tau-b between the methods' errors on two tasks (how alike the rankings are)."""
    values = _as_errors(errors)
    n = len(values)
    taus = np.array([[kendall_tau_b(values[a], values[b]) for b in range(n)] for a in range(n)])
    return pd.DataFrame(taus, index=errors.index, columns=errors.index)


def tau_against(errors: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Per task of ``errors`` also in ``reference`` (both task x method): tau-b over the methods both
    have, with their number and names. A row per common task; tau is NaN with fewer than 2 methods."""
    rows = []
    for task in errors.index.intersection(reference.index):
        ref = reference.loc[task].dropna()
        common = [m for m in errors.columns if m in ref.index]
        tau = kendall_tau_b(_as_errors(errors.loc[[task], common])[0], ref[common].to_numpy(dtype=float))
        rows.append({"task": task, "tau_b": tau, "n_methods": len(common), "methods": ", ".join(common)})
    return pd.DataFrame(rows, columns=["task", "tau_b", "n_methods", "methods"])


def ranking_fidelity(scores: pd.DataFrame, predicted: str, truth: str) -> dict:
    """Kendall tau-b between two columns of scores for the same architectures: e.g. a supernet's
    validation accuracy and the stand-alone test accuracy (Balanced Mixture paper, Fig. 3). The
    direction does not matter as long as both columns share it."""
    missing = [c for c in (predicted, truth) if c not in scores.columns]
    if missing:
        raise ReportError(f"ranking_fidelity: columns {missing} not in the scores; have {list(scores.columns)}")
    pairs = scores[[predicted, truth]].dropna()
    return {"tau_b": kendall_tau_b(pairs[predicted], pairs[truth]), "n": len(pairs), "variant": TAU_VARIANT,
            "predicted": predicted, "truth": truth}
