"""Ranking fidelity of supernets against the suite's own stand-alone training (the Balanced Mixture
paper's Fig. 3 and Table 6, on data this machine has).

Two kinds of runs meet here, recognised by their ``arch.json`` and not by method name:
- ground truth: runs that trained one configuration stand-alone (``details.trained_standalone`` and
  ``choices.config``); their test metric, averaged over seeds, is the configuration's true score;
- predictions: runs that scored candidate configurations with a supernet (``details.supernet_scores``
  as ``[{config, score}]``); a method (or study variant) predicts by its mean score over seeds.

Per task and predicting method: Kendall tau-b and the top-k overlap (|top k predicted and top k true|
/ k) between the mean predicted and the mean true scores, each with a 95 % percentile bootstrap
interval that resamples seeds (the predicting runs' seeds, and the ground truth's seeds as whole
replicates of the 36 trainings). How separable the ground truth is: the spread of the configurations'
mean scores against the seed noise (the pooled within-configuration standard deviation).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from nasbench import schema
from nasbench.analysis.archs import config_key, read_record, supernet_scores
from nasbench.analysis.ranks import TAU_VARIANT, kendall_tau_b, ranking_fidelity

TOP_K = 5
N_BOOT = 1000


def _ok(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["status"] == schema.STATUS_OK]


def _sign(run: pd.Series) -> float:
    """Scores are compared larger-is-better: a metric to minimise is negated."""
    return -1.0 if run.get("direction") == "min" else 1.0


def standalone_truth(table: pd.DataFrame) -> pd.DataFrame:
    """One row per stand-alone run: task, config (as ``[a b c]``), seed, score (the test metric,
    negated when it is minimised)."""
    rows = []
    for _, run in _ok(table).iterrows():
        record = read_record(run["run_dir"]) or {}
        details, choices = record.get("details") or {}, record.get("choices") or {}
        if isinstance(details, dict) and details.get("trained_standalone") and "config" in choices:
            rows.append({"task": run["task"], "config": config_key(choices["config"]), "seed": int(run["seed"]),
                         "score": _sign(run) * float(run["metric_value"])})
    return pd.DataFrame(rows, columns=["task", "config", "seed", "score"])


def _models(run_dir: str, record: dict[str, Any]) -> float:
    """The run's number of supernets M (from its record, else its manifest's config), NaN if none."""
    value = (record.get("details") or {}).get("models")
    if value is None:
        try:
            value = json.loads((Path(run_dir) / schema.MANIFEST).read_text()).get("method_config", {}).get("models")
        except (OSError, ValueError):
            value = None
    return float(value) if isinstance(value, (int, float)) else float("nan")


def predicted_scores(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, configuration) a supernet scored: task, method, seed, models, config, score."""
    frames = []
    for _, run in _ok(table).iterrows():
        record = read_record(run["run_dir"]) or {}
        scores = supernet_scores(record)
        if scores is not None:
            frames.append(scores.assign(score=_sign(run) * scores["supernet"]).drop(columns="supernet").assign(
                task=run["task"], method=run["method"], seed=int(run["seed"]), models=_models(run["run_dir"], record)))
    columns = ["task", "method", "seed", "models", "config", "score"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def separability(truth: pd.DataFrame) -> pd.DataFrame:
    """Per task: configurations, seeds, the spread of the mean scores (std over configurations), the
    seed noise (pooled within-configuration std, ddof = 1) and the standard error of a mean, their ratio."""
    rows = []
    for task, group in truth.groupby("task"):
        by_config = group.groupby("config")["score"]
        means, variances, counts = by_config.mean(), by_config.var(ddof=1), by_config.count()
        dof = (counts - 1).clip(lower=0)
        noise = float(np.sqrt((variances.fillna(0) * dof).sum() / dof.sum())) if dof.sum() > 0 else float("nan")
        sem = noise / np.sqrt(counts.mean()) if counts.mean() > 0 else float("nan")
        spread = float(means.std(ddof=1)) if len(means) > 1 else float("nan")
        rows.append({"task": task, "configs": len(means), "seeds_per_config": float(counts.mean()),
                     "best": means.idxmax(), "best_score": means.max(), "worst_score": means.min(),
                     "spread_of_means": spread, "seed_noise": noise, "sem_of_a_mean": sem,
                     "spread_over_sem": spread / sem if sem and sem == sem else float("nan")})
    return pd.DataFrame(rows)


def top_k_overlap(predicted, truth, k: int = TOP_K) -> float:
    """|top k of predicted and top k of truth| / k over paired scores (higher is better; NaN pairs dropped)."""
    predicted, truth = np.asarray(predicted, dtype=float), np.asarray(truth, dtype=float)
    keep = ~(np.isnan(predicted) | np.isnan(truth))
    if keep.sum() < k:
        return float("nan")
    top_p = set(np.argsort(-predicted[keep], kind="stable")[:k])
    top_t = set(np.argsort(-truth[keep], kind="stable")[:k])
    return len(top_p & top_t) / k


def _aligned(pred: pd.DataFrame, truth: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The configurations both score, and their config x seed score arrays (predicted, true)."""
    p = pred.pivot_table(index="config", columns="seed", values="score", aggfunc="mean")
    t = truth.pivot_table(index="config", columns="seed", values="score", aggfunc="mean")
    common = sorted(p.index.intersection(t.index))
    return common, p.loc[common].to_numpy(dtype=float), t.loc[common].to_numpy(dtype=float)


def _statistics(p: np.ndarray, t: np.ndarray, k: int) -> tuple[float, float]:
    p_mean, t_mean = np.nanmean(p, axis=1), np.nanmean(t, axis=1)
    return kendall_tau_b(p_mean, t_mean), top_k_overlap(p_mean, t_mean, k)


def bootstrap_fidelity(p: np.ndarray, t: np.ndarray, k: int = TOP_K, n_boot: int = N_BOOT,
                       seed: int = 0) -> np.ndarray:
    """(n_boot, 2) replicates of (tau-b, top-k overlap), resampling the predicting seeds and the ground
    truth's seeds (columns of the config x seed arrays) with replacement."""
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, 2))
    for b in range(n_boot):
        out[b] = _statistics(p[:, rng.integers(p.shape[1], size=p.shape[1])],
                             t[:, rng.integers(t.shape[1], size=t.shape[1])], k)
    return out


