"""Counts per day for the agency's indicators (indicative notes per day): a number, never who asked."""

from __future__ import annotations

from datetime import date

import psycopg

from layers.db import primary

KINDS = frozenset({"indicative"})


def count(conn: psycopg.Connection, kind: str, n: int = 1) -> None:
    """Add `n` to today's counter of `kind` (one upsert; concurrent requests add up)."""
    if kind not in KINDS:
        raise ValueError(f"compteur inconnu : {kind!r}")
    primary(conn).execute("INSERT INTO usage_daily (day, kind, n) VALUES (current_date, %s, %s) "
                 "ON CONFLICT (day, kind) DO UPDATE SET n = usage_daily.n + EXCLUDED.n", (kind, n))


def per_day(conn: psycopg.Connection, kind: str, start: date, end: date) -> dict[date, int]:
    """The counter of `kind` for each day from `start` to `end` (both included) that has one."""
    rows = conn.execute("SELECT day, n FROM usage_daily WHERE kind = %s AND day BETWEEN %s AND %s ORDER BY day",
                        (kind, start, end)).fetchall()
    return {day: n for day, n in rows}
