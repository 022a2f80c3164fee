"""Payments in the database: orders, the once-only application of gateway callbacks, the audit trail."""

from __future__ import annotations

import secrets
from decimal import Decimal

import psycopg

from gis.errors import Conflict, InputError, NotFound
from layers.audit import audit

# The CHECK constraint of payments.status holds exactly these keys (tested against the migrated database).
STATUSES = {"initiee": "initiée", "payee": "payée", "refusee": "refusée"}


def create_order(conn: psycopg.Connection, request_ref: str, amount_mad: Decimal, actor: str) -> str:
    """A new payment order for a request; returns its order id."""
    order_id = "NRU-" + secrets.token_hex(6).upper()
    with conn.transaction():
        conn.execute("INSERT INTO payments (order_id, request_ref, amount_mad) VALUES (%s, %s, %s)",
                     (order_id, request_ref, amount_mad))
        audit(conn, actor, "paiement.initie", "payment", order_id, None,
              {"request": request_ref, "amount_mad": str(amount_mad), "status": "initiee"})
    return order_id


def apply_callback(conn: psycopg.Connection, fields: dict[str, str]) -> tuple[str, bool]:
    """Apply a verified gateway callback once: (order id, whether this call changed anything).

    The caller has already checked the signature. Amount and currency must match the order; a callback for
    an order already settled is counted and audited but has no second effect.
    """
    order_id = fields.get("oid", "")
    with conn.transaction():
        row = conn.execute("SELECT amount_mad, currency, status FROM payments WHERE order_id = %s FOR UPDATE",
                           (order_id,)).fetchone()
        if row is None:
            raise NotFound(f"commande inconnue : « {order_id} »")
        amount, currency, status = row
        try:
            paid = Decimal(fields.get("amount", ""))
        except ArithmeticError:
            raise InputError("montant illisible dans le rappel de paiement") from None
        if paid != amount or fields.get("currency") != "504" or currency != "MAD":
            raise Conflict(f"montant ou devise du rappel ({fields.get('amount')} {fields.get('currency')}) différent de "
                           f"la commande ({amount} MAD)")
        conn.execute("UPDATE payments SET callbacks = callbacks + 1 WHERE order_id = %s", (order_id,))
        outcome = "payee" if fields.get("Response") == "Approved" else "refusee"
        if status != "initiee":
            audit(conn, "passerelle", "paiement.rappel_rejoue", "payment", order_id, {"status": status}, {"status": status})
            return order_id, False
        conn.execute("UPDATE payments SET status = %s, provider_ref = %s, paid_at = CASE WHEN %s = 'payee' THEN now() "
                     "END WHERE order_id = %s", (outcome, fields.get("TransId"), outcome, order_id))
        audit(conn, "passerelle", f"paiement.{outcome}", "payment", order_id, {"status": status},
              {"status": outcome, "provider_ref": fields.get("TransId")})
    return order_id, True


def recent_payments(conn: psycopg.Connection, limit: int = 200) -> list[dict]:
    """The latest payments, newest first (for the agency's staff)."""
    rows = conn.execute("SELECT order_id, request_ref, amount_mad::text, status, created_at FROM payments "
                        "ORDER BY id DESC LIMIT %s", (limit,)).fetchall()
    return [{"order_id": r[0], "request": r[1], "amount_mad": r[2], "status": r[3], "created_at": r[4].isoformat()}
            for r in rows]
