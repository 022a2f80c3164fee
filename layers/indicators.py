"""The agency's indicators over a period: requests per day, median time per step and end to end, indicative
notes per day, the share of reviews that return a request. Read from note_requests, audit_log and usage_daily.

Days are the agency's (Africa/Casablanca): a period from `start` to `end` (both included) covers the moments
from `start` 00:00 to the end of `end` on that clock. The time of a step is measured on the audit trail's
`note.*` lines of each request: from the latest line that opens the step (e.g. `note.payee`) before a line that
closes it (`note.instruite`), so a returned and resubmitted request counts each of its passages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import psycopg

from gis.errors import InputError
from gis.l10n import LOCAL_ZONE
from layers import usage

MAX_DAYS = 366
# (key, the actions that open the step, the actions that close it)
STEPS = (
    ("paid_instructed", ("note.payee",), ("note.instruite",)),
    ("instructed_reviewed", ("note.instruite",), ("note.acceptee", "note.retournee")),
    ("accepted_signed", ("note.acceptee",), ("note.signee",)),
    ("signed_sent", ("note.signee",), ("note.envoyee",)),
    ("end_to_end", ("note.demandee",), ("note.envoyee",)),
)


@dataclass(frozen=True)
class Period:
    """From `start` to `end`, both included, on the agency's clock."""

    start: date
    end: date

    @classmethod
    def checked(cls, start: date, end: date) -> Period:
        """A period of at most MAX_DAYS days whose start is not after its end (InputError in French otherwise)."""
        if start > end:
            raise InputError(f"période : le début ({start.isoformat()}) doit précéder la fin ({end.isoformat()})")
        if (end - start).days + 1 > MAX_DAYS:
            raise InputError(f"période de {MAX_DAYS} jours au plus : raccourcissez-la")
        return cls(start, end)

    @classmethod
    def last_days(cls, today: date, days: int = 30) -> Period:
        """The `days` days up to `today` included."""
        return cls(today - timedelta(days=days - 1), today)

    def days(self) -> list[date]:
        """Every day of the period, in order."""
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def bounds(self) -> dict[str, object]:
        """The query parameters: first and last day, and the agency's time zone."""
        return {"start": self.start, "end": self.end, "tz": LOCAL_ZONE}


# The moments of the period: from its first day's midnight to the next day after its last, on the agency's clock.
_FROM = "(%(start)s::date::timestamp AT TIME ZONE %(tz)s)"
_UNTIL = "((%(end)s::date + 1)::timestamp AT TIME ZONE %(tz)s)"
_LOCAL_DAY = "(({col}) AT TIME ZONE %(tz)s)::date"


def requests_per_day(conn: psycopg.Connection, period: Period) -> list[tuple[date, int]]:
    """(day, requests made that day) for every day of the period, days without any included."""
    rows = conn.execute(
        f"SELECT {_LOCAL_DAY.format(col='created_at')} AS day, count(*) FROM note_requests "
        f"WHERE created_at >= {_FROM} AND created_at < {_UNTIL} GROUP BY 1", period.bounds()).fetchall()
    found = dict(rows)
    return [(day, found.get(day, 0)) for day in period.days()]


def indicative_per_day(conn: psycopg.Connection, period: Period) -> list[tuple[date, int]]:
    """(day, indicative notes delivered that day) for every day of the period (layers/usage.py's counter)."""
    found = usage.per_day(conn, "indicative", period.start, period.end)
    return [(day, found.get(day, 0)) for day in period.days()]


@dataclass(frozen=True)
class StepTime:
    """How long a step took, over the passages that ended in the period: their count and median (seconds)."""

    key: str
    count: int
    median_s: float | None


def step_medians(conn: psycopg.Connection, period: Period) -> list[StepTime]:
    """The median time of each step of STEPS (in that order) over the passages that ended in the period."""
    values = ", ".join(f"(%(k{i})s, %(o{i})s::text[], %(c{i})s::text[], {i})" for i in range(len(STEPS)))
    params: dict[str, object] = dict(period.bounds())
    for i, (key, opens, closes) in enumerate(STEPS):
        params.update({f"k{i}": key, f"o{i}": list(opens), f"c{i}": list(closes)})
    rows = conn.execute(
        f"""WITH steps (key, opens, closes, place) AS (VALUES {values}),
                 ends AS (SELECT st.key, e.entity_id, e.at,
                                 (SELECT max(s.at) FROM audit_log s WHERE s.entity = 'note_request'
                                   AND s.entity_id = e.entity_id AND s.action = ANY(st.opens) AND s.at <= e.at) AS began
                          FROM steps st JOIN audit_log e ON e.action = ANY(st.closes)
                          WHERE e.entity = 'note_request' AND e.at >= {_FROM} AND e.at < {_UNTIL})
            SELECT st.key, count(ends.began),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM ends.at - ends.began))
            FROM steps st LEFT JOIN ends ON ends.key = st.key AND ends.began IS NOT NULL
            GROUP BY st.key, st.place ORDER BY st.place""", params).fetchall()
    return [StepTime(key, n, float(median) if median is not None else None) for key, n, median in rows]


@dataclass(frozen=True)
class ReviewDay:
    """The reviews of one day: how many, how many returned the request to its applicant."""

    day: date
    reviews: int
    returned: int

    @property
    def returned_pct(self) -> float | None:
        """The returned share in per cent (None on a day without reviews)."""
        return 100.0 * self.returned / self.reviews if self.reviews else None


def reviews_per_day(conn: psycopg.Connection, period: Period) -> list[ReviewDay]:
    """For every day of the period, the reviews made (accepted or returned) and how many were returns."""
    rows = conn.execute(
        f"SELECT {_LOCAL_DAY.format(col='at')}, count(*), count(*) FILTER (WHERE action = 'note.retournee') "
        f"FROM audit_log WHERE entity = 'note_request' AND action IN ('note.acceptee', 'note.retournee') "
        f"AND at >= {_FROM} AND at < {_UNTIL} GROUP BY 1", period.bounds()).fetchall()
    found = {day: (n, returned) for day, n, returned in rows}
    return [ReviewDay(day, *found.get(day, (0, 0))) for day in period.days()]


@dataclass(frozen=True)
class Dashboard:
    """Every figure of the admin's dashboard for one period."""

    period: Period
    requests: list[tuple[date, int]]
    steps: list[StepTime]
    indicative: list[tuple[date, int]]
    reviews: list[ReviewDay]

    @property
    def reviews_total(self) -> int:
        """Reviews made in the period."""
        return sum(r.reviews for r in self.reviews)

    @property
    def returned_total(self) -> int:
        """Reviews of the period that returned the request."""
        return sum(r.returned for r in self.reviews)

    @property
    def returned_pct(self) -> float | None:
        """The period's returned share in per cent (None without reviews)."""
        return 100.0 * self.returned_total / self.reviews_total if self.reviews_total else None


def dashboard(conn: psycopg.Connection, period: Period) -> Dashboard:
    """All the dashboard's figures for the period."""
    return Dashboard(period, requests_per_day(conn, period), step_medians(conn, period),
                     indicative_per_day(conn, period), reviews_per_day(conn, period))
