"""The comparison sections of the report (``nasbench.report`` composes them): the verdict the
report opens with, error against cost per task with the Pareto front, best-so-far curves, the
per-seed table with flagged runs, whether each search moved, and pairwise tests over tasks. Every
sentence and number here is computed from the runs by ``nasbench.analysis.compare`` and
``nasbench.analysis.signals``; the conventions they read (``control_of``, resources,
``best_so_far``, what counts as diverged, ``signal_*`` columns) are documented there."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from nasbench import schema
from nasbench.analysis import compare as cmp
from nasbench.analysis.aggregate import seed_error_cube
from nasbench.analysis.compare_plots import method_colors, plot_best_so_far, plot_error_cost
from nasbench.analysis.document import Document
from nasbench.analysis.ranks import rank_table
from nasbench.analysis.signals import search_moved
from nasbench.analysis.table import completeness

if TYPE_CHECKING:
    from nasbench.study import Study


def prepared(shown: pd.DataFrame) -> pd.DataFrame:
    """The runs with the facts the comparison reads (control, threads, device) and their flags."""
    return cmp.mark_constant_level(cmp.flag_runs(cmp.run_facts(shown)))


def bar_top(table: pd.DataFrame) -> dict:
    """Per task, the upper limit of an error-bar axis set by the unflagged runs (None: no flag
    on the task, the axis scales itself)."""
    tops = {}
    for task, runs in table.groupby("task"):
        clean = cmp.clean(runs)
        if (runs["flag"] != "").any() and len(clean):
            spread = clean.groupby("method")["error"].agg(["mean", "std"]).fillna(0.0)
            tops[task] = 1.15 * float((spread["mean"] + spread["std"]).max())
    return tops


# --- verdict ------------------------------------------------------------------------------------

def _num(value: float) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.3g}"


def _interval(low: float, high: float) -> str:
    return f"[{_num(low)}, {_num(high)}]" if math.isfinite(low) else "(one seed: no interval)"


def best_lines(best: pd.DataFrame, constant_tasks: Sequence[str] = ()) -> list[str]:
    """One line per task; ``constant_tasks``: tasks where no finished run beats a constant prediction."""
    lines = []
    for row in best.itertuples(index=False):
        versus = ""
        if row.runner_up:
            how = "apart from" if row.separable else "not separable from"
            versus = f", {how} the runner-up {row.runner_up} ({_num(row.runner_up_mean)})"
        if row.task in constant_tasks:
            versus += ("; but no run on this task beats a constant prediction (below): at this budget it separates "
                       "no method")
        lines.append(f"{row.task} ({row.error_name}): **{row.best}** {_num(row.mean)} "
                     f"{_interval(row.ci_low, row.ci_high)} over {row.n} seed(s){versus}")
    return lines


def constant_tasks(table: pd.DataFrame) -> list[str]:
    """Tasks whose every finished run with a constant baseline is at constant level."""
    return sorted(task for task, runs in _beside_constant(table).groupby("task") if runs["constant_level"].all())


def _beside_constant(table: pd.DataFrame) -> pd.DataFrame:
    """Finished runs whose task has a constant-prediction baseline."""
    return table[(table["status"] == schema.STATUS_OK) & table["constant_error"].notna()]


def rank_sentence(ranks: pd.DataFrame, n_tasks: int, skipped: pd.Series | None = None) -> str:
    """``skipped``: per method, the number of tasks it was skipped on (it does not apply there)."""
    order = cmp.rank_separability(ranks)
    text = ""
    for row in order.itertuples(index=False):
        text += f"{row.method} {row.mean_rank:.2f} [{row.ci_low:.2f}, {row.ci_high:.2f}]"
        text += " < " if row.apart_from_next else " ≈ "
    sentence = (f"**Average rank** over {n_tasks} task(s), 95 % bootstrap interval over seeds: {text[:-3]} "
                "('<': the intervals of the two neighbours are apart; '≈': the two are not separable).")
    if skipped is not None and len(skipped):
        groups = "; ".join(f"{', '.join(sorted(names))} on {n} of {n_tasks}"
                           for n, names in skipped.groupby(skipped).groups.items())
        sentence += (f" A method that does not apply to a task (skipped by shape) ranks last there, as a failure "
                     f"does in a performance profile: {groups}; compare those methods on the tasks they share, in "
                     "the per-seed table and the pairwise tests.")
    return sentence


def incomplete_sentence(problems: pd.DataFrame, study: Study) -> str:
    """Empty when every run of the study file has a folder; else how many do not, per task, and that
    the verdict below is provisional (a cell without runs counts as infinitely worse)."""
    missing = problems[problems["problem"] == "missing"]
    if missing.empty:
        return ""
    total = len(study.requests())
    per_task = ", ".join(f"{task} {n}" for task, n in missing.groupby("task", sort=False).size().items())
    return (f"**Incomplete study**: {total - len(missing)} of the study file's {total} runs have a run folder; "
            f"{len(missing)} have not run yet ({per_task}). A cell without runs counts as infinitely worse, so "
            f"the average ranks below are provisional; `nasbench study {study.path}` computes the rest.")


def control_sentence(pairs: pd.DataFrame) -> str:
    if pairs.empty:
        return ("**Against random search**: no random-search control ran in these results (a control declares "
                "`control_of = \"<method>\"` and the runner records it in the manifest), so no method is compared "
                "with random search here.")
    parts = []
    for (method, control), group in pairs.groupby(["method", "control"], sort=True):
        has_method, has_control = np.isfinite(group["method_mean"]), np.isfinite(group["control_mean"])
        both = group[has_method & has_control]
        if not (has_method | has_control).any():  # neither ran on any task (skipped, or not run yet)
            continue
        wins = int((both["method_mean"] < both["control_mean"]).sum())
        apart = int(((both["method_mean"] < both["control_mean"]) & both["separable"]).sum())
        text = (f"{method} has a lower mean error than its control {control} on {wins} of {len(both)} "
                f"task(s) where both finished (intervals apart on {apart})")
        alone = [(f"only {method}", int((has_method & ~has_control).sum())),
                 (f"only {control}", int((~has_method & has_control).sum()))]
        text += "".join(f", and {who} finished on {n} more" for who, n in alone if n)
        parts.append(text)
    if not parts:
        return "**Against random search**: no method and its control have both finished on a task yet."
    return "**Against random search**: " + "; ".join(parts) + "."


def flag_sentence(table: pd.DataFrame) -> str:
    flagged = table[table["flag"] != ""]
    if flagged.empty:
        return "No run diverged (rule: see Per-seed results)."
    names = ", ".join(f"{r.task}/{r.method}/seed {r.seed} (error {_num(r.error)})" for r in flagged.itertuples())
    return (f"**{len(flagged)} run(s) flagged** as diverged or non-finite: {names}. They count in the means and "
            "ranks above (they are what the method produced) and are kept off the figures' axis limits.")


def constant_sentence(table: pd.DataFrame) -> str:
    """Which cells have runs a constant prediction matches (rule: ``nasbench.analysis.compare``)."""
    finished = _beside_constant(table)
    if finished.empty:
        return ""
    level = finished[finished["constant_level"]]
    if level.empty:
        return "Every finished run beats a constant prediction (the best single class, or the training mean)."
    names = "; ".join(_constant_cells(task, cells, finished[finished["task"] == task])
                      for task, cells in level.groupby("task", sort=True))
    constants = "; ".join(f"{task} {_num(e)}" for task, e in
                          level.groupby("task")["constant_error"].first().items())
    return (f"**No better than a constant prediction**: {names}. A constant that ignores the input scores a test error "
            f"of {constants} (the best single class for classification, the training mean for dense regression); "
            f"these runs' errors are not below it (a 0-1 error: not by {cmp.CONSTANT_Z:g} binomial standard errors), "
            "so at this budget they learned nothing a constant does not give.")


def _constant_cells(task: str, level: pd.DataFrame, finished: pd.DataFrame) -> str:
    """One task's cells at constant level; a task where every finished run is at that level in one phrase."""
    if len(level) == len(finished):
        return f"on {task} every finished run (every method, every seed: {len(finished)} runs)"
    totals = finished.groupby("method").size()
    counts = level.groupby("method", sort=True).size()
    every = [method for method, n in counts.items() if n == totals[method]]
    some = [f"{method} ({n} of {totals[method]} seeds)" for method, n in counts.items() if n < totals[method]]
    return f"on {task} " + ", ".join(([f"{', '.join(every)} (every seed)"] if every else []) + some)


