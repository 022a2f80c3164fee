"""The admin's space (/admin/): dashboard, accounts and roles, partner keys, plan statuses, journal, mail.

Each form posts, the view calls one function of layers/ inside a savepoint (a refusal writes nothing, not even
half of it), then redirects to the page with a message; a refusal the person can fix in the form is said on
that form's page with its 4xx status. The partner key is the exception: it is shown once in the answer to its
form (never stored, never put in a cookie), so that answer is the page itself, not a redirect.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request
from markupsafe import Markup, escape

from api.accounts import current_account
from api.db import get_db
from api.i18n import current_lang, t
from api.spaces import page_for
from api.spaces.charts import figures
from gis import l10n
from gis.dates import read_day
from gis.errors import InputError, NotFound, UrbasigError
from instruction import vocabulary as vocab
from layers import apikeys, indicators, journal, staff_accounts
from layers.accounts import ROLES, STAFF_ROLES
from layers.audit import audit
from layers.plan_terms import PLAN_STATUSES
from layers.plans import list_plans, record_new_status

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _today() -> date:
    return l10n.local(datetime.now(UTC)).date()


def _refused(action: Callable[[], object]) -> UrbasigError | None:
    """Run a change in a savepoint: None when done, the refusal (4xx, rolled back) when refused; 5xx go up."""
    try:
        with get_db().transaction():
            action()
    except UrbasigError as exc:
        if exc.status >= 500:
            raise
        return exc
    return None


def _attempt(action: Callable[[], object], done: str, back: str) -> Response:
    """Run a change in a savepoint; flash what happened (its French refusal when refused) and go back (303)."""
    refusal = _refused(action)
    flash(refusal.message if refusal else done, "ko" if refusal else "ok")
    return redirect(back, code=303)


def _id(text: str, what: str) -> int:
    """A row's number in a path (the URL map takes any text, so a bad one is a French 404 of ours)."""
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise NotFound(f"{what} inconnu : « {text[:40]} »")
    return int(text)


# ------------------------------------------------------------------------------------------------ dashboard
def _period(today: date) -> indicators.Period:
    args = request.args
    start = read_day(args["du"], "du") if args.get("du") else None
    end = read_day(args["au"], "au") if args.get("au") else None
    if start is None and end is None:
        return indicators.Period.last_days(today)
    end = end or today
    return indicators.Period.checked(start or indicators.Period.last_days(end).start, end)


@bp.get("/")
@page_for("admin")
def home() -> tuple[str, int]:
    """The dashboard of the agency's indicators over a period (default: the last 30 days)."""
    today, error = _today(), None
    try:
        period = _period(today)
    except InputError as exc:
        period, error = indicators.Period.last_days(today), exc.message
    board = indicators.dashboard(get_db(), period)
    return render_template("spaces/admin/home.html", board=board, figures=figures(board, current_lang()),
                           error=error, form=request.args), 400 if error else 200


# ------------------------------------------------------------------------------------------------- accounts
def _accounts_page(status: int = 200, form: dict | None = None, error: str | None = None) -> tuple[str, int]:
    q = request.args.get("q", "")
    everyone = request.args.get("tous") == "1"
    rows = staff_accounts.list_accounts(get_db(), q, everyone)
    return render_template("spaces/admin/accounts.html", accounts=rows, q=q, everyone=everyone, roles=ROLES,
                           staff_roles=STAFF_ROLES, me=current_account(), form=form or {}, error=error), status


@bp.get("/comptes")
@page_for("admin")
def accounts() -> tuple[str, int]:
    """Staff and partner accounts (applicants too on demand), the form to create one."""
    return _accounts_page()


@bp.post("/comptes")
@page_for("admin")
def account_create() -> Response | tuple[str, int]:
    """Create a verified staff or partner account."""
    f = request.form
    if f.get("password", "") != f.get("password2", f.get("password", "")):
        return _accounts_page(400, dict(f), t("admin.accounts.password_mismatch"))
    refusal = _refused(lambda: staff_accounts.create_staff(
        get_db(), current_account(), f.get("email", ""), f.get("full_name", ""), f.get("role", ""),
        f.get("password", ""), f.get("organisation") or None))
    if refusal:
        return _accounts_page(refusal.status, {k: v for k, v in f.items() if not k.startswith("password")},
                              refusal.message)
    flash(t("admin.accounts.created", email=f.get("email", "").strip().lower()), "ok")
    return redirect("/admin/comptes", code=303)


@bp.post("/comptes/<account_id>/role")
@page_for("admin")
def account_role(account_id: str) -> Response:
    """Give an account another role."""
    role, key = request.form.get("role", ""), _id(account_id, "compte")
    return _attempt(lambda: staff_accounts.change_role(get_db(), current_account(), key, role,
                                                       request.form.get("organisation")),
                    t("admin.accounts.role_changed", role=t(f"spaces.role.{role}") if role in ROLES else role),
                    "/admin/comptes")


@bp.post("/comptes/<account_id>/etat")
@page_for("admin")
def account_state(account_id: str) -> Response:
    """Switch an account off (its sessions end) or on again."""
    enable, key = request.form.get("etat") == "actif", _id(account_id, "compte")
    return _attempt(lambda: staff_accounts.set_enabled(get_db(), current_account(), key, enable),
                    t("admin.accounts.enabled" if enable else "admin.accounts.disabled"), "/admin/comptes")


