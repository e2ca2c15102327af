"""The found architectures, read from ``arch.json`` records defensively: methods describe their
choices in their own words, so the reader recognises two shapes wherever they sit in the record
(``details``, ``choices``, ``arch`` or the top level) and ignores what it does not know.

- kernel/dilation per layer (DASH): a list of ``{name?, k|kernel_size, d|dilation}`` or a mapping
  ``name -> {k, d}``, with whole-number k and d;
- blocks (DNArch): a list under ``blocks`` of ``{kernel_size, resolution, width|widths}``, where
  sizes may be per-axis lists and widths ``[N_in, N_mid, N_out]``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from nasbench import schema

KERNEL_KEYS, DILATION_KEYS = ("k", "kernel", "kernel_size"), ("d", "dilation")
PLACES = ("details", "choices", "arch")


def read_record(run_dir: Path | str) -> dict[str, Any] | None:
    try:
        record = json.loads((Path(run_dir) / schema.ARCH).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _first(entry: dict, keys: tuple[str, ...]) -> Any:
    return next((entry[k] for k in keys if k in entry), None)


def _int(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _containers(record: dict) -> Iterator[Any]:
    for place in PLACES:
        value = record.get(place)
        if isinstance(value, dict):
            yield value
            yield from (v for v in value.values() if isinstance(v, (dict, list)))
        elif isinstance(value, list):
            yield value
    yield record


def _kd_entries(container: Any) -> list[tuple[str, Any, Any]]:
    if isinstance(container, list):
        items = [(str(e.get("name", i)), e) for i, e in enumerate(container) if isinstance(e, dict)]
    elif isinstance(container, dict):
        items = [(str(n), e) for n, e in container.items()]
    else:
        return []
    found = []
    for name, entry in items:
        pair = (_first(entry, KERNEL_KEYS), _first(entry, DILATION_KEYS)) if isinstance(entry, dict) else ()
        if len(pair) == 2 and all(map(_size, pair)):
            found.append((name, pair[0], pair[1]))
    return found if len(found) == len(items) and found else []


def _size(value: Any) -> bool:
    """A kernel size or dilation: a positive whole number (so mask parameters or probabilities, lists
    of floats, are never taken for one)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 1 and float(value).is_integer()


def kernel_dilation_layers(record: dict[str, Any]) -> pd.DataFrame | None:
    """Per layer: name, kernel size k, dilation d and receptive field d(k-1)+1 (DASH), or None."""
    for container in _containers(record):
        entries = _kd_entries(container)
        if entries:
            rows = [{"layer": i, "name": name, "k": _int(k), "d": _int(d)} for i, (name, k, d) in enumerate(entries)]
            table = pd.DataFrame(rows)
            table["receptive_field"] = table["d"] * (table["k"] - 1) + 1
            return table
    return None


def _axes(value: Any) -> list[float]:
    return [_int(v) for v in value] if isinstance(value, (list, tuple)) else [_int(value)]


def _block_row(i: int, block: dict) -> dict[str, float]:
    row: dict[str, float] = {"block": i}
    for key in ("kernel_size", "resolution"):
        for axis, size in enumerate(_axes(block.get(key))):
            row[f"{key}_{axis}"] = size
    widths = _axes(_first(block, ("widths", "width")))
    names = ("width_in", "width_mid", "width_out") if len(widths) == 3 else tuple(f"width_{j}" for j in range(len(widths)))
    row.update(zip(names, widths))
    return row


def blocks(record: dict[str, Any]) -> pd.DataFrame | None:
    """Per block: kernel size and resolution per axis, widths (DNArch), or None."""
    for container in _containers(record):
        found = container.get("blocks") if isinstance(container, dict) else None
        if isinstance(found, list) and found and all(isinstance(b, dict) and "kernel_size" in b for b in found):
            return pd.DataFrame([_block_row(i, b) for i, b in enumerate(found)])
    return None


def found_architecture(record: dict[str, Any]) -> tuple[str, pd.DataFrame] | None:
    """("kernel-dilation", layers) or ("blocks", blocks) for a record, or None if neither is there."""
    layers = kernel_dilation_layers(record)
    if layers is not None:
        return "kernel-dilation", layers
    found = blocks(record)
    return ("blocks", found) if found is not None else None


SUPERNET_SCORES = "supernet_scores"


def config_key(config: Any) -> str:
    """A pooling configuration as the Balanced Mixture tables write it: ``[a b c]``."""
    if isinstance(config, (list, tuple)):
        return "[" + " ".join(str(int(v)) for v in config) + "]"
    return "[" + " ".join(str(config).strip("[] ").replace(",", " ").split()) + "]"


def supernet_scores(record: dict[str, Any]) -> pd.DataFrame | None:
    """A supernet's scores of candidate architectures, if the method recorded them under
    ``details.supernet_scores`` as ``[{config, score}, ...]`` or ``{config: score}``; else None."""
    found = (record.get("details") or {}).get(SUPERNET_SCORES) if isinstance(record.get("details"), dict) else None
    if isinstance(found, dict):
        found = [{"config": k, "score": v} for k, v in found.items()]
    if not isinstance(found, list):
        return None
    rows = [{"config": config_key(e["config"]), "supernet": _int(e.get("score"))}
            for e in found if isinstance(e, dict) and "config" in e]
    return pd.DataFrame(rows) if rows else None
