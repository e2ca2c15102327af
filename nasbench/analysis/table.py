"""One tidy table of runs, read from the run manifests, and the completeness check.

A row is one run folder (``<results>/<task>/<method>/seed=<k>/manifest.json``); nothing is dropped
here: failed and skipped runs keep their row with ``error = NaN`` and their reason in ``error_text``.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import pandas as pd

from nasbench import schema
from nasbench.errors import NasBenchError
from nasbench.store import RunStore

if TYPE_CHECKING:
    from nasbench.study import Study

FIXTURE = "fixture"
COST_FIELDS = ("wall_s", "cpu_s", "peak_alloc_mb", "peak_rss_mb", "peak_cuda_mb")
ID_COLUMNS = ["task", "method", "seed", "budget", "data_source", "status"]
METRIC_COLUMNS = ["metric_name", "metric_value", "direction", "error_name", "error"]
COST_COLUMNS = [f"{stage}_{field}" for stage in schema.STAGES for field in COST_FIELDS]
RESOURCE_COLUMNS = ["threads", "device"]  # costs compare only between runs that agree on these
# the error of a prediction that ignores its input, on the run's test split of test_size examples
# (``nasbench.runner.constant_baseline``; NaN for runs written before it was recorded)
BASELINE_COLUMNS = ["constant_error", "test_size"]
COLUMNS = [*ID_COLUMNS, *METRIC_COLUMNS, *BASELINE_COLUMNS, "total_wall_s", *COST_COLUMNS, *RESOURCE_COLUMNS,
           "params", "macs", "arch_id", "error_text", "run_id", "study", "suite_version", "run_dir", "base_method"]


class ReportError(NasBenchError):
    """The input of an analysis or a report is missing, empty or inconsistent."""


def run_row(manifest: dict[str, Any], run_dir: Path | str = "") -> dict[str, Any]:
    """Flatten one manifest into a row of the runs table (missing fields become NaN/None)."""
    metric = manifest.get(schema.METRIC) or {}
    costs = manifest.get(schema.COSTS) or {}
    data = manifest.get("data") or {}
    row: dict[str, Any] = {
        # a study's variant (method + overrides) is its own column; base_method names the plugin
        "task": manifest.get(schema.TASK), "method": manifest.get("variant") or manifest.get(schema.METHOD),
        "base_method": manifest.get(schema.METHOD),
        "seed": manifest.get(schema.SEED), "budget": manifest.get(schema.BUDGET),
        "data_source": manifest.get(schema.DATA_SOURCE), "status": manifest.get(schema.STATUS),
        "metric_name": metric.get("name"), "metric_value": _number(metric.get("value")),
        "direction": metric.get("direction"), "error_name": metric.get("error_name"),
        "error": _number(metric.get("error")) if manifest.get(schema.STATUS) == schema.STATUS_OK else math.nan,
        "constant_error": _number((data.get(schema.CONSTANT_BASELINE) or {}).get("error")),
        "test_size": _number((data.get("sizes") or {}).get("test")),
        "params": _number(manifest.get("params")), "macs": _number(manifest.get("macs")),
        "arch_id": manifest.get("arch_id"), "error_text": manifest.get(schema.ERROR),
        "run_id": manifest.get(schema.RUN_ID), "study": manifest.get(schema.STUDY),
        "suite_version": (manifest.get("versions") or {}).get("nasbench"), "run_dir": str(run_dir),
    }
    row.update(run_resources(manifest))
    for stage in schema.STAGES:
        for field in COST_FIELDS:
            row[f"{stage}_{field}"] = _number((costs.get(stage) or {}).get(field))
    walls = [row[f"{stage}_wall_s"] for stage in schema.STAGES]
    row["total_wall_s"] = math.fsum(w for w in walls if not math.isnan(w)) if costs else math.nan
    return row


def run_resources(manifest: dict[str, Any]) -> dict[str, Any]:
    """Torch threads and device of a run (``resources``; older manifests: ``host`` and ``device``)."""
    resources = manifest.get("resources") or {}
    threads = resources.get("torch_threads", (manifest.get("host") or {}).get("torch_threads"))
    device = resources.get("device") or str(manifest.get("device") or "").partition(":")[0] or None
    return {"threads": _number(threads), "device": device}


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def runs_table_from_manifests(items: Iterable[tuple[Path | str, dict[str, Any]]]) -> pd.DataFrame:
    """The tidy runs table from (run folder, manifest) pairs, sorted by task, method, seed."""
    rows = [run_row(manifest, run_dir) for run_dir, manifest in items]
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["seed"] = pd.to_numeric(table["seed"], errors="coerce").astype("Int64")
    return table.sort_values(["task", "method", "seed"], ignore_index=True)


def runs_table(results_dir: Path | str) -> pd.DataFrame:
    """Read every run manifest under ``results_dir``; raise ``ReportError`` when there are none."""
    root = Path(results_dir)
    if not root.is_dir():
        raise ReportError(f"results folder not found: {root}\n  expected: a folder <results>/<task>/<method>/"
                          f"seed=<k>/manifest.json as written by `nasbench run` or `nasbench study`\n"
                          f"  to fix: give an existing results folder, or run `make study STUDY=<name>` first")
    table = runs_table_from_manifests(RunStore(root).manifests(include_corrupt=True))  # a corrupt one is named
    if table.empty:
        raise ReportError(f"no run manifests under {root} (looked for {root}/{schema.RUN_GLOB})\n"
                          f"  to fix: run `nasbench run METHOD TASK --results {root}` or a study into it, "
                          f"or build a report of published numbers alone with `nasbench report --published-only`")
    return table


def benchmark_runs(table: pd.DataFrame, include_fixture: bool = False) -> pd.DataFrame:
    """The runs that may be presented as results: fixture-data runs only when asked for."""
    if include_fixture:
        return table
    return table[table["data_source"] != FIXTURE].reset_index(drop=True)


def expected_grid(table: pd.DataFrame, study: Study | None = None) -> pd.DataFrame:
    """Every (task, method, seed) that should exist: the study's grid when given (a ``Study`` read by
    ``nasbench.study.load_study``, the one reader of study files), else the product of the tasks, methods
    and seeds seen in the table."""
    if study is not None:
        tasks, methods, seeds = list(study.tasks), list(study.methods), list(study.seeds)
    else:
        tasks = sorted(table["task"].dropna().unique())
        methods = sorted(table["method"].dropna().unique())
        seeds = sorted(int(s) for s in table["seed"].dropna().unique())
    index = pd.MultiIndex.from_product([tasks, methods, seeds], names=["task", "method", "seed"])
    return index.to_frame(index=False)


def completeness(table: pd.DataFrame, study: Study | None = None) -> pd.DataFrame:
    """One row per run that is not a finished result: ``missing`` (expected, no folder), ``failed``
    or ``skipped`` (with the recorded reason). Empty when the grid is complete."""
    grid = expected_grid(table, study)
    seen = table[["task", "method", "seed", "status", "error_text"]].astype({"seed": "int64"})
    merged = grid.merge(seen, on=["task", "method", "seed"], how="outer", indicator=True)
    merged["problem"] = merged["status"].where(merged["_merge"] != "left_only", "missing")
    merged.loc[merged["_merge"] == "left_only", "error_text"] = "no run folder"
    bad = merged[merged["problem"] != schema.STATUS_OK]
    columns = ["task", "method", "seed", "problem", "error_text"]
    return bad[columns].rename(columns={"error_text": "detail"}).sort_values(columns[:3], ignore_index=True)
