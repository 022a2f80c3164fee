"""Small charts drawn on the server as SVG text: bars and lines, with axis labels and an accessible title.

Pure: the caller gives the points (a label and a value each, already in the page's language), the texts and
how to write a value (`fmt`); the result is a string of SVG markup, every text escaped. Each mark carries
`data-label` and `data-value` (the figure drawn, unformatted), so a page's tests read what a chart shows; the
page puts the same figures in a table beside the chart for screen readers and for copying. The layout stays
left to right in an Arabic page (time runs left to right on the agency's charts too); the texts are the
page's. Colours are classes (`chart-bar`, `chart-line`, `chart-grid`…) the page's CSS paints.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 480, 240
MARGIN_TOP, MARGIN_RIGHT, MARGIN_BOTTOM, MARGIN_LEFT = 22, 8, 40, 56
MAX_X_LABELS = 8
CHAR_W = 6.5  # the mean width of a character of the labels (12 px Noto Sans), to know when one is too long
MAX_VALUE_LABELS = 12  # a bar chart of at most this many bars writes each value above its bar


@dataclass(frozen=True)
class Chart:
    """What a chart says in words: its id (for the title's and description's ids), title, description, axis."""

    chart_id: str
    title: str
    desc: str
    y_label: str
    empty: str  # said in the chart when there is nothing to draw


def nice_step(value: float, integers: bool = False) -> float:
    """A round step for the value axis (1, 2, 2.5 or 5 times a power of ten) so that about four steps hold
    `value`; at least 1 for counts (`integers`)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    raw = value / 4
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * power
        if step >= raw and not (integers and not float(step).is_integer()):
            return step
    return 10 * power  # pragma: no cover - the loop ends at 10 × power ≥ raw


def _ticks(top_value: float, integers: bool) -> list[float]:
    """The values of the axis' grid lines, from 0 to the first round value at or above `top_value`."""
    step = nice_step(top_value, integers)
    count = max(1, math.ceil(top_value / step - 1e-9))
    return [step * i for i in range(count + 1)]


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def _frame(chart: Chart, body: list[str]) -> str:
    title_id, desc_id = f"{chart.chart_id}-title", f"{chart.chart_id}-desc"
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-labelledby="{_attr(title_id)} {_attr(desc_id)}" direction="ltr" id="{_attr(chart.chart_id)}-svg">'
            f'<title id="{_attr(title_id)}">{escape(chart.title)}</title>'
            f'<desc id="{_attr(desc_id)}">{escape(chart.desc)}</desc>')
    return head + "".join(body) + "</svg>"


def _axes(chart: Chart, ticks: list[float], fmt: Callable[[float], str]) -> list[str]:
    """The value axis: a grid line and its value at each tick, and the axis name along it."""
    x0, x1, top = MARGIN_LEFT, WIDTH - MARGIN_RIGHT, ticks[-1]
    out = []
    for value in ticks:
        y = _y(value, top)
        out.append(f'<line class="chart-grid" x1="{x0}" x2="{x1}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text class="chart-tick" x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(fmt(value))}</text>')
    mid = (MARGIN_TOP + HEIGHT - MARGIN_BOTTOM) / 2
    out.append(f'<text class="chart-axis" x="12" y="{mid:.1f}" text-anchor="middle"{_rtl(chart.y_label)} '
               f'transform="rotate(-90 12 {mid:.1f})">{escape(chart.y_label)}</text>')
    return out


def _y(value: float, top: float) -> float:
    inner = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    return MARGIN_TOP + inner * (1 - value / top)


def _rtl(text: str) -> str:
    """The direction attribute of a text holding Arabic letters (the chart itself stays left to right)."""
    return ' direction="rtl"' if any("\u0600" <= ch <= "\u06ff" for ch in text) else ""


def _lines(label: str, slot: float) -> list[str]:
    """A category label on one line, or two when it is wider than its slot (cut at the space nearest the middle)."""
    if len(label) * CHAR_W <= slot or " " not in label:
        return [label]
    spaces = [i for i, ch in enumerate(label) if ch == " "]
    cut = min(spaces, key=lambda i: abs(i - len(label) / 2))
    return [label[:cut], label[cut + 1:]]


