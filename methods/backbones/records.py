"""How the architecture records of the backbones' search spaces are shown: a per-layer
(kernel size, dilation) table for the WRN convolutions (DASH's space and its controls), a per-block
(kernel size, resolution, widths) table for the CCNN blocks (DNArch and the CCNN baseline), their
one-line summaries for a report's table row, and their figures (drawn by the suite's generic plots).

Methods call these from ``describe_record`` and ``draw_record``; matplotlib is imported only when a
figure is drawn.
"""
from __future__ import annotations

from typing import Any, Sequence

import pandas as pd


def receptive_field(kernel: int, dilation: int) -> int:
    """d(k - 1) + 1: the input span of one dilated convolution."""
    return dilation * (kernel - 1) + 1


def kernel_dilation_frame(kernels: Sequence[Sequence[int]], names: Sequence[str] | None = None) -> pd.DataFrame:
    """Per searchable convolution: name, kernel size k, dilation d, receptive field d(k-1)+1."""
    if names is None or len(names) != len(kernels):
        names = [f"conv{i}" for i in range(len(kernels))]
    rows = [{"name": name, "k": int(k), "d": int(d), "receptive_field": receptive_field(int(k), int(d))}
            for name, (k, d) in zip(names, kernels)]
    return pd.DataFrame(rows, columns=["name", "k", "d", "receptive_field"])


def kernels_text(kernels: Sequence[Sequence[int]]) -> str:
    """``3x1 5x2 ...``: k x d per layer, in the backbone's order."""
    return " ".join(f"{int(k)}x{int(d)}" for k, d in kernels)


def blocks_frame(blocks: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Per CCNN block: kernel size and resolution per axis, widths N_in, N_mid, N_out."""
    rows = []
    for index, block in enumerate(blocks):
        row: dict[str, Any] = {"block": index}
        for key in ("kernel_size", "resolution"):
            row.update({f"{key}_{axis}": int(size) for axis, size in enumerate(block[key])})
        row.update(zip(("width_in", "width_mid", "width_out"), (int(w) for w in block["width"])))
        rows.append(row)
    return pd.DataFrame(rows)


def sizes_text(blocks: Sequence[dict[str, Any]], key: str) -> str:
    """One entry per block, axes joined by ``x`` (``9x7 5x5``) or widths by ``/`` (``142/139/145``)."""
    joiner = "/" if key == "width" else "x"
    return " ".join(joiner.join(str(int(v)) for v in block[key]) for block in blocks)


def blocks_row(blocks: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A report row of a CCNN's blocks: depth, then kernel sizes, resolutions and widths per block."""
    return {"depth": len(blocks), "kernel sizes": sizes_text(blocks, "kernel_size"),
            "resolutions": sizes_text(blocks, "resolution"), "widths (in/mid/out)": sizes_text(blocks, "width")}


def draw_kernel_dilation(frame: pd.DataFrame, ax: Any, title: str = "") -> bool:
    from nasbench.analysis.plots import plot_kernel_dilation

    plot_kernel_dilation(frame, ax=ax, title=title)
    return True


def draw_blocks(frame: pd.DataFrame, ax: Any, title: str = "") -> bool:
    from nasbench.analysis.plots import plot_blocks

    plot_blocks(frame, ax=ax, title=title)
    return True