def resource_sentence(table: pd.DataFrame) -> str:
    groups = cmp.resource_groups(table)
    if groups.empty:
        return ""
    first = groups.iloc[0]
    text = f"**Costs** compare runs with {first['threads']} torch thread(s) on {first['device']} ({first['runs']} runs)"
    if len(groups) > 1:
        rest = sum(groups["runs"].iloc[1:])
        return text + f"; {rest} run(s) on other resources are left out of the error-against-cost figures."
    return text + ", every finished run here."


def verdict_section(doc: Document, shown: pd.DataFrame, study: Study | None, n_boot: int,
                    lead: Sequence[str] = ()) -> None:
    """The paragraph the report opens with, each sentence computed from the runs; ``lead``: sentences
    that answer the study's own question (a ranking-fidelity study's), put before the rest."""
    table = prepared(shown)
    doc.heading(2, "Verdict")
    pending = incomplete_sentence(completeness(shown, study), study) if study is not None else ""
    if pending:
        doc.para(pending)
    for sentence in lead:
        doc.para(sentence)
    if table.empty:
        doc.para("No finished benchmark run to judge.")
        return
    cube, tasks, methods, _ = seed_error_cube(table, study)
    best = cmp.best_per_task(cmp.cell_intervals(table))
    if len(best):
        doc.para("**Best method per task** (mean test error over seeds, 95 % Student-t interval):")
        doc.bullets(best_lines(best, constant_tasks(table)))
    else:
        doc.para("No cell finished, so no method is best on any task.")
    sentences = []
    if len(methods) >= 2:
        skipped = table[table["status"] == schema.STATUS_SKIPPED].groupby("method")["task"].nunique()
        sentences.append(rank_sentence(rank_table(cube, tasks, methods, n_boot=n_boot), len(tasks), skipped))
    sentences += [control_sentence(cmp.control_comparison(table)), flag_sentence(table), constant_sentence(table),
                  resource_sentence(table)]
    for sentence in filter(None, sentences):
        doc.para(sentence)


