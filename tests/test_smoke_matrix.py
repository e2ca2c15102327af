"""Every registered method x every registered task that writes a fixture, at the ``smoke`` budget,
through the runner: generated from the registries (``nasbench.testing.smoke_matrix``), so a new method
or task is covered as soon as its entry point exists. Each task runs with its own ``smoke_overrides`` on
the fixture its ``write_fixture`` writes in the official format.

A compatible pair finishes ``ok`` on fixture data with a finite test metric, its error form and a valid
architecture record; an incompatible pair is ``skipped`` with the method's reason. The quick suite runs
each method on the first task it supports of each shape kind (the cheapest 2D dense, 1D, 2D
classification and token task, chosen by shape, not by name) and every skip; the rest is marked ``slow``.
"""
from __future__ import annotations

import json
import math

import pytest

from nasbench import schema
from nasbench.contracts import MetricSpec
from nasbench.registry import methods, tasks
from nasbench.runner import TASK_PREFIX, RunRequest, execute, prepare
from nasbench.store import RunStore
from nasbench.testing import SmokePair, SmokeTask, smoke_matrix
from nasbench.testing.smoke import writes_fixture

PAIRS = list(smoke_matrix())
# the plugins registered when the matrix was made (other tests register toy plugins later)
METHOD_NAMES, TASK_NAMES = tuple(methods.names()), tuple(tasks.names())


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="session")
def fixture_sets(tmp_path_factory):
    """``fixture_sets(smoke_task)`` -> the run's ``task.`` overrides; each fixture is written once."""
    root, written = tmp_path_factory.mktemp("smoke-fixtures"), {}

    def sets(smoke: SmokeTask) -> tuple[str, ...]:
        if smoke.name not in written:
            written[smoke.name] = smoke.materialise("smoke", root)
        return written[smoke.name]

    return sets


def params():
    return [pytest.param(p, id=p.id, marks=() if p.fast else pytest.mark.slow) for p in PAIRS]


def test_the_matrix_covers_every_registered_method_and_kind():
    assert PAIRS, "no registered method x smoke task"
    # smoke_matrix leaves out a plugin that fails to import: here tasks.get/methods.get raise instead
    assert {p.method for p in PAIRS} == {methods.get(name).name for name in METHOD_NAMES}
    assert {p.task.name for p in PAIRS} == {name for name in TASK_NAMES if writes_fixture(tasks.get(name))}
    runs = {(p.method, p.task.name) for p in PAIRS if p.reason is None}
    fast = {p.method for p in PAIRS if p.fast and p.reason is None}
    assert fast == {m for m, _ in runs}, "a method that runs somewhere runs in the quick suite"


@pytest.mark.parametrize("pair", params())
def test_smoke_run(pair: SmokePair, fixture_sets, tmp_path):
    if pair.reason is not None:  # skipped before any data is read: no fixture needed
        sets = tuple(TASK_PREFIX + o for o in pair.task.overrides)
    else:
        sets = fixture_sets(pair.task)
    outcome = execute(prepare(RunRequest(pair.method, pair.task.name, "smoke", 0, sets)), RunStore(tmp_path),
                      log=lambda _: None)
    manifest = outcome.manifest
    if pair.reason is not None:
        assert outcome.status == "skipped" and manifest[schema.ERROR] == pair.reason
        return
    assert outcome.status == "ok", manifest.get("traceback") or manifest.get(schema.ERROR)
    assert manifest[schema.DATA_SOURCE] == "fixture"
    metric = manifest[schema.METRIC]
    assert math.isfinite(metric["value"])
    spec = MetricSpec(metric["name"], metric["direction"], metric["error_name"])
    assert math.isclose(metric["error"], spec.to_error(metric["value"]))
    record = json.loads((outcome.run_dir / schema.ARCH).read_text())
    assert record["choices"] and record["cost"]["params"] > 0 and record["cost"]["macs"] > 0
