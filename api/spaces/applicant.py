"""The applicant's space (/espace/): sign in and up, password reset, requests for official notes, payment.

The sign-in page serves every role (each is sent to its own space, or back to a safe `suivant`). Every view
parses the form, calls one function of api/accounts.py, notes/official.py or layers/, and renders: a success
is a 303 to a page with a flash message; a refusal re-renders the form with the typed values, the French
message and its 4xx status (so the request's transaction is rolled back and nothing is written, the counts
of the rate limits aside). Another applicant's request is missing (404), never forbidden.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request

from api.accounts import (
    client_address,
    close_session,
    current_account,
    open_session,
    register_account,
    verify_by_typed_code,
)
from api.db import get_db, keep_writes
from api.i18n import t
from api.official import payment_form, request_pdf
from api.security import public_link
from api.spaces import HOME, SIGN_IN, page_for, public_page, safe_next
from gis.errors import InputError, NotFound, UrbasigError
from layers import applicant_requests, note_requests
from layers.accounts import reset_password, reset_password_valid, start_reset
from layers.outbox import queue_mail
from notes.official import MAX_DOCUMENT_BYTES, cancel, create_request, owner_or_staff, resubmit

bp = Blueprint("applicant", __name__, url_prefix="/espace")

MAX_DOCUMENTS = 5  # per form: each up to notes.official's MAX_DOCUMENT_BYTES
UPLOAD_LIMIT_BYTES = MAX_DOCUMENTS * MAX_DOCUMENT_BYTES + 256 * 1024  # the documents and the form's fields
REQUEST_PAGE = "/espace/demandes/{number}"
FORGOT = "/espace/mot-de-passe-oublie"
VERIFY = "/espace/verification"
UPLOAD_ENDPOINTS = frozenset({"applicant.new_request", "applicant.resubmit_view"})
UPLOAD_HEADER = "X-Requested-With"  # spaces-upload.js sends it: a success answers 201 + Location, not a 303


@bp.url_value_preprocessor
def _upload_limit(endpoint: str | None, values: dict | None) -> None:
    """The forms that send documents may be larger than the app's 5 MB: set before any hook reads the form.

    Flask runs the URL value preprocessors before every `before_request` (the CSRF and input checks read the
    form), so a too-large document is refused by notes.official with its name, on the form, not by a bare 413.
    """
    if endpoint in UPLOAD_ENDPOINTS and request.method == "POST":
        request.max_content_length = UPLOAD_LIMIT_BYTES


def _form(name: str, max_chars: int = 4000) -> str:
    """A text field of the posted form ("" when absent), bounded so that a page never echoes a huge value."""
    value = request.form.get(name, "")
    if len(value) > max_chars:
        raise InputError(f"champ « {name} » trop long : {max_chars} caractères au plus")
    return value


def _with(path: str, **args: str) -> str:
    """A page of the space with its query (the empty values left out)."""
    query = urlencode({k: v for k, v in args.items() if v})
    return f"{path}?{query}" if query else path


def _done(target: str, message: str) -> Response:
    """After a successful POST: the flash message, then a 303 to `target` (201 + Location for the upload script)."""
    flash(message, "ok")
    if request.headers.get(UPLOAD_HEADER) == "XMLHttpRequest":
        return Response(status=201, headers={"Location": target})
    return redirect(target, code=303)


def _refused(template: str, exc: UrbasigError, **values: object) -> tuple[str, int, dict[str, str]]:
    """The form again with the back end's French message and its status (5xx are the boundary's)."""
    if exc.status >= 500:
        raise exc
    headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s is not None else {}
    return render_template(template, error=exc.message, **values), exc.status, headers


# ------------------------------------------------------------------ sign in, sign out (every role)
@bp.route("/connexion", methods=["GET", "POST"])
@public_page
def sign_in_page() -> Response | str | tuple[str, int, dict[str, str]]:
    """Sign in: each role to its own space, or back to the page it came from (`suivant`, when on this site)."""
    after = request.values.get("suivant", "")
    if request.method == "GET":
        account = current_account()
        if account:
            return redirect(safe_next(after, HOME[account["role"]]), code=303)
        return render_template("spaces/applicant/sign_in.html", email=request.args.get("adresse", ""), after=after)
    email = _form("email", 320)
    try:
        account = open_session(email, _form("password", 1024))
    except UrbasigError as exc:
        return _refused("spaces/applicant/sign_in.html", exc, email=email, after=after)
    return _done(safe_next(after, HOME[account["role"]]), t("applicant.sign_in.welcome", name=account["full_name"]))


@bp.post("/deconnexion")
@public_page
def sign_out_page() -> Response:
    """Sign out: the session ends in the database; back to the sign-in page."""
    close_session()
    return _done(SIGN_IN, t("applicant.sign_out.done"))


# ------------------------------------------------------------------ registration and e-mail verification
@bp.route("/inscription", methods=["GET", "POST"])
@public_page
def register_page() -> Response | str | tuple[str, int, dict[str, str]]:
    """Create an applicant account: the verification link and code go by e-mail."""
    after = safe_next(request.values.get("suivant"), "")  # the page that sent here (the panel's request form)
    if request.method == "GET":
        return render_template("spaces/applicant/register.html", full_name="", email="", after=after)
    full_name, email = _form("full_name", 200), _form("email", 320)
    try:
        if _form("password", 1024) != _form("password2", 1024):
            raise InputError("les deux mots de passe saisis diffèrent : saisissez le même deux fois")
        register_account(email, full_name, _form("password", 1024))
    except UrbasigError as exc:
        return _refused("spaces/applicant/register.html", exc, full_name=full_name, email=email, after=after)
    return _done(_with(VERIFY, adresse=email.strip(), suivant=after), t("applicant.register.sent", email=email.strip()))


@bp.route("/verification", methods=["GET", "POST"])
@public_page
def verify_page() -> Response | str | tuple[str, int, dict[str, str]]:
    """Check your mail: follow its link, or type its six-digit code here."""
    after = safe_next(request.values.get("suivant"), "")
    if request.method == "GET":
        return render_template("spaces/applicant/verify.html", email=request.args.get("adresse", ""), after=after)
    email = _form("email", 320)
    try:
        verify_by_typed_code(email, _form("code", 32))
    except UrbasigError as exc:
        return _refused("spaces/applicant/verify.html", exc, email=email, after=after)
    return _done(_with(SIGN_IN, adresse=email.strip(), suivant=after), t("applicant.verify.done"))


# ------------------------------------------------------------------ forgotten password
def _send_reset_link(email: str, token: str) -> None:
    link = public_link(f"/espace/mot-de-passe/nouveau?token={token}")
    queue_mail(get_db(), email, "Nouveau mot de passe — notes de renseignements",
               "Bonjour,\n\nUne demande de nouveau mot de passe a été faite pour votre compte. Pour choisir un "
               f"nouveau mot de passe, ouvrez ce lien :\n{link}\n\nLe lien vaut une heure et ne sert qu'une fois. "
               "Si vous n'avez rien demandé, ignorez ce message : votre mot de passe actuel reste valable.\n\n"
               "Agence urbaine de Casablanca", entity="account")


@bp.route("/mot-de-passe-oublie", methods=["GET", "POST"])
@public_page
def forgot_page() -> Response | str | tuple[str, int, dict[str, str]]:
    """Ask for a reset link: the same answer whether the address has an account or not."""
    if request.method == "GET":
        return render_template("spaces/applicant/forgot.html", email="")
    email = _form("email", 320)
    try:
        started = start_reset(get_db(), email, client_address(),
                              current_app.config["URBASIG"].registrations_per_address_hour)
    except UrbasigError as exc:
        keep_writes()  # the refused request still counts
        return _refused("spaces/applicant/forgot.html", exc, email=email)
    if started:
        _send_reset_link(*started)
    return _done(SIGN_IN, t("applicant.forgot.sent", email=email.strip()))


@bp.route("/mot-de-passe/nouveau", methods=["GET", "POST"])
@public_page
def reset_page() -> Response | str | tuple[str, int, dict[str, str]]:
    """Choose a new password with the e-mailed link (once, within the hour); every session of the account ends."""
    token = request.values.get("token", "")
    if request.method == "GET":
        if not reset_password_valid(get_db(), token):
            return render_template("spaces/applicant/reset.html", token=None,
                                   error=t("applicant.reset.unknown")), 404
        return render_template("spaces/applicant/reset.html", token=token)
    try:
        if _form("password", 1024) != _form("password2", 1024):
            raise InputError("les deux mots de passe saisis diffèrent : saisissez le même deux fois")
        email = reset_password(get_db(), token, _form("password", 1024), client_address())
    except NotFound:
        return render_template("spaces/applicant/reset.html", token=None, error=t("applicant.reset.unknown")), 404
    except UrbasigError as exc:
        return _refused("spaces/applicant/reset.html", exc, token=token)
    return _done(_with(SIGN_IN, adresse=email), t("applicant.reset.done"))


# ------------------------------------------------------------------ the applicant's requests
@bp.get("/")
@page_for("applicant")
def home() -> str:
    """The applicant's requests and notes: status, titles, dates, what to do next."""
    rows = applicant_requests.own_requests(get_db(), current_account()["id"])
    return render_template("spaces/applicant/home.html", rows=rows, label=note_requests.label)