def _x_labels(labels: Sequence[str], centres: Sequence[float], slot: float) -> list[str]:
    """The category labels under the plot, thinned to at most MAX_X_LABELS (the first kept), long ones on two
    lines."""
    every = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    out = []
    for i, (label, x) in enumerate(zip(labels, centres, strict=True)):
        if i % every:
            continue
        y = HEIGHT - MARGIN_BOTTOM + 16
        spans = "".join(f'<tspan x="{x:.1f}" dy="{0 if k == 0 else 13}">{escape(part)}</tspan>'
                        for k, part in enumerate(_lines(label, slot * every)))
        out.append(f'<text class="chart-label" x="{x:.1f}" y="{y}" text-anchor="middle"{_rtl(label)}>{spans}</text>')
    return out


def _empty(chart: Chart) -> str:
    return _frame(chart, [f'<text class="chart-empty" x="{WIDTH / 2}" y="{HEIGHT / 2}" '
                          f'text-anchor="middle">{escape(chart.empty)}</text>'])


def _slots(n: int) -> tuple[float, list[float]]:
    """The width of a category and the x of each one's centre."""
    inner = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    slot = inner / n
    return slot, [MARGIN_LEFT + slot * (i + 0.5) for i in range(n)]


def bars(chart: Chart, points: Sequence[tuple[str, float | None]], fmt: Callable[[float], str],
         integers: bool = False, value_labels: Sequence[str] | None = None) -> str:
    """A bar chart of (label, value) in order; a None value is a category with nothing to measure (no bar).

    `integers`: the values are counts (the axis steps by whole numbers). With few bars each one's value is
    written above it: `value_labels` when given (e.g. durations), else `fmt(value)`.
    """
    if not points or all(v is None for _, v in points):
        return _empty(chart)
    ticks = _ticks(max(v for _, v in points if v is not None), integers)
    top = ticks[-1]
    slot, centres = _slots(len(points))
    width = max(1.0, slot * 0.7)
    body = _axes(chart, ticks, fmt)
    base = _y(0, top)
    labelled = len(points) <= MAX_VALUE_LABELS
    for i, ((label, value), x) in enumerate(zip(points, centres, strict=True)):
        if value is None:
            continue
        y = _y(value, top)
        text = value_labels[i] if value_labels is not None else fmt(value)
        body.append(f'<rect class="chart-bar" x="{x - width / 2:.1f}" y="{y:.1f}" width="{width:.1f}" '
                    f'height="{base - y:.1f}" data-label="{_attr(label)}" data-value="{_attr(_raw(value))}">'
                    f'<title>{escape(label)} : {escape(text)}</title></rect>')
        if labelled:
            body.append(f'<text class="chart-value" x="{x:.1f}" y="{y - 4:.1f}" text-anchor="middle"{_rtl(text)}>'
                        f'{escape(text)}</text>')
    body += _x_labels([label for label, _ in points], centres, slot)
    return _frame(chart, body)


def line(chart: Chart, points: Sequence[tuple[str, float | None]], fmt: Callable[[float], str]) -> str:
    """A line chart of (label, value) in order, a dot on each value; a None value breaks the line there."""
    if not points or all(v is None for _, v in points):
        return _empty(chart)
    ticks = _ticks(max(v for _, v in points if v is not None), False)
    top = ticks[-1]
    slot, centres = _slots(len(points))
    runs: list[list[str]] = [[]]
    dots = []
    for (label, value), x in zip(points, centres, strict=True):
        if value is None:
            runs.append([])
            continue
        y = _y(value, top)
        runs[-1].append(f"{x:.1f},{y:.1f}")
        dots.append(f'<circle class="chart-dot" cx="{x:.1f}" cy="{y:.1f}" r="3" data-label="{_attr(label)}" '
                    f'data-value="{_attr(_raw(value))}"><title>{escape(label)} : {escape(fmt(value))}</title></circle>')
    lines = [f'<polyline class="chart-line" points="{" ".join(run)}"/>' for run in runs if len(run) > 1]
    body = _axes(chart, ticks, fmt) + lines + dots  # the dots over the line
    body += _x_labels([label for label, _ in points], centres, slot)
    return _frame(chart, body)


def _raw(value: float) -> str:
    """The value as data: an integer without decimals, else rounded to 0.01."""
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"