# --- the comparison sections --------------------------------------------------------------------

def comparison_sections(doc: Document, shown: pd.DataFrame, study: Study | None) -> None:
    table = prepared(shown)
    _seed_section(doc, table)
    _signal_section(doc, table)
    _error_cost_section(doc, table)
    _best_so_far_section(doc, table)
    _pairwise_section(doc, table, study)


def _seed_section(doc: Document, table: pd.DataFrame) -> None:
    doc.heading(2, "Per-seed results")
    doc.para(f"Test error of every run; `!` marks a flagged run. A run is flagged `{cmp.FLAG_NONFINITE}` when its "
             f"error is not finite and `{cmp.FLAG_DIVERGED}` when its error is more than {cmp.RATIO_LIMIT:g} x the "
             "median of its cell's other seeds, or of all finished runs of its task. `=` marks a run no better than "
             "a constant prediction (it ignores the input: the best single class, or the training mean) on the same "
             f"test split: for a 0-1 error, not below the constant's by {cmp.CONSTANT_Z:g} binomial standard errors.")
    doc.table(cmp.seed_table(table), "Test error per seed (status where the run did not finish)")


def _signal_section(doc: Document, table: pd.DataFrame) -> None:
    doc.heading(2, "Did the search move")
    moved = search_moved(table)
    if moved.empty:
        doc.para("No run records a search signal (`signal_*` columns of its search stage in `curves.csv`).")
        return
    doc.para("Each search method's signal at initialisation and at the end of its search (`signal_*` columns of "
             "`curves.csv`): how many of the architecture's decisions left their initial choice, and the method's "
             "own quantities (a mixture's largest weight or entropy, mask movement, fitness, score spread). A "
             "search whose signal stays at its initial value returns an architecture drawn by its initialisation.")
    doc.table(moved, "Search signal per run, at initialisation -> at the end of the search")