def fidelity_table(pred: pd.DataFrame, truth: pd.DataFrame, k: int = TOP_K, n_boot: int = N_BOOT
                   ) -> tuple[pd.DataFrame, dict[tuple[str, str], np.ndarray]]:
    """Per task and predicting method: M, seeds, tau-b and top-k overlap with 95 % bootstrap intervals,
    and the mean per-seed tau-b; plus the bootstrap replicates per (task, method)."""
    rows, replicates = [], {}
    for (task, method), group in pred.groupby(["task", "method"]):
        common, p, t = _aligned(group, truth[truth["task"] == task])
        if len(common) < 2:
            continue
        means = pd.DataFrame({"predicted": np.nanmean(p, axis=1), "truth": np.nanmean(t, axis=1)})
        tau, overlap = ranking_fidelity(means, "predicted", "truth")["tau_b"], _statistics(p, t, k)[1]
        boot = replicates[(task, method)] = bootstrap_fidelity(p, t, k, n_boot)
        per_seed = [_statistics(p[:, [s]], t, k)[0] for s in range(p.shape[1])]
        low, high = np.nanpercentile(boot, [2.5, 97.5], axis=0)
        rows.append({"task": task, "method": method, "M": group["models"].iloc[0], "seeds": p.shape[1],
                     "truth_seeds": t.shape[1], "configs": len(common),
                     "tau_b": tau, "tau_ci_low": low[0], "tau_ci_high": high[0],
                     "tau_b_per_seed_mean": float(np.nanmean(per_seed)),
                     f"top{k}_overlap": overlap, f"top{k}_ci_low": low[1], f"top{k}_ci_high": high[1]})
    table = pd.DataFrame(rows)
    return (table.sort_values(["task", "M", "method"], ignore_index=True) if not table.empty else table), replicates


