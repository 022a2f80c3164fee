"""Web sessions in the database: the cookie carries a random id, the table only its hash and its expiry.

Signing out deletes the row, so a copied cookie stops working at once, in every server process.
"""

from __future__ import annotations

import hashlib
import secrets

import psycopg
from psycopg.rows import dict_row

from layers.db import primary


def _id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start(conn: psycopg.Connection, account_id: int, hours: float) -> str:
    """Open a session for an account; returns its id (256 random bits) for the cookie."""
    session_id = secrets.token_urlsafe(32)
    conn.execute("DELETE FROM web_sessions WHERE expires_at < now()")
    conn.execute("INSERT INTO web_sessions (id_hash, account_id, expires_at) "
                 "VALUES (%s, %s, now() + make_interval(secs => %s))", (_id_hash(session_id), account_id, hours * 3600))
    return session_id


def account_of(conn: psycopg.Connection, session_id: str) -> dict | None:
    """The account of a live session (id, email, role, full_name, organisation), None when the session is unknown,
    ended or expired, or its account was disabled since."""
    with primary(conn).cursor(row_factory=dict_row) as cur:  # a session ended is ended at once, replicas or not
        return cur.execute("SELECT a.id, a.email, a.role, a.full_name, a.organisation FROM web_sessions s "
                           "JOIN accounts a ON a.id = s.account_id WHERE s.id_hash = %s AND s.expires_at > now() "
                           "AND a.disabled_at IS NULL", (_id_hash(session_id),)).fetchone()


def end(conn: psycopg.Connection, session_id: str) -> dict | None:
    """End a session; returns its account (id, email) when it was live."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("DELETE FROM web_sessions s USING accounts a WHERE s.id_hash = %s AND a.id = s.account_id "
                           "RETURNING a.id, a.email, s.expires_at > now() AS live", (_id_hash(session_id),)).fetchone()


def end_all(conn: psycopg.Connection, account_id: int) -> int:
    """End every session of an account (password reset, account disabled); returns how many were live or not."""
    return conn.execute("DELETE FROM web_sessions WHERE account_id = %s", (account_id,)).rowcount
