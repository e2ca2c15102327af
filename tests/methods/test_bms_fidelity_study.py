"""The committed ranking-fidelity study (reports/bms-fidelity): what it holds, and (slow) that it runs end
to end at the smoke budget on the Fashion-MNIST fixture and that its report computes the fidelity part."""
from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest

from nasbench.analysis.archs import config_key
from nasbench.execution import run_study
from nasbench.methods.backbones.pooling_resnet import pooling_configurations
from nasbench.registry import tasks
from nasbench.report import ReportRequest, build_report
from nasbench.study import load_study, plan_study

STUDY = Path(__file__).resolve().parents[2] / "reports" / "bms-fidelity" / "study.yaml"


def test_the_study_trains_all_36_configurations_and_three_mixtures_on_two_seeds():
    study = load_study(STUDY)
    assert study.budget == "small" and study.seeds == (0, 1) and list(study.tasks) == ["fashionmnist"]
    assert set(study.variants.values()) == {"bms"}
    standalone = {name: sets for name, sets in study.methods.items() if name.startswith("standalone-")}
    configs = {config_key(sets[0].split("=", 1)[1].strip("[]").split(", ")) for sets in standalone.values()}
    assert configs == {config_key(c) for c in pooling_configurations(10, 2)} and len(standalone) == 36
    mixtures = {name: sets for name, sets in study.methods.items() if name.startswith("bms-")}
    assert mixtures == {f"bms-m{m}": (f"models={m}", "search.epochs=4") for m in (1, 2, 4)}
    ids = [p.prepared.run_id for p in plan_study(replace(study, results=Path("/nonexistent")))]
    assert len(ids) == 78 == len(set(ids))


@pytest.mark.slow
def test_the_study_runs_end_to_end_at_smoke_on_the_fixture_and_reports_fidelity(tmp_path):
    data = tmp_path / "fashion"
    tasks.get("fashionmnist")(tasks.get("fashionmnist").default_config("smoke")).write_fixture(data)
    study = replace(load_study(STUDY), budget="smoke", seeds=(0,), results=tmp_path / "results",
                    tasks={"fashionmnist": (f"task.data_dir={str(data)!r}", "task.n_train=64", "task.n_val=32",
                                            "task.n_test=32")})
    report = run_study(study, "local", stream=io.StringIO(), interactive=False)
    assert [o.status for o in report.outcomes].count("ok") == 39, [o.error for o in report.outcomes]
    out = build_report(ReportRequest(out_dir=tmp_path / "report", results_dir=tmp_path / "results",
                                     include_fixture=True, n_boot=50))
    text = out["md"].read_text()
    assert "Against the suite's own stand-alone training" in text and "fidelity.png" in text
    assert "bms-m4" in text and "standalone-4-3-3" in text
    verdict = text.split("## Verdict", 1)[1].split("\n\n", 2)[1]  # the report's first paragraph answers the study
    assert verdict.startswith("**Ranking fidelity**") and "tau-b against stand-alone training" in verdict