def growth_verdict(table: pd.DataFrame, replicates: dict[tuple[str, str], np.ndarray]) -> list[str]:
    """Per task, one sentence: does tau-b grow with M here, and how sure is that (the bootstrap share
    of replicate pairs in which the largest M ranks better than the smallest)."""
    sentences = []
    for task, group in table.dropna(subset=["M"]).groupby("task"):
        group = group.sort_values("M")
        if group["M"].nunique() < 2:
            continue
        low, high = group.iloc[0], group.iloc[-1]
        order = kendall_tau_b(group["M"].to_numpy(), group["tau_b"].to_numpy())
        share = float(np.mean(replicates[(task, high["method"])][:, 0] > replicates[(task, low["method"])][:, 0]))
        overlap = not (high["tau_ci_low"] > low["tau_ci_high"] or low["tau_ci_low"] > high["tau_ci_high"])
        taus = ", ".join(f"M = {int(r.M)}: {r.tau_b:.3f} [{r.tau_ci_low:.3f}, {r.tau_ci_high:.3f}]"
                         for r in group.itertuples())
        rises = order > 0 and high["tau_b"] > low["tau_b"]
        grows = ("grows with M" if rises and bool(np.all(np.diff(group["tau_b"].to_numpy()) > 0)) else
                 "is higher at the largest M than at the smallest, but not monotone in M" if rises else
                 "does not grow with M")
        sure = ("the 95 % intervals of the smallest and largest M overlap, so the difference is not established"
                if overlap else "the 95 % intervals of the smallest and largest M do not overlap")
        few = int(min(group["seeds"].min(), group["truth_seeds"].min()))
        coarse = (f" (a bootstrap over {few} seeds per ranking takes few distinct values, so these shares and "
                  f"intervals are coarse)" if few < 5 else "")
        sentences.append(
            f"On {task}, tau-b against stand-alone training {grows} ({taus}; tau-b between M and tau-b "
            f"{order:.2f}); in {share:.0%} of bootstrap replicates M = {int(high['M'])} ranks better than "
            f"M = {int(low['M'])}, and {sure}{coarse}. The paper's claim (tau grows with M, Fig. 3) is "
            f"{'supported' if rises and not overlap else 'not supported with confidence'} by these runs.")
    return sentences


def mean_scores(pred: pd.DataFrame, truth: pd.DataFrame, task: str) -> pd.DataFrame:
    """config x (truth, one column per predicting method) mean scores on ``task``."""
    columns = {"stand-alone": truth[truth["task"] == task].groupby("config")["score"].mean()}
    for method, group in pred[pred["task"] == task].groupby("method"):
        columns[method] = group.groupby("config")["score"].mean()
    return pd.DataFrame(columns)


def plot_fidelity(table: pd.DataFrame, means: dict[str, pd.DataFrame], published: tuple[str, pd.DataFrame] | None,
                  k: int = TOP_K) -> Figure:
    """Left: tau-b (and top-k overlap) against M with bootstrap intervals per task; middle: predicted
    against stand-alone scores per configuration (Fig. 3 of the paper); right: the suite's stand-alone
    scores against a published ground truth (name, frame), labelled as published."""
    figure = Figure(figsize=(17, 4.8), layout="constrained")
    left, middle, right = figure.subplots(1, 3)
    for task, group in table.groupby("task"):
        x = group["M"].to_numpy(dtype=float)
        for column, low, high, marker in (("tau_b", "tau_ci_low", "tau_ci_high", "o"),
                                          (f"top{k}_overlap", f"top{k}_ci_low", f"top{k}_ci_high", "s")):
            y = group[column].to_numpy(dtype=float)
            err = np.vstack([y - group[low].to_numpy(dtype=float), group[high].to_numpy(dtype=float) - y])
            left.errorbar(x, y, yerr=np.abs(err), marker=marker, capsize=3, label=f"{task}: {column}")
    left.set_xscale("log", base=2)
    left.set_xlabel("supernets M")
    left.set_ylabel("against stand-alone training")
    left.set_title(f"{TAU_VARIANT} and top-{k} overlap (95 % bootstrap)")
    left.axhline(0, color="grey", lw=0.5)
    left.legend(fontsize=7)
    for task, frame in means.items():
        for method in frame.columns.drop("stand-alone"):
            middle.scatter(frame["stand-alone"], frame[method], s=14, label=f"{task}: {method}")
    middle.set_xlabel("stand-alone test score (mean over seeds)")
    middle.set_ylabel("supernet validation score (mean over seeds)")
    middle.set_title("predicted vs stand-alone, per configuration")
    middle.legend(fontsize=7)
    _plot_published(right, means, published)
    return figure


