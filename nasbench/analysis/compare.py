"""The comparison a report opens with, as pure functions over the runs table: which method is best
per task and how sure we are, the average-rank order and which neighbours are separable, each
method against its random-search control, pairwise tests over tasks, Pareto fronts of error
against cost, best-so-far curves, and the runs that diverged.

Conventions these functions rely on (all read from the run folders, never from method names):

- **Controls.** A random-search control declares the class attribute ``control_of = "<method>"``
  (``nasbench.contracts.SearchMethod``); the runner writes it into ``manifest.json`` as
  ``control_of``. A run whose ``control_of`` names a method is that method's control.
- **Resources.** Costs compare only between runs with the same torch threads and device:
  ``resources.torch_threads`` (older manifests: ``host.torch_threads``) and ``resources.device``
  (older manifests: the part of ``device`` before the colon, e.g. ``cpu``).
- **Best-so-far curves.** A search that evaluates candidates writes, per row of ``curves.csv``, the
  best validation error found so far in column ``best_so_far`` (error form, lower is better); the
  evolutionary searches' ``signal_best_fitness`` (the best candidate's validation error; older runs:
  ``best_fitness``) is read the same
  way. The x axis is ``elapsed_s``, wall seconds since the run began (the runner adds it to every
  row). The running minimum is plotted, so a column that holds a per-generation best also works.
- **Diverged runs.** A finished run is flagged ``non-finite`` when its error is not a finite number,
  and ``diverged`` when its error is more than ``RATIO_LIMIT`` (10) times the median error of the
  other finished seeds of its cell, or of all finished runs of its task (which catches a cell whose
  seeds all diverged). A ratio to a median, not a z-score: with two or three seeds a spread estimate
  (MAD, standard deviation) is itself noise, so a z-score flags ordinary seed noise (0.050, 0.051,
  0.060 gives the last a modified z of 5.5), while seeds of one method at one budget rarely differ
  by a factor of ten and a diverged relative L2 of 56 against 0.05 is a factor of a thousand.
  Flagged runs stay in every table and rank (they are what the method produced); figures take their
  axis limits from the other runs and mark the flagged ones at the edge.
- **No better than a constant.** Each run records, beside its test metric, the metric of a
  prediction that ignores its input on the same test split (``data.constant_baseline`` in the
  manifest: the best single class for classification, the training-mean output for dense
  regression; ``nasbench.runner.constant_baseline``). A finished run is at ``constant_level`` when
  its error is not below that constant's error by more than ``CONSTANT_Z`` (2) binomial standard
  errors of the constant's error on the test split's size (0-1 errors), or not below it at all
  (other errors): whatever it searched, it learned nothing a constant does not give. Runs written
  before the record take their task's value from the runs that have it.
"""
from __future__ import annotations

import json
import math
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from nasbench import schema

RATIO_LIMIT = 10.0  # an order of magnitude: see the module docstring
CI_LEVEL = 0.95
# in order of preference; best_fitness: SPOS's curves before it wrote the search-signal name
BEST_SO_FAR_COLUMNS = ("best_so_far", "signal_best_fitness", "best_fitness")
ELAPSED = "elapsed_s"
CONTROL_OF = "control_of"
FLAG_NONFINITE, FLAG_DIVERGED = "non-finite", "diverged"
CONSTANT_Z = 2.0  # binomial standard errors a 0-1 error must beat the constant prediction's by
ZERO_ONE = "0-1 error"
PAIRWISE_TEST = ("Friedman test over blocks (task, seed), then two-sided Wilcoxon signed-rank tests of the "
                 "log error ratio over the same blocks, p-values Holm-adjusted")


# --- facts of a run not in the runs table -------------------------------------------------------

def _manifest(run_dir: str) -> dict:
    try:
        return json.loads((Path(run_dir) / schema.MANIFEST).read_text())
    except (OSError, ValueError):
        return {}


