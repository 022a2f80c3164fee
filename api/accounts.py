"""Accounts over HTTP: registration with e-mail verification, sign in and out, role checks on the server."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, Response, jsonify, request, session

from api.db import get_db
from api.inputs import field, json_object
from gis.errors import Forbidden, Unauthorized
from layers.accounts import authenticate, create_account, verify_email
from layers.outbox import queue_mail
from layers.payments import recent_payments

accounts = Blueprint("accounts", __name__, url_prefix="/notes")


def require_role(*roles: str):
    """Allow the view to signed-in accounts whose role is one of `roles` (401 / 403 otherwise)."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            account = session.get("account")
            if not account:
                raise Unauthorized("connectez-vous d'abord (POST /notes/session)")
            if account["role"] not in roles:
                raise Forbidden(f"action réservée : {', '.join(roles)}")
            return view(*args, **kwargs)

        return wrapper

    return decorate


@accounts.post("/accounts")
def register() -> tuple[Response, int]:
    """Create an applicant account and e-mail the verification link."""
    body = json_object()
    email = field(body, "email", str, default="", max_len=320)
    conn = get_db()
    account_id, token = create_account(conn, email, field(body, "full_name", str, default="", max_len=200),
                                       field(body, "password", str, default="", max_len=1024))
    link = f"{request.url_root.rstrip('/')}/notes/accounts/verify?token={token}"
    queue_mail(conn, email.strip().lower(), "Vérifiez votre adresse — notes de renseignements",
               f"Bonjour,\n\nPour activer votre compte, ouvrez ce lien :\n{link}\n\nAgence urbaine de Casablanca",
               entity="account", entity_id=str(account_id))
    return jsonify({"id": account_id, "message": "compte créé : un lien de vérification a été envoyé"}), 201


@accounts.get("/accounts/verify")
def verify() -> Response:
    """Follow the e-mailed link."""
    verify_email(get_db(), request.args.get("token", ""))
    return jsonify({"message": "adresse vérifiée : vous pouvez vous connecter"})


@accounts.post("/session")
def sign_in() -> Response:
    """Sign in (a signed session cookie; no state kept in the server process)."""
    body = json_object()
    account = authenticate(get_db(), field(body, "email", str, default="", max_len=320),
                           field(body, "password", str, default="", max_len=1024))
    session.clear()
    session["account"] = {"id": account["id"], "role": account["role"], "email": account["email"]}
    return jsonify({"email": account["email"], "role": account["role"]})


@accounts.delete("/session")
def sign_out() -> Response:
    """Sign out."""
    session.clear()
    return jsonify({"message": "déconnecté"})


@accounts.get("/payments")
@require_role("instructor", "admin")
def payments() -> Response:
    """Payments, for the agency's staff only."""
    return jsonify(recent_payments(get_db()))
