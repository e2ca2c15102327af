"""Checks of a finished smoke run: it succeeded, wrote a valid record, kept away from the test split and
global state, returned its network on the given device, and gives the same result twice."""
from __future__ import annotations

import json
import math
import re
from typing import Callable, Sequence

import torch

from nasbench import schema
from nasbench.contracts import MetricSpec
from nasbench.testing.report import CheckFailed, ContractReport, fail_if, run_check
from nasbench.testing.watch import CPU, WatchedRun

ARCH_ID = re.compile(r"[0-9a-f]{16}")


def smoke_ok(run: WatchedRun) -> str:
    m = run.manifest
    if m.get(schema.STATUS) != schema.STATUS_OK:
        trace = (m.get("traceback") or "").strip().splitlines()[-6:]
        raise CheckFailed(f"the run is {m.get(schema.STATUS)}: {m.get(schema.ERROR)}"
                          + ("\n      " + "\n      ".join(trace) if trace else ""))
    metric = m[schema.METRIC]
    if not math.isfinite(metric["value"]):
        raise CheckFailed(f"the test {metric['name']} is {metric['value']}")
    seconds = sum(s.get("wall_s", 0.0) for s in m.get(schema.COSTS, {}).values())
    return (f"{m[schema.METHOD]} on {m[schema.TASK]} ({m[schema.DATA_SOURCE]} data): test {metric['name']} "
            f"{metric['value']:.4g} in {seconds:.1f} s")


def record_ok(run: WatchedRun) -> str:
    arch = run.watch.arch
    if not isinstance(arch, dict) or not isinstance(arch.get("choices"), dict) or not arch["choices"]:
        raise CheckFailed(f"search must return a dict with a non-empty dict 'choices' (and 'backbone', "
                          f"'search_space'); got {type(arch).__name__} {str(arch)[:200]}")
    try:
        choices = json.loads(json.dumps(arch, allow_nan=False))["choices"]
    except (TypeError, ValueError) as exc:
        raise CheckFailed(f"the architecture returned by search is not plain JSON ({exc}); use lists, numbers, "
                          f"strings, booleans and None (no tensors, numpy values or nan)") from exc
    record = json.loads((run.outcome.run_dir / schema.ARCH).read_text())
    cost = record.get("cost", {})
    problems = [] if ARCH_ID.fullmatch(str(record.get("arch_id"))) else [f"arch_id {record.get('arch_id')!r}"]
    problems += [f"cost.{k} is {cost.get(k)!r}, expected a positive integer"
                 for k in ("params", "macs") if not (isinstance(cost.get(k), int) and cost[k] > 0)]
    if record.get("choices") != choices:
        problems.append("arch.json's choices differ from those search returned")
    fail_if(problems)
    return f"arch_id {record['arch_id']}, {cost['params']} parameters, {cost['macs']} MACs"


def _watched(kind: str, explain: str) -> Callable[[WatchedRun], str]:
    def check(run: WatchedRun) -> str:
        if run.watch.found[kind]:
            raise CheckFailed(f"{'; '.join(run.watch.found[kind])}. {explain}")
        return "none seen"

    return check


_test_split = _watched("test-split", "A method sees ctx.train and ctx.val only; the runner alone evaluates "
                                     "on the test split.")
_global_state = _watched("global-state", "Use ctx.generator and ctx.rng (seeded by the runner); the runner "
                                         "times every stage.")


def device_ok(run: WatchedRun) -> str:
    model = run.watch.model
    if not isinstance(model, torch.nn.Module):
        raise CheckFailed(f"retrain must return the trained torch.nn.Module, got {type(model).__name__}")
    elsewhere = {str(t.device) for t in [*model.parameters(), *model.buffers()] if t.device != CPU}
    if elsewhere:
        raise CheckFailed(f"the run was given device cpu, but the network is on {', '.join(sorted(elsewhere))}; "
                          f"move it with .to(ctx.device), never choose a device")
    return "the network is on ctx.device"


def determinism_ok(first: WatchedRun, second: WatchedRun) -> str:
    a, b = first.manifest, second.manifest
    if b.get(schema.STATUS) != schema.STATUS_OK:
        raise CheckFailed(f"the second run with the same seed is {b.get(schema.STATUS)}: {b.get(schema.ERROR)}")
    va, vb = a[schema.METRIC]["value"], b[schema.METRIC]["value"]
    problems = []
    if not math.isclose(va, vb, rel_tol=1e-6, abs_tol=1e-9):
        problems.append(f"two runs with seed {a[schema.SEED]} on the CPU gave test {a[schema.METRIC]['name']} "
                        f"{va!r} and {vb!r}")
    if a.get("arch_id") != b.get("arch_id"):
        problems.append(f"two runs with the same seed found architectures {a.get('arch_id')} and {b.get('arch_id')}")
    if problems:
        problems.append("draw every random number from ctx.generator, ctx.rng or the global generators the "
                        "runner seeded")
    fail_if(problems)
    return f"same metric and arch_id twice with seed {a[schema.SEED]}"


def run_checks(report: ContractReport, skip: Sequence[str], runs: list[WatchedRun], names: Sequence[str]) -> None:
    first = runs[0]
    ran = run_check(report, "smoke", skip, smoke_ok, first)
    table = {"record": record_ok, "test-split": _test_split, "global-state": _global_state, "device": device_ok}
    for name in names:
        if name == "determinism":
            if len(runs) > 1 and ran:
                run_check(report, name, skip, determinism_ok, first, runs[1])
            else:
                report.add(name, "skipped", "skipped by the caller" if name in skip else "needs a successful smoke run")
        elif name in ("test-split", "global-state") or ran:
            run_check(report, name, skip, table[name], first)
        else:
            report.add(name, "skipped", "needs a successful smoke run")


def task_run_ok(run: WatchedRun) -> str:
    note = smoke_ok(run)
    m = run.manifest
    metric = m[schema.METRIC]
    if not math.isclose(metric["error"], MetricSpec(metric["name"], metric["direction"], "").to_error(metric["value"])):
        raise CheckFailed(f"the error form {metric['error']} does not follow from the metric {metric['value']}")
    return note

