"""Published numbers: ``results/reference/`` is the suite's own, committed copy of the published tables
(imported once with ``nasbench reference --import DIR`` from a folder that holds them), read back with
every value in the suite's error form and labelled with its source table.

The imported CSVs are byte-for-byte copies (``IMPORTED.json`` records their checksums and origin);
``methods.csv`` is the suite's own file: for each published method of a table, its kind in the
paper's words (DASH Section 4.1: expert, hand-designed, automated, general-purpose, ablation) and
the suite method it corresponds to, if any.

Ranking ground truths, by one naming convention: every ``*_ground_truth.csv`` in the folder is the
stand-alone test accuracy of the candidate architectures of one search space, one row per candidate,
with the columns ``config`` (the candidate as ``[a b c]``, see ``archs.config_key``) and
``test_accuracy`` (higher is better). A report ranks any run's ``details.supernet_scores`` against
every ground truth whose candidates it scored (ranking fidelity).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from nasbench.analysis.table import ReportError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REFERENCE_DIR = Path("results") / "reference"
PUBLISHED = "published_results.csv"
IMPORTED_FILES = (PUBLISHED, "search_method_results.csv", "bms_resnet20_cifar10_pooling_ground_truth.csv",
                  "README.md")
METHODS = "methods.csv"
MANIFEST = "IMPORTED.json"
REQUIRED = ("source", "table", "benchmark", "method", "task", "metric", "direction", "value", "std")
COST_MARK = "GPU hours"
GROUND_TRUTH_SUFFIX = "_ground_truth.csv"
GROUND_TRUTH_COLUMNS = ("config", "test_accuracy")


def import_reference(source: Path | str, dest: Path | str = DEFAULT_REFERENCE_DIR) -> list[Path]:
    """Copy the published tables from ``source`` (a folder that holds ``IMPORTED_FILES``) into ``dest``
    and record their checksums; returns the copies."""
    source, dest = Path(source), Path(dest)
    missing = [name for name in IMPORTED_FILES if not (source / name).is_file()]
    if missing:
        raise ReportError(f"published tables not found in {source}: missing {', '.join(missing)}\n"
                          f"  expected: {', '.join(IMPORTED_FILES)}\n"
                          f"  to fix: pass the folder that holds them: `nasbench reference --import DIR`")
    _check_columns(pd.read_csv(source / PUBLISHED), source / PUBLISHED)
    dest.mkdir(parents=True, exist_ok=True)
    copies = [Path(shutil.copyfile(source / name, dest / name)) for name in IMPORTED_FILES]
    record = {"from": _relative(source), "files": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in copies}}
    (dest / MANIFEST).write_text(json.dumps(record, indent=2) + "\n")
    return copies


def _check_columns(frame: pd.DataFrame, path: Path) -> None:
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ReportError(f"{path} lacks columns {missing}; expected at least {list(REQUIRED)}\n"
                          f"  to fix: re-import the published tables with `nasbench reference --import`")


def find_reference_dir(preferred: Path | str | None = None) -> Path | None:
    """The folder of published numbers: ``preferred`` if given, else ``results/reference`` under the
    working directory, else the checkout's own; None when none holds the published table."""
    if preferred is not None:
        return Path(preferred)
    for candidate in (DEFAULT_REFERENCE_DIR, REPO_ROOT / "results" / "reference"):
        if (candidate / PUBLISHED).is_file():
            return candidate
    return None


def error_form(metric: str, direction: str, value: float) -> float:
    """A published value in the suite's error form: percentages as fractions, 1 - accuracy."""
    scale = 0.01 if "(%)" in metric else 1.0
    return value * scale if direction == "min" else 1.0 - value * scale


def error_name(metric: str, direction: str) -> str:
    base = metric.replace("(%)", "").strip()
    return "0-1 error" if direction == "max" and base == "accuracy" else base


