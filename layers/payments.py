"""Payments in the database: orders, their attempts (one per gateway transaction, applied once), the audit trail."""

from __future__ import annotations

import re
import secrets
from decimal import Decimal

import psycopg

from gis.errors import Conflict, InputError, NotFound
from layers.audit import audit

ORDER_ID = re.compile(r"NRU-[0-9A-F]{12}")  # what create_order makes
# The CHECK constraint of payments.status holds exactly these keys (tested against the migrated database).
# « refusee » is not final: the last attempt was declined and the order waits for a new one; « payee » is.
STATUSES = {"initiee": "initiée", "payee": "payée", "refusee": "dernière tentative refusée"}


def create_order(conn: psycopg.Connection, request_ref: str, amount_mad: Decimal, actor: str) -> str:
    """A new payment order for a request; returns its order id."""
    order_id = "NRU-" + secrets.token_hex(6).upper()
    with conn.transaction():
        conn.execute("INSERT INTO payments (order_id, request_ref, amount_mad) VALUES (%s, %s, %s)",
                     (order_id, request_ref, amount_mad))
        audit(conn, actor, "paiement.initie", "payment", order_id, None,
              {"request": request_ref, "amount_mad": str(amount_mad), "status": "initiee"})
    return order_id


# What a callback did, with the words the gateway's log shows (the callback's answer carries them).
OUTCOMES = {
    "payee": "paiement appliqué",
    "refusee": "refus enregistré : la commande reste ouverte pour une nouvelle tentative",
    "deja_traite": "déjà traité",
    "deja_payee": "commande déjà payée : tentative enregistrée, sans effet sur la commande",
}


def apply_callback(conn: psycopg.Connection, order_id: str, transaction_id: str, approved: bool, amount: str,
                   currency: str, return_code: str) -> str:
    """Apply one verified gateway callback and say what it did (a key of `OUTCOMES`).

    The caller has checked the form and the signature. Amount and currency must match the order (409, nothing
    written). Each transaction id is applied once (a replay answers « deja_traite »); only an approval is
    final: a decline leaves the order open for a new attempt, and nothing (a late decline, another approval)
    undoes a payment. The order's row is locked first, so callbacks for one order are applied one at a time.
    """
    with conn.transaction():
        row = conn.execute("SELECT amount_mad, currency, status FROM payments WHERE order_id = %s FOR UPDATE",
                           (order_id,)).fetchone()
        if row is None:
            raise NotFound(f"commande inconnue : « {order_id} »")
        expected, expected_currency, status = row
        try:
            paid = Decimal(amount)
        except ArithmeticError:
            raise InputError("montant illisible dans le rappel de paiement") from None
        if paid != expected or currency != "504" or expected_currency != "MAD":
            raise Conflict(f"montant ou devise du rappel ({amount} {currency}) différent de la commande "
                           f"({expected} MAD) : rappel refusé")
        conn.execute("UPDATE payments SET callbacks = callbacks + 1 WHERE order_id = %s", (order_id,))
        inserted = conn.execute(
            "INSERT INTO payment_attempts (transaction_id, order_id, approved, return_code, amount_mad) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (transaction_id) DO NOTHING RETURNING id",
            (transaction_id, order_id, approved, return_code, paid)).fetchone()
        attempt = {"transaction": transaction_id, "approved": approved, "return_code": return_code}
        if inserted is None:
            prior = conn.execute("UPDATE payment_attempts SET replays = replays + 1 WHERE transaction_id = %s "
                                 "RETURNING order_id, approved", (transaction_id,)).fetchone()
            if tuple(prior) != (order_id, approved):
                raise Conflict(f"la transaction « {transaction_id} » a déjà été reçue avec un autre contenu : "
                               "rappel refusé")
            audit(conn, "passerelle", "paiement.rappel_rejoue", "payment", order_id, {"status": status},
                  {"status": status, **attempt})
            return "deja_traite"
        if status == "payee":  # a late decline, or a second approval (to refund): the payment stands
            audit(conn, "passerelle", "paiement.tentative_apres_paiement", "payment", order_id, {"status": status},
                  {"status": status, **attempt})
            return "deja_payee"
        outcome = "payee" if approved else "refusee"
        conn.execute("UPDATE payments SET status = %s, provider_ref = CASE WHEN %s THEN %s ELSE provider_ref END, "
                     "paid_at = CASE WHEN %s THEN now() END WHERE order_id = %s",
                     (outcome, approved, transaction_id, approved, order_id))
        audit(conn, "passerelle", f"paiement.{outcome}", "payment", order_id, {"status": status},
              {"status": outcome, **attempt})
    return outcome


def payment_status(conn: psycopg.Connection, order_id: str) -> tuple[str, str, str | None]:
    """(status, request reference, request status) of an order, for the browser's return page (404 if unknown)."""
    if not ORDER_ID.fullmatch(order_id):
        raise NotFound("commande inconnue")
    row = conn.execute("SELECT p.status, p.request_ref, r.status FROM payments p LEFT JOIN note_requests r "
                       "ON r.order_id = p.order_id WHERE p.order_id = %s", (order_id,)).fetchone()
    if row is None:
        raise NotFound(f"commande inconnue : « {order_id} »")
    return row[0], row[1], row[2]


def recent_payments(conn: psycopg.Connection, limit: int = 200) -> list[dict]:
    """The latest payments, newest first (for the agency's staff)."""
    rows = conn.execute("SELECT order_id, request_ref, amount_mad::text, status, created_at FROM payments "
                        "ORDER BY id DESC LIMIT %s", (limit,)).fetchall()
    return [{"order_id": r[0], "request": r[1], "amount_mad": r[2], "status": r[3], "created_at": r[4].isoformat()}
            for r in rows]
