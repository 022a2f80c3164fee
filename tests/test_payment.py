"""Hosted payment end to end on loopback: our app, a local gateway that speaks the protocol, signed callbacks.

Callbacks replayed, reordered, forged (wrong key, order fields posted as a callback, amount changed), declined
then approved, retried by the gateway, and fired concurrently.
"""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest
import requests
from flask import Flask, request

from app import create_app
from devtools.gateway import create_gateway
from layers.payments import create_order
from notes.payment import CALLBACK, ORDER, Order, purpose_key, read_callback, sign, signed, verify
from tests.helpers import app_settings, fire_at_once, serve

SECRET = "secret-de-test"


@pytest.fixture
def servers(db_url):
    ours, ours_url = serve(create_app(app_settings(db_url, pool_min=1, pool_max=8, payment_secret=SECRET)))
    gateway, gateway_url = serve(create_gateway(SECRET, delays_s=(0.05, 0.05)))
    yield ours_url, gateway_url
    ours.shutdown()
    gateway.shutdown()


def _order(conn, base):
    order_id = create_order(conn, "demande-1", Decimal("450.00"), "demandeur@example.ma")
    conn.commit()  # the server reads it on its own connection
    back = f"{base}/notes/payments/return/{order_id}"
    return Order(order_id, "450.00", f"{base}/notes/payments/callback", back, back)


def _callback(order_id, transaction_id, approved=True, amount="450.00", currency="504", secret=SECRET):
    """The fields the gateway would send for one attempt."""
    return signed({"clientid": "AUC-URBASIG", "oid": order_id, "amount": amount, "currency": currency,
                   "Response": "Approved" if approved else "Declined", "ProcReturnCode": "00" if approved else "05",
                   "TransId": transaction_id}, secret, CALLBACK)


def _post(base, fields, **kwargs):
    return requests.post(f"{base}/notes/payments/callback", data=fields, timeout=30, **kwargs)


def _payment(conn, order_id):
    return conn.execute("SELECT status, callbacks, paid_at, provider_ref FROM payments WHERE order_id = %s",
                        (order_id,)).fetchone()


def _attempts(conn, order_id):
    return conn.execute("SELECT transaction_id, approved, replays FROM payment_attempts WHERE order_id = %s "
                        "ORDER BY id", (order_id,)).fetchall()


