"""The outbox table: messages queued in the transaction that decides to send them, claimed one at a time by the
sender, marked sent or failed (with the next attempt) afterwards."""

from __future__ import annotations

from datetime import timedelta

import psycopg
from psycopg.rows import dict_row

# The CHECK constraint of outbox.status holds exactly these keys (tested against the migrated database).
STATUSES = {"en_attente": "en attente d'envoi", "envoye": "envoyé", "abandonne": "abandonné"}


def queue_mail(conn: psycopg.Connection, recipient: str, subject: str, body: str, attachment: bytes | None = None,
               attachment_name: str | None = None, entity: str | None = None, entity_id: str | None = None) -> int:
    """Put a message in the outbox (in the caller's transaction); returns its id."""
    return conn.execute(
        "INSERT INTO outbox (recipient, subject, body, attachment, attachment_name, entity, entity_id) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (recipient, subject, body, attachment, attachment_name, entity, entity_id)).fetchone()[0]


def claim_due(conn: psycopg.Connection) -> dict | None:
    """Lock the oldest message due for sending (others skip it); call inside a transaction."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT * FROM outbox WHERE status = 'en_attente' AND next_attempt_at <= clock_timestamp() "
                           "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED").fetchone()


def mark_sent(conn: psycopg.Connection, message_id: int, attempt: int) -> None:
    """Record a delivered message."""
    conn.execute("UPDATE outbox SET attempts = %s, status = 'envoye', sent_at = now(), last_error = NULL "
                 "WHERE id = %s", (attempt, message_id))


def mark_failed(conn: psycopg.Connection, message_id: int, attempt: int, error: str, give_up: bool,
                retry_in: timedelta) -> str:
    """Record a failed attempt and when to retry (or give up); returns the new status."""
    status = "abandonne" if give_up else "en_attente"
    conn.execute("UPDATE outbox SET attempts = %s, last_error = %s, status = %s, next_attempt_at = now() + %s "
                 "WHERE id = %s", (attempt, error[:500], status, retry_in, message_id))
    return status
