"""The report's charts: matplotlib figures rendered to static, inline SVG.

Each function takes plain numbers from the run's metadata and returns one ``<svg>``
element as text: no browser, no JavaScript, no fonts or images to fetch (text stays text,
``svg.fonttype=none``, so the page's own font draws it). Output is deterministic: fixed
ids (``svg.hashsalt``) and no date in the SVG's metadata.

matplotlib is imported here only, and this module only when a report is written.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final

import matplotlib as mpl
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.typing import RcKeyType

__all__ = [
    "bar_chart",
    "coverage_chart",
    "field_quality_chart",
    "heat_map",
    "stacked_bars",
    "timeline_chart",
]

INK: Final = "#1f2933"
MUTED: Final = "#7b8794"
BLUE: Final = "#2f6fb0"
ORANGE: Final = "#d9822b"
RED: Final = "#c23030"
GREEN: Final = "#2e8540"
PALETTE: Final = ("#2f6fb0", "#d9822b", "#2e8540", "#8e44ad", "#c23030", "#7b8794")

_STYLE: Final[dict[RcKeyType, Any]] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "customer-sync-report",
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.edgecolor": MUTED,
    "axes.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": INK,
    "ytick.color": INK,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "figure.dpi": 72,
}
_PROLOGUE = re.compile(rb"\A.*?(?=<svg)", re.DOTALL)
_METADATA = re.compile(rb"<metadata>.*?</metadata>\s*", re.DOTALL)


@contextmanager
def _figure(width: float, height: float) -> Iterator[Figure]:
    with mpl.rc_context(_STYLE):
        yield Figure(figsize=(width, height), layout="constrained")


def _svg(figure: Figure, label: str) -> str:
    """The figure as one inline ``<svg>`` element, labelled for screen readers."""
    buffer = io.BytesIO()
    with mpl.rc_context(_STYLE):
        figure.savefig(buffer, format="svg", metadata={"Date": None}, transparent=True)
    data = _METADATA.sub(b"", _PROLOGUE.sub(b"", buffer.getvalue()))
    text = data.decode("utf-8")
    return text.replace(
        "<svg ", f'<svg role="img" aria-label="{_attr(label)}" class="chart" ', 1
    )


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _label_bars(ax: Any, bars: Any, values: Sequence[float], fmt: str = "{:,.0f}") -> None:
    ax.bar_label(bars, labels=[fmt.format(v) for v in values], padding=2, color=INK, fontsize=8)


def bar_chart(
    counts: Mapping[str, float],
    *,
    title: str,
    label: str,
    color: str = BLUE,
    colors: Sequence[str] | None = None,
    horizontal: bool = False,
    width: float = 4.6,
    height: float = 2.4,
) -> str:
    """One bar per key, its count written on it."""
    names, values = list(counts), [float(v) for v in counts.values()]
    with _figure(width, height) as fig:
        ax = fig.subplots()
        shades = list(colors) if colors else color
        if horizontal:
            bars = ax.barh(names, values, color=shades)
            ax.invert_yaxis()
            ax.set_xlim(0, max(values, default=0) * 1.18 or 1)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        else:
            bars = ax.bar(names, values, color=shades)
            ax.set_ylim(0, max(values, default=0) * 1.18 or 1)
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            if len(names) > 6:
                ax.tick_params(axis="x", labelrotation=45)
        _label_bars(ax, bars, values)
        ax.set_title(title, loc="left")
        return _svg(fig, label)


def stacked_bars(
    table: Mapping[str, Mapping[str, int]],
    rows: Sequence[str],
    columns: Sequence[str],
    *,
    title: str,
    label: str,
    width: float = 5.2,
    height: float = 2.6,
) -> str:
    """Horizontal bars, one per row value, split by column value (a legend names them)."""
    with _figure(width, height) as fig:
        ax = fig.subplots()
        left = [0.0] * len(rows)
        for index, column in enumerate(columns):
            values = [float(table.get(row, {}).get(column, 0)) for row in rows]
            ax.barh(
                list(rows), values, left=left, label=column,
                color=PALETTE[index % len(PALETTE)],
            )
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.invert_yaxis()
        ax.set_xlim(0, max(left, default=0) * 1.05 or 1)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.set_title(title, loc="left")
        return _svg(fig, label)


def field_quality_chart(fields: Mapping[str, Mapping[str, int]], *, label: str) -> str:
    """Missing and invalid counts per scored field, side by side."""
    names = list(fields)
    missing = [float(fields[name].get("missing", 0)) for name in names]
    invalid = [float(fields[name].get("invalid", 0)) for name in names]
    positions = list(range(len(names)))
    with _figure(6.0, 0.32 * len(names) + 1.0) as fig:
        ax = fig.subplots()
        high = 0.4
        bars_m = ax.barh([p - high / 2 for p in positions], missing, high, color=ORANGE,
                         label="missing")
        bars_i = ax.barh([p + high / 2 for p in positions], invalid, high, color=RED,
                         label="invalid")
        _label_bars(ax, bars_m, missing)
        _label_bars(ax, bars_i, invalid)
        ax.set_yticks(positions, names)
        ax.invert_yaxis()
        ax.set_xlim(0, max([*missing, *invalid], default=0) * 1.2 or 1)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(frameon=False, fontsize=8, loc="lower right")
        ax.set_title("Missing and invalid values per scored field", loc="left")
        return _svg(fig, label)


def coverage_chart(
    coverage: Mapping[str, float], warned: Sequence[str], limit: float, *, label: str
) -> str:
    """The share of raw records that sent each field; warned fields in red."""
    names = list(coverage)
    shares = [float(coverage[name]) * 100 for name in names]
    colors = [RED if name in warned else BLUE for name in names]
    with _figure(6.0, 0.28 * len(names) + 1.0) as fig:
        ax = fig.subplots()
        bars = ax.barh(names, shares, color=colors)
        _label_bars(ax, bars, shares, "{:.0f}%")
        ax.axvline((1 - limit) * 100, color=MUTED, linestyle="--", linewidth=1)
        ax.invert_yaxis()
        ax.set_xlim(0, 112)
        ax.set_xlabel("records that carried the field (%)")
        ax.set_title("Source field coverage", loc="left")
        return _svg(fig, label)


def heat_map(
    table: Mapping[str, Mapping[str, int]],
    rows: Sequence[str],
    columns: Sequence[str],
    *,
    title: str,
    label: str,
) -> str:
    """Counts of customers by two fields, as coloured cells with the count written in
    (so no colour bar, which matplotlib would embed as a bitmap)."""
    grid = [[float(table.get(row, {}).get(column, 0)) for column in columns] for row in rows]
    peak = max((value for line in grid for value in line), default=0.0) or 1.0
    with _figure(5.6, 0.34 * len(rows) + 1.3) as fig:
        ax = fig.subplots()
        ax.pcolormesh(grid, cmap="Blues", vmin=0, vmax=peak, edgecolors="white",
                             linewidth=1)
        for r, line in enumerate(grid):
            for c, value in enumerate(line):
                ax.text(c + 0.5, r + 0.5, f"{value:,.0f}", ha="center", va="center",
                        fontsize=8, color="white" if value > peak * 0.6 else INK)
        ax.set_xticks([c + 0.5 for c in range(len(columns))], list(columns))
        ax.set_yticks([r + 0.5 for r in range(len(rows))], list(rows))
        ax.invert_yaxis()
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_title(title, loc="left")
        return _svg(fig, label)


def timeline_chart(points: Sequence[Sequence[float]], *, label: str) -> str:
    """Pages received over the run's time, as a small step line."""
    seconds = [0.0, *(float(p[0]) for p in points)]
    pages = [0.0, *(float(p[1]) for p in points)]
    with _figure(4.6, 1.9) as fig:
        ax = fig.subplots()
        ax.step(seconds, pages, where="post", color=BLUE, linewidth=1.5)
        ax.fill_between(seconds, pages, step="post", color=BLUE, alpha=0.12)
        ax.set_xlim(0, max(seconds[-1], 1e-3))
        ax.set_ylim(0, max(pages[-1], 1) * 1.1)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("seconds since start")
        ax.set_ylabel("pages")
        ax.set_title("Pages received over time", loc="left")
        return _svg(fig, label)