def _actions(conn, order_id):
    return [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE entity_id = %s ORDER BY id", (order_id,))]


def test_orders_and_callbacks_have_their_own_key_and_field_set():
    order = Order("NRU-1", "450.00", "http://x/cb", "http://x/ok", "http://x/ko").fields(SECRET)
    callback = _callback("NRU-1", "T1")
    assert purpose_key(SECRET, ORDER) != purpose_key(SECRET, CALLBACK)
    assert order["msgType"] == "order" and callback["msgType"] == "callback"
    assert verify(order, SECRET, ORDER) and not verify(order, SECRET, CALLBACK)
    assert verify(callback, SECRET, CALLBACK) and not verify(callback, SECRET, ORDER)
    # the same fields signed with the order key are not a callback, even with msgType set to callback
    same_fields = {k: v for k, v in callback.items() if k != "HASH"}
    same_fields["HASH"] = sign(same_fields, SECRET, ORDER)
    assert not verify(same_fields, SECRET, CALLBACK)
    assert not verify({**callback, "amount": "1.00"}, SECRET, CALLBACK)
    assert not verify(callback, "autre-secret", CALLBACK) and not verify(callback, "", CALLBACK)
    assert not verify({k: v for k, v in callback.items() if k != "TransId"}, SECRET, CALLBACK)
    assert read_callback(callback, SECRET).approved
    assert not read_callback(_callback("NRU-1", "T2", approved=False), SECRET).approved


def test_pay_through_the_gateway_then_replay_and_forgeries(servers, conn):
    ours, gateway = servers
    order = _order(conn, ours)
    page = requests.post(f"{gateway}/pay", data=order.fields(SECRET), timeout=30)
    assert page.status_code == 200 and order.order_id in page.text
    done = requests.post(f"{gateway}/pay/confirm", data={**order.fields(SECRET), "decision": "approve"},
                         allow_redirects=False, timeout=30)
    assert done.status_code == 303 and done.headers["Location"] == order.ok_url
    status, callbacks, paid_at, provider_ref = _payment(conn, order.order_id)
    assert (status, callbacks) == ("payee", 1) and paid_at and provider_ref
    # the gateway's callback replayed: accepted (200, « déjà traité »), counted, no second effect
    replay = _callback(order.order_id, provider_ref)
    for _ in range(2):
        again = _post(ours, replay)
        assert again.status_code == 200 and "DEJA_TRAITE" in again.text and "déjà traité" in again.text
    assert _payment(conn, order.order_id)[:3] == ("payee", 3, paid_at)
    assert _attempts(conn, order.order_id) == [(provider_ref, True, 2)]
    before = _actions(conn, order.order_id)
    # forged: a changed field under the gateway's signature, a signature made with another secret
    forged = _post(ours, {**replay, "amount": "1.00"})
    assert forged.status_code == 403 and "signature" in forged.json()["message"]
    assert _post(ours, _callback(order.order_id, "T-AUTRE", secret="pas-le-bon-secret")).status_code == 403
    # the order fields the applicant's browser saw, posted as they are: not a callback (400)
    as_is = _post(ours, order.fields(SECRET))
    assert as_is.status_code == 400 and "msgType" in as_is.json()["message"]
    # … nor with a callback's fields added and the order's key: the signature is not the gateway's (403)
    grafted = {**{k: v for k, v in order.fields(SECRET).items() if k != "HASH"},
               **{k: v for k, v in replay.items() if k != "HASH"}, "TransId": "T-GREFFE"}
    grafted["HASH"] = sign(grafted, SECRET, ORDER)
    assert _post(ours, grafted).status_code == 403
    # a transaction id already received, now with another outcome: refused, not applied
    changed = _post(ours, _callback(order.order_id, provider_ref, approved=False))
    assert changed.status_code == 409
    assert _payment(conn, order.order_id)[:3] == ("payee", 3, paid_at)
    assert _actions(conn, order.order_id) == before == [
        "paiement.initie", "paiement.payee", "paiement.rappel_rejoue", "paiement.rappel_rejoue"]


def test_declined_then_approved_is_paid(servers, conn):
    """A decline is not final: the order stays open, the next attempt (a new transaction id) pays it."""
    ours, gateway = servers
    order = _order(conn, ours)
    declined = requests.post(f"{gateway}/pay/confirm", data={**order.fields(SECRET), "decision": "decline"},
                             allow_redirects=False, timeout=30)
    assert declined.headers["Location"] == order.fail_url
    assert _payment(conn, order.order_id)[:3] == ("refusee", 1, None)
    paid = requests.post(f"{gateway}/pay/confirm", data={**order.fields(SECRET), "decision": "approve"},
                         allow_redirects=False, timeout=30)
    assert paid.headers["Location"] == order.ok_url
    status, callbacks, paid_at, provider_ref = _payment(conn, order.order_id)
    attempts = _attempts(conn, order.order_id)
    assert (status, callbacks) == ("payee", 2) and paid_at
    assert [a[1] for a in attempts] == [False, True] and attempts[1][0] == provider_ref != attempts[0][0]
    assert _actions(conn, order.order_id) == ["paiement.initie", "paiement.refusee", "paiement.payee"]


def test_reordered_callbacks_keep_it_paid(servers, conn):
    """The approval arrives before an earlier attempt's decline: the late decline changes nothing."""
    ours, _ = servers
    order = _order(conn, ours)
    first = _post(ours, _callback(order.order_id, "T-APPROUVEE"))
    assert first.status_code == 200 and first.text.startswith("ACTION=POSTAUTH\n")
    late = _post(ours, _callback(order.order_id, "T-REFUSEE", approved=False))
    assert late.status_code == 200 and "DEJA_PAYEE" in late.text
    assert _post(ours, _callback(order.order_id, "T-REFUSEE", approved=False)).text.startswith(
        "ACTION=NONE;DEJA_TRAITE")
    status, _, paid_at, provider_ref = _payment(conn, order.order_id)
    assert (status, provider_ref) == ("payee", "T-APPROUVEE") and paid_at
    assert _actions(conn, order.order_id) == ["paiement.initie", "paiement.payee", "paiement.tentative_apres_paiement",
                                              "paiement.rappel_rejoue"]


def test_wrong_amount_or_currency_or_unknown_order_writes_nothing(servers, conn):
    ours, _ = servers
    order = _order(conn, ours)
    cheap = _post(ours, _callback(order.order_id, "T1", amount="4.50"))
    assert cheap.status_code == 409 and "montant" in cheap.json()["message"]
    assert _post(ours, _callback(order.order_id, "T2", currency="840")).status_code == 409
    assert _post(ours, _callback("NRU-INCONNUE", "T3")).status_code == 404
    assert _post(ours, _callback(order.order_id, "T\x00NUL")).status_code == 400
    assert _post(ours, _callback(order.order_id, "T" * 65)).status_code == 400
    assert _payment(conn, order.order_id)[:2] == ("initiee", 0)
    assert _attempts(conn, order.order_id) == [] and _actions(conn, order.order_id) == ["paiement.initie"]


def test_a_callback_is_accepted_only_as_the_gateway_sends_it(servers, conn):
    """A form posted server to server: not JSON, not in the address, not from a browser, each field once."""
    ours, _ = servers
    order = _order(conn, ours)
    fields = _callback(order.order_id, "T1")
    url = f"{ours}/notes/payments/callback"
    assert requests.post(url, json=fields, timeout=30).status_code == 400
    assert requests.post(url, params=fields, timeout=30).status_code == 400
    assert requests.post(url, params={"x": "1"}, data=fields, timeout=30).status_code == 400
    assert requests.get(url, params=fields, timeout=30).status_code == 405
    from_browser = _post(ours, fields, headers={"Origin": "https://ailleurs.example"})
    assert from_browser.status_code == 403 and "navigateur" in from_browser.json()["message"]
    assert _post(ours, fields, headers={"Sec-Fetch-Mode": "navigate"}).status_code == 403
    repeated = requests.post(url, data=[*fields.items(), ("amount", "1.00")], timeout=30)
    assert repeated.status_code == 400 and "amount" in repeated.json()["message"]
    assert _payment(conn, order.order_id)[:2] == ("initiee", 0) and _attempts(conn, order.order_id) == []
    assert _post(ours, fields).status_code == 200  # the same fields, as the gateway sends them
    assert _payment(conn, order.order_id)[0] == "payee"


def test_the_browser_return_page_reads_the_outcome_and_never_applies_it(servers, conn):
    ours, gateway = servers
    order = _order(conn, ours)
    fields = _callback(order.order_id, "T1")
    waiting = requests.get(order.ok_url, params=fields, timeout=30)  # the callback's fields, sent by a browser
    assert waiting.status_code == 200 and "en attente" in waiting.text and 'name="msgType" value="order"' in waiting.text
    assert requests.post(order.ok_url, data=fields, timeout=30).status_code == 405
    assert _payment(conn, order.order_id)[:2] == ("initiee", 0)
    requests.post(f"{gateway}/pay/confirm", data={**order.fields(SECRET), "decision": "decline"}, timeout=30)
    declined = requests.get(order.fail_url, timeout=30)  # the redirect followed
    assert "refusé" in declined.text and "Payer 450,00 MAD" in declined.text  # the amount as a person reads it
    requests.post(f"{gateway}/pay/confirm", data={**order.fields(SECRET), "decision": "approve"}, timeout=30)
    paid = requests.get(order.ok_url, timeout=30)
    assert "Paiement reçu" in paid.text and "Payer" not in paid.text and "demandeur@" not in paid.text
    assert requests.get(f"{ours}/notes/payments/return/NRU-INCONNUE", timeout=30).status_code == 404
    assert requests.get(f"{ours}/notes/payments/return/NRU-%00", timeout=30).status_code == 400  # api/inputs.py
    assert requests.get(f"{ours}/notes/payments/return/NRU-000000000000", timeout=30).status_code == 404


def test_the_gateway_retries_a_callback_until_acknowledged(servers, conn):
    """The merchant down twice: the gateway tries again with the same transaction id, applied once."""
    ours, _ = servers
    received = []
    flaky = Flask("marchand-indisponible")

    @flaky.post("/callback")
    def callback():
        received.append(request.form.to_dict())
        if len(received) <= 2:
            return "indisponible", 503
        answer = requests.post(f"{ours}/notes/payments/callback", data=request.form.to_dict(), timeout=30)
        return answer.text, answer.status_code

    server, flaky_url = serve(flaky)
    gateway, gateway_url = serve(create_gateway(SECRET, delays_s=(0.05, 0.05, 0.05)))
    try:
        order = _order(conn, ours)
        order = Order(order.order_id, order.amount_mad, f"{flaky_url}/callback", order.ok_url, order.fail_url)
        done = requests.post(f"{gateway_url}/pay/confirm", data={**order.fields(SECRET), "decision": "approve"},
                             allow_redirects=False, timeout=30)
        assert done.headers["Location"] == order.ok_url
        assert len(received) == 3 and len({r["TransId"] for r in received}) == 1 and received[0] == received[2]
        assert _payment(conn, order.order_id)[:2] == ("payee", 1)
        # never acknowledged: the gateway gives up after its last try and sends the browser to the fail page
        second = _order(conn, ours)
        dead = Order(second.order_id, "450.00", "http://127.0.0.1:9/callback", second.ok_url, second.fail_url)
        gave_up = requests.post(f"{gateway_url}/pay/confirm", data={**dead.fields(SECRET), "decision": "approve"},
                                allow_redirects=False, timeout=30)
        assert gave_up.headers["Location"] == dead.fail_url
        assert [a[2] for a in gateway.app.config["ATTEMPTS"]] == [True, False]
    finally:
        server.shutdown()
        gateway.shutdown()


def test_gateway_refuses_an_unsigned_order_and_a_callback(servers, conn):
    ours, gateway = servers
    order = _order(conn, ours)
    assert requests.post(f"{gateway}/pay", data=order.fields("mauvais-secret"), timeout=30).status_code == 400
    tampered = {**order.fields(SECRET), "amount": "1.00"}
    assert requests.post(f"{gateway}/pay/confirm", data=tampered, timeout=30).status_code == 400
    callback = _callback(order.order_id, "T1")
    assert requests.post(f"{gateway}/pay", data=callback, timeout=30).status_code == 400
    assert _payment(conn, order.order_id)[:2] == ("initiee", 0)


def test_concurrent_callbacks_apply_once(servers, conn):
    """8 copies of one callback at once, then 8 different approvals at once: one payment each time."""
    ours, _ = servers
    order = _order(conn, ours)
    fields = _callback(order.order_id, "T-UNIQUE")
    answers = fire_at_once(8, lambda i: _post(ours, fields))
    assert [a.status_code for a in answers] == [200] * 8
    firsts = sorted(a.text.splitlines()[0] for a in answers)
    assert firsts == ["ACTION=NONE;DEJA_TRAITE"] * 7 + ["ACTION=POSTAUTH"]
    assert _payment(conn, order.order_id)[:2] == ("payee", 8) and _attempts(conn, order.order_id) == [
        ("T-UNIQUE", True, 7)]
    other = _order(conn, ours)
    answers = fire_at_once(8, lambda i: _post(ours, _callback(other.order_id, f"T-{i}")))
    firsts = sorted(a.text.splitlines()[0] for a in answers)
    assert firsts == ["ACTION=NONE;DEJA_PAYEE"] * 7 + ["ACTION=POSTAUTH"]
    actions = _actions(conn, other.order_id)
    assert actions.count("paiement.payee") == 1 and actions.count("paiement.tentative_apres_paiement") == 7


def test_audit_trail_is_append_only(conn):
    create_order(conn, "demande-2", Decimal("450.00"), "x")
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        conn.execute("UPDATE audit_log SET actor = 'quelqu''un'")
    conn.rollback()
    with pytest.raises(psycopg.errors.RaiseException):
        conn.execute("DELETE FROM audit_log")
