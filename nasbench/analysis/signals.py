"""Did the search move? The search signal of a run, read from its ``curves.csv``.

The convention (documented for plugin authors in docs/plugins.md, "The search signal"; the names are
constants of ``nasbench.schema``): every search-stage column whose name starts with ``signal_`` is
part of the method's search signal. Its first value is the state at initialisation: the row of epoch
-1 that ``fit(..., log_initial=True)`` writes before the first step, or the first row of a search
that records its own rows (SPOS's generation 0, the random initial population). Its last value is
the state at the end of the search. Two names mean the same for every method: ``signal_changed``,
how many discrete decisions of the architecture differ from their choice at initialisation, out of
``signal_decisions``. The other ``signal_*`` columns are the method's own (a mixture's largest
weight or entropy, a mask's movement, best fitness, a spread of predicted scores).

No threshold decides "moved" here: a mixture weight of 0.0626 against a uniform 0.0625 and an
entropy that drops by a third are both numbers the reader should see, and what counts as a move
differs by quantity. The table shows each signal at initialisation and at the end, side by side.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from nasbench import schema

SEARCH_STAGE = "search"


def signal_table(curves: pd.DataFrame) -> pd.DataFrame:
    """One row per ``signal_*`` column of the search stage: ``signal`` (the name without the prefix),
    ``at_init`` (its first value), ``at_end`` (its last), ``change`` (end - init) and ``rows`` (how
    many rows hold it). Empty when the curves have no search signal."""
    columns = ["signal", "at_init", "at_end", "change", "rows"]
    if "stage" not in curves.columns:
        return pd.DataFrame(columns=columns)
    search = curves[curves["stage"] == SEARCH_STAGE]
    rows = []
    for column in (c for c in curves.columns if str(c).startswith(schema.SIGNAL_PREFIX)):
        values = pd.to_numeric(search[column], errors="coerce").dropna()
        if len(values):
            first, last = float(values.iloc[0]), float(values.iloc[-1])
            rows.append([column[len(schema.SIGNAL_PREFIX):], first, last, last - first, len(values)])
    return pd.DataFrame(rows, columns=columns)


def read_signal(run_dir: str | Path) -> pd.DataFrame:
    """``signal_table`` of the run folder ``run_dir`` (empty when it has no readable curves)."""
    try:
        curves = pd.read_csv(Path(run_dir) / schema.CURVES)
    except (OSError, ValueError, pd.errors.EmptyDataError):
        curves = pd.DataFrame()
    return signal_table(curves)


def signal_summary(signals: pd.DataFrame) -> dict[str, str]:
    """Two short texts of a ``signal_table``: ``decisions changed`` ("12 of 13", or "" where the
    method has no discrete decisions) and ``signal`` ("max_weight 0.0625 -> 0.0897; ...", init -> end)."""
    by_name = signals.set_index("signal")
    changed, decisions = (_name(schema.SIGNAL_CHANGED), _name(schema.SIGNAL_DECISIONS))
    count = ""
    if changed in by_name.index:
        total = f" of {by_name.at[decisions, 'at_end']:.0f}" if decisions in by_name.index else ""
        count = f"{by_name.at[changed, 'at_end']:.0f}{total}"
    others = by_name.drop(index=[changed, decisions], errors="ignore")
    text = "; ".join(f"{name} {row.at_init:.4g} -> {row.at_end:.4g}" for name, row in others.iterrows())
    return {"decisions changed": count, "signal": text}


def search_moved(table: pd.DataFrame) -> pd.DataFrame:
    """Per finished run of a runs table (``nasbench.analysis.runs_table``; needs ``run_dir``): task,
    method, seed and its ``signal_summary``; runs that record no search signal are left out."""
    rows = []
    for _, run in table[table["status"] == schema.STATUS_OK].iterrows():
        signals = read_signal(run["run_dir"])
        if len(signals):
            rows.append({"task": run["task"], "method": run["method"], "seed": run["seed"],
                         **signal_summary(signals)})
    columns = ["task", "method", "seed", "decisions changed", "signal"]
    return pd.DataFrame(rows, columns=columns).sort_values(["task", "method", "seed"], ignore_index=True)


def _name(column: str) -> str:
    return column[len(schema.SIGNAL_PREFIX):]
