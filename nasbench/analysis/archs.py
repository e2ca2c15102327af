"""The found architectures: each run's ``arch.json`` record, shown the way its method says
(``SearchMethod.describe_record`` for a table row, ``draw_record`` for a figure). The suite knows
no method's record: it looks the method up in the registry, and a method that is unknown, cannot be
imported or fails on its record gives a row that says so instead of stopping the report.

``details.supernet_scores`` is the one place, common to every method, where a method records its
supernet's score of candidate architectures: ``[{"config": ..., "score": ...}, ...]`` or
``{config: score}``. Reports compare those scores with stand-alone ground truths (ranking fidelity).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from nasbench import registry, schema
from nasbench.errors import NasBenchError

NOTE = "note"  # the column of a row that says why an architecture is not described


def read_record(run_dir: Path | str) -> dict[str, Any] | None:
    try:
        record = json.loads((Path(run_dir) / schema.ARCH).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _method_class(method: str) -> tuple[Any, str | None]:
    """(class, None), or (None, why not) when ``method`` is unknown or cannot be imported."""
    try:
        return registry.methods.get(method), None
    except NasBenchError as exc:
        return None, f"method {method!r} is not available here: {str(exc).splitlines()[0]}"


def _failure(method: str, hook: str, exc: Exception) -> str:
    return f"{method}.{hook} failed on this record: {type(exc).__name__}: {exc}"


def _cell(value: Any) -> Any:
    """Short table cells: numbers and text as they are, anything else as compact JSON."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return json.dumps(value, separators=(",", ":"))


def describe(method: str, record: dict[str, Any] | None) -> dict[str, Any]:
    """The method's table row for ``record``, or ``{"note": why not}``."""
    if record is None:
        return {NOTE: "no arch.json recorded"}
    cls, problem = _method_class(method)
    if cls is None:
        return {NOTE: problem}
    try:
        row = cls.describe_record(record)
    except Exception as exc:  # a plugin's error on an old or foreign record must not stop the report
        return {NOTE: _failure(method, "describe_record", exc)}
    if not isinstance(row, dict):
        return {NOTE: f"{method}.describe_record returned {type(row).__name__}, not a dict"}
    return {str(key): _cell(value) for key, value in row.items()}


def draw(method: str, record: dict[str, Any] | None, ax: Any) -> str | None:
    """Let the method draw ``record`` on ``ax``; None when it drew, else why there is no figure."""
    if record is None:
        return "no arch.json recorded"
    cls, problem = _method_class(method)
    if cls is None:
        return problem
    try:
        drawn = cls.draw_record(record, ax)
    except Exception as exc:  # as in describe: the report goes on without this figure
        return _failure(method, "draw_record", exc)
    return None if drawn else f"{method} draws no figure of its records"


SUPERNET_SCORES = "supernet_scores"


def config_key(config: Any) -> str:
    """A candidate configuration as the ground-truth tables write it: ``[a b c]``."""
    if isinstance(config, (list, tuple)):
        return "[" + " ".join(str(int(v)) for v in config) + "]"
    return "[" + " ".join(str(config).strip("[] ").replace(",", " ").split()) + "]"


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def supernet_scores(record: dict[str, Any]) -> pd.DataFrame | None:
    """A supernet's scores of candidate architectures, if the method recorded them under
    ``details.supernet_scores`` as ``[{config, score}, ...]`` or ``{config: score}``; else None."""
    found = (record.get("details") or {}).get(SUPERNET_SCORES) if isinstance(record.get("details"), dict) else None
    if isinstance(found, dict):
        found = [{"config": k, "score": v} for k, v in found.items()]
    if not isinstance(found, list):
        return None
    rows = [{"config": config_key(e["config"]), "supernet": _float(e.get("score"))}
            for e in found if isinstance(e, dict) and "config" in e]
    return pd.DataFrame(rows) if rows else None
