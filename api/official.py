"""Official notes over HTTP: requests with documents, review, signature, download, public verification."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from api.accounts import current_account, require_role
from api.db import get_db, keep_writes
from api.inputs import field, json_object
from api.negotiation import prefers_html
from api.security import public_link
from gis.errors import InputError, UrbasigError
from layers import note_requests, payments
from layers.ratelimit import hit
from notes.official import (
    Delivery,
    cancel,
    create_request,
    owner_or_staff,
    reinstruct,
    resubmit,
    review,
    sign_and_send,
    verify,
)
from notes.payment import Order
from notes.signing import signing_material, trust_roots

official = Blueprint("official", __name__)


def verify_roots() -> list:
    """The roots notes verify against (no signing set-up: no TSA needed, nothing created)."""
    return trust_roots(current_app.config["URBASIG"])


@official.post("/notes/requests")
@require_role("applicant")
def new_request() -> tuple[Response, int]:
    """Request an official note (multipart: refs, standing, documents)."""
    refs = [r.strip() for value in request.form.getlist("refs") for r in value.split(";") if r.strip()]
    documents = [(f.filename or "document", f.read()) for f in request.files.getlist("documents")]
    settings = current_app.config["URBASIG"]
    account = current_account()
    number, order_id = create_request(get_db(), account, refs, request.form.get("standing", ""), documents,
                                      settings.note_fee_mad)
    return jsonify({"number": number, "order_id": order_id, "amount_mad": settings.note_fee_mad,
                    "payment": payment_form(order_id)}), 201


def payment_form(order_id: str) -> dict:
    """The gateway's address and the signed order fields the applicant's browser posts there."""
    settings = current_app.config["URBASIG"]
    back = public_link(f"/notes/payments/return/{order_id}")  # the browser comes back here, paid or not
    order = Order(order_id, settings.note_fee_mad, public_link("/notes/payments/callback"), back, back)
    return {"url": settings.payment_gateway_url, "fields": order.fields(settings.payment_secret)}


@official.get("/notes/payments/return/<order_id>")
def payment_return(order_id: str) -> str:
    """Where the gateway sends the browser back: the outcome read from the database, never applied from here.

    Only the gateway's server-to-server callback applies a payment; whatever this address is sent is ignored.
    An order still open (declined, or not confirmed yet) gets the payment form again.
    """
    status, number, request_status = payments.payment_status(get_db(), order_id)
    form = payment_form(order_id) if status != "payee" and request_status != "annulee" else None
    return render_template("notes/payment_return.html", status=status, number=number, form=form,
                           request_label=note_requests.label(request_status) if request_status else None)


@official.post("/notes/requests/<number>/resubmit")
@require_role("applicant")
def request_resubmit(number: str) -> Response:
    """Resubmit a returned request, with more documents (multipart `documents`, optional)."""
    from instruction.engine import Options

    s = current_app.config["URBASIG"]
    documents = [(f.filename or "document", f.read()) for f in request.files.getlist("documents")]
    status = resubmit(get_db(), number, current_account(), documents,
                      Options.from_settings(s))
    return jsonify({"number": number, "status": status, "status_label": note_requests.label(status)})


@official.post("/notes/requests/<number>/instruct")
@require_role("instructor", "admin")
def request_instruct(number: str) -> Response:
    """Run the automatic instruction again on a paid request whose instruction failed."""
    from instruction.engine import Options

    status = reinstruct(get_db(), number, current_account(), Options.from_settings(current_app.config["URBASIG"]),
                        keep_writes)
    return jsonify({"number": number, "status": status, "status_label": note_requests.label(status)})


@official.post("/notes/requests/<number>/cancel")
@require_role("applicant", "admin")
def request_cancel(number: str) -> Response:
    """Cancel a request waiting for payment or returned."""
    cancel(get_db(), number, current_account())
    return jsonify({"number": number, "status": "annulee", "status_label": note_requests.label("annulee")})


@official.get("/notes/requests")
@require_role("instructor", "signatory", "admin")
def review_queue() -> Response:
    """The agency's queue: requests by status (default: instructed, waiting for review)."""
    status = request.args.get("status", "instruite")
    if status not in note_requests.STATUSES:
        raise InputError(f"statut inconnu « {status} » (statuts : {', '.join(note_requests.STATUSES)})")
    return jsonify([{"number": r["number"], "refs": r["refs"], "status": r["status"],
                     "status_label": note_requests.label(r["status"]), "requested_at": r["created_at"].isoformat(),
                     "updated_at": r["updated_at"].isoformat()} for r in note_requests.queue(get_db(), status)])


