"""The append-only audit trail: who did what, when, with the state before and after."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb


def audit(conn: psycopg.Connection, actor: str, action: str, entity: str, entity_id: str, before: dict | None,
          after: dict | None) -> None:
    """Append one line to the audit trail (who, when, what, before and after)."""
    conn.execute("INSERT INTO audit_log (actor, action, entity, entity_id, before, after) VALUES (%s, %s, %s, %s, %s, %s)",
                 (actor, action, entity, entity_id, Jsonb(before) if before is not None else None,
                  Jsonb(after) if after is not None else None))
