"""Hosted payment end to end on loopback: our app, a local gateway that speaks the protocol, signed callbacks."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest
import requests

from app import create_app
from devtools.gateway import create_gateway
from layers.payments import create_order
from notes.payment import Order, sign, verify
from tests.helpers import app_settings, serve

SECRET = "secret-de-test"



@pytest.fixture
def servers(db_url):
    ours, ours_url = serve(create_app(app_settings(db_url, pool_min=1, pool_max=2, payment_secret=SECRET)))
    gateway, gateway_url = serve(create_gateway(SECRET))
    yield ours_url, gateway_url
    ours.shutdown()
    gateway.shutdown()


def _order(conn, base):
    order_id = create_order(conn, "demande-1", Decimal("450.00"), "demandeur@example.ma")
    conn.commit()  # the server reads it on its own connection
    return Order(order_id, "450.00", f"{base}/notes/payments/callback", f"{base}/ok", f"{base}/ko")


def _payment(conn, order_id):
    return conn.execute("SELECT status, callbacks, paid_at, provider_ref FROM payments WHERE order_id = %s",
                        (order_id,)).fetchone()


def test_signature_round_trip_and_tamper():
    fields = {"oid": "A", "amount": "450.00", "currency": "504"}
    fields["HASH"] = sign(fields, SECRET)
    assert verify(fields, SECRET)
    assert not verify({**fields, "amount": "1.00"}, SECRET)
    assert not verify(fields, "autre-secret")
    assert not verify({k: v for k, v in fields.items() if k != "HASH"}, SECRET)


def test_pay_through_the_gateway_then_replay_and_forgeries(servers, conn):
    ours, gateway = servers
    order = _order(conn, ours)
    page = requests.post(f"{gateway}/pay", data=order.fields(SECRET), timeout=30)
    assert page.status_code == 200 and order.order_id in page.text
    done = requests.post(f"{gateway}/pay/confirm", data={**order.fields(SECRET), "decision": "approve"},
                         allow_redirects=False, timeout=30)
    assert done.status_code == 303 and done.headers["Location"].endswith("/ok")
    status, callbacks, paid_at, provider_ref = _payment(conn, order.order_id)
    assert (status, callbacks) == ("payee", 1) and paid_at and provider_ref
    # the gateway's callback replayed: accepted, counted, no second effect
    callback = {"oid": order.order_id, "amount": "450.00", "currency": "504", "Response": "Approved",
                "ProcReturnCode": "00", "TransId": provider_ref}
    callback["HASH"] = sign(callback, SECRET)
    again = requests.post(f"{ours}/notes/payments/callback", data=callback, timeout=30)
    assert again.status_code == 200 and "DEJA_TRAITE" in again.text
    assert _payment(conn, order.order_id)[:3] == ("payee", 2, paid_at)
    # forged: a changed field under the old signature, or a signature made with another secret
    forged = {**callback, "amount": "1.00"}
    assert requests.post(f"{ours}/notes/payments/callback", data=forged, timeout=30).status_code == 403
    other = {k: v for k, v in callback.items() if k != "HASH"}
    other["HASH"] = sign(other, "pas-le-bon-secret")
    assert requests.post(f"{ours}/notes/payments/callback", data=other, timeout=30).status_code == 403
    assert _payment(conn, order.order_id)[:2] == ("payee", 2)
    actions = [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE entity_id = %s ORDER BY id",
                                          (order.order_id,))]
    assert actions == ["paiement.initie", "paiement.payee", "paiement.rappel_rejoue"]


def test_declined_payment_and_wrong_amount(servers, conn):
    ours, gateway = servers
    order = _order(conn, ours)
    done = requests.post(f"{gateway}/pay/confirm", data={**order.fields(SECRET), "decision": "decline"},
                         allow_redirects=False, timeout=30)
    assert done.headers["Location"].endswith("/ko")
    assert _payment(conn, order.order_id)[0] == "refusee"
    second = _order(conn, ours)
    cheap = {"oid": second.order_id, "amount": "4.50", "currency": "504", "Response": "Approved", "TransId": "x"}
    cheap["HASH"] = sign(cheap, SECRET)
    r = requests.post(f"{ours}/notes/payments/callback", data=cheap, timeout=30)
    assert r.status_code == 409 and _payment(conn, second.order_id)[0] == "initiee"


def test_gateway_refuses_an_unsigned_order(servers, conn):
    ours, gateway = servers
    fields = _order(conn, ours).fields("mauvais-secret")
    assert requests.post(f"{gateway}/pay", data=fields, timeout=30).status_code == 400


def test_audit_trail_is_append_only(conn):
    create_order(conn, "demande-2", Decimal("450.00"), "x")
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        conn.execute("UPDATE audit_log SET actor = 'quelqu''un'")
    conn.rollback()
    with pytest.raises(psycopg.errors.RaiseException):
        conn.execute("DELETE FROM audit_log")
