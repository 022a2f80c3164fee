"""Official notes over HTTP: requests with documents, review, signature, download, public verification."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, render_template, request, session

from api.accounts import require_role
from gis.errors import InputError, NotFound
from layers.db import pooled
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
    with pooled(current_app.extensions["urbasig.pool"]) as conn:
        number, order_id = create_request(conn, account, refs, request.form.get("standing", ""), documents,
                                          settings.note_fee_mad)
    order = Order(order_id, settings.note_fee_mad, f"{_base()}/notes/payments/callback",
                  f"{_base()}/notes/requests/{number}", f"{_base()}/notes/requests/{number}")
    return jsonify({"number": number, "order_id": order_id, "amount_mad": settings.note_fee_mad,
                    "payment": {"url": settings.payment_gateway_url, "fields": order.fields(settings.payment_secret)}}), 201


def _request_row(conn, number: str) -> dict:
    row = conn.execute("SELECT applicant_id, status, remarks, return_reason, refs, signed_pdf IS NOT NULL "
                       "FROM note_requests WHERE number = %s", (number,)).fetchone()
    if row is None:
        raise NotFound(f"demande inconnue : « {number} »")
    return {"applicant_id": row[0], "status": row[1], "remarks": row[2], "return_reason": row[3], "refs": row[4],
            "signed": row[5]}


@official.get("/notes/requests")
@require_role("instructor", "signatory", "admin")
def review_queue() -> Response:
    """The agency's queue: requests by status (default: instructed, waiting for review)."""
    status = request.args.get("status", "instruite")
    with pooled(current_app.extensions["urbasig.pool"]) as conn:
        rows = conn.execute("SELECT number, refs, status, created_at, updated_at FROM note_requests WHERE status = %s "
                            "ORDER BY updated_at LIMIT 500", (status,)).fetchall()
    return jsonify([{"number": r[0], "refs": r[1], "status": r[2], "requested_at": r[3].isoformat(),
                     "updated_at": r[4].isoformat()} for r in rows])


@official.get("/notes/requests/<number>")
@require_role("applicant", "instructor", "signatory", "admin")
def request_status(number: str) -> Response:
    """Status of a request (the applicant sees the reason of a return)."""
    with pooled(current_app.extensions["urbasig.pool"]) as conn:
        row = _request_row(conn, number)
    owner_or_staff(session["account"], row.pop("applicant_id"))
    return jsonify({"number": number, **row})


@official.get("/notes/requests/<number>/pdf")
@require_role("applicant", "instructor", "signatory", "admin")
def request_pdf(number: str) -> Response:
    """The signed note, from the applicant's space."""
    with pooled(current_app.extensions["urbasig.pool"]) as conn:
        row = conn.execute("SELECT applicant_id, signed_pdf FROM note_requests WHERE number = %s",
                           (number,)).fetchone()
    if row is None or row[1] is None:
        raise NotFound("note signée introuvable")
    owner_or_staff(session["account"], row[0])
    return Response(bytes(row[1]), mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{number}.pdf"'})


@official.post("/notes/requests/<number>/review")
@require_role("instructor", "admin")
def request_review(number: str) -> Response:
    """Accept (with remarks) or return (with a reason)."""
    body = request.get_json(silent=True) or {}
    if not isinstance(body.get("accept"), bool):
        raise InputError("« accept » (vrai ou faux) est obligatoire")
    with pooled(current_app.extensions["urbasig.pool"]) as conn:
        review(conn, number, session["account"], body["accept"], body.get("text"))
    return jsonify({"number": number, "status": "acceptee" if body["accept"] else "retournee"})


@official.post("/notes/requests/<number>/sign")
@require_role("signatory", "admin")
def request_sign(number: str) -> Response:
    """Sign and send."""
    with pooled(current_app.extensions["urbasig.pool"]) as conn:
        sign_and_send(conn, number, session["account"], Delivery(_base(), signing_files()))
    return jsonify({"number": number, "status": "envoyee"})


@official.get("/verify/<code>")
def verify_code(code: str) -> Response:
    """Public verification by short code."""
    from instruction.engine import Options

    s = current_app.config["URBASIG"]
    with pooled(current_app.extensions["urbasig.pool"]) as conn:
        return jsonify(verify(conn, [signing_files().ca], code=code,
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
    with pooled(current_app.extensions["urbasig.pool"]) as conn:
        result = verify(conn, [signing_files().ca], code=request.form.get("code") or None, data=data,
                        options=Options(s.max_land_area_m2, s.apply_plans_in_inquiry))
    if request.form.get("f") == "html":
        return Response(render_template("notes/verify.html", result=result))
    return jsonify(result)
