"""A local payment gateway that speaks the hosted-payment protocol of notes/payment.py, as a bank's does.

For development and tests only (a bank's gateway cannot run here). It checks the merchant's order (its form
and the order key's signature), shows a payment page, and on each confirmation makes one payment attempt
with a new transaction id: it calls the merchant back server to server with the callback fields signed by the
callback key, **retrying the same callback until it gets a 2xx** (a few times, with a growing delay), then
sends the browser to the merchant's ok or fail page with a 303 (no payment data in the redirect).
Run it by hand: `python -m devtools.gateway --port 5055 --secret SECRET`; or let the app mount it: in development
with no URBASIG_PAYMENT_GATEWAY_URL, api/dev.py registers `gateway_blueprint` under /dev/passerelle with the app's
own page (labelled as a test, French and Arabic) and the app's payment secret.
"""

from __future__ import annotations

import argparse
import secrets
import time
from collections.abc import Callable
from html import escape

import requests
from flask import Blueprint, Flask, Response, redirect, request, url_for

from notes.payment import CALLBACK, ORDER, REQUIRED_FIELDS, SIGNATURE_FIELD, signed, verify

DELAYS_S = (0.05, 0.2, 0.5, 1.0, 2.0)  # between the attempts to deliver one callback
INVALID_ORDER = "ordre de paiement invalide (champs ou signature du commerçant)"


def deliver(url: str, fields: dict[str, str], delays_s: tuple[float, ...] = DELAYS_S) -> bool:
    """POST a callback until the merchant answers 2xx (len(delays_s) + 1 tries); whether it was acknowledged."""
    for wait in (*delays_s, None):
        try:
            if requests.post(url, data=fields, timeout=30).ok:
                return True
        except requests.RequestException:
            pass
        if wait is None:
            return False
        time.sleep(wait)
    return False


Page = Callable[[dict[str, str], str], "str | Response"]


def plain_page(fields: dict[str, str], confirm_url: str) -> str:
    """The payment page of the stand-alone gateway: bare HTML (the app's mounted one uses its own template)."""
    hidden = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items())
    return f"""<!doctype html><html lang="fr"><meta charset="utf-8"><title>Paiement</title>
        <h1>Passerelle de paiement de test</h1><p>Commande {escape(fields['oid'])} : {escape(fields['amount'])} MAD</p>
        <form method="post" action="{escape(confirm_url)}">{hidden}
        <button name="decision" value="approve">Payer</button>
        <button name="decision" value="decline">Refuser</button></form></html>"""


def gateway_blueprint(secret: str, delays_s: tuple[float, ...] = DELAYS_S, page: Page = plain_page,
                      attempts: list | None = None) -> Blueprint:
    """The gateway's two addresses, `/pay` and `/pay/confirm`, to mount under any prefix.

    `page(order fields, confirm URL)` draws the payment page; each attempt is appended to `attempts` as
    (transaction id, approved, acknowledged), for a developer looking at it.
    """
    bp = Blueprint("test_gateway", __name__)
    tried = attempts if attempts is not None else []

    def order_fields() -> dict[str, str] | None:
        fields = {k: v for k, v in request.form.to_dict().items() if k in (*REQUIRED_FIELDS[ORDER], SIGNATURE_FIELD)}
        return fields if verify(fields, secret, ORDER) else None

    @bp.post("/pay")
    def pay() -> Response | str:
        fields = order_fields()
        if fields is None:
            return Response(INVALID_ORDER, status=400, mimetype="text/plain")
        return page(fields, url_for(".confirm"))

    @bp.post("/pay/confirm")
    def confirm() -> Response:
        fields = order_fields()
        if fields is None:
            return Response(INVALID_ORDER, status=400, mimetype="text/plain")
        approved = request.form.get("decision", "approve") == "approve"
        transaction_id = secrets.token_hex(8)  # one per attempt; the retries of its callback keep it
        result = signed({"clientid": fields["clientid"], "oid": fields["oid"], "amount": fields["amount"],
                         "currency": fields["currency"], "Response": "Approved" if approved else "Declined",
                         "ProcReturnCode": "00" if approved else "05", "TransId": transaction_id},
                        secret, CALLBACK)
        acknowledged = deliver(fields["callbackUrl"], result, delays_s)
        tried.append((transaction_id, approved, acknowledged))
        return redirect(fields["okUrl"] if approved and acknowledged else fields["failUrl"], code=303)

    return bp


def create_gateway(secret: str, delays_s: tuple[float, ...] = DELAYS_S) -> Flask:
    """The stand-alone gateway application (callbacks retried with these delays)."""
    app = Flask("passerelle-de-test")
    app.config["ATTEMPTS"] = []  # (transaction id, decision, acknowledged), for a developer looking at it
    app.register_blueprint(gateway_blueprint(secret, delays_s, attempts=app.config["ATTEMPTS"]))
    return app


def main() -> None:
    """Serve the test gateway on loopback."""
    parser = argparse.ArgumentParser(description="Passerelle de paiement de test (boucle locale)")
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--secret", required=True)
    args = parser.parse_args()
    create_gateway(args.secret).run(host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