def run_facts(table: pd.DataFrame) -> pd.DataFrame:
    """The table with columns ``control_of``, ``threads`` and ``device`` read from each run's
    manifest where the table does not have them yet."""
    wanted = [c for c in (CONTROL_OF, "threads", "device") if c not in table.columns]
    if not wanted:
        return table
    manifests = [_manifest(d) for d in table["run_dir"]]
    facts = pd.DataFrame([_facts(m) for m in manifests], index=table.index, columns=[CONTROL_OF, "threads", "device"])
    return table.assign(**{c: facts[c] for c in wanted})


def _facts(manifest: dict) -> dict:
    resources = manifest.get("resources") or {}
    threads = resources.get("torch_threads", (manifest.get("host") or {}).get("torch_threads"))
    device = resources.get("device") or str(manifest.get("device") or "").partition(":")[0] or None
    return {CONTROL_OF: manifest.get(CONTROL_OF) or "", "threads": threads, "device": device}


def search_cpu_s(table: pd.DataFrame) -> pd.Series:
    """CPU seconds of search, tune and retrain (the cost of finding and training the network)."""
    columns = [f"{stage}_cpu_s" for stage in ("search", "tune", "retrain")]
    return table[columns].fillna(0.0).sum(axis=1).where(table[columns].notna().any(axis=1))


# --- diverged runs ------------------------------------------------------------------------------

def flag_runs(table: pd.DataFrame, ratio_limit: float = RATIO_LIMIT) -> pd.DataFrame:
    """The table with a ``flag`` column: '' for a normal run, ``non-finite`` or ``diverged (...)``."""
    flags = pd.Series("", index=table.index, dtype=object)
    ok = table[table["status"] == schema.STATUS_OK]
    bad = ok.index[~np.isfinite(ok["error"].to_numpy(dtype=float))]
    flags[bad] = FLAG_NONFINITE
    finite = ok.drop(bad)
    for _, task in finite.groupby("task"):
        for index, reason in _task_outliers(task, ratio_limit).items():
            flags[index] = f"{FLAG_DIVERGED} ({reason})"
    return table.assign(flag=flags)


def _task_outliers(task: pd.DataFrame, ratio_limit: float) -> dict:
    found = {}
    task_median = float(task["error"].median())
    for index, run in task.iterrows():
        others = task.loc[(task["method"] == run["method"]) & (task.index != index), "error"]
        if len(others) and others.median() > 0 and run["error"] > ratio_limit * float(others.median()):
            found[index] = f"{run['error'] / float(others.median()):.3g} x the median of its cell's other seeds"
        elif task_median > 0 and run["error"] > ratio_limit * task_median:
            found[index] = f"{run['error'] / task_median:.3g} x the median of the task's runs"
    return found


def mark_constant_level(table: pd.DataFrame, z: float = CONSTANT_Z) -> pd.DataFrame:
    """The table with a boolean ``constant_level``: a finished run a constant prediction matches (see
    the module docstring), and ``constant_error`` filled per task for runs that predate the record."""
    recorded = table["constant_error"].astype(float)
    constant = recorded.fillna(recorded.groupby(table["task"]).transform("median"))
    share = constant.clip(0.0, 1.0)
    binomial = np.sqrt(share * (1.0 - share) / table["test_size"].astype(float))
    margin = (z * binomial).where(table["error_name"] == ZERO_ONE, 0.0).fillna(0.0)
    level = (table["status"] == schema.STATUS_OK) & constant.notna() & (table["error"] >= constant - margin)
    return table.assign(constant_error=constant, constant_level=level)


def clean(table: pd.DataFrame) -> pd.DataFrame:
    """Finished runs with no flag: the ones that set figure axes."""
    return table[(table["status"] == schema.STATUS_OK) & (table["flag"] == "")]


# --- best per task, rank order ------------------------------------------------------------------

