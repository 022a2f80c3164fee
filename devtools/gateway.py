"""A local payment gateway that speaks the hosted-payment protocol of notes/payment.py.

For development and tests only (a bank's gateway cannot run here): it checks the merchant's signature,
shows a payment page, and on confirmation calls the merchant back server to server with a signed result,
then sends the browser to the merchant's ok or fail page.
Run it by hand: `python -m devtools.gateway --port 5055 --secret SECRET`.
"""

from __future__ import annotations

import argparse
import secrets
from html import escape

import requests
from flask import Flask, Response, redirect, request

from notes.payment import SIGNATURE_FIELD, sign, verify


def create_gateway(secret: str) -> Flask:
    """The gateway application."""
    app = Flask("passerelle-de-test")

    @app.post("/pay")
    def pay() -> Response:
        fields = request.form.to_dict()
        if not verify(fields, secret):
            return Response("signature du commerçant invalide", status=400)
        hidden = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items())
        return Response(f"""<!doctype html><html lang="fr"><meta charset="utf-8"><title>Paiement</title>
            <h1>Passerelle de paiement de test</h1><p>Commande {escape(fields['oid'])} : {escape(fields['amount'])} MAD</p>
            <form method="post" action="/pay/confirm">{hidden}
            <button name="decision" value="approve">Payer</button>
            <button name="decision" value="decline">Refuser</button></form></html>""")

    @app.post("/pay/confirm")
    def confirm() -> Response:
        fields = request.form.to_dict()
        decision = fields.pop("decision", "approve")
        if not verify(fields, secret):
            return Response("signature du commerçant invalide", status=400)
        result = {"oid": fields["oid"], "amount": fields["amount"], "currency": fields["currency"],
                  "Response": "Approved" if decision == "approve" else "Declined",
                  "ProcReturnCode": "00" if decision == "approve" else "05", "TransId": secrets.token_hex(8)}
        result[SIGNATURE_FIELD] = sign(result, secret)
        answer = requests.post(fields["callbackUrl"], data=result, timeout=30)
        target = fields["okUrl"] if decision == "approve" and answer.ok else fields["failUrl"]
        return redirect(target, code=303)

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
