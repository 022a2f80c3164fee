"""What the platform did and sent, as the admin reads it: the audit trail of one thing, the outgoing mail."""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row

from layers.audit import ChainReport, verify_chain

TRAIL_LIMIT = 1000
MAIL_LIMIT = 200
ENTITIES = ("note_request", "account", "plan", "api_key")  # what the journal page looks up by its id


def trail(conn: psycopg.Connection, entity: str, entity_id: str) -> list[dict]:
    """The audit lines of one entity (a note request's number, an account's id…), oldest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT id, at, actor, action, before, after, hash IS NOT NULL AS chained FROM audit_log "
                           "WHERE entity = %s AND entity_id = %s ORDER BY at, id LIMIT %s",
                           (entity, entity_id, TRAIL_LIMIT)).fetchall()


def recent_mail(conn: psycopg.Connection) -> list[dict]:
    """The latest messages of the outbox (without their body and attachment), newest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT id, recipient, subject, status, attempts, last_error, attachment_name, entity, "
                           "entity_id, created_at, sent_at FROM outbox ORDER BY id DESC LIMIT %s",
                           (MAIL_LIMIT,)).fetchall()


def mail(conn: psycopg.Connection, message_id: int) -> dict | None:
    """One message of the outbox with its body (None when unknown)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT id, recipient, subject, body, status, attempts, last_error, attachment_name, "
                           "created_at, sent_at FROM outbox WHERE id = %s", (message_id,)).fetchone()


def chain_status(conn: psycopg.Connection) -> ChainReport | None:
    """The audit chain's verification (layers/audit.py), None when this role may not read its anchor.

    The web server's role reads audit_head since migration 0019; a database set up with narrower grants
    refuses, the refusal is rolled back and the page points to the owner's `urbasig audit verify`.
    """
    try:
        return verify_chain(conn)  # its own transaction (one snapshot when idle), rolled back on the refusal
    except psycopg.errors.InsufficientPrivilege:
        return None
