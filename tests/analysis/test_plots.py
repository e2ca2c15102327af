"""Figures are pure functions on an Axes; no pyplot state, and matplotlib stays out of the core."""
import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from nasbench.analysis import plots
from nasbench.analysis.profiles import performance_profile
from nasbench.analysis.ranks import rank_table


def test_profile_curves_end_at_the_fraction_of_tasks_solved():
    errors = pd.DataFrame({"A": [0.1, np.inf], "B": [0.2, 0.3]}, index=["t1", "t2"])
    ax = plots.plot_profile(performance_profile(errors))
    assert isinstance(ax, Axes) and isinstance(ax.figure, Figure)
    ends = {line.get_label(): line.get_ydata()[-1] for line in ax.get_lines()}
    assert ends == {"A": 0.5, "B": 1.0}


def test_plots_draw_on_the_axes_they_are_given():
    figure = Figure()
    axes = figure.subplots(1, 3)
    cube = np.array([[[0.1, 0.2], [0.3, 0.1]], [[0.2, 0.2], [0.1, 0.1]]])
    ranks = rank_table(cube, ["t1", "t2"], ["A", "B"], n_boot=20)
    published = pd.DataFrame({"method": ["A", "B"], "mean_rank": [2.0, 1.0], "label": "published: X"})
    assert plots.plot_ranks(ranks, ax=axes[0], published=published) is axes[0]
    assert [t.get_text() for t in axes[0].get_yticklabels()] == ranks["method"].tolist()
    taus = pd.DataFrame([[1.0, np.nan], [np.nan, 1.0]], index=["t1", "t2"], columns=["t1", "t2"])
    assert plots.plot_tau_heatmap(taus, ax=axes[1]) is axes[1]
    assert sorted(t.get_text() for t in axes[1].texts) == ["1.00", "1.00", "n/a", "n/a"]
    cells = pd.DataFrame({"label": ["a", "b"], "mean": [0.1, np.nan], "std": [0.01, np.nan],
                          "published": [False, True]})
    plots.plot_task_bars(cells, ax=axes[2])
    suite_bar, published_bar = axes[2].patches[:2]
    assert not suite_bar.get_hatch() and published_bar.get_hatch() == "//"
    assert "failed /\nmissing" in [t.get_text() for t in axes[2].texts]


def test_architecture_plots():
    layers = pd.DataFrame({"name": ["c1", "c2"], "k": [3.0, 7.0], "d": [1.0, 4.0], "receptive_field": [3.0, 25.0]})
    ax = plots.plot_kernel_dilation(layers)
    assert [p.get_height() for p in ax.patches] == [3.0, 7.0, 1.0, 4.0]
    blocks = pd.DataFrame({"block": [0, 1], "kernel_size_0": [9.0, 5.0], "resolution_0": [32.0, 16.0],
                           "width_in": [3.0, 8.0], "width_out": [8.0, 16.0]})
    ax = plots.plot_blocks(blocks)
    assert {line.get_label() for line in ax.get_lines()} == {"kernel_size_0", "resolution_0"}


def test_matplotlib_stays_out_of_the_core_and_pyplot_out_of_everything():
    root = Path(__file__).resolve().parents[2]
    sources = [p for folder in ("nasbench", "methods", "tasks") for p in (root / folder).rglob("*.py")]
    importing = {p.relative_to(root).as_posix() for p in sources
                 if re.search(r"^\s*(import|from) matplotlib", p.read_text(), re.M)}
    allowed = {p for p in importing if p.startswith("nasbench/analysis/") or p == "nasbench/report.py"}
    assert importing == allowed and "nasbench/analysis/plots.py" in importing
    assert not any(re.search(r"matplotlib\.pyplot|import pyplot", p.read_text()) for p in sources
                   if p.relative_to(root).as_posix() in allowed)


def test_a_figure_saved_twice_writes_the_same_svg_bytes(tmp_path):
    from nasbench.analysis.document import Document

    def saved(folder):
        figure = Figure()
        ax = figure.add_subplot()
        ax.plot([0, 1, 2], [0.3, 0.1, 0.2], label="m")
        ax.legend()
        Document(folder).figure(figure, "curve", "a curve")
        return (folder / "curve.svg").read_bytes()

    first, second = saved(tmp_path / "a"), saved(tmp_path / "b")
    assert b"<svg" in first and first == second  # matplotlib's random element ids would differ without a fixed salt
