"""Report files from synthetic run folders (test data, labelled) and from the published numbers alone."""
import base64
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from scipy.stats import kendalltau

from nasbench.analysis.archs import config_key
from nasbench.analysis.table import ReportError
from nasbench.cli import main, resolve_target
from nasbench.report import ReportRequest, build_report
from nasbench.study import StudyError

REFERENCE = Path(__file__).resolve().parents[2] / "results" / "reference"
DASH_ARCH = {"backbone": "wrn-16-4", "choices": {"kernels": [[3 + 2 * (i % 3), 2 ** (i % 3)] for i in range(9)]},
             "details": {"layers": [{"name": f"layer{i}"} for i in range(9)]}}
DNARCH_ARCH = {"choices": {"depth": 2, "complexity_ratio": 0.98, "blocks": [
    {"kernel_size": [9, 7], "resolution": [32, 32], "width": [142, 139, 145]},
    {"kernel_size": [5, 5], "resolution": [16, 16], "width": [145, 150, 160]}]}}
SCORES = {f"[{a} {b} {10 - a - b}]": 80.0 + a - 0.5 * b for a in range(1, 9) for b in range(1, 10 - a)}
FIGURES = ["task-bars", "profiles", "ranks", "tau-tasks", "costs", "arch-darcyflow-dash", "arch-darcyflow-dnarch"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The committed published numbers cut to the DASH paper's tables (fewer figures: faster tests)."""
    folder = tmp_path_factory.mktemp("reference")
    for name in ("methods.csv", "bms_resnet20_cifar10_pooling_ground_truth.csv"):
        shutil.copyfile(REFERENCE / name, folder / name)
    published = pd.read_csv(REFERENCE / "published_results.csv")
    published[published["source"].str.startswith("DASH")].to_csv(folder / "published_results.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def suite_report(tmp_path_factory, write, reference):
    write_run = write
    root = tmp_path_factory.mktemp("results") / "synthetic"
    for seed in range(3):
        write_run(root, "darcyflow", "dash", seed, 0.010 + 0.002 * seed, arch=DASH_ARCH)
        write_run(root, "darcyflow", "wrn", seed, 0.070 + 0.003 * seed)
        write_run(root, "cifar100", "dash", seed, 0.30 + 0.01 * seed, arch=DASH_ARCH)
        write_run(root, "cifar100", "wrn", seed, 0.28 + 0.01 * seed)
        write_run(root, "cifar100", "dnarch", seed, 0.27 + 0.01 * seed)
    write_run(root, "darcyflow", "dnarch", 0, 0.02, arch=DNARCH_ARCH)
    write_run(root, "darcyflow", "dnarch", 1, status="failed")
    write_run(root, "darcyflow", "dnarch", 2, 0.021, arch={"details": {"supernet_scores": SCORES}})
    write_run(root, "listops", "wrn", 0, 0.5, data_source="fixture")
    out = root.parent / "report"
    files = build_report(ReportRequest(out, root, reference, n_boot=100, command="nasbench report synthetic"))
    return files, files["md"].read_text(), files["html"].read_text()


def test_all_files_are_written(suite_report):
    files, md, _ = suite_report
    for stem in FIGURES:
        for suffix in ("png", "svg"):
            assert (files["figures"] / f"{stem}.{suffix}").stat().st_size > 1000, (stem, suffix)
        assert f"figures/{stem}.png" in md
    for stated in ("suite version: ", "budget: smoke", "data sources: fixture, generated", "nasbench report synthetic",
                   "Kendall tau-b (ties corrected)"):
        assert stated in md


def test_completeness_and_fixture_runs_are_stated(suite_report):
    _, md, _ = suite_report
    assert "| darcyflow | dnarch | 1 | failed | planted failed |" in md
    assert "1 run(s) on fixture data" in md and "| listops | wrn |" not in md


def test_published_numbers_stand_beside_the_suite_labelled(suite_report):
    _, md, _ = suite_report
    assert "| darcyflow | dash | suite | relative L2 | 0.012 | 0.002 |" in md
    assert re.search(r"\| darcyflow \| DASH \(= dash\) \| published: DASH \(Shen, Khodak, Talwalkar 2022\), "
                     r"Table 2 and Appendix A.6 \(same method\) \| relative L2 \| 0.0079 \|", md)
    assert "suite vs published: DASH Table 2" in md


def test_ranking_fidelity_matches_scipy(suite_report):
    _, md, _ = suite_report
    truth = pd.read_csv(REFERENCE / "bms_resnet20_cifar10_pooling_ground_truth.csv")
    supernet = [SCORES[config_key(c)] for c in truth["config"]]
    expected = kendalltau(supernet, truth["test_accuracy"]).statistic
    truth_file = "bms_resnet20_cifar10_pooling_ground_truth.csv"
    row = re.search(rf"\| darcyflow \| dnarch \| 2 \| {truth_file} \| 36 \| (\S+) \|", md)
    assert row and float(row.group(1)) == pytest.approx(expected, abs=5e-4)


def test_architectures_are_shown_as_their_methods_describe_them(suite_report, tmp_path, write, reference):
    _, md, _ = suite_report
    assert "| darcyflow | 0 | a0 | 1000 | 5000 | wrn-16-4 | 3x1 5x2 7x4 3x1 5x2 7x4 3x1 5x2 7x4 | 25 |" in md
    assert "| darcyflow | 0 | a0 | 1000 | 5000 | 2 | 9x7 5x5 | 32x32 16x16 | 142/139/145 145/150/160 | 0.98 |" in md
    root = tmp_path / "archs"
    write(root, "darcyflow", "ghost-method", 0, 0.1, arch={"choices": {}})  # a method not installed here
    write(root, "darcyflow", "dash", 0, 0.1, arch={"choices": {}})  # a record dash cannot read
    md = build_report(ReportRequest(tmp_path / "r", root, reference, n_boot=10))["md"].read_text()
    assert re.search(r"\| darcyflow \| 0 \| a0 \| 1000 \| 5000 \| method 'ghost-method' is not available here: "
                     r"unknown method 'ghost-method'", md)
    assert "dash.describe_record failed on this record: KeyError: 'kernels'" in md
    assert not list((tmp_path / "r" / "figures").glob("arch-*"))


def test_html_is_self_contained(suite_report):
    files, _, page = suite_report
    images = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == len(re.findall(r"!\[[^]]*\]\(figures/[^)]+\.png\)", files["md"].read_text())) >= len(FIGURES)
    assert all(base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n" for data in images)
    assert not re.search(r'src="(?!data:)', page)
    assert all((files["md"].parent / link).is_file() for link in re.findall(r'href="([^"]+\.svg)"', page))


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium is not installed (Debian package `chromium`)")
def test_html_opens_in_headless_chromium(suite_report, tmp_path):
    files, _, _ = suite_report
    env = {**os.environ, "HOME": str(tmp_path)}
    out = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                          "--v=0", "--dump-dom", files["html"].resolve().as_uri()],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Performance profiles" in out.stdout and out.stdout.count("<img") >= len(FIGURES)
    assert not re.search(r"CONSOLE|Uncaught|Failed to load resource", out.stderr)


def test_fixture_runs_are_shown_only_when_asked_and_then_labelled(tmp_path, write, reference):
    root = tmp_path / "fixtures"
    write(root, "darcyflow", "wrn", 0, 0.5, data_source="fixture")
    md = build_report(ReportRequest(tmp_path / "a", root, reference, n_boot=10))["md"].read_text()
    assert "No run remains" in md and "| darcyflow | wrn | suite" not in md
    md = build_report(ReportRequest(tmp_path / "b", root, reference, include_fixture=True, n_boot=10))["md"].read_text()
    assert "**Fixture data**" in md and "| darcyflow | wrn | suite | relative L2 | 0.5 | - | - | 1/1 | fixture |" in md


def test_published_only_report_shows_dash_best_of_automated_on_7_of_10(tmp_path, capsys):
    assert main(["report", "--published-only", "--out", str(tmp_path / "pub"), "--reference", str(REFERENCE)]) == 0
    md = (tmp_path / "pub" / "report.md").read_text()
    won = "(darcyflow, cosmic, ninapro, fsd50k, ecg, satellite, deepsea)"
    assert f"**DASH has the lowest error on 7 of 10 tasks** {won}" in md
    assert "| DASH | 0.5 | 0.5 | 1 | 1 |" in md  # rho(1) = 5/10: Expert wins cifar100, spherical(Baby DASH)...
    figure = "profile-dash-shen-khodak-talwalkar-2022-table-2-and-appendix-a-6.svg"
    assert (tmp_path / "pub" / "figures" / figure).is_file()
    assert "runs: none (a report of published numbers alone)" in md


def test_report_on_an_empty_or_unknown_target_says_how_to_fix(tmp_path, monkeypatch, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 2
    assert "no run manifests" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results" / "smoke").mkdir(parents=True)
    assert main(["report", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert "no results for study 'nosuch'" in err and "valid studies with results: smoke" in err
    with pytest.raises(ReportError, match="no study or results folder given"):
        resolve_target(None, published_only=False)


def test_a_bare_study_name_reads_results_and_the_study_grid(tmp_path, monkeypatch, write):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "results" / "mystudy", "darcyflow", "wrn", 0, 0.1)
    (tmp_path / "reports" / "mystudy").mkdir(parents=True)
    (tmp_path / "reports" / "mystudy" / "study.yaml").write_text(
        "budget: smoke\nseeds: [0, 1]\nmethods: {wrn: {train.epochs: 1}}\ntasks: [darcyflow]\n")
    results, name, study = resolve_target("mystudy", published_only=False)
    assert results == (tmp_path / "results" / "mystudy").resolve() and name == "mystudy"
    assert study.seeds == (0, 1) and list(study.methods) == ["wrn"] and list(study.tasks) == ["darcyflow"]


def test_the_report_reads_the_study_file_as_the_study_command_does(tmp_path, monkeypatch, write, capsys):
    """One reader of study files: a count of seeds is refused by the report as by `nasbench study`."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "results" / "counted", "darcyflow", "wrn", 0, 0.1)
    (tmp_path / "reports" / "counted").mkdir(parents=True)
    (tmp_path / "reports" / "counted" / "study.yaml").write_text(
        "budget: smoke\nseeds: 3\nmethods: [wrn]\ntasks: [darcyflow]\n")
    with pytest.raises(StudyError, match="seeds: expected a non-empty list"):
        resolve_target("counted", published_only=False)
    assert main(["report", "counted"]) == 2 and "seeds: expected" in capsys.readouterr().err
