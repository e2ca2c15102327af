"""Figures of a comparison report as pure functions: each takes its data and an optional ``Axes``
and returns the ``Axes`` it drew on. No pyplot and no backend switch: a missing ``ax`` gets a
fresh ``matplotlib.figure.Figure``, which saves to PNG and SVG without a GUI."""
from __future__ import annotations

from itertools import cycle

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import NullFormatter

LINESTYLES = ("-", "--", "-.", ":")
TAU_TICKS = (1, 1.25, 1.5, 2, 3, 5, 10, 20, 50, 100, 1000, 10**4, 10**5)
SUITE_COLOR, PUBLISHED_COLOR = "#3b75af", "#c9a227"


def new_axes(ax: Axes | None = None, size: tuple[float, float] = (6.4, 4.2)) -> Axes:
    return ax if ax is not None else Figure(figsize=size, layout="constrained").add_subplot()


def _styles(n: int):
    colors = matplotlib.colormaps["tab10" if n <= 10 else "tab20"].colors
    return zip(cycle(colors), cycle(LINESTYLES))


def plot_profile(profile: pd.DataFrame, ax: Axes | None = None, title: str = "") -> Axes:
    """Step curves rho_m(tau) of a ``performance_profile`` table (log tau axis)."""
    ax = new_axes(ax)
    finite = profile.loc[np.isfinite(profile["tau"]), "tau"]
    tau_max = max(float(finite.max()) * 1.25 if len(finite) else 2.0, 1.5)
    methods = list(dict.fromkeys(profile["method"]))
    for method, (color, style) in zip(methods, _styles(len(methods))):
        curve = profile[(profile["method"] == method) & np.isfinite(profile["tau"])].sort_values("tau")
        taus = np.concatenate([[1.0], curve["tau"].to_numpy(), [tau_max]])
        rho = np.concatenate([[0.0], curve["rho"].to_numpy(), [curve["rho"].iloc[-1] if len(curve) else 0.0]])
        ax.step(taus, rho, where="post", color=color, linestyle=style, linewidth=1.8, label=method)
    ax.set_xscale("log")
    ax.set_xlim(1.0, tau_max)
    ticks = [t for t in TAU_TICKS if t <= tau_max and (tau_max < 8 or t != 1.25)]  # no crowding near 1
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("tau (error / best error on the task)")
    ax.set_ylabel("fraction of tasks with ratio <= tau")
    ax.set_title(title or "Performance profile")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return ax


def plot_ranks(ranks: pd.DataFrame, ax: Axes | None = None, published: pd.DataFrame | None = None,
               title: str = "") -> Axes:
    """Average rank per method with its bootstrap interval (``rank_table``); optional published
    average ranks (columns method, mean_rank, label) as hollow markers, one shape per label."""
    ax = new_axes(ax)
    y = np.arange(len(ranks))
    err = np.vstack([ranks["mean_rank"] - ranks["ci_low"], ranks["ci_high"] - ranks["mean_rank"]]).clip(min=0)
    ax.errorbar(ranks["mean_rank"], y, xerr=err, fmt="o", color=SUITE_COLOR, capsize=4,
                label="suite (95% bootstrap CI)")
    if published is not None and not published.empty:
        where = {m: i for i, m in enumerate(ranks["method"])}
        shown = published[published["method"].isin(where)]
        for (label, group), marker in zip(shown.groupby("label", sort=False), cycle("Dsv^")):
            ax.plot(group["mean_rank"], [where[m] for m in group["method"]], marker, mfc="none",
                    color=PUBLISHED_COLOR, markersize=9, label=label)
    ax.set_yticks(y, ranks["method"])
    ax.set_xlim(0.75, len(ranks) + 0.25)  # the whole range of ranks, so panels compare at a glance
    ax.invert_yaxis()
    ax.set_xlabel("average rank over tasks (1 = best)")
    ax.set_title(title or "Average rank")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return ax