def _error_cost_section(doc: Document, table: pd.DataFrame) -> None:
    doc.heading(2, "Error against cost")
    points = cmp.cost_points(table)
    doc.para(resource_sentence(table) + " Small dots are runs, large dots method means over unflagged seeds, "
             "the dashed line the Pareto front of the means (no other method is both cheaper and better), the "
             "dotted grey line the error of a constant prediction where it lies within the axes.")
    tasks = sorted(points["task"].unique())
    if not tasks:
        return
    colors = method_colors(points["method"])
    figure = Figure(figsize=(13, 3.6 * len(tasks)), layout="constrained")
    axes = figure.subplots(len(tasks), 2, squeeze=False)
    names = table.groupby("task")["error_name"].first()
    constants = table.groupby("task")["constant_error"].median().dropna()
    for row, task in zip(axes, tasks):
        group = points[points["task"] == task]
        for ax, axis in zip(row, ("cpu_s", "macs")):
            plot_error_cost(group, axis, ax=ax, title=task, ylabel=f"test {names.get(task, 'error')}", colors=colors,
                            constant=constants.get(task))
    doc.figure(figure, "error-cost", "Test error against CPU seconds of search + tune + retrain (left) and against "
                                     "the final network's MACs (right), per task; Pareto front dashed")
    front = points[(points["kind"] == "mean") & (points["front_cpu_s"] | points["front_macs"])]
    doc.table(front[["task", "method", "error", "cpu_s", "macs", "front_cpu_s", "front_macs"]],
              "Methods on a Pareto front (mean over unflagged seeds)")


def _best_so_far_section(doc: Document, table: pd.DataFrame) -> None:
    doc.heading(2, "Best so far during search")
    curves = cmp.best_so_far(table)
    if curves.empty:
        doc.para(f"No run records a best-so-far column ({', '.join(cmp.BEST_SO_FAR_COLUMNS)} in `curves.csv`), "
                 "so no curve is drawn.")
        return
    tasks = sorted(curves["task"].unique())
    figure = Figure(figsize=(13 if len(tasks) > 1 else 7, 3.8 * math.ceil(len(tasks) / 2)), layout="constrained")
    axes = figure.subplots(math.ceil(len(tasks) / 2), min(2, len(tasks)), squeeze=False).ravel()
    colors = method_colors(curves["method"])
    for ax, task in zip(axes, tasks):
        plot_best_so_far(curves[curves["task"] == task], ax=ax, title=task, colors=colors)
    for ax in axes[len(tasks):]:
        ax.set_visible(False)
    doc.figure(figure, "best-so-far", "Best validation error found so far against wall seconds, one line per run "
                                      "(columns: " + ", ".join(sorted(set(curves["column"]))) + ")")


def _pairwise_section(doc: Document, table: pd.DataFrame, study: Study | None) -> None:
    doc.heading(2, "Pairwise tests")
    cube, tasks, methods, seeds = seed_error_cube(table, study)
    if len(methods) < 2:
        doc.para("One method only: nothing to test.")
        return
    result = cmp.friedman(cube)
    friedman = (f"Friedman chi2 = {_num(result['statistic'])}, p = {_num(result['p'])} over {result['blocks']} blocks"
                if np.isfinite(result["p"]) else "Friedman test not computed (it needs 3+ methods and 2+ blocks)")
    doc.para(f"Test: {cmp.PAIRWISE_TEST}. A block is one task and one seed ({len(tasks)} task(s) x {len(seeds)} "
             f"seed(s)): the runs of two methods pair by task and seed number. "
             f"{friedman}.")
    doc.table(cmp.pairwise_tests(cube, methods), "Pairwise Wilcoxon signed-rank tests (a_better: blocks where a had "
                                                 "the lower error); p_holm < 0.05 marks a difference")
