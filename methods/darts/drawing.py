"""How a DARTS record is shown: a table row of the two cells, and the cells as small graphs."""
from __future__ import annotations

from typing import Any

from nasbench.methods.backbones.darts_cells import STEPS, Gene, Genotype

SHORT = {"none": "none", "max_pool_3x3": "max3", "avg_pool_3x3": "avg3", "skip_connect": "skip",
         "sep_conv_3x3": "sep3", "sep_conv_5x5": "sep5", "dil_conv_3x3": "dil3", "dil_conv_5x5": "dil5"}
NODE_NAMES = ("c[k-2]", "c[k-1]") + tuple(str(i) for i in range(STEPS))


def describe_gene(gene: Gene) -> str:
    """'sep3(1) sep3(0) | skip(0) sep3(1) | ...': two (op, input node) per intermediate node."""
    pairs = [f"{SHORT.get(op, op)}({j})" for op, j in gene]
    return " | ".join(" ".join(pairs[i:i + 2]) for i in range(0, len(pairs), 2))


def describe_genotype(genotype: Genotype) -> dict[str, str]:
    row = {"normal": describe_gene(genotype.normal)}
    if genotype.reduce:
        row["reduce"] = describe_gene(genotype.reduce)
    return row


def _positions(x0: float) -> dict[int, tuple[float, float]]:
    """Inputs on the left, the intermediate nodes zig-zagging rightwards, the output (index -1) last."""
    pos = {0: (x0, 0.85), 1: (x0, 0.15)}
    for i in range(STEPS):
        pos[2 + i] = (x0 + 1.2 + 1.1 * i, 0.7 if i % 2 == 0 else 0.3)
    pos[-1] = (x0 + 1.2 + 1.1 * STEPS + 0.4, 0.5)
    return pos


def _draw_cell(ax: Any, gene: Gene, concat: tuple[int, ...], x0: float, title: str) -> None:
    pos = _positions(x0)
    for k, (op, j) in enumerate(gene):
        (xa, ya), (xb, yb) = pos[j], pos[2 + k // 2]
        ax.annotate("", xy=(xb, yb), xytext=(xa, ya),
                    arrowprops=dict(arrowstyle="->", lw=0.8, color="tab:blue", shrinkA=9, shrinkB=9))
        ax.text((xa + xb) / 2, (ya + yb) / 2, SHORT.get(op, op), fontsize=6, ha="center", va="center",
                bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.8))
    for node in concat:
        (xa, ya), (xb, yb) = pos[node], pos[-1]
        ax.annotate("", xy=(xb, yb), xytext=(xa, ya),
                    arrowprops=dict(arrowstyle="->", lw=0.5, color="0.6", ls="--", shrinkA=9, shrinkB=9))
    for node, (x, y) in pos.items():
        label = "out" if node == -1 else NODE_NAMES[node]
        ax.text(x, y, label, fontsize=6, ha="center", va="center",
                bbox=dict(boxstyle="circle,pad=0.3", fc="lightyellow" if node >= 2 else "lightgrey", ec="0.3"))
    ax.text(x0 + 3, 1.02, title, fontsize=8, ha="center", va="bottom")


def draw_genotype(genotype: Genotype, ax: Any) -> None:
    """The normal cell (and the reduction cell, when there is one) side by side on ``ax``."""
    cells = [("normal cell", genotype.normal, genotype.normal_concat)]
    if genotype.reduce:
        cells.append(("reduction cell", genotype.reduce, genotype.reduce_concat))
    for n, (title, gene, concat) in enumerate(cells):
        _draw_cell(ax, gene, concat, 7.0 * n, title)
    ax.set_xlim(-0.5, 7.0 * len(cells) - 0.5)
    ax.set_ylim(-0.05, 1.12)
    ax.set_axis_off()