def plot_tau_heatmap(taus: pd.DataFrame, ax: Axes | None = None, title: str = "") -> Axes:
    """A matrix of Kendall tau values in [-1, 1], annotated; NaN cells grey."""
    ax = new_axes(ax, (1.2 + 0.6 * len(taus.columns), 1.0 + 0.5 * len(taus.index)))
    values = taus.to_numpy(dtype=float)
    cmap = matplotlib.colormaps["RdBu"].with_extremes(bad="#d0d0d0")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=-1, vmax=1)
    for (i, j), value in np.ndenumerate(values):
        ax.text(j, i, "n/a" if np.isnan(value) else f"{value:.2f}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(taus.columns)), taus.columns, rotation=45, ha="right")
    ax.set_yticks(range(len(taus.index)), taus.index)
    ax.figure.colorbar(image, ax=ax, shrink=0.8, label="tau-b")
    ax.set_title(title or "Kendall tau-b")
    return ax


def plot_task_bars(cells: pd.DataFrame, ax: Axes | None = None, title: str = "", ylabel: str = "error",
                   top: float | None = None) -> Axes:
    """Bars of one task: columns label, mean, std, published (bool). Published bars are hatched.
    ``top``: the upper axis limit (set by the runs that did not diverge); a bar above it is cut
    there and labelled with its value."""
    ax = new_axes(ax)
    x = np.arange(len(cells))
    published = cells["published"].to_numpy(dtype=bool)
    colors = np.where(published, PUBLISHED_COLOR, SUITE_COLOR)
    cut = cells["mean"].to_numpy(dtype=float) > top if top is not None else np.zeros(len(cells), dtype=bool)
    yerr = np.where(cut, 0.0, cells["std"].fillna(0.0).to_numpy(dtype=float))  # a cut bar's spread is off-axis
    bars = ax.bar(x, cells["mean"].fillna(0.0), yerr=yerr, color=colors, capsize=3)
    for bar, is_published, value in zip(bars, published, cells["mean"]):
        bar.set_hatch("//" if is_published else "")
        if np.isnan(value):
            ax.text(bar.get_x() + bar.get_width() / 2, 0, "failed /\nmissing", ha="center", va="bottom", fontsize=7)
    if top is not None:
        _clip_bars(ax, bars, cells["mean"].to_numpy(dtype=float), top)
    ax.set_xticks(x, cells["label"], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    handles = [Patch(color=SUITE_COLOR, label="suite")]
    if published.any():
        handles.append(Patch(facecolor=PUBLISHED_COLOR, hatch="//", label="published"))
    ax.legend(handles=handles, fontsize=7)
    return ax


def _clip_bars(ax: Axes, bars, means: np.ndarray, top: float) -> None:
    ax.set_ylim(0, top)
    for bar, value in zip(bars, means):
        if value > top:  # a diverged run lifts this mean: the bar is cut, its value written above it
            ax.annotate(f"{value:.3g}\n(cut)", (bar.get_x() + bar.get_width() / 2, top), ha="center", va="bottom",
                        fontsize=7, color="#c0392b", annotation_clip=False)


def plot_stage_costs(costs: pd.DataFrame, ax: Axes | None = None, title: str = "", unit: str = "wall seconds") -> Axes:
    """Stacked horizontal bars: rows are runs or cells (index = label), columns are stages."""
    ax = new_axes(ax, (7.0, 1.5 + 0.35 * len(costs)))
    left = np.zeros(len(costs))
    for stage, color in zip(costs.columns, matplotlib.colormaps["Set2"].colors):
        values = costs[stage].fillna(0.0).to_numpy(dtype=float)
        ax.barh(np.arange(len(costs)), values, left=left, color=color, label=stage)
        left += values
    ax.set_yticks(np.arange(len(costs)), costs.index)
    ax.invert_yaxis()
    ax.set_xlabel(unit)
    ax.set_title(title or "Cost per stage")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(True, axis="x", alpha=0.3)
    return ax


def plot_kernel_dilation(layers: pd.DataFrame, ax: Axes | None = None, title: str = "") -> Axes:
    """Kernel size k and dilation d per layer (bars), receptive field d(k-1)+1 (line, right): the
    figure of any method whose record picks a (k, d) per convolution."""
    ax = new_axes(ax, (max(6.0, 0.45 * len(layers)), 3.8))
    x = np.arange(len(layers))
    ax.bar(x - 0.2, layers["k"], width=0.4, color=SUITE_COLOR, label="kernel size k")
    ax.bar(x + 0.2, layers["d"], width=0.4, color=PUBLISHED_COLOR, label="dilation d")
    ax.set_xticks(x, layers["name"], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("k, d")
    right = ax.twinx()
    right.plot(x, layers["receptive_field"], "k.-", label="receptive field")
    right.set_ylabel("receptive field d(k-1)+1")
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(handles=handles, fontsize=7, loc="upper left")
    ax.set_title(title or "Kernel size and dilation per layer")
    return ax


def plot_blocks(blocks: pd.DataFrame, ax: Axes | None = None, title: str = "") -> Axes:
    """Kernel size and resolution per axis (lines, left) and widths (bars, right) per block: the
    figure of any method whose record sizes blocks along these axes."""
    ax = new_axes(ax)
    x = blocks["block"].to_numpy()
    right = ax.twinx()
    widths = [c for c in blocks.columns if c.startswith("width")]
    step = 0.8 / max(len(widths), 1)
    for i, (column, color) in enumerate(zip(widths, matplotlib.colormaps["Pastel1"].colors)):
        right.bar(x - 0.4 + step * (i + 0.5), blocks[column], width=step, color=color, label=column, zorder=1)
    sizes = [c for c in blocks.columns if c.startswith(("kernel_size", "resolution"))]
    for column, marker in zip(sizes, cycle("os^v")):
        ax.plot(x, blocks[column], marker=marker, label=column)
    ax.set_zorder(right.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.set_xticks(x, [f"block {b}" for b in x], fontsize=7)
    ax.set_ylabel("kernel size, resolution")
    right.set_ylabel("channels")
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=4)
    if widths:
        right.set_ylim(0, 1.12 * max(float(np.nanmax(blocks[widths].to_numpy(dtype=float))), 1.0))
    ax.set_ylim(0, 1.12 * max(float(np.nanmax(blocks[sizes].to_numpy(dtype=float))) if sizes else 1.0, 1.0))
    ax.set_title(title or "Kernel size, resolution and widths per block")
    return ax