def _plot_published(ax, means: dict[str, pd.DataFrame], published: tuple[str, pd.DataFrame] | None) -> None:
    if published is None:
        ax.set_visible(False)
        return
    name, frame = published
    truth = frame.set_index("config")["test_accuracy"]
    for task, frame in means.items():
        both = pd.concat([frame["stand-alone"], truth], axis=1, join="inner").dropna()
        tau = kendall_tau_b(both.iloc[:, 0].to_numpy(), both.iloc[:, 1].to_numpy())
        ax.scatter(both.iloc[:, 1], both.iloc[:, 0], s=14, label=f"{task} (tau-b {tau:.2f})")
    ax.set_xlabel(f"published: {name}")
    ax.set_ylabel("suite: stand-alone test score")
    ax.set_title("suite ground truth vs published ground truth")
    ax.legend(fontsize=7)


def matching_published(published: dict[str, pd.DataFrame] | None,
                       truth: pd.DataFrame) -> tuple[str, pd.DataFrame] | None:
    """The published ground truth (name, frame) that scores the most of the suite's configurations, if any."""
    configs = set(truth["config"])
    scored = [(len(configs & set(frame["config"])), name) for name, frame in (published or {}).items()]
    count, name = max(scored, default=(0, ""))
    return (name, published[name]) if count >= 2 else None


@dataclass(frozen=True)
class FidelityResults:
    """The stand-alone truth, the predictions, and their fidelity table with its bootstrap replicates,
    on the tasks that have both: computed once, read by the verdict and by the report's section."""

    tasks: list[str]
    truth: pd.DataFrame
    pred: pd.DataFrame
    table: pd.DataFrame
    replicates: dict[tuple[str, str], np.ndarray]

    def verdict(self) -> list[str]:
        return growth_verdict(self.table, self.replicates)


def fidelity_results(shown: pd.DataFrame, n_boot: int = N_BOOT, k: int = TOP_K) -> FidelityResults | None:
    """None when no task has both stand-alone runs and supernet predictions."""
    truth, pred = standalone_truth(shown), predicted_scores(shown)
    tasks = sorted(set(truth["task"]) & set(pred["task"]))
    if not tasks:
        return None
    table, replicates = fidelity_table(pred[pred["task"].isin(tasks)], truth, k, n_boot)
    return FidelityResults(tasks, truth, pred, table, replicates)


def write_fidelity_study(doc: Any, results: FidelityResults, published: dict[str, pd.DataFrame] | None = None,
                         k: int = TOP_K) -> None:
    """The report's part for a study that holds both stand-alone runs and supernet predictions on the
    same task: separability, the fidelity table, the verdict and the figure. ``published``: the
    published ground truths by file name; the one matching these configurations is shown beside the
    suite's, labelled."""
    tasks, truth, pred, table = results.tasks, results.truth, results.pred, results.table
    doc.heading(3, "Against the suite's own stand-alone training")
    doc.table(separability(truth[truth["task"].isin(tasks)]),
              "Ground truth: stand-alone test scores per configuration; spread of the configurations' means "
              "against the seed noise (pooled within-configuration std) and the standard error of one mean")
    n_boot = len(next(iter(results.replicates.values()))) if results.replicates else 0
    doc.table(table, f"{TAU_VARIANT} and top-{k} overlap between each method's mean supernet scores and the mean "
                     f"stand-alone scores; 95 % percentile bootstrap over seeds ({n_boot} replicates)")
    for sentence in results.verdict():
        doc.para(sentence)
    means = {task: mean_scores(pred, truth, task) for task in tasks}
    match = matching_published(published, truth)
    label = f"published: {match[0]}" if match else ""
    for task, frame in means.items():
        beside = frame.reset_index(names="config")
        if match is not None:
            beside = beside.merge(match[1].rename(columns={"test_accuracy": label}), on="config", how="left")
        doc.table(beside.sort_values("stand-alone", ascending=False),
                  f"{task}: mean score per configuration, stand-alone and predicted by each method"
                  + (f"; the last column is {label} (transcribed from the paper, not computed by the suite)"
                     if match else ""))
    doc.figure(plot_fidelity(table, means, match, k), "fidelity",
               f"Ranking fidelity: {TAU_VARIANT} and top-{k} overlap against M (left), predicted against stand-alone "
               "scores (middle), the suite's ground truth against the published one (right, labelled)")