def mean_interval(values: np.ndarray, level: float = CI_LEVEL) -> tuple[float, float, float]:
    """Mean and Student-t interval of the mean of errors (NaN bounds with fewer than two values; the
    lower bound cut at 0, since every error form is non-negative and two seeds give wide intervals)."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean()) if len(values) else math.nan
    if len(values) < 2 or not np.all(np.isfinite(values)):
        return mean, math.nan, math.nan
    half = stats.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return mean, max(mean - half, 0.0), mean + half  # error forms are >= 0: the interval is cut at 0


def cell_intervals(table: pd.DataFrame, level: float = CI_LEVEL) -> pd.DataFrame:
    """Per (task, method): mean error over finished seeds, its t-interval, seeds, flagged seeds."""
    rows = []
    for (task, method), cell in table.groupby(["task", "method"], sort=True):
        ok = cell[cell["status"] == schema.STATUS_OK]
        mean, low, high = mean_interval(ok["error"].to_numpy(dtype=float), level)
        rows.append({"task": task, "method": method, "error_name": ", ".join(sorted(set(ok["error_name"].dropna()))),
                     "mean": mean, "ci_low": low, "ci_high": high, "n_ok": len(ok), "n_runs": len(cell),
                     "n_flagged": int((cell.get("flag", pd.Series("", index=cell.index)) != "").sum())})
    return pd.DataFrame(rows)


def best_per_task(cells: pd.DataFrame) -> pd.DataFrame:
    """Per task: the method with the lowest mean error (over cells whose seeds all finished, when
    any did), the runner-up, and whether their intervals are apart (separable)."""
    rows = []
    for task, group in cells.groupby("task", sort=True):
        complete = group[(group["n_ok"] == group["n_runs"]) & np.isfinite(group["mean"])]
        ranked = (complete if len(complete) else group[np.isfinite(group["mean"])]).sort_values("mean")
        if ranked.empty:
            continue
        best = ranked.iloc[0]
        second = ranked.iloc[1] if len(ranked) > 1 else None
        apart = second is not None and best["ci_high"] < second["ci_low"]
        rows.append({"task": task, "error_name": best["error_name"], "best": best["method"], "mean": best["mean"],
                     "ci_low": best["ci_low"], "ci_high": best["ci_high"], "n": int(best["n_ok"]),
                     "runner_up": second["method"] if second is not None else "",
                     "runner_up_mean": second["mean"] if second is not None else math.nan,
                     "separable": bool(apart)})
    return pd.DataFrame(rows)


def rank_separability(ranks: pd.DataFrame) -> pd.DataFrame:
    """``rank_table`` rows in order with ``apart_from_next``: the interval ends before the next
    method's begins (their order is not a bootstrap accident)."""
    ranks = ranks.reset_index(drop=True)
    apart = [bool(ranks.at[i, "ci_high"] < ranks.at[i + 1, "ci_low"]) for i in range(len(ranks) - 1)]
    return ranks.assign(apart_from_next=apart + [False])


# --- controls -----------------------------------------------------------------------------------

def control_comparison(table: pd.DataFrame) -> pd.DataFrame:
    """Per (method, its control, task): both mean errors over finished seeds, the log ratio of the
    means (negative: the method is better) and whether the t-intervals are apart."""
    if CONTROL_OF not in table.columns:
        return pd.DataFrame()
    cells = cell_intervals(table).set_index(["task", "method"])
    pairs = table.loc[table[CONTROL_OF].fillna("") != "", ["method", CONTROL_OF]].drop_duplicates()
    base = table["base_method"].fillna(table["method"]) if "base_method" in table.columns else table["method"]
    rows = []
    for control, target in pairs.itertuples(index=False):
        for task, method in _control_targets(table, base, control, target):
            a, c = cells.loc[(task, method)], cells.loc[(task, control)]
            apart = a["ci_high"] < c["ci_low"] or c["ci_high"] < a["ci_low"]
            rows.append({"method": method, "control": control, "task": task, "method_mean": a["mean"],
                         "control_mean": c["mean"], "log_ratio": _log_ratio(a["mean"], c["mean"]),
                         "separable": bool(apart)})
    return pd.DataFrame(rows)


