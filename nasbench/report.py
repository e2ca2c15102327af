"""``nasbench report``: every run under a results folder, and the published numbers, turned into
``report.md``, a self-contained ``report.html`` and figures (PNG and SVG).

The builder only composes the pure functions of ``nasbench.analysis``: the runs table and its
completeness, aggregates over seeds, performance profiles, ranks with bootstrap intervals, Kendall
tau-b, costs and the found architectures; published numbers stand beside the suite's wherever a task
matches, always labelled with their source table. Runs on ``fixture`` data are left out unless asked
for, and then labelled as fixture data in every table.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from nasbench import schema
from nasbench.analysis import plots
from nasbench.analysis.aggregate import aggregate, cube_means, seed_error_cube
from nasbench.analysis.archs import NOTE, describe, draw, read_record, supernet_scores
from nasbench.analysis.comparison import bar_top, comparison_sections, prepared, verdict_section
from nasbench.analysis.document import Document, to_html, to_markdown
from nasbench.analysis.fidelity import FidelityResults, fidelity_results, write_fidelity_study
from nasbench.analysis.profiles import ZERO_SHIFT, performance_profile, profile_summary
from nasbench.analysis.ranks import (
    TAU_VARIANT,
    average_ranks,
    rank_table,
    ranking_fidelity,
    tau_against,
    tau_between_tasks,
)
from nasbench.analysis.reference import (
    MANIFEST as IMPORTED,
    best_of_kind,
    find_reference_dir,
    load_published,
    published_matrix,
    published_tables,
    ranking_ground_truths,
    win_counts,
)
from nasbench.analysis.table import FIXTURE, ReportError, benchmark_runs, completeness, runs_table

if TYPE_CHECKING:
    from nasbench.study import Study

REPORT_MD, REPORT_HTML, FIGURES = "report.md", "report.html", "figures"
MAX_ARCH_FIGURES = 12
AUTOMATED = "automated"


@dataclass
class ReportRequest:
    """What to report on. ``results_dir`` None: published numbers alone."""

    out_dir: Path
    results_dir: Path | None = None
    reference_dir: Path | None = None
    include_fixture: bool = False
    study: Study | None = None  # the grid of expected runs (nasbench.study.load_study)
    title: str = ""
    n_boot: int = 1000
    command: str = ""
    notes: list[str] = field(default_factory=list)


def build_report(request: ReportRequest) -> dict[str, Path]:
    """Write the report files and return their paths (md, html, figures)."""
    table = runs_table(request.results_dir) if request.results_dir is not None else None
    reference = find_reference_dir(request.reference_dir)
    published = load_published(reference) if reference is not None else None
    if table is None and published is None:
        raise ReportError("nothing to report: no results folder was given and no published numbers were found "
                          "in results/reference\n  to fix: `nasbench reference --import DIR`")
    doc = Document(request.out_dir / FIGURES)
    doc.heading(1, request.title or "nasbench comparison report")
    shown = benchmark_runs(table, request.include_fixture) if table is not None else None
    fidelity = fidelity_results(shown, request.n_boot) if shown is not None and not shown.empty else None
    if shown is not None:  # the answer first, on the first screen; a ranking-fidelity study's answer leads
        lead = [f"**Ranking fidelity** (details under *Ranking fidelity of supernets*): {sentence}"
                for sentence in (fidelity.verdict() if fidelity else [])]
        verdict_section(doc, shown, request.study, request.n_boot, lead=lead)
    _header(doc, request, table, reference)
    if table is not None:
        _suite_sections(doc, request, table, published, fidelity)
    if published is not None:
        _published_sections(doc, published)
    return _write(doc, request)


def _write(doc: Document, request: ReportRequest) -> dict[str, Path]:
    out = request.out_dir
    out.mkdir(parents=True, exist_ok=True)
    (out / REPORT_MD).write_text(to_markdown(doc, FIGURES))
    (out / REPORT_HTML).write_text(to_html(doc, request.title or "nasbench report", FIGURES))
    return {"md": out / REPORT_MD, "html": out / REPORT_HTML, "figures": out / FIGURES}


# --- header -------------------------------------------------------------------------------------

def suite_version() -> str:
    try:
        version = metadata.version("nasbench")
    except metadata.PackageNotFoundError:
        version = "unknown (not installed)"
    from nasbench.provenance import git_commit  # imported here: it loads torch

    commit = git_commit()
    return f"{version} (commit {commit})" if commit else version


def _joined(values) -> str:
    return ", ".join(sorted({str(v) for v in values if v is not None and v == v})) or "-"


def _header(doc: Document, request: ReportRequest, table: pd.DataFrame | None, reference: Path | None) -> None:
    items = [f"suite version: {suite_version()}",
             f"generated: {datetime.now(timezone.utc).isoformat(timespec='seconds')}"]
    if table is not None:
        counts = table["status"].value_counts().to_dict()
        items += [f"results folder: `{request.results_dir}` ({len(table)} runs: "
                  + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + ")",
                  f"budget: {_joined(table['budget'])}", f"data sources: {_joined(table['data_source'])}",
                  f"run suite versions: {_joined(table['suite_version'])}"]
    else:
        items.append("runs: none (a report of published numbers alone)")
    items.append(f"published numbers: {_reference_origin(reference)}")
    items.append(f"rank correlation: {TAU_VARIANT}, computed by the suite (checked against scipy.stats.kendalltau)")
    doc.bullets(items + request.notes)
    doc.para("Rebuild this report with:")
    doc.code(request.command or "nasbench report")
    _reading_guide(doc)


def _reference_origin(reference: Path | None) -> str:
    if reference is None:
        return "not found (run `nasbench reference --import DIR`)"
    try:
        origin = json.loads((reference / IMPORTED).read_text()).get("from", "?")
    except (OSError, ValueError):
        origin = "unknown"
    return f"`{reference}` (imported from `{origin}`)"


def _reading_guide(doc: Document) -> None:
    doc.heading(2, "How to read this report")
    doc.bullets([
        "Every score is the **error form** of the task's metric (lower is better): 0-1 error, relative L2, "
        "MAE8, 1-AUROC, 1-mAP, 1-F1. Published percentages are shown as fractions, published accuracies as "
        "1 - accuracy.",
        "Per task and method: mean, standard deviation (ddof=1) and standard error over the seeds that finished.",
        "Performance profiles (Dolan and Moré 2002): ratio = error / best error on the task; rho(tau) = fraction "
        "of tasks with ratio <= tau. A cell with any failed, skipped or missing seed is **infinitely worse**. "
        f"A task whose best error is 0 has its errors shifted by {ZERO_SHIFT:g} x its smallest positive error "
        "(all-zero tasks give ratio 1 to every method).",
        "Ranks: 1 = best per task, ties share the average rank, failed or missing cells rank last; "
        "intervals are 95 % percentile bootstrap intervals, resampling seeds within each task and method.",
        f"Kendall correlation: {TAU_VARIANT}; undefined ('-' in tables, n/a in figures) with fewer than two "
        "methods or a constant ranking.",
        "Published numbers are labelled `published: <paper>, <table>` and were transcribed from the paper; "
        "the suite did not compute them.",
    ])


# --- suite sections -----------------------------------------------------------------------------

def _suite_sections(doc: Document, request: ReportRequest, table: pd.DataFrame, published: pd.DataFrame | None,
                    fidelity: FidelityResults | None) -> None:
    shown = benchmark_runs(table, request.include_fixture)
    _completeness_section(doc, request, table, shown)
    if shown.empty:
        return
    if (shown["data_source"] == FIXTURE).any():
        doc.para("**Fixture data**: some runs below use synthetic fixture data written for tests. Their numbers "
                 "are not benchmark results; they are marked `fixture` in every table.", note=True)
    cube, tasks, methods, _ = seed_error_cube(shown, request.study)
    errors = cube_means(cube, tasks, methods)
    pub = published[~published["is_cost"] & published["task"].isin(tasks)] if published is not None else None
    _results_section(doc, shown, pub)
    comparison_sections(doc, shown, request.study)
    _profile_section(doc, errors, pub)
    _rank_section(doc, cube, tasks, methods, pub, request.n_boot)
    _tau_section(doc, errors, pub)
    _fidelity_section(doc, shown, request.reference_dir, fidelity)
    _cost_section(doc, shown, published)
    _architecture_section(doc, shown)


def _completeness_section(doc: Document, request: ReportRequest, table: pd.DataFrame, shown: pd.DataFrame) -> None:
    doc.heading(2, "Runs and completeness")
    fixture = int((table["data_source"] == FIXTURE).sum())
    if fixture and not request.include_fixture:
        doc.para(f"{fixture} run(s) on fixture data (synthetic, tests only) are left out of every table and figure; "
                 "`--include-fixture` shows them, labelled.", note=True)
    if shown.empty:
        doc.para("No run remains to report after leaving out fixture runs.")
        return
    problems = completeness(shown, request.study)
    grid = "the study file" if request.study else "the tasks x methods x seeds seen in the results"
    if problems.empty:
        doc.para(f"Complete: every expected run (grid from {grid}) finished with status ok.")
    else:
        doc.para(f"{len(problems)} expected run(s) did not finish (grid from {grid}). They count as infinitely "
                 "worse in profiles and ranks:")
        doc.table(problems, "Missing, failed and skipped runs")


def _short_label(source: str, table: str) -> str:
    return f"{source.split(' (')[0]} {table.split(' and ')[0]}"


def beside(pub: pd.DataFrame | None, agg: pd.DataFrame) -> pd.DataFrame:
    """The published rows to show next to the suite's on each task: per table, the methods that
    correspond to a suite method run on that task, and the table's best entry for the task."""
    if pub is None or pub.empty:
        return pd.DataFrame(columns=["task", "method", "label", "error", "error_std", "suite_method", "role"])
    ran = set(zip(agg["task"], agg["method"]))
    mapped = pub[[(t, m) in ran for t, m in zip(pub["task"], pub["suite_method"])]].assign(role="same method")
    best_index = pub.groupby(["task", "source", "table"])["error"].idxmin()
    best = pub.loc[best_index.dropna()].assign(role="best in table")
    shown = pd.concat([mapped, best[~best.index.isin(mapped.index)]])
    return shown.sort_values(["task", "source", "table", "error"])


