"""A fixed-window rate limit kept in the database, so every server process counts the same requests."""

from __future__ import annotations

import hashlib

import psycopg

from gis.errors import TooManyRequests
from layers.db import primary

WINDOWS = ("minute", "hour")  # date_trunc units; a counter lives in the window its first request opened
MAX_KEY_CHARS = 100  # a longer client (an e-mail may have 320 characters) is stored as its SHA-256


def client_key(client: str) -> str:
    """The stored key of a client: itself when short, else `sha256:` and its hex digest (never a cut prefix).

    Cutting would make two long addresses that share their first 100 characters share one counter (and one
    sign-in lockout); a digest keeps every client apart in a bounded key.
    """
    if len(client) <= MAX_KEY_CHARS and not client.startswith("sha256:"):  # no short key mimics a digest
        return client
    return "sha256:" + hashlib.sha256(client.encode("utf-8", "surrogatepass")).hexdigest()


def add(conn: psycopg.Connection, scope: str, client: str, window: str = "minute") -> int:
    """Count one event of `client` in the current window; returns the count so far in that window."""
    if window not in WINDOWS:
        raise ValueError(f"fenêtre inconnue : {window}")
    conn = primary(conn)  # a public read on a replica counts on the primary, as every process does
    hits = conn.execute(
        "INSERT INTO rate_limits AS r (scope, client, window_start) VALUES (%s, %s, date_trunc(%s, now())) "
        "ON CONFLICT (scope, client, window_start) DO UPDATE SET hits = r.hits + 1 RETURNING hits",
        (scope, client_key(client), window), prepare=True).fetchone()[0]
    if hits == 1:  # first event of a new window: forget the old windows now and then
        conn.execute("DELETE FROM rate_limits WHERE window_start < now() - interval '2 hours'")
    return hits


def seconds_left(conn: psycopg.Connection, window: str = "minute") -> int:
    """Whole seconds until the current window ends (the Retry-After of a refusal), at least 1."""
    if window not in WINDOWS:
        raise ValueError(f"fenêtre inconnue : {window}")
    left = conn.execute("SELECT ceil(extract(epoch FROM date_trunc(%s, now()) + make_interval(mins => %s) - now()))",
                        (window, 60 if window == "hour" else 1)).fetchone()[0]
    return max(1, int(left))


def hit(conn: psycopg.Connection, scope: str, client: str, per_minute: int, *, what: str) -> int:
    """Count one request of `client` in the current minute; raise TooManyRequests above the limit.

    `what` names what is counted, in French and plural (« notes indicatives », « fichiers déposés »): the
    refusal says « 30 fichiers déposés par minute au plus », never another service's words.
    """
    hits = add(conn, scope, client)
    if hits > per_minute:
        raise TooManyRequests(f"trop de demandes : {per_minute} {what} par minute au plus, "
                              "réessayez dans une minute", retry_after_s=seconds_left(conn, "minute"))
    return hits
