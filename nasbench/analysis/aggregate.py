"""Per task and method: mean, standard deviation and standard error of the error form over seeds,
and the task x method error matrix that profiles and ranks read.

Two views, stated in every report:
- ``aggregate`` summarises the finished (ok) seeds of a cell and counts the others, so the numbers
  that exist are shown;
- ``error_matrix`` is strict: a cell with any failed, skipped or missing seed is ``inf``
  (infinitely worse), as performance profiles require.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from nasbench import schema
from nasbench.analysis.table import expected_grid

if TYPE_CHECKING:
    from nasbench.study import Study

STAGE_WALLS = [f"{stage}_wall_s" for stage in ("search", "tune", "retrain")]


def _joined(values: pd.Series) -> str:
    return ", ".join(sorted({str(v) for v in values.dropna()}))


def _integer_text(value) -> str | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else str(int(value))


def aggregate(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, method): n runs, n ok, mean/std/sem of the error over ok seeds, the error
    name, data sources, budgets, and mean costs per stage."""
    rows = []
    for (task, method), cell in table.groupby(["task", "method"], sort=True):
        ok = cell[cell["status"] == schema.STATUS_OK]
        errors = ok["error"].dropna().to_numpy(dtype=float)
        std = float(np.std(errors, ddof=1)) if len(errors) > 1 else math.nan
        rows.append({
            "task": task, "method": method, "error_name": _joined(ok["error_name"]) or _joined(cell["error_name"]),
            "n_runs": len(cell), "n_ok": len(errors), "mean": float(errors.mean()) if len(errors) else math.nan,
            "std": std, "sem": std / math.sqrt(len(errors)) if len(errors) > 1 else math.nan,
            "data_source": _joined(cell["data_source"]), "budget": _joined(cell["budget"]),
            **{col: ok[col].mean() for col in [*STAGE_WALLS, "total_wall_s", "params", "macs"]},
            "peak_rss_mb": ok[[c for c in ok.columns if c.endswith("_peak_rss_mb")]].max().max(),
            "peak_alloc_mb": ok[[c for c in ok.columns if c.endswith("_peak_alloc_mb")]].max().max(),
            "threads": _joined(ok["threads"].map(_integer_text)) if "threads" in ok else "",
            "device": _joined(ok["device"]) if "device" in ok else "",
        })
    return pd.DataFrame(rows)


def seed_error_cube(table: pd.DataFrame, study: Study | None = None) -> tuple[np.ndarray, list, list, list]:
    """Errors as an array [task, method, seed] over the expected grid; ``inf`` where a run is
    failed, skipped or missing. Returns the array and its task, method and seed labels."""
    grid = expected_grid(table, study)
    ok = table[table["status"] == schema.STATUS_OK].astype({"seed": "int64"})
    cells = grid.merge(ok[["task", "method", "seed", "error"]], on=["task", "method", "seed"], how="left")
    tasks, methods, seeds = (sorted(grid[c].unique(), key=str) for c in ("task", "method", "seed"))
    cube = cells.set_index(["task", "method", "seed"])["error"].astype(float).fillna(np.inf)
    full = pd.MultiIndex.from_product([tasks, methods, seeds])
    values = cube.groupby(level=[0, 1, 2]).mean().reindex(full, fill_value=np.inf).to_numpy()
    return values.reshape(len(tasks), len(methods), len(seeds)), tasks, methods, seeds


def cube_means(cube: np.ndarray, tasks: list, methods: list) -> pd.DataFrame:
    """Task x method mean over the seed axis of an error cube (``inf`` stays ``inf``)."""
    return pd.DataFrame(cube.mean(axis=2), index=pd.Index(tasks, name="task"), columns=pd.Index(methods, name="method"))


def error_matrix(table: pd.DataFrame, study: Study | None = None) -> pd.DataFrame:
    """Task x method mean error over the expected seeds; ``inf`` if any expected seed is not ok."""
    cube, tasks, methods, _ = seed_error_cube(table, study)
    return cube_means(cube, tasks, methods)
