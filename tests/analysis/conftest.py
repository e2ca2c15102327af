"""Synthetic run folders for the analysis tests. These are test data, written with the schema's
names; they are not benchmark results (their data source says so where a test needs it)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from nasbench import schema

ERROR_NAMES = {"darcyflow": "relative L2", "cifar100": "0-1 error", "listops": "0-1 error"}


def write_run(root: Path, task: str, method: str, seed: int, error: float | None = None, *,
              status: str = schema.STATUS_OK, data_source: str = "generated", budget: str = "smoke",
              arch: dict | None = None, wall: float = 1.0) -> Path:
    """One run folder with a manifest (and an arch.json when ``arch`` is given)."""
    run_dir = root / task / method / f"seed={seed}"
    run_dir.mkdir(parents=True)
    manifest = {
        "schema_version": schema.SCHEMA_VERSION, schema.RUN_ID: f"{task}-{method}-{seed}", schema.STUDY: root.name,
        schema.METHOD: method, schema.TASK: task, schema.SEED: seed, schema.BUDGET: budget,
        schema.STATUS: status, schema.ERROR: None if status == schema.STATUS_OK else f"planted {status}",
        schema.DATA_SOURCE: data_source, "versions": {"nasbench": "0.1.0"},
        schema.COSTS: {stage: {"wall_s": wall * (i + 1), "cpu_s": wall, "peak_rss_mb": 100.0 + i}
                       for i, stage in enumerate(schema.STAGES)},
    }
    if status == schema.STATUS_OK:
        name = ERROR_NAMES.get(task, "0-1 error")
        manifest[schema.METRIC] = {"name": "m", "value": error, "direction": "min", "error_name": name,
                                   "error": error, "split": "test", "epoch": "last"}
        manifest.update(arch_id=f"a{seed}", params=1000 + seed, macs=5000 + seed)
    (run_dir / schema.MANIFEST).write_text(json.dumps(manifest))
    if arch is not None:
        (run_dir / schema.ARCH).write_text(json.dumps(arch))
    return run_dir


@pytest.fixture(scope="session")
def write():
    return write_run


DIVERGED = 56.0  # a relative L2 that a diverged DASH run reported


def edit_manifest(run_dir: Path, **fields) -> None:
    path = run_dir / schema.MANIFEST
    manifest = json.loads(path.read_text())
    manifest.update(fields)
    path.write_text(json.dumps(manifest))


@pytest.fixture(scope="session")
def diverged_study(tmp_path_factory):
    """3 tasks x (dash, its random control, wrn) x 3 seeds; darcyflow/dash seed 2 diverged."""
    root = tmp_path_factory.mktemp("results") / "diverged"
    base = {"darcyflow": 0.05, "cifar100": 0.30, "listops": 0.60}
    offset = {"dash": 0.0, "random-dash": 0.02, "wrn": 0.04}
    for task, error in base.items():
        for method, extra in offset.items():
            for seed in range(3):
                value = DIVERGED if (task, method, seed) == ("darcyflow", "dash", 2) else error + extra + 0.001 * seed
                run_dir = write_run(root, task, method, seed, value, wall=10.0 * (1 + extra * 50))
                edit_manifest(run_dir, resources={"device": "cpu", "torch_threads": 1},
                              control_of="dash" if method == "random-dash" else None)
    return root