# ----------------------------------------------------------------------------------------------------- keys
def _keys_page(status: int = 200, new_key: str | None = None, name: str = "",
               error: str | None = None, organisation: str = "") -> tuple[str, int]:
    return render_template("spaces/admin/keys.html", keys=apikeys.list_keys(get_db()), new_key=new_key, name=name,
                           error=error, organisation=organisation), status


@bp.get("/cles")
@page_for("admin")
def keys() -> tuple[str, int]:
    """Partner API keys (their names and dates, never the keys) and the form to create one."""
    return _keys_page()


@bp.post("/cles")
@page_for("admin")
def key_create() -> Response | tuple[str, int]:
    """Create a partner key and show it once, in this answer only (not cached, not kept)."""
    name = request.form.get("name", "").strip()
    organisation = request.form.get("organisation", "").strip()
    created: list[str] = []

    def create() -> None:
        if not name or len(name) > 100:
            raise InputError(t("admin.keys.name_required"))
        created.append(apikeys.create_key(get_db(), name, organisation or None))
        audit(get_db(), current_account()["email"], "cle_api.creee", "api_key", name, None,
              {"name": name, "organisation": organisation or None})

    refusal = _refused(create)
    if refusal:
        return _keys_page(refusal.status, name=name, error=refusal.message, organisation=organisation)
    page, _ = _keys_page(new_key=created[0], name=name)
    return Response(page, status=201, headers={"Cache-Control": "no-store"})


@bp.post("/cles/revocation")
@page_for("admin")
def key_revoke() -> Response:
    """Revoke a partner key (by its name)."""
    name = request.form.get("name", "")

    def revoke() -> None:
        apikeys.revoke_key(get_db(), name)
        audit(get_db(), current_account()["email"], "cle_api.revoquee", "api_key", name, {"revoked": False},
              {"revoked": True})

    return _attempt(revoke, t("admin.keys.revoked", name=name), "/admin/cles")


# ---------------------------------------------------------------------------------------------------- plans
def _plans_page(status: int = 200, failed: str | None = None, error: str | None = None,
                form: dict | None = None) -> tuple[str, int]:
    lang = current_lang()
    return render_template("spaces/admin/plans.html", plans=list_plans(get_db(), _today()), statuses=PLAN_STATUSES,
                           status_label=lambda s: vocab.label("status", s, lang),
                           kind_label=lambda k: vocab.label("plan_kind", k, lang),
                           failed=failed, error=error, form=form or {}), status


@bp.get("/plans")
@page_for("admin")
def plans() -> tuple[str, int]:
    """Plan versions with their status today, and a form per plan to record a new status."""
    return _plans_page()


@bp.post("/plans/<code>/statut")
@page_for("admin")
def plan_status(code: str) -> Response | tuple[str, int]:
    """Record a new status of a plan version (homologation: the act, its date, the entry into force)."""
    f = request.form

    def record() -> None:
        day = read_day(f.get("date", ""), t("admin.plans.date"))
        start = read_day(f["in_force_from"], t("admin.plans.in_force_from")) if f.get("in_force_from") else None
        record_new_status(get_db(), current_account()["email"], code, f.get("status", ""), day,
                          f.get("act", "").strip() or None, in_force_from=start)

    refusal = _refused(record)
    if refusal:
        return _plans_page(refusal.status, code, refusal.message, dict(f))
    flash(t("admin.plans.recorded", code=code, status=vocab.label("status", f.get("status"), current_lang())), "ok")
    return redirect(f"/admin/plans#plan-{code}", code=303)


# -------------------------------------------------------------------------------------------------- journal
@bp.get("/journal")
@page_for("admin")
def trail() -> tuple[str, int]:
    """The audit trail of a note (?numero=) or of another entity (?entite=&id=), and the chain's verification."""
    number = request.args.get("numero", "").strip()
    entity = "note_request" if number else request.args.get("entite", "")
    entity_id = number or request.args.get("id", "").strip()
    error, lines = None, None
    if entity_id:
        if entity not in journal.ENTITIES:
            error = t("admin.journal.unknown_entity")
        else:
            lines = journal.trail(get_db(), entity, entity_id)
    chain = journal.chain_status(get_db())
    return render_template("spaces/admin/journal.html", lines=lines, entity=entity, entity_id=entity_id,
                           number=number, entities=journal.ENTITIES, chain=chain, error=error), 400 if error else 200


# ----------------------------------------------------------------------------------------------------- mail
_LINK = re.compile(r"https?://[^\s<>\"']+")


def linked(body: str) -> Markup:
    """A mail's text, escaped, its addresses made links (the text is shown as written, lines kept)."""
    out, last = [], 0
    for match in _LINK.finditer(body):
        out.append(escape(body[last:match.start()]))
        url = match.group(0).rstrip(".,;:)")
        out.append(Markup('<a href="{0}">{0}</a>').format(url))
        last = match.start() + len(url)
    out.append(escape(body[last:]))
    return Markup("").join(out)


@bp.get("/courriels")
@page_for("admin")
def mail() -> str:
    """The outgoing mail: recipient, subject, state, attempts, error (bodies readable in development)."""
    return render_template("spaces/admin/mail.html", messages=journal.recent_mail(get_db()))


@bp.get("/courriels/<message_id>")
@page_for("admin")
def mail_message(message_id: str) -> str:
    """One message; its body (links clickable) in development only: in production it holds people's links."""
    message = journal.mail(get_db(), _id(message_id, "courriel"))
    if message is None:
        raise NotFound(f"courriel inconnu : n° {message_id}")
    development = current_app.config["URBASIG"].development
    return render_template("spaces/admin/mail_message.html", message=message,
                           body=linked(message["body"]) if development else None)
