"""Dolan-Moré performance profiles on the error form (Dolan and Moré 2002; DASH Figure 4).

For task t and method m with error e[t, m] (lower is better), the performance ratio is
r[t, m] = e[t, m] / min_m' e[t, m'], and the profile of m is rho_m(tau) = |{t : r[t, m] <= tau}| / T
over all T tasks. A failed, skipped or missing cell (``inf`` or NaN) has r = inf: it never counts,
for any tau. A task that no method solved still counts in T.

Zero errors. When the best error on a task is 0 the ratio is undefined (x / 0). On such a task
every error is shifted by delta = ``zero_shift`` x (the smallest positive finite error on that task),
r = (e + delta) / delta: the zero-error methods get 1, the others a large but finite ratio that
keeps their order. If every finite error on the task is 0, all of them get r = 1. Tasks whose best
error is positive are left exactly as Dolan and Moré define them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from nasbench.analysis.table import ReportError

ZERO_SHIFT = 0.01
SUMMARY_TAUS = (1.0, 1.1, 2.0, np.inf)


def _check_errors(errors: pd.DataFrame) -> np.ndarray:
    values = errors.to_numpy(dtype=float)
    values = np.where(np.isnan(values), np.inf, values)
    if (values < 0).any():
        bad = errors.where(errors < 0).stack()
        raise ReportError(f"errors must be non-negative (error form, lower is better); got {bad.to_dict()}\n"
                          f"  to fix: pass the error form (e.g. 1 - accuracy), not a signed score")
    return values


def _task_ratios(row: np.ndarray, zero_shift: float) -> np.ndarray:
    finite = row[np.isfinite(row)]
    if finite.size == 0:
        return np.full_like(row, np.inf)
    best = finite.min()
    if best > 0:
        return row / best
    positive = finite[finite > 0]
    delta = zero_shift * positive.min() if positive.size else 1.0
    return (row + delta) / delta


def performance_ratios(errors: pd.DataFrame, zero_shift: float = ZERO_SHIFT) -> pd.DataFrame:
    """Task x method ratios to the best error of each task (``inf`` for failed or missing)."""
    values = _check_errors(errors)
    ratios = np.vstack([_task_ratios(row, zero_shift) for row in values]) if len(values) else values
    return pd.DataFrame(ratios, index=errors.index, columns=errors.columns)


def profile_breakpoints(ratios: pd.DataFrame) -> np.ndarray:
    """The taus where some rho changes: 1 and every finite ratio, sorted."""
    values = ratios.to_numpy(dtype=float)
    return np.unique(np.concatenate([[1.0], values[np.isfinite(values)]]))


def performance_profile(errors: pd.DataFrame, taus=None, zero_shift: float = ZERO_SHIFT) -> pd.DataFrame:
    """Long table (method, tau, rho): the fraction of tasks on which each method's ratio is at most
    tau. ``errors`` is a task x method matrix of errors."""
    if errors.empty:
        raise ReportError("a performance profile needs at least one task and one method; got an empty matrix")
    ratios = performance_ratios(errors, zero_shift)
    taus = profile_breakpoints(ratios) if taus is None else np.asarray(taus, dtype=float)
    values = ratios.to_numpy()[:, :, None]
    rho = (np.isfinite(values) & (values <= taus[None, None, :])).mean(axis=0)  # inf never counts
    return pd.DataFrame({
        "method": np.repeat(ratios.columns.to_numpy(), len(taus)),
        "tau": np.tile(taus, len(ratios.columns)),
        "rho": rho.ravel(),
    })


def profile_summary(errors: pd.DataFrame, zero_shift: float = ZERO_SHIFT) -> pd.DataFrame:
    """rho at tau = 1 (fraction of tasks won, ties included), 1.1, 2 and inf (tasks solved) per method,
    best first."""
    profile = performance_profile(errors, taus=SUMMARY_TAUS, zero_shift=zero_shift)
    table = profile.pivot(index="method", columns="tau", values="rho")
    table.columns = [f"rho({tau:g})" for tau in table.columns]
    return table.sort_values(list(table.columns), ascending=False).reset_index()