def _refs(text: str) -> list[str]:
    """The titles typed or brought from the map: one a line, or separated by « ; »."""
    return [ref.strip() for line in text.splitlines() for ref in line.split(";") if ref.strip()]


def _documents() -> list[tuple[str, bytes]]:
    """The files of the form's `documents` input (an input left empty sends none); at most MAX_DOCUMENTS."""
    files = [f for f in request.files.getlist("documents") if f.filename]
    if len(files) > MAX_DOCUMENTS:
        raise InputError(f"{MAX_DOCUMENTS} pièces au plus par envoi (vous en avez joint {len(files)})")
    return [(f.filename or "document", f.read()) for f in files]


def _new_form(**values: object) -> str:
    return render_template("spaces/applicant/new_request.html", standings=note_requests.STANDINGS,
                           max_documents=MAX_DOCUMENTS, max_mb=MAX_DOCUMENT_BYTES // (1024 * 1024), **values)


@bp.route("/demandes/nouvelle", methods=["GET", "POST"])
@page_for("applicant")
def new_request() -> Response | str | tuple[str, int, dict[str, str]]:
    """Request an official note for one or several titles, with the standing and the supporting documents."""
    if request.method == "GET":
        return _new_form(refs="\n".join(_refs(request.args.get("refs", ""))), standing="")
    refs, standing = _form("refs"), _form("standing", 40)
    try:
        number, _ = create_request(get_db(), current_account(), _refs(refs), standing, _documents(),
                                   current_app.config["URBASIG"].note_fee_mad)
    except UrbasigError as exc:
        return _refused("spaces/applicant/new_request.html", exc, refs=refs, standing=standing,
                        standings=note_requests.STANDINGS, max_documents=MAX_DOCUMENTS,
                        max_mb=MAX_DOCUMENT_BYTES // (1024 * 1024))
    return _done(REQUEST_PAGE.format(number=number), t("applicant.new.done", number=number))


def _own(number: str) -> dict:
    """The request if it is this applicant's (404 otherwise, the same as for a number that does not exist)."""
    row = applicant_requests.request_page(get_db(), number)
    owner_or_staff(current_account(), row.pop("applicant_id"), note_requests.UNKNOWN.format(number=number))
    return row


def _request_page(number: str, error: UrbasigError | None = None) -> str | tuple[str, int, dict[str, str]]:
    row = _own(number)
    values = {"r": row, "steps": applicant_requests.applicant_timeline(get_db(), number), "label": note_requests.label,
              "standings": note_requests.STANDINGS, "max_documents": MAX_DOCUMENTS,
              "max_mb": MAX_DOCUMENT_BYTES // (1024 * 1024),
              "pay": payment_form(row["order_id"]) if row["status"] == "attente_paiement" and row["order_id"] else None}
    if error is not None:
        return _refused("spaces/applicant/request.html", error, **values)
    return render_template("spaces/applicant/request.html", **values)


@bp.get("/demandes/<number>")
@page_for("applicant")
def request_view(number: str) -> str | tuple[str, int, dict[str, str]]:
    """One request: its timeline, and what can be done now (pay, answer a return, cancel, download)."""
    return _request_page(number)


@bp.post("/demandes/<number>/renvoi")
@page_for("applicant")
def resubmit_view(number: str) -> Response | str | tuple[str, int, dict[str, str]]:
    """Answer a return: more documents, and the request is instructed again (already paid)."""
    from instruction.engine import Options

    _own(number)  # another's request is missing before anything is read
    try:
        status = resubmit(get_db(), number, current_account(), _documents(),
                          Options.from_settings(current_app.config["URBASIG"]))
    except UrbasigError as exc:
        return _request_page(number, exc)
    return _done(REQUEST_PAGE.format(number=number), t("applicant.resubmit.done", label=note_requests.label(status)))


@bp.post("/demandes/<number>/annulation")
@page_for("applicant")
def cancel_view(number: str) -> Response | str | tuple[str, int, dict[str, str]]:
    """Cancel a request waiting for payment or returned."""
    _own(number)
    try:
        cancel(get_db(), number, current_account())
    except UrbasigError as exc:
        return _request_page(number, exc)
    return _done(REQUEST_PAGE.format(number=number), t("applicant.cancel.done", number=number))


@bp.get("/demandes/<number>/note.pdf")
@page_for("applicant")
def note_pdf(number: str) -> Response:
    """The signed note, for its applicant only (the JSON API's download: owner_or_staff over signed_pdf)."""
    return request_pdf(number)
