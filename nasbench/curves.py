"""Per-epoch learning curves, one row per epoch per stage, written as ``curves.csv``."""
from __future__ import annotations

import csv
import io
import math
from typing import Any, Callable

from nasbench.errors import TrainingDiverged


class CurveLog:
    def __init__(self, on_row: Callable[[dict[str, Any]], None] | None = None):
        self.rows: list[dict[str, Any]] = []
        self.stage = ""
        self._on_row = on_row  # the runner adds elapsed time; a Ray trial reports the row

    def record(self, epoch: int, **values: float) -> None:
        for key, value in values.items():
            if isinstance(value, float) and not math.isfinite(value) and key.endswith("loss"):
                raise TrainingDiverged(f"{self.stage} epoch {epoch}: {key} is {value}")
        row = {"stage": self.stage, "epoch": epoch, **values}
        if self._on_row is not None:
            self._on_row(row)
        self.rows.append(row)

    def to_csv(self) -> str:
        columns: list[str] = []
        for row in self.rows:
            columns += [k for k in row if k not in columns]
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns or ["stage", "epoch"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        return out.getvalue()