def _control_targets(table: pd.DataFrame, base: pd.Series, control: str, target: str) -> list[tuple[str, str]]:
    """(task, column) pairs a control is compared with: every variant of its method on its tasks."""
    tasks = set(table.loc[table["method"] == control, "task"])
    mine = table[(base == target) & table["task"].isin(tasks)]
    return sorted(set(zip(mine["task"], mine["method"])))


def _log_ratio(a: float, b: float) -> float:
    return float(np.log(a / b)) if a > 0 and b > 0 and np.isfinite(a) and np.isfinite(b) else math.nan


# --- pairwise tests over tasks ------------------------------------------------------------------

def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment (Holm 1979) of a vector of p-values."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p)
    scaled = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order])
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(scaled, 1.0)
    return adjusted


def friedman(cube: np.ndarray) -> dict:
    """Friedman's test (scipy.stats.friedmanchisquare) over blocks (task, seed) of an error cube
    [task, method, seed]; a failed run (inf) ranks last in its block. Needs 3+ methods, 2+ blocks."""
    blocks = cube.transpose(0, 2, 1).reshape(-1, cube.shape[1])
    blocks = blocks[~np.all(np.isinf(blocks), axis=1)]
    if cube.shape[1] < 3 or len(blocks) < 2:
        return {"statistic": math.nan, "p": math.nan, "blocks": len(blocks)}
    ranked = stats.rankdata(blocks, axis=1)  # ranks make inf a value that ties with inf
    result = stats.friedmanchisquare(*ranked.T)
    return {"statistic": float(result.statistic), "p": float(result.pvalue), "blocks": len(blocks)}


def pairwise_tests(cube: np.ndarray, methods: list) -> pd.DataFrame:
    """Per pair of methods: Wilcoxon signed-rank of log(error_a / error_b) over the blocks (task,
    seed) where both finished with a positive error; the log ratio makes tasks of different error
    scales comparable. p Holm-adjusted over all pairs."""
    rows = []
    for i, j in combinations(range(len(methods)), 2):
        a, b = cube[:, i, :].ravel(), cube[:, j, :].ravel()
        keep = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
        diff = np.log(a[keep] / b[keep])
        p = float(stats.wilcoxon(diff).pvalue) if np.count_nonzero(diff) >= 2 else math.nan
        rows.append({"a": methods[i], "b": methods[j], "blocks": int(keep.sum()),
                     "a_better": int((diff < 0).sum()), "b_better": int((diff > 0).sum()),
                     "median_log_ratio": float(np.median(diff)) if len(diff) else math.nan, "p": p})
    table = pd.DataFrame(rows, columns=["a", "b", "blocks", "a_better", "b_better", "median_log_ratio", "p"])
    tested = table["p"].notna()
    table["p_holm"] = math.nan
    table.loc[tested, "p_holm"] = holm(table.loc[tested, "p"].to_numpy())
    return table


# --- error against cost -------------------------------------------------------------------------

def pareto_front(cost: np.ndarray, error: np.ndarray) -> np.ndarray:
    """Boolean mask of the points no other point beats on both cost and error (lower is better)."""
    cost, error = np.asarray(cost, dtype=float), np.asarray(error, dtype=float)
    finite = np.isfinite(cost) & np.isfinite(error)
    front = np.zeros(len(cost), dtype=bool)
    for k in np.flatnonzero(finite):
        beaten = finite & (cost <= cost[k]) & (error <= error[k]) & ((cost < cost[k]) | (error < error[k]))
        front[k] = not beaten.any()
    return front


def resource_groups(table: pd.DataFrame) -> pd.DataFrame:
    """Finished runs per (threads, device), largest first: costs compare only within one group."""
    ok = table[table["status"] == schema.STATUS_OK]
    counts = _resource_keys(ok).value_counts().rename("runs").reset_index()
    return counts.sort_values("runs", ascending=False, kind="stable", ignore_index=True)


def _resource_text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "?"
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _resource_keys(runs: pd.DataFrame) -> pd.DataFrame:
    """Threads and device of each run as text ('?' where unknown), so that groups compare exactly."""
    return pd.DataFrame({c: runs[c].map(_resource_text) for c in ("threads", "device")}, index=runs.index)


