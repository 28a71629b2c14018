"""Charts as SVG (matplotlib), small and with their text kept as text.

`svg.fonttype = none` keeps labels as <text> elements, so the PDF's chart text is searchable and
no font is embedded as paths. The Agg/SVG backends need no display and no network.

matplotlib lays the labels out with its own DejaVu Sans; the SVG then names the report's font
stack instead (reports/fonts.py), so the PDF sets chart text in the project's fonts, whatever
fonts the machine has, and a label in any script gets real glyphs.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from reports.fonts import FONT_STACK  # noqa: E402

_STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "reports",  # stable element ids: identical data gives identical SVG
    "font.family": "DejaVu Sans",  # layout only: the SVG names FONT_STACK (see _svg)
    "font.size": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "grid.color": "#dddddd",
    "axes.edgecolor": "#888888",
    "axes.axisbelow": True,
}
_LAYOUT_FONT = "font-family: 'DejaVu Sans'"
_REPORT_FONT = "font-family: " + FONT_STACK.replace('"', "'")  # the SVG sits in a double-quoted attribute
PALETTE = ["#2f6db5", "#e07b39", "#3f9e5a", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]


def _counts_axis(axis, values: Sequence[float]) -> None:
    """Whole-number ticks when every value is a count (no "0.5 signups")."""
    if all(float(v).is_integer() for v in values):
        axis.set_major_locator(MaxNLocator(integer=True))


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buffer.getvalue()
    text = text[text.index("<svg"):]  # the svg element alone: its prolog and doctype add nothing
    return text.replace(_LAYOUT_FONT, _REPORT_FONT)


def bar_chart(labels: Sequence[str], values: Sequence[float], ylabel: str, horizontal: bool = False,
              width: float = 7.0, height: float = 2.6) -> str:
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(width, height))
        if horizontal:
            ax.barh(list(labels), list(values), color=PALETTE[0])
            ax.invert_yaxis()
            ax.set_xlabel(ylabel)
            ax.grid(axis="x")
            ax.grid(axis="y", visible=False)
            _counts_axis(ax.xaxis, values)
        else:
            ax.bar(list(labels), list(values), color=PALETTE[0])
            ax.set_ylabel(ylabel)
            if len(labels) > 12:
                ax.tick_params(axis="x", labelrotation=90)
            _counts_axis(ax.yaxis, values)
        return _svg(fig)


def series_chart(labels: Sequence[str], series: dict[str, Sequence[float]], ylabel: str,
                 stacked: bool = True, width: float = 7.0, height: float = 2.6) -> str:
    """Bars per label, one colour per series (stacked or side by side), a legend when there are several."""
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(width, height))
        bottom = [0.0] * len(labels)
        positions = range(len(labels))
        width = 0.8 if stacked else 0.8 / max(1, len(series))
        for i, (name, values) in enumerate(series.items()):
            x = positions if stacked else [p - 0.4 + width * (i + 0.5) for p in positions]
            ax.bar(x, list(values), width=width, bottom=bottom if stacked else None, label=name,
                   color=PALETTE[i % len(PALETTE)])
            bottom = [b + float(v) for b, v in zip(bottom, values)]
        step = max(1, len(labels) // 16)
        ax.set_xticks(list(positions)[::step], list(labels)[::step], rotation=45, ha="right")
        ax.set_ylabel(ylabel)
        _counts_axis(ax.yaxis, [float(v) for values in series.values() for v in values])
        if len(series) > 1:
            ax.legend(frameon=False, ncols=min(len(series), 4), loc="upper left", bbox_to_anchor=(0, 1.18))
        return _svg(fig)


def waterfall_chart(steps: Sequence[tuple[str, float]], ylabel: str, width: float = 7.0, height: float = 2.6) -> str:
    """A bridge: the first and last steps are levels, the ones between are movements."""
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(width, height))
        level, edges = 0.0, [0.0]
        for i, (label, value) in enumerate(steps):
            is_level = i in (0, len(steps) - 1)
            if is_level:
                bars = ax.bar(label, value, color=PALETTE[0])
                level = value
            else:
                bars = ax.bar(label, value, bottom=level, color=PALETTE[2] if value >= 0 else PALETTE[3])
                level += value
            edges += [level, level - value if not is_level else 0.0]
            ax.bar_label(bars, labels=[f"{value:,.0f}"], fontsize=7, padding=2)
        low, high = min(edges), max(edges)
        ax.set_ylim(low - 0.12 * (high - low) if low < 0 else 0, high + 0.15 * (high - low or 1))
        ax.set_ylabel(ylabel)
        return _svg(fig)