def _results_section(doc: Document, shown: pd.DataFrame, pub: pd.DataFrame | None) -> None:
    doc.heading(2, "Results per task")
    agg = aggregate(shown)
    rows = agg.assign(source="suite", n=agg["n_ok"].astype(str) + "/" + agg["n_runs"].astype(str))
    rows = rows[["task", "method", "source", "error_name", "mean", "std", "sem", "n", "data_source", "budget"]]
    extra = beside(pub, agg)
    if not extra.empty:
        extra = extra.assign(source=extra["label"] + " (" + extra["role"] + ")", mean=extra["error"],
                             std=extra["error_std"], sem=np.nan, n="published", data_source="published", budget="paper")
        same = np.where(extra["suite_method"] != "", " (= " + extra["suite_method"] + ")", "")
        extra["method"] = extra["method"] + same
        rows = pd.concat([rows, extra[rows.columns]], ignore_index=True)
    rows["order"] = rows["source"] != "suite"
    rows = rows.sort_values(["task", "order"], kind="stable").drop(columns="order")
    budgets = sorted(set(shown["budget"].dropna()) - {"paper"})
    if budgets and not extra.empty:
        doc.para(f"The suite's runs here use the `{', '.join(budgets)}` budget; the published numbers come from "
                 "the papers' full training budgets and hardware, so they are a reference point, not a target "
                 "these runs are expected to reach.", note=True)
    doc.table(rows, "Error per task: suite runs (mean, std, sem over finished seeds; n = finished/runs) and, "
                    "beside them, published numbers of the same methods and the best entry of each published "
                    "table on the task (all published rows are in the last part)")
    figure = _task_bars_figure(agg, extra if not extra.empty else None, bar_top(prepared(shown)))
    doc.figure(figure, "task-bars", "Error per task: suite (solid, +-1 std over seeds) and published (hatched)")