def cost_points(table: pd.DataFrame) -> pd.DataFrame:
    """Per finished run of the largest resource group: task, method, seed, error, CPU seconds of
    search + tune + retrain, MACs, flag; with ``front`` marking, per task and cost axis, the
    Pareto-optimal method means (column ``kind`` = run or mean)."""
    groups = resource_groups(table)
    ok = table[table["status"] == schema.STATUS_OK]
    if not groups.empty:
        threads, device = groups.iloc[0][["threads", "device"]]
        keys = _resource_keys(ok)
        ok = ok[(keys["threads"] == threads) & (keys["device"] == device)]
    runs = ok.assign(cpu_s=search_cpu_s(ok), kind="run")[["task", "method", "seed", "error", "cpu_s", "macs",
                                                           "flag", "kind"]]
    means = runs[runs["flag"] == ""].groupby(["task", "method"], as_index=False)[["error", "cpu_s", "macs"]].mean()
    means = means.assign(seed=pd.NA, flag="", kind="mean")
    for axis in ("cpu_s", "macs"):
        means[f"front_{axis}"] = False
        for _, task in means.groupby("task"):
            means.loc[task.index, f"front_{axis}"] = pareto_front(task[axis], task["error"])
    return pd.concat([runs, means], ignore_index=True)


# --- best-so-far curves -------------------------------------------------------------------------

def best_so_far(table: pd.DataFrame) -> pd.DataFrame:
    """Long table task, method, seed, elapsed_s, best (running minimum of the first column of
    ``BEST_SO_FAR_COLUMNS`` the run's ``curves.csv`` has); runs without one are left out."""
    frames = []
    for _, run in table[table["status"] == schema.STATUS_OK].iterrows():
        curve = _read_curve(Path(run["run_dir"]) / schema.CURVES)
        column = next((c for c in BEST_SO_FAR_COLUMNS if c in curve.columns), None)
        if column is None or ELAPSED not in curve.columns:
            continue
        points = curve[[ELAPSED, column]].apply(pd.to_numeric, errors="coerce").dropna()
        frames.append(pd.DataFrame({"task": run["task"], "method": run["method"], "seed": run["seed"],
                                    ELAPSED: points[ELAPSED].to_numpy(), "column": column,
                                    "best": points[column].cummin().to_numpy()}))
    columns = ["task", "method", "seed", ELAPSED, "column", "best"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _read_curve(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (OSError, ValueError, pd.errors.EmptyDataError):
        return pd.DataFrame()


# --- per-seed table -----------------------------------------------------------------------------

def seed_table(table: pd.DataFrame) -> pd.DataFrame:
    """Rows task x method, a column per seed: the error, the status where it did not finish,
    ``!`` after a flagged run's error and ``=`` after one at constant level; the last column says why."""
    def cell(run: pd.Series) -> str:
        if run["status"] != schema.STATUS_OK:
            return str(run["status"])
        return f"{run['error']:.4g}" + (" !" if run["flag"] else "") + (" =" if run.get("constant_level") else "")

    def note(run: pd.Series) -> str:
        return "; ".join(filter(None, [run["flag"], "no better than a constant prediction"
                                       if run.get("constant_level") else ""]))

    shown = table.assign(cell=table.apply(cell, axis=1), note=table.apply(note, axis=1), seed=table["seed"].astype(str))
    wide = shown.pivot_table(index=["task", "method"], columns="seed", values="cell", aggfunc="first")
    wide.columns = [f"seed {s}" for s in wide.columns]
    noted = shown[shown["note"] != ""].groupby(["task", "method"])
    notes = noted.apply(lambda g: "; ".join(f"seed {s}: {n}" for s, n in zip(g["seed"], g["note"])))
    wide["flags"] = notes.reindex(wide.index).fillna("") if len(notes) else ""
    return wide.fillna("missing").reset_index()