@official.get("/notes/requests/<number>")
@require_role("applicant", "instructor", "signatory", "admin")
def request_status(number: str) -> Response:
    """Status of a request (the applicant sees the reason of a return)."""
    row = note_requests.summary(get_db(), number)
    owner_or_staff(current_account(), row.pop("applicant_id"), note_requests.UNKNOWN.format(number=number))
    return jsonify({"number": number, **row, "status_label": note_requests.label(row["status"])})


@official.get("/notes/requests/<number>/pdf")
@require_role("applicant", "instructor", "signatory", "admin")
def request_pdf(number: str) -> Response:
    """The signed note, from the applicant's space."""
    applicant_id, signed = note_requests.signed_pdf(get_db(), number)
    owner_or_staff(current_account(), applicant_id, note_requests.NOT_SIGNED)
    return Response(signed, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{number}.pdf"'})


@official.post("/notes/requests/<number>/review")
@require_role("instructor", "admin")
def request_review(number: str) -> Response:
    """Accept (with remarks) or return (with a reason)."""
    body = json_object()
    accept = field(body, "accept", bool, required=True)
    status = review(get_db(), number, current_account(), accept, field(body, "text", str, max_len=5000))
    return jsonify({"number": number, "status": status, "status_label": note_requests.label(status)})


@official.post("/notes/requests/<number>/sign")
@require_role("signatory", "admin")
def request_sign(number: str) -> Response:
    """Sign and send."""
    files, ltv = signing_material(current_app.config["URBASIG"])
    sign_and_send(get_db(), number, current_account(), Delivery(public_link(""), files, ltv))
    return jsonify({"number": number, "status": "envoyee", "status_label": note_requests.label("envoyee")})


def _verify_page(code: str | None = None, data: bytes | None = None) -> tuple[str, int]:
    """The verification page with its outcome; a code or file that cannot be checked is said on the same page."""
    from api.i18n import current_lang
    from api.pages import status_text

    try:
        result = _verified(code, data)
    except UrbasigError as exc:
        if exc.status >= 500:
            raise  # the boundary's page: the database is down, not the note
        return render_template("notes/verify.html", result=None, error=exc.message,
                               error_title=status_text("title", exc.status, current_lang())), exc.status
    return render_template("notes/verify.html", result=result, **_verify_moments(result)), 200


def _verified(code: str | None, data: bytes | None) -> dict:
    from instruction.engine import Options

    settings = current_app.config["URBASIG"]
    if data is not None:  # each upload costs a signature validation: counted per address, as indicative notes
        hit(get_db(), "verify-upload", request.remote_addr or "inconnu", settings.verify_uploads_per_minute,
            what="fichiers déposés")
        keep_writes()  # the count stays when the file is refused
    return verify(get_db(), verify_roots(), code=code, data=data, options=Options.from_settings(settings),
                  max_revisions=settings.verify_max_revisions)


@official.get("/verify/<code>")
def verify_code(code: str) -> Response | tuple[str, int]:
    """Public verification by short code (the note's QR code): the page to a browser, JSON to a program."""
    if prefers_html():
        return _verify_page(code=code)
    return jsonify(_verified(code, None))


@official.get("/verify")
def verify_page() -> str:
    """The public verification page: type the code or upload the PDF."""
    return render_template("notes/verify.html", result=None)


def _verify_moments(result: dict) -> dict:
    """The verification's ISO date and timestamp (kept as such in the JSON) as dates a person reads."""
    from datetime import date, datetime

    issued = result.get("issued_on")
    signed = result.get("signed_at")
    return {"issued_day": date.fromisoformat(issued) if issued else None,
            "signed_moment": datetime.fromisoformat(signed) if signed else None}


@official.post("/verify")
def verify_upload() -> Response | tuple[str, int]:
    """Public verification of an uploaded PDF (or a code typed in the form); the page with f=html (the form's)."""
    upload = request.files.get("pdf")
    data = upload.read() if upload and upload.filename else None
    code = request.form.get("code") or None
    if request.form.get("f") == "html" or prefers_html():
        return _verify_page(code=code, data=data)
    return jsonify(_verified(code, data))
