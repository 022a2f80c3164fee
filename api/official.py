"""Official notes over HTTP: requests with documents, review, signature, download, public verification."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, render_template, request, session

from api.accounts import require_role
from api.db import get_db
from api.inputs import field, json_object
from gis.errors import InputError
from layers import note_requests
from notes.official import Delivery, create_request, owner_or_staff, review, sign_and_send, verify
from notes.payment import Order
from notes.signing import SigningFiles, ensure_dev_ca

official = Blueprint("official", __name__)


def signing_files() -> SigningFiles:
    """The configured key and certificates, or the local development CA (no legal value)."""
    s = current_app.config["URBASIG"]
    if s.signing_key and s.signing_cert and s.signing_ca:
        return SigningFiles(Path(s.signing_key), Path(s.signing_cert), Path(s.signing_ca))
    return ensure_dev_ca(Path(s.var_dir) / "signing")


def _base() -> str:
    return request.url_root.rstrip("/")


@official.post("/notes/requests")
@require_role("applicant")
def new_request() -> tuple[Response, int]:
    """Request an official note (multipart: refs, standing, documents)."""
    refs = [r.strip() for value in request.form.getlist("refs") for r in value.split(";") if r.strip()]
    documents = [(f.filename or "document", f.read()) for f in request.files.getlist("documents")]
    settings = current_app.config["URBASIG"]
    account = session["account"]
    number, order_id = create_request(get_db(), account, refs, request.form.get("standing", ""), documents,
                                      settings.note_fee_mad)
    order = Order(order_id, settings.note_fee_mad, f"{_base()}/notes/payments/callback",
                  f"{_base()}/notes/requests/{number}", f"{_base()}/notes/requests/{number}")
    return jsonify({"number": number, "order_id": order_id, "amount_mad": settings.note_fee_mad,
                    "payment": {"url": settings.payment_gateway_url, "fields": order.fields(settings.payment_secret)}}), 201


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
    owner_or_staff(session["account"], row.pop("applicant_id"))
    return jsonify({"number": number, **row, "status_label": note_requests.label(row["status"])})


@official.get("/notes/requests/<number>/pdf")
@require_role("applicant", "instructor", "signatory", "admin")
def request_pdf(number: str) -> Response:
    """The signed note, from the applicant's space."""
    applicant_id, signed = note_requests.signed_pdf(get_db(), number)
    owner_or_staff(session["account"], applicant_id)
    return Response(signed, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{number}.pdf"'})


@official.post("/notes/requests/<number>/review")
@require_role("instructor", "admin")
def request_review(number: str) -> Response:
    """Accept (with remarks) or return (with a reason)."""
    body = json_object()
    accept = field(body, "accept", bool, required=True)
    status = review(get_db(), number, session["account"], accept, field(body, "text", str, max_len=5000))
    return jsonify({"number": number, "status": status, "status_label": note_requests.label(status)})


@official.post("/notes/requests/<number>/sign")
@require_role("signatory", "admin")
def request_sign(number: str) -> Response:
    """Sign and send."""
    sign_and_send(get_db(), number, session["account"], Delivery(_base(), signing_files()))
    return jsonify({"number": number, "status": "envoyee", "status_label": note_requests.label("envoyee")})


@official.get("/verify/<code>")
def verify_code(code: str) -> Response:
    """Public verification by short code."""
    from instruction.engine import Options

    s = current_app.config["URBASIG"]
    return jsonify(verify(get_db(), [signing_files().ca], code=code,
                          options=Options(s.max_land_area_m2, s.apply_plans_in_inquiry)))


@official.get("/verify")
def verify_page() -> str:
    """The public verification page: type the code or upload the PDF."""
    return render_template("notes/verify.html", result=None)


@official.post("/verify")
def verify_upload() -> Response:
    """Public verification of an uploaded PDF (or a code typed in the form); HTML with f=html."""
    from instruction.engine import Options

    s = current_app.config["URBASIG"]
    upload = request.files.get("pdf")
    data = upload.read() if upload and upload.filename else None
    result = verify(get_db(), [signing_files().ca], code=request.form.get("code") or None, data=data,
                    options=Options(s.max_land_area_m2, s.apply_plans_in_inquiry))
    if request.form.get("f") == "html":
        return Response(render_template("notes/verify.html", result=result))
    return jsonify(result)
