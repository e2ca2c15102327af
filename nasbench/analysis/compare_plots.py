"""Figures of the comparison (``nasbench.analysis.compare``) as pure functions: error against cost
with the Pareto front, best-so-far curves. Flagged (diverged) runs never set an axis limit: they
are drawn on the upper edge of the axes, as a red triangle with their value, so the other runs stay
readable."""
from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import NullFormatter

from nasbench.analysis.plots import new_axes

FLAG_COLOR = "#c0392b"
COST_LABELS = {"cpu_s": "CPU seconds of search + tune + retrain", "macs": "MACs of the final network"}
LOG_SPAN = 5.0  # a cost axis turns logarithmic when its values span more than this factor


def method_colors(methods) -> dict:
    """One colour per method, the same in every panel of a report."""
    names = sorted(set(methods))
    palette = matplotlib.colormaps["tab10" if len(names) <= 10 else "tab20"].colors
    return {name: palette[i % len(palette)] for i, name in enumerate(names)}


def clean_limits(values: np.ndarray, log: bool = False, pad: float = 0.08) -> tuple[float, float] | None:
    """Axis limits that hold ``values`` (the unflagged ones) with a margin; None when none is finite."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & ((values > 0) if log else True)]
    if not len(values):
        return None
    low, high = (np.log10(values.min()), np.log10(values.max())) if log else (values.min(), values.max())
    margin = pad * (high - low) if high > low else (0.5 if log else max(abs(high) * pad, 1e-3))
    low, high = low - margin, high + margin
    return (10 ** low, 10 ** high) if log else (low, high)


def mark_flagged(ax: Axes, x: np.ndarray, values: np.ndarray, top: float, label: str = "flagged run") -> None:
    """Draw flagged values that lie above ``top`` on the upper edge, with their value."""
    above = np.asarray(values, dtype=float) > top
    above |= ~np.isfinite(np.asarray(values, dtype=float))
    if not above.any():
        return
    ax.plot(np.asarray(x)[above], np.full(above.sum(), top), "^", color=FLAG_COLOR, markersize=9, clip_on=False,
            label=label, zorder=5)
    for xi, value in zip(np.asarray(x)[above], np.asarray(values)[above]):
        ax.annotate(f"{value:.3g}", (xi, top), textcoords="offset points", xytext=(4, -10), fontsize=7,
                    color=FLAG_COLOR)


def plot_error_cost(points: pd.DataFrame, axis: str = "cpu_s", ax: Axes | None = None, title: str = "",
                    ylabel: str = "test error", colors: dict | None = None, constant: float | None = None) -> Axes:
    """Test error against a cost (``cpu_s`` or ``macs``) for one task's ``cost_points``: each run a
    small dot, each method's mean a large one, the Pareto front of the means as a dashed line,
    flagged runs on the upper edge, the error of a constant prediction (``constant``) as a dotted
    line where it lies within the axes. Axis limits come from the unflagged runs."""
    ax = new_axes(ax)
    colors = colors or method_colors(points["method"])
    runs, means = points[points["kind"] == "run"], points[points["kind"] == "mean"]
    clean = runs[runs["flag"] == ""]
    for method, group in clean.groupby("method"):
        ax.plot(group[axis], group["error"], ".", color=colors[method], alpha=0.5, markersize=6)
    for _, mean in means.iterrows():
        ax.plot(mean[axis], mean["error"], "o", color=colors[mean["method"]], markersize=9,
                markeredgecolor="k", label=mean["method"])
    front = means[means[f"front_{axis}"]].sort_values(axis)
    ax.step(front[axis], front["error"], where="post", color="k", linestyle="--", linewidth=1, label="Pareto front")
    _set_limits(ax, clean, axis)
    low, high = ax.get_ylim()
    if constant is not None and low <= constant <= high:
        ax.axhline(constant, color="0.5", linestyle=":", linewidth=1.2, label="constant prediction")
    flagged = runs[runs["flag"] != ""]
    if len(flagged):
        mark_flagged(ax, flagged[axis].fillna(ax.get_xlim()[0]).to_numpy(), flagged["error"].to_numpy(),
                     ax.get_ylim()[1], label="flagged run (value shown)")
    ax.set_xlabel(COST_LABELS.get(axis, axis) + (" (log)" if ax.get_xscale() == "log" else ""))
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return ax


def _set_limits(ax: Axes, clean: pd.DataFrame, axis: str) -> None:
    x = clean[axis].to_numpy(dtype=float)
    positive = x[np.isfinite(x) & (x > 0)]
    if len(positive) and positive.max() > LOG_SPAN * positive.min():  # costs that span a wide range
        ax.set_xscale("log")
        ax.set_xlim(*clean_limits(positive, log=True))
        ax.xaxis.set_minor_formatter(NullFormatter())  # labelled minor ticks overlap on a short log span
    elif len(positive):
        ax.set_xlim(*clean_limits(positive))
    y = clean_limits(clean["error"].to_numpy(dtype=float))
    if y is not None:
        ax.set_ylim(*y)


def plot_best_so_far(curves: pd.DataFrame, ax: Axes | None = None, title: str = "", colors: dict | None = None) -> Axes:
    """Best validation error found so far against wall seconds, one line per run (``best_so_far``)."""
    ax = new_axes(ax)
    colors = colors or method_colors(curves["method"])
    for (method, seed), run in curves.groupby(["method", "seed"], sort=True):
        ax.step(run["elapsed_s"], run["best"], where="post", color=colors[method], alpha=0.8,
                label=method if seed == run["seed"].iloc[0] and method not in ax.get_legend_handles_labels()[1]
                else None)
    ax.set_xlabel("wall seconds since the run began")
    ax.set_ylabel("best validation error so far")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return ax