def _task_cells(agg: pd.DataFrame, pub: pd.DataFrame | None, task: str) -> pd.DataFrame:
    suite = agg[agg["task"] == task]
    cells = pd.DataFrame({"label": suite["method"], "mean": suite["mean"], "std": suite["std"], "published": False})
    if pub is not None:
        rows = pub[pub["task"] == task]
        labels = [f"{m.split(' (= ')[0]} [{_short_label(s, t)}]"
                  for m, s, t in zip(rows["method"], rows["source"], rows["table"])]
        cells = pd.concat([cells, pd.DataFrame({"label": labels, "mean": rows["error"].to_numpy(),
                                                "std": rows["error_std"].to_numpy(), "published": True})])
    return cells.reset_index(drop=True)


def _task_bars_figure(agg: pd.DataFrame, pub: pd.DataFrame | None, tops: dict | None = None) -> Figure:
    tasks = sorted(agg["task"].unique())
    figure, axes = _panel_grid(len(tasks), (7.5, 4.8))
    for ax, task in zip(axes, tasks):
        name = _joined(agg.loc[agg["task"] == task, "error_name"])
        plots.plot_task_bars(_task_cells(agg, pub, task), ax=ax, title=task, ylabel=name, top=(tops or {}).get(task))
    return figure


def _panel_grid(count: int, panel: tuple[float, float]) -> tuple[Figure, list]:
    """A figure of ``count`` panels, two per row; the unused cell of an odd count is hidden."""
    ncols = min(2, count)
    nrows = -(-count // ncols)
    figure = Figure(figsize=(panel[0] * ncols, panel[1] * nrows), layout="constrained")
    axes = list(figure.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[count:]:
        ax.set_visible(False)
    return figure, axes[:count]


def _overlapping_tables(pub: pd.DataFrame | None) -> list[tuple[str, str]]:
    return published_tables(pub) if pub is not None and not pub.empty else []


def _profile_section(doc: Document, errors: pd.DataFrame, pub: pd.DataFrame | None) -> None:
    doc.heading(2, "Performance profiles")
    tables = _overlapping_tables(pub)[:3]
    figure, axes = _panel_grid(1 + len(tables), (7.5, 4.4))
    plots.plot_profile(performance_profile(errors), ax=axes[0], title=f"Suite ({len(errors)} task(s))")
    doc.table(profile_summary(errors), "Suite: rho at tau = 1 (tasks won), 1.1, 2 and inf (tasks solved)")
    for ax, (source, table) in zip(axes[1:], tables):
        matrix = published_matrix(pub, source, table)
        plots.plot_profile(performance_profile(matrix), ax=ax,
                           title=f"published: {_short_label(source, table)} on the same {len(matrix)} task(s)")
        doc.table(profile_summary(matrix), f"published: {source}, {table}, on the suite's tasks: rho summary")
    doc.figure(figure, "profiles", "Performance profiles: the suite's runs (left) and, beside them, published "
                                   "numbers on the same tasks (labelled with their table)")


def _rank_comparisons(cube: np.ndarray, tasks: list, methods: list, pub: pd.DataFrame | None,
                      n_boot: int) -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    """Per published table: suite and published average ranks over the same tasks and the same
    methods (the suite methods with a counterpart in that table). (label, suite ranks, published)."""
    comparisons = []
    for source, table in _overlapping_tables(pub):
        matrix = published_matrix(pub, source, table, by="suite_method")
        common = [m for m in methods if m in matrix.columns]
        rows = [t for t in tasks if t in matrix.index and matrix.loc[t, common].notna().sum() >= 2]
        if len(common) < 2 or not rows:
            continue
        label = f"published: {_short_label(source, table)}"
        sub = cube[np.ix_([tasks.index(t) for t in rows], [methods.index(m) for m in common])]
        suite = rank_table(sub, rows, common, n_boot=n_boot)
        published = average_ranks(matrix.loc[rows, common]).rename_axis("method").reset_index()
        comparisons.append((label, suite, published.assign(label=label, tasks=", ".join(rows))))
    return comparisons


def _rank_section(doc: Document, cube: np.ndarray, tasks: list, methods: list, pub: pd.DataFrame | None,
                  n_boot: int) -> None:
    doc.heading(2, "Average ranks")
    ranks = rank_table(cube, tasks, methods, n_boot=n_boot)
    doc.table(ranks, f"Suite: average rank over {len(tasks)} task(s), 95 % bootstrap interval over seeds "
                     f"({n_boot} replicates)")
    comparisons = _rank_comparisons(cube, tasks, methods, pub, n_boot)[:3]
    figure, axes = _panel_grid(1 + len(comparisons), (7.0, 1.8 + 0.4 * len(methods)))
    plots.plot_ranks(ranks, ax=axes[0], title="Suite: average rank")
    for ax, (label, suite, published) in zip(axes[1:], comparisons):
        plots.plot_ranks(suite, ax=ax, published=published, title=f"Same tasks and methods as {label}")
        both = suite[["method", "mean_rank", "ci_low", "ci_high"]].merge(
            published[["method", "mean_rank", "tasks"]], on="method", suffixes=("_suite", "_published"))
        doc.table(both, f"Average rank over the same tasks and methods: suite vs {label}")
    doc.figure(figure, "ranks", "Average ranks with 95 % bootstrap intervals (suite, dots) and, beside them, "
                                "published ranks over the same tasks and methods (diamonds)")


def _tau_section(doc: Document, errors: pd.DataFrame, pub: pd.DataFrame | None) -> None:
    doc.heading(2, "Kendall rank correlation")
    doc.para(f"Variant: **{TAU_VARIANT}**.")
    if len(errors) >= 2:
        taus = tau_between_tasks(errors)
        figure = plots.plot_tau_heatmap(taus, title="tau-b between the method rankings of two tasks").figure
        doc.figure(figure, "tau-tasks", "Kendall tau-b between tasks (how alike the methods' rankings are)")
    else:
        doc.para("One task only: no correlation between tasks.")
    rows = []
    for source, table in _overlapping_tables(pub):
        against = tau_against(errors, published_matrix(pub, source, table, by="suite_method"))
        rows.append(against.assign(published=f"{source}, {table}"))
    if rows:
        doc.table(pd.concat(rows, ignore_index=True),
                  "tau-b between the suite's ranking of methods on a task and the published ranking of the same "
                  "methods")
    else:
        doc.para("No published table ranks the suite's methods on these tasks.")


def _fidelity_section(doc: Document, shown: pd.DataFrame, reference_dir: Path | None,
                      fidelity: FidelityResults | None) -> None:
    doc.heading(2, "Ranking fidelity of supernets")
    truths = ranking_ground_truths(find_reference_dir(reference_dir))
    rows = []
    for _, run in shown[shown["status"] == schema.STATUS_OK].iterrows():
        scores = supernet_scores(read_record(run["run_dir"]) or {})
        for name, truth in truths.items() if scores is not None else ():
            matched = scores.merge(truth, on="config")
            if len(matched) < 2:  # scores of another search space
                continue
            result = ranking_fidelity(matched, "supernet", "test_accuracy")
            rows.append({"task": run["task"], "method": run["method"], "seed": run["seed"], "ground truth": name,
                         "n": result["n"], "tau_b": result["tau_b"]})
    if rows:
        doc.table(pd.DataFrame(rows), f"{TAU_VARIANT} between a supernet's scores and the stand-alone test accuracy "
                                      "of the same candidates (published ground truth, named per row)")
    else:
        doc.para("No run recorded supernet scores (`details.supernet_scores` in `arch.json`, as "
                 "`[{config, score}]`) of the candidates of a published ground truth (`results/reference/"
                 "*_ground_truth.csv`), so ranking fidelity is not computed here.")
    if fidelity is not None:
        write_fidelity_study(doc, fidelity, truths)


def _cost_section(doc: Document, shown: pd.DataFrame, published: pd.DataFrame | None) -> None:
    doc.heading(2, "Costs")
    agg = aggregate(shown)
    columns = ["task", "method", "search_wall_s", "tune_wall_s", "retrain_wall_s", "total_wall_s", "peak_alloc_mb",
               "threads", "device", "params", "macs", "data_source"]
    doc.table(agg[columns], "Suite: mean wall seconds per stage over finished seeds, the run's own peak memory "
                            "(MB allocated above what its process held when it began), torch threads and device, "
                            "parameters and MACs of the final network")
    _resources_note(doc, agg)
    stages = agg.set_index(agg["task"] + " / " + agg["method"])[["search_wall_s", "tune_wall_s", "retrain_wall_s"]]
    stages.columns = ["search", "tune", "retrain"]
    costs = published[published["is_cost"] & published["task"].isin(agg["task"])] if published is not None else None
    figure = Figure(figsize=(13 if costs is not None and len(costs) else 7, 1.8 + 0.35 * len(stages)),
                    layout="constrained")
    axes = figure.subplots(1, 2 if costs is not None and len(costs) else 1, squeeze=False).ravel()
    plots.plot_stage_costs(stages, ax=axes[0], title="Suite: wall seconds per stage")
    if costs is not None and len(costs):
        labels = costs["task"] + " / " + costs["method"]
        plots.plot_stage_costs(pd.DataFrame({"total (published)": costs["value"].to_numpy()}, index=labels),
                               ax=axes[1], unit="GPU hours",
                               title="published: " + _joined(map(_short_label, costs["source"], costs["table"])))
        doc.table(costs[["task", "method", "value", "metric", "label"]],
                  "published: GPU hours for the same tasks (different hardware and budget than the suite's runs)")
    doc.figure(figure, "costs", "Cost per stage (suite) and published GPU hours (labelled)")


def _resources_note(doc: Document, agg: pd.DataFrame) -> None:
    """Say which rows' costs may be compared: only those with the same threads and device."""
    groups = agg.groupby(["threads", "device"], dropna=False).size()
    mixed = agg[agg["threads"].str.contains(",") | agg["device"].str.contains(",")]
    if len(groups) <= 1 and mixed.empty:
        doc.para("Every run here had the same torch threads and device, so their costs compare directly.")
        return
    kinds = "; ".join(f"{threads or '?'} thread(s) on {device or '?'}: {n} row(s)"
                      for (threads, device), n in groups.items())
    mixing = ", ".join(mixed["task"] + " / " + mixed["method"])
    tail = f"; rows mixing several ({mixing}) average unlike runs." if mixing else "."
    doc.para(f"Runs here used different resources ({kinds}); compare wall and CPU seconds only between rows with "
             f"the same threads and device{tail}")


def _architecture_section(doc: Document, shown: pd.DataFrame) -> None:
    """One table per method of its found architectures (first finished seed per task), each row as
    the method describes it, and the method's figure of each, up to MAX_ARCH_FIGURES."""
    doc.heading(2, "Found architectures")
    runs = shown[shown["status"] == schema.STATUS_OK].drop_duplicates(["task", "method"])
    drawn = 0
    for method, group in runs.groupby("method", sort=True):
        rows = []
        for _, run in group.iterrows():
            record = read_record(run["run_dir"])
            rows.append({"task": run["task"], "seed": run["seed"], "arch_id": run["arch_id"], "params": run["params"],
                         "macs": run["macs"], **describe(_plugin(run), record)})
            if drawn < MAX_ARCH_FIGURES and _architecture_figure(doc, run, record):
                drawn += 1
        table = pd.DataFrame(rows)
        if NOTE in table.columns:  # the reasons last, after what was described
            table = table[[c for c in table.columns if c != NOTE] + [NOTE]].fillna({NOTE: ""})
        doc.table(table, f"{method}: found architecture per task, as the method describes its record")
    if runs.empty:
        doc.para("No finished run to show an architecture of.")


def _plugin(run: pd.Series) -> str:
    """The registered method of a run (a study variant's column names the variant)."""
    base = run.get("base_method")
    return base if isinstance(base, str) and base else run["method"]


def _architecture_figure(doc: Document, run: pd.Series, record: dict | None) -> bool:
    title = f"{run['task']} / {run['method']} / seed {run['seed']} (arch {run['arch_id']})"
    figure = Figure(figsize=(7.5, 4.2), layout="constrained")
    if draw(_plugin(run), record, figure.subplots()) is not None:
        return False
    doc.figure(figure, f"arch-{run['task']}-{run['method']}", title)
    return True


# --- published sections --------------------------------------------------------------------------

def _published_sections(doc: Document, published: pd.DataFrame) -> None:
    doc.heading(2, "Published numbers")
    doc.para("Everything in this part is **published** (transcribed from the papers' tables, in the suite's "
             "error form); the profiles, ranks and counts are computed by the suite from those numbers.", note=True)
    for source, table in published_tables(published):
        _published_table_section(doc, published, source, table)
    costs = published[published["is_cost"]]
    if not costs.empty:
        doc.heading(3, "published: costs")
        doc.table(costs[["task", "method", "value", "metric", "label"]], "published: GPU hours as reported")


def _published_table_section(doc: Document, published: pd.DataFrame, source: str, table: str) -> None:
    label = f"published: {source}, {table}"
    matrix = published_matrix(published, source, table)
    doc.heading(3, label)
    names = published[(published["source"] == source) & (published["table"] == table)]
    name_of = names.drop_duplicates("task").set_index("task")["error_name"]
    doc.table(matrix.reset_index().assign(error=lambda f: f["task"].map(name_of)),
              f"{label}: error per task and method ('-' where the paper has no entry)")
    if len(matrix) >= 2:
        title = f"Performance profile: published, {_short_label(source, table)}"
        figure = plots.plot_profile(performance_profile(matrix), title=title).figure
        doc.figure(figure, f"profile-{source}-{table}", f"Performance profile over {label} ({len(matrix)} tasks)")
        doc.table(profile_summary(matrix), f"{label}: rho summary (missing entries are infinitely worse)")
        ranks = average_ranks(matrix).reset_index().rename(columns={"index": "method"})
        doc.table(ranks, f"{label}: average rank over {len(matrix)} tasks (one published value per cell: no interval)")
    _best_automated(doc, names, matrix, label)


def _best_automated(doc: Document, rows: pd.DataFrame, matrix: pd.DataFrame, label: str) -> None:
    automated = list(dict.fromkeys(rows.loc[rows["kind"] == AUTOMATED, "method"]))
    if len(automated) < 2:
        return
    best = best_of_kind(matrix, automated)
    wins = win_counts(best)
    leader, count = wins.index[0], int(wins.iloc[0])
    tasks = ", ".join(best.loc[best["best"].str.split(", ").apply(lambda w: leader in w), "task"])
    doc.para(f"Among the automated methods of this table ({', '.join(automated)}; kinds from the paper's "
             f"Section 4.1, see `results/reference/methods.csv`), **{leader} has the lowest error on {count} of "
             f"{len(best)} tasks** ({tasks}).")
    doc.table(best, f"{label}: lowest error among the automated methods per task")
    doc.table(wins.reset_index().rename(columns={"best": "method"}), f"{label}: tasks won among the automated methods")
