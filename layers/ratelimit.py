"""A fixed-window rate limit kept in the database, so every server process counts the same requests."""

from __future__ import annotations

import psycopg

from gis.errors import TooManyRequests

WINDOWS = ("minute", "hour")  # date_trunc units; a counter lives in the window its first request opened


def add(conn: psycopg.Connection, scope: str, client: str, window: str = "minute") -> int:
    """Count one event of `client` in the current window; returns the count so far in that window."""
    if window not in WINDOWS:
        raise ValueError(f"fenêtre inconnue : {window}")
    hits = conn.execute(
        "INSERT INTO rate_limits AS r (scope, client, window_start) VALUES (%s, %s, date_trunc(%s, now())) "
        "ON CONFLICT (scope, client, window_start) DO UPDATE SET hits = r.hits + 1 RETURNING hits",
        (scope, client[:100], window), prepare=True).fetchone()[0]
    if hits == 1:  # first event of a new window: forget the old windows now and then
        conn.execute("DELETE FROM rate_limits WHERE window_start < now() - interval '2 hours'")
    return hits


def hit(conn: psycopg.Connection, scope: str, client: str, per_minute: int) -> int:
    """Count one request of `client` in the current minute; raise TooManyRequests above the limit."""
    hits = add(conn, scope, client)
    if hits > per_minute:
        raise TooManyRequests(f"trop de demandes : {per_minute} notes indicatives par minute au plus, "
                              "réessayez dans une minute")
    return hits
