"""A report as a list of blocks (headings, paragraphs, lists, tables, figures), rendered twice:
Markdown beside its figure files, and one self-contained HTML page with the PNGs embedded."""
from __future__ import annotations

import base64
import html
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure

CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;
line-height:1.45}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.85em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left}
th{background:#f0f0f0}tr:nth-child(even) td{background:#fafafa}img{max-width:100%;border:1px solid #eee}
figure{margin:1em 0}figcaption{font-size:.85em;color:#555}code,pre{background:#f5f5f5;padding:.1em .3em}
pre{padding:.6em;overflow-x:auto}.note{border-left:4px solid #c9a227;padding:.3em .8em;background:#fffbea}
tr.published td{background:#fff8e1;font-style:italic}"""


def fmt(value: Any) -> str:
    """One table cell: 4 significant digits, '-' for missing, 'inf' for infinitely worse."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "-"
    if isinstance(value, float):
        if math.isinf(value):
            return "inf"
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.4g}"
    return str(value)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "figure"


@dataclass
class Document:
    figures_dir: Path
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def heading(self, level: int, text: str) -> None:
        self.blocks.append(("heading", (level, text)))

    def para(self, text: str, note: bool = False) -> None:
        self.blocks.append(("note" if note else "para", text))

    def bullets(self, items: list[str]) -> None:
        self.blocks.append(("bullets", items))

    def code(self, text: str) -> None:
        self.blocks.append(("code", text))

    def table(self, frame: pd.DataFrame, caption: str = "") -> None:
        self.blocks.append(("table", (frame, caption)))

    def figure(self, figure: Figure, name: str, caption: str) -> str:
        """Save ``figure`` as PNG and SVG under the figures folder and add it; returns the stem."""
        self.figures_dir.mkdir(parents=True, exist_ok=True)
        stem = slug(name)
        figure.savefig(self.figures_dir / f"{stem}.png", dpi=110)
        figure.set_layout_engine("none")  # keep the layout of the PNG: the SVG does not solve it again
        with rc_context({"svg.hashsalt": stem}):  # fixed element ids: a rebuild from the same runs writes the same SVG
            figure.savefig(self.figures_dir / f"{stem}.svg", metadata={"Date": None})
        self.blocks.append(("figure", (stem, caption)))
        return stem



def _md_table(frame: pd.DataFrame) -> str:
    cells = [[fmt(v).replace("|", "\\|") for v in row] for row in frame.itertuples(index=False)]
    header = [str(c).replace("|", "\\|") for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])


def to_markdown(doc: Document, figures_rel: str) -> str:
    out = []
    for kind, body in doc.blocks:
        if kind == "heading":
            out.append("#" * body[0] + " " + body[1])
        elif kind in ("para", "note"):
            out.append(("> " if kind == "note" else "") + body)
        elif kind == "bullets":
            out.append("\n".join(f"- {item}" for item in body))
        elif kind == "code":
            out.append(f"```\n{body}\n```")
        elif kind == "table":
            frame, caption = body
            out.append((f"*{caption}*\n\n" if caption else "") + _md_table(frame))
        elif kind == "figure":
            stem, caption = body
            out.append(f"![{caption}]({figures_rel}/{stem}.png)\n\n*{caption}* ([SVG]({figures_rel}/{stem}.svg))")
    return "\n\n".join(out) + "\n"


def _inline(text: str) -> str:
    """Escape, then the two Markdown marks the report uses: `code` and **bold**."""
    text = html.escape(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)


def _html_row(cells: list[str]) -> str:
    published = any(c.startswith("published") for c in cells)  # published rows stand out
    return ('<tr class="published">' if published else "<tr>") + "".join(
        f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"


def _html_table(frame: pd.DataFrame, caption: str) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join(_html_row([fmt(v) for v in row]) for row in frame.itertuples(index=False))
    cap = f"<caption>{_inline(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _html_figure(doc: Document, figures_rel: str, stem: str, caption: str) -> str:
    data = base64.b64encode((doc.figures_dir / f"{stem}.png").read_bytes()).decode()
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f'<figcaption>{_inline(caption)} (<a href="{figures_rel}/{stem}.svg">SVG</a>)</figcaption></figure>')


def to_html(doc: Document, title: str, figures_rel: str) -> str:
    parts = []
    for kind, body in doc.blocks:
        if kind == "heading":
            parts.append(f"<h{body[0]}>{_inline(body[1])}</h{body[0]}>")
        elif kind in ("para", "note"):
            parts.append(f'<p class="{kind}">{_inline(body)}</p>')
        elif kind == "bullets":
            parts.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in body) + "</ul>")
        elif kind == "code":
            parts.append(f"<pre>{html.escape(body)}</pre>")
        elif kind == "table":
            parts.append(_html_table(*body))
        elif kind == "figure":
            parts.append(_html_figure(doc, figures_rel, *body))
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{CSS}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")
