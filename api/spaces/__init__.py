"""The private spaces: one per actor of the official note, server-rendered pages in French and Arabic.

URL map (each space is one blueprint, one module, its templates under templates/spaces/<space>/, its texts in
messages/<space>.json, its CSS in static/css/spaces.css and its scripts in static/js/spaces-*.js):

| prefix           | who                   | module                     | pages                                        |
|------------------|-----------------------|----------------------------|----------------------------------------------|
| `/espace/`       | anyone, then applicant| api/spaces/applicant.py    | sign in/up, password reset, requests, pay    |
| `/instruction/`  | instructor            | api/spaces/instruction.py  | the queue, a request, its decision           |
| `/signature/`    | signatory             | api/spaces/signature.py    | accepted requests, preview, sign, delivery   |
| `/partenaire/`   | partner               | api/spaces/partner.py      | issued notes by title or number, download    |
| `/partenaire/couches` | partner, admin | api/spaces/partner_layers.py | its layers: create, upload, publish    |
| `/admin/`        | admin                 | api/spaces/admin.py        | accounts, keys, plans, journal, dashboard,   |
|                  |                       |                            | the outgoing mail (development)              |

Each role reaches only its own space (the sign-in page sends each to its home, `HOME`); another role's page
is a 403 page, an anonymous visit is sent to the sign-in page with `?suivant=` (the page to come back to).

Every form of these pages carries `{{ csrf_field() }}`: a per-session token (random, in the signed session
cookie, new at each sign-in) that every POST under these prefixes must send back (field `csrf`, or the header
`X-CSRF-Token` for a script's upload), else a 403 page; the Origin check of api/security.py also applies.
"""

from __future__ import annotations

import hmac
import secrets
from functools import wraps
from urllib.parse import quote, urlsplit

from flask import Flask, Response, current_app, redirect, request, session
from markupsafe import Markup, escape

from gis.errors import Forbidden

PREFIXES = ("/espace", "/instruction", "/signature", "/partenaire", "/admin")
HOME = {"applicant": "/espace/", "instructor": "/instruction/", "signatory": "/signature/",
        "partner": "/partenaire/", "admin": "/admin/"}
SIGN_IN = "/espace/connexion"
CSRF_KEY = "csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_REFUSED = ("formulaire refusé : son jeton de sécurité manque ou a expiré (la page est peut-être ancienne, "
                "ou vous vous êtes reconnecté depuis) ; rechargez la page et recommencez")


def csrf_token() -> str:
    """This session's form token (created on first use; new after each sign-in, see `new_session`)."""
    token = session.get(CSRF_KEY)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session[CSRF_KEY] = token
    return token


def csrf_field() -> Markup:
    """The hidden input every form of the spaces carries."""
    return Markup(f'<input type="hidden" name="{CSRF_KEY}" value="{escape(csrf_token())}">')


def new_session(session_id: str) -> None:
    """After a sign-in: the Flask session holds only the new session id and a new form token."""
    session.clear()
    session["sid"] = session_id
    session[CSRF_KEY] = secrets.token_urlsafe(32)


def in_spaces(path: str) -> bool:
    """Whether a path belongs to the spaces' pages."""
    return any(path == p or path.startswith(p + "/") for p in PREFIXES)


def check_csrf() -> None:
    """Refuse a state-changing request to the spaces without the session's form token (403)."""
    if request.method in ("GET", "HEAD", "OPTIONS") or not in_spaces(request.path):
        return
    expected = session.get(CSRF_KEY)
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_KEY, "")
    if not isinstance(expected, str) or not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden(CSRF_REFUSED)


def no_store(response: Response) -> Response:
    """The spaces' pages hold personal data (requests, accounts, mail, reset tokens): never kept by a cache nor
    shown again from the browser's history after sign-out."""
    if in_spaces(request.path):
        response.headers["Cache-Control"] = "private, no-store"
    return response


def safe_next(target: str | None, default: str) -> str:
    """A `?suivant=` target only when it is a path of this site (no open redirect to another host)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def public_page(view):
    """Mark a page of the spaces that anyone may open (sign in, register, password reset): tests/test_spaces_access.py
    checks every other page of the spaces is guarded by `page_for`."""
    view.public_page = True
    return view


def page_for(*roles: str):
    """Allow a page to signed-in accounts whose role is one of `roles`.

    Anonymous: a 303 to the sign-in page, which comes back here after; another role: a 403 page (the boundary
    renders it), which names the person's own space.
    """
    from api.accounts import current_account

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            account = current_account()
            if not account:
                back = request.full_path if request.query_string else request.path
                return redirect(f"{SIGN_IN}?suivant={quote(back, safe='/')}", code=303)
            if account["role"] not in roles:
                raise Forbidden(f"page réservée à un autre rôle : votre espace est {HOME[account['role']]}")
            return view(*args, **kwargs)

        wrapper.page_roles = roles  # read by tests/test_spaces_access.py
        return wrapper

    return decorate


def nav_for(account: dict | None) -> list[tuple[str, str]]:
    """The links of the spaces' header for this account: (message key, path)."""
    if account is None:
        return [("spaces.nav.sign_in", SIGN_IN), ("spaces.nav.register", "/espace/inscription")]
    return {
        "applicant": [("spaces.nav.my_requests", "/espace/"), ("spaces.nav.new_request", "/espace/demandes/nouvelle")],
        "instructor": [("spaces.nav.queue", "/instruction/")],
        "signatory": [("spaces.nav.to_sign", "/signature/")],
        "partner": [("spaces.nav.issued", "/partenaire/"), ("spaces.nav.layers", "/partenaire/couches")],
        "admin": [("spaces.nav.dashboard", "/admin/"), ("spaces.nav.accounts", "/admin/comptes"),
                  ("spaces.nav.keys", "/admin/cles"), ("spaces.nav.plans", "/admin/plans"),
                  ("spaces.nav.journal", "/admin/journal"), ("spaces.nav.mail", "/admin/courriels"),
                  ("spaces.nav.partner_layers", "/partenaire/couches")],
    }[account["role"]]


def register_spaces(app: Flask) -> None:
    """The CSRF check, the template helpers, and every space's blueprint."""
    from api.accounts import current_account
    from api.spaces import admin, applicant, instruction, partner, partner_layers, signature

    app.before_request(check_csrf)
    app.after_request(no_store)

    @app.context_processor
    def _spaces_globals() -> dict[str, object]:
        return {"csrf_field": csrf_field, "csrf_token": csrf_token, "space_nav": lambda: nav_for(current_account()),
                "current_account": current_account, "space_home": HOME,
                "dev_mode": current_app.config["URBASIG"].development}

    for module in (applicant, instruction, signature, partner, partner_layers, admin):
        app.register_blueprint(module.bp)