def load_published(reference_dir: Path | str) -> pd.DataFrame:
    """Every published row with ``error`` / ``error_std`` in the suite's error form (NaN for cost
    rows), ``is_cost``, ``kind`` and ``suite_method`` from methods.csv, and a ``label``."""
    path = Path(reference_dir) / PUBLISHED
    if not path.is_file():
        raise ReportError(f"published numbers not found: {path}\n"
                          f"  to fix: build the report from the suite's checkout (its results/reference), pass "
                          f"--reference DIR, or import the tables: `nasbench reference --import DIR` (writes "
                          f"results/reference)")
    table = pd.read_csv(path)
    _check_columns(table, path)
    table["is_cost"] = table["metric"].str.contains(COST_MARK, regex=False)
    scale = np.where(table["metric"].str.contains("(%)", regex=False), 0.01, 1.0)
    table["error"] = [np.nan if cost else error_form(m, d, v)
                      for cost, m, d, v in zip(table["is_cost"], table["metric"], table["direction"], table["value"])]
    table["error_std"] = np.where(table["is_cost"], np.nan, table["std"] * scale)
    table["error_name"] = [error_name(m, d) for m, d in zip(table["metric"], table["direction"])]
    table["label"] = "published: " + table["source"] + ", " + table["table"]
    return _with_method_kinds(table, Path(reference_dir) / METHODS)


def _with_method_kinds(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    if path.is_file():
        kinds = pd.read_csv(path, keep_default_na=False)[["source", "table", "method", "kind", "suite_method"]]
        table = table.merge(kinds, on=["source", "table", "method"], how="left")
    else:
        table["kind"], table["suite_method"] = "", ""
    table[["kind", "suite_method"]] = table[["kind", "suite_method"]].fillna("")
    return table


def published_tables(published: pd.DataFrame) -> list[tuple[str, str]]:
    """The (source, table) pairs that hold errors, in file order."""
    errors = published[~published["is_cost"]]
    return list(dict.fromkeys(zip(errors["source"], errors["table"])))


def published_matrix(published: pd.DataFrame, source: str, table: str, by: str = "method") -> pd.DataFrame:
    """Task x method error matrix of one published table (NaN where the paper has no entry);
    ``by="suite_method"`` keeps the methods that map to a suite method, under the suite's names."""
    rows = published[(published["source"] == source) & (published["table"] == table) & ~published["is_cost"]]
    if by == "suite_method":
        rows = rows[rows["suite_method"] != ""]
    tasks, methods = list(dict.fromkeys(rows["task"])), list(dict.fromkeys(rows[by]))
    matrix = rows.pivot_table(index="task", columns=by, values="error", aggfunc="first")
    return matrix.reindex(index=tasks, columns=methods).rename_axis(index="task", columns="method")


def best_of_kind(matrix: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """Per task: which of ``methods`` has the lowest error (ties listed together) and that error.
    Tasks where none of them has a number are left out."""
    rows = []
    for task, row in matrix[[m for m in methods if m in matrix.columns]].iterrows():
        finite = row.dropna()
        if finite.empty:
            continue
        best = finite.min()
        rows.append({"task": task, "best": ", ".join(finite.index[finite == best]), "error": best,
                     "n_methods": len(finite)})
    return pd.DataFrame(rows, columns=["task", "best", "error", "n_methods"])


def win_counts(best: pd.DataFrame) -> pd.Series:
    """How many tasks each method wins in a ``best_of_kind`` table (a shared win counts for each)."""
    winners = best["best"].str.split(", ").explode()
    return winners.value_counts().rename("tasks_won")


def ranking_ground_truths(reference_dir: Path | str | None) -> dict[str, pd.DataFrame]:
    """Every ``*_ground_truth.csv`` of the folder (module docstring), by file name, as
    ``config`` (normalised ``[a b c]``) and ``test_accuracy``; files without the columns are skipped."""
    from nasbench.analysis.archs import config_key

    found: dict[str, pd.DataFrame] = {}
    if reference_dir is None:
        return found
    for path in sorted(Path(reference_dir).glob(f"*{GROUND_TRUTH_SUFFIX}")):
        table = pd.read_csv(path)
        if set(GROUND_TRUTH_COLUMNS) <= set(table.columns):
            found[path.name] = table.assign(config=table["config"].map(config_key))[list(GROUND_TRUTH_COLUMNS)]
    return found


def _relative(path: Path) -> str:
    """The origin as a path relative to the checkout when it is beside it (no machine paths)."""
    try:
        return str(Path(os.path.relpath(path.resolve(), REPO_ROOT)))
    except ValueError:
        return str(path)
