"""The admin dashboard's four figures: each an SVG chart (gis/svgchart.py) and the table of the same figures.

Texts come from messages/admin.json in the page's language; numbers and dates through gis/l10n.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup

from api.i18n import translate
from gis import l10n, svgchart
from layers.indicators import Dashboard


@dataclass(frozen=True)
class Figure:
    """One figure of the dashboard: its id, title, what it shows, the SVG, and its data table."""

    figure_id: str
    title: str
    desc: str
    svg: Markup
    headers: list[str]
    rows: list[list[tuple[str, str]]]  # each cell: (text, raw value for data-value)
    summary: str


def duration_text(seconds: float | None, lang: str) -> str:
    """A duration as a person reads it: « 2 j 4 h », « 3 h 05 », « 12 min », « 40 s » (« — » for none)."""
    if seconds is None:
        return "—"
    s = round(seconds)
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return translate("admin.duration.days" if hours else "admin.duration.days_only", lang, d=days, h=hours)
    if hours:
        return translate("admin.duration.hours" if minutes else "admin.duration.hours_only", lang, h=hours,
                         m=minutes, mm=f"{minutes:02d}")
    if minutes:
        return translate("admin.duration.minutes", lang, m=minutes)
    return translate("admin.duration.seconds", lang, s=secs)


def _short(day: date) -> str:
    return f"{day.day}/{day.month}"


def _chart(figure_id: str, lang: str, **values: object) -> svgchart.Chart:
    def t(part: str) -> str:
        return translate(f"admin.chart.{figure_id}.{part}", lang, **values)

    return svgchart.Chart(f"chart-{figure_id}", t("title"), t("desc"), t("axis"), translate("admin.chart.empty", lang))


def _count(lang: str) -> Callable[[float], str]:
    return lambda v: l10n.number(v, lang, 1, trim=True)


def figures(board: Dashboard, lang: str) -> list[Figure]:
    """The four figures of the dashboard, in the page's order."""
    period = {"start": l10n.long_date(board.period.start, lang), "end": l10n.long_date(board.period.end, lang)}
    return [_per_day("requests", board.requests, lang, period), _steps(board, lang, period),
            _per_day("indicative", board.indicative, lang, period), _returned(board, lang, period)]


def _per_day(figure_id: str, counts: list[tuple[date, int]], lang: str, period: dict) -> Figure:
    total = sum(n for _, n in counts)
    chart = _chart(figure_id, lang, total=total, **period)
    svg = svgchart.bars(chart, [(_short(d), n) for d, n in counts], _count(lang), integers=True)
    rows = [[(l10n.long_date(d, lang), d.isoformat()), (l10n.number(n, lang, 0), str(n))] for d, n in counts]
    return Figure(figure_id, chart.title, chart.desc, Markup(svg),
                  [translate("admin.table.day", lang), translate(f"admin.table.{figure_id}", lang)], rows,
                  translate(f"admin.summary.{figure_id}", lang, total=l10n.number(total, lang, 0)))


def _steps(board: Dashboard, lang: str, period: dict) -> Figure:
    chart = _chart("steps", lang, **period)
    labels = {s.key: translate(f"admin.step.{s.key}", lang) for s in board.steps}
    hours = [(labels[s.key], s.median_s / 3600 if s.median_s is not None else None) for s in board.steps]
    # the axis' ticks as durations too: in hours, a chain run in minutes had every tick at « 0 »
    svg = svgchart.bars(chart, hours, lambda h: duration_text(h * 3600, lang),
                        value_labels=[duration_text(s.median_s, lang) for s in board.steps])
    rows = [[(labels[s.key], s.key), (duration_text(s.median_s, lang), "" if s.median_s is None else f"{s.median_s:.0f}"),
             (l10n.number(s.count, lang, 0), str(s.count))] for s in board.steps]
    end = next(s for s in board.steps if s.key == "end_to_end")
    return Figure("steps", chart.title, chart.desc, Markup(svg),
                  [translate("admin.table.step", lang), translate("admin.table.median", lang),
                   translate("admin.table.passages", lang)], rows,
                  translate("admin.summary.steps", lang, median=duration_text(end.median_s, lang),
                            n=l10n.number(end.count, lang, 0)))


def _returned(board: Dashboard, lang: str, period: dict) -> Figure:
    chart = _chart("returned", lang, **period)
    svg = svgchart.bars(chart, [(_short(r.day), r.returned_pct) for r in board.reviews],
                        lambda v: l10n.percent(v, lang, 1, trim=True))
    rows = [[(l10n.long_date(r.day, lang), r.day.isoformat()), (l10n.number(r.reviews, lang, 0), str(r.reviews)),
             (l10n.number(r.returned, lang, 0), str(r.returned)),
             ("—" if r.returned_pct is None else l10n.percent(r.returned_pct, lang, 1),
              "" if r.returned_pct is None else f"{r.returned_pct:.1f}")]
            for r in board.reviews if r.reviews]
    share = "—" if board.returned_pct is None else l10n.percent(board.returned_pct, lang, 1)
    return Figure("returned", chart.title, chart.desc, Markup(svg),
                  [translate("admin.table.day", lang), translate("admin.table.reviews", lang),
                   translate("admin.table.returned", lang), translate("admin.table.share", lang)], rows,
                  translate("admin.summary.returned", lang, share=share,
                            returned=l10n.number(board.returned_total, lang, 0),
                            reviews=l10n.number(board.reviews_total, lang, 0)))
