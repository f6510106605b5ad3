"""Matplotlib figures as inline SVG strings for the pipeline's HTML report.

Inline SVG keeps the report one self-contained file with no scripts and no network, which is
also what lets a headless browser check it without a server.
"""

import io
from collections.abc import Sequence
from typing import Any

from lmforge.extras import require


def _pyplot() -> Any:
    matplotlib = require("train", "matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    _pyplot().close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog: the SVG sits inside HTML


def funnel(steps: Sequence[str], kept: Sequence[int], dropped: Sequence[int]) -> str:
    """Horizontal stacked bars: documents kept and dropped at each step."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(steps) + 1))
    y = list(range(len(steps)))[::-1]
    ax.barh(y, kept, color="#2e86c1", label="kept")
    ax.barh(y, dropped, left=kept, color="#e67e22", label="dropped")
    ax.set_yticks(y, steps)
    ax.set_xlabel("documents")
    ax.legend(loc="lower right")
    return _svg(fig)


def lines(
    series: dict[str, tuple[Sequence[float], Sequence[float]]],
    xlabel: str,
    ylabel: str,
    title: str = "",
) -> str:
    """One line per named (x, y) series."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for name, (xs, ys) in series.items():
        ax.plot(xs, ys, marker="o", markersize=3, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if len(series) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    return _svg(fig)


def intervals(
    labels: Sequence[str], groups: dict[str, Sequence[tuple[float, float, float]]]
) -> str:
    """Point estimates with confidence intervals, one colour per group (e.g. base vs tuned)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(labels) + 1.2))
    n = len(groups)
    for g, (name, rows) in enumerate(groups.items()):
        ys = [i + (g - (n - 1) / 2) * 0.25 for i in range(len(labels))][::-1]
        vals = [r[0] for r in rows]
        err = [[r[0] - r[1] for r in rows], [r[2] - r[0] for r in rows]]
        ax.errorbar(vals, ys, xerr=err, fmt="o", capsize=3, label=name)
    ax.set_yticks(list(range(len(labels)))[::-1], labels)
    ax.set_xlabel("score (95% bootstrap CI)")
    ax.legend()
    ax.grid(axis="x", alpha=0.3)
    return _svg(fig)
