"""Accounts over HTTP: registration with e-mail verification, sign in and out, role checks on the server.

The session cookie (signed, HttpOnly, SameSite=Lax, Secure under https) holds only a random session id;
the session itself is a row in the database, so signing out ends it for every copy of the cookie.
"""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, Response, current_app, g, jsonify, render_template, request, session

from api.db import get_db, keep_writes
from api.inputs import field, json_object
from api.negotiation import prefers_html
from api.security import public_link
from api.spaces import new_session
from gis.errors import Forbidden, InputError, NotFound, TooManyRequests, Unauthorized
from layers import sessions
from layers.accounts import (
    SignInLimits,
    create_account,
    limit_registrations,
    normalized_email,
    sign_in,
    sign_out,
    verify_email,
)
from layers.accounts import verify_code as check_code
from layers.outbox import queue_mail
from layers.payments import recent_payments

accounts = Blueprint("accounts", __name__, url_prefix="/notes")


def current_account() -> dict | None:
    """The account of this request's live session (id, email, role), None when not signed in."""
    if "account" not in g:
        session_id = session.get("sid")
        g.account = sessions.account_of(get_db(), session_id) if isinstance(session_id, str) else None
    return g.account


def require_role(*roles: str):
    """Allow the view to signed-in accounts whose role is one of `roles` (401 / 403 otherwise)."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            account = current_account()
            if not account:
                ended = " (session terminée ou expirée)" if session.get("sid") else ""
                raise Unauthorized(f"connectez-vous d'abord{ended} (POST /notes/session)")
            if account["role"] not in roles:
                raise Forbidden(f"action réservée : {', '.join(roles)}")
            return view(*args, **kwargs)

        return wrapper

    return decorate


def client_address() -> str:
    """The client's address as the rate limits and the audit trail record it."""
    return request.remote_addr or "inconnue"


def _text(body: dict, name: str) -> str:
    """A text field of the JSON body ("" when absent), typed (400 in French otherwise).

    Its length and characters are checked by layers/accounts.py `text`, the one bound of each account field,
    whoever calls (these views or the CLI).
    """
    return field(body, name, str, default="")


def register_account(email: str, full_name: str, password: str) -> int:
    """Create an applicant account within the registration limit and queue the verification link and code.

    Shared by this JSON view and the registration page of the applicant's space (api/spaces/applicant.py).
    """
    conn = get_db()
    limit_registrations(conn, client_address(), current_app.config["URBASIG"].registrations_per_address_hour)
    keep_writes()  # the attempt counts even when refused below (the limit also slows probing for known addresses)
    account_id, check = create_account(conn, email, full_name, password)
    link = public_link(f"/notes/accounts/verify?token={check.token}")
    queue_mail(conn, normalized_email(email), "Vérifiez votre adresse — notes de renseignements",
               f"Bonjour,\n\nPour activer votre compte, ouvrez ce lien :\n{link}\n\nou saisissez ce code de "
               f"vérification : {check.code}\n\nLe lien et le code valent 48 heures.\n\nAgence urbaine de Casablanca",
               entity="account", entity_id=str(account_id))
    return account_id


@accounts.post("/accounts")
def register() -> tuple[Response, int]:
    """Create an applicant account and e-mail the verification link and code."""
    body = json_object()
    account_id = register_account(_text(body, "email"), _text(body, "full_name"), _text(body, "password"))
    return jsonify({"id": account_id, "message": "compte créé : un lien de vérification a été envoyé"}), 201


@accounts.get("/accounts/verify")
def verify() -> Response | tuple[str, int]:
    """Follow the e-mailed link: a page saying it worked or why not to a browser, JSON to a program."""
    if not prefers_html():
        verify_email(get_db(), request.args.get("token", ""))
        return jsonify({"message": "adresse vérifiée : vous pouvez vous connecter"})
    try:
        verify_email(get_db(), request.args.get("token", ""))
    except NotFound:
        return render_template("pages/email_verified.html", verified=False), 404
    return render_template("pages/email_verified.html", verified=True), 200


def verify_by_typed_code(email: str, code: str) -> None:
    """Verify an account by the code typed by hand; a failed guess counts even though the request is refused."""
    try:
        check_code(get_db(), email, code, current_app.config["URBASIG"].verify_code_attempts, client_address())
    except (InputError, TooManyRequests):
        keep_writes()  # the failed guess counts
        raise


@accounts.post("/accounts/verify")
def verify_by_code() -> Response:
    """Type the short code of the e-mail instead of following its link."""
    body = json_object()
    verify_by_typed_code(_text(body, "email"), _text(body, "code"))
    return jsonify({"message": "adresse vérifiée : vous pouvez vous connecter"})


def open_session(email: str, password: str) -> dict:
    """Sign in within the limits: a session in the database, its random id and a new form token in the cookie.

    Shared by this JSON view and the sign-in page (api/spaces/applicant.py); a refusal keeps its count and audit line.
    """
    s = current_app.config["URBASIG"]
    try:
        account, session_id = sign_in(get_db(), email, password, client_address(),
                                      SignInLimits(s.signin_per_account_hour, s.signin_per_address_hour,
                                                   s.session_hours))
    except (Unauthorized, Forbidden, TooManyRequests):
        keep_writes()  # the attempt's count and its audit line stay
        raise
    previous = session.get("sid")
    if isinstance(previous, str):  # signing in over a live session ends it: a copy of the old cookie stops working
        sign_out(get_db(), previous, client_address())
    new_session(session_id)  # the session id and a new form token for the spaces' pages
    g.pop("account", None)  # read again from the new session when asked
    return account


def close_session() -> None:
    """End this browser's session in the database (a copy of the cookie stops working) and clear the cookie."""
    session_id = session.get("sid")
    if isinstance(session_id, str):
        sign_out(get_db(), session_id, client_address())
    session.clear()
    g.pop("account", None)


@accounts.post("/session")
def sign_in_view() -> Response:
    """Sign in: a session in the database, its random id in the signed cookie."""
    body = json_object()
    account = open_session(_text(body, "email"), _text(body, "password"))
    return jsonify({"email": account["email"], "role": account["role"]})


@accounts.delete("/session")
def sign_out_view() -> Response:
    """Sign out: the session ends in the database, so a copy of the cookie no longer works."""
    close_session()
    return jsonify({"message": "déconnecté"})


@accounts.get("/payments")
@require_role("instructor", "admin")
def payments() -> Response:
    """Payments, for the agency's staff only."""
    return jsonify(recent_payments(get_db()))
