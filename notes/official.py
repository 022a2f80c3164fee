"""The official note: request → payment → automatic instruction → review → signature → e-mail → verification.

Every status change goes to the audit trail with its before and after. The instruction is stored with the
request (canonical JSON with its provenance), so the signed note can be re-verified and reproduced later.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from gis.errors import Conflict, Forbidden, InputError, NotFound
from instruction.engine import Options, instruct
from instruction.land import LandRequest, parse_refs
from layers.audit import audit
from layers.payments import create_order
from notes.indicative import IndicativeNote, map_for, pdf
from notes.mail import queue_mail
from notes.signing import SigningFiles, sign_pdf, verify_pdf

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
MAGIC = {b"%PDF": "application/pdf", b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg"}
STANDINGS = {"proprietaire": "propriétaire", "mandataire": "mandataire", "autre": "autre qualité"}


def document_type(name: str, data: bytes) -> str:
    """The content type of a supporting document, recognised by its first bytes (PDF, PNG, JPEG only)."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InputError(f"« {name} » dépasse {MAX_DOCUMENT_BYTES // (1024 * 1024)} Mo")
    for magic, kind in MAGIC.items():
        if data.startswith(magic):
            return kind
    raise InputError(f"« {name} » n'est ni un PDF ni une image PNG ou JPEG")


def _set_status(conn: psycopg.Connection, number: str, actor: str, new: str, **changes: object) -> dict:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT status, remarks, return_reason FROM note_requests WHERE number = %s FOR UPDATE",
                          (number,)).fetchone()
        if row is None:
            raise NotFound(f"demande inconnue : « {number} »")
        sets = ", ".join(f"{k} = %s" for k in changes)
        cur.execute(f"UPDATE note_requests SET status = %s, updated_at = now(){', ' + sets if sets else ''} "  # noqa: S608
                    "WHERE number = %s", (new, *changes.values(), number))
    after = {"status": new, **{k: v for k, v in changes.items() if isinstance(v, str | int | None)}}
    audit(conn, actor, f"note.{new}", "note_request", number, dict(row), after)
    return dict(row)


def create_request(conn: psycopg.Connection, applicant: dict, refs: list[str], standing: str,
                   documents: list[tuple[str, bytes]], fee_mad: str) -> tuple[str, str]:
    """A request for one or several titles with its documents and payment order: (number, order id)."""
    if standing not in STANDINGS:
        raise InputError(f"qualité du demandeur : {', '.join(STANDINGS)}")
    parsed = [r.normalized for r in parse_refs(tuple(refs))]
    if not parsed:
        raise InputError("au moins une référence foncière")
    known = {r[0] for r in conn.execute("SELECT land_ref FROM parcels WHERE land_ref = ANY(%s)", (parsed,))}
    missing = [r for r in parsed if r not in known]
    if missing:
        raise NotFound(f"titre(s) inconnu(s) : {', '.join(missing)}")
    if not documents:
        raise InputError("joignez au moins une pièce justificative (PDF ou image)")
    kinds = [(name, document_type(name, data), data) for name, data in documents]
    with conn.transaction():
        seq = conn.execute("SELECT nextval('note_number_seq')").fetchone()[0]
        number = f"NRU-{date.today().year}-{seq:06d}"
        short = secrets.token_hex(4).upper()
        request_id = conn.execute(
            "INSERT INTO note_requests (number, short_code, applicant_id, refs, standing, fee_mad) "
            "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (number, short, applicant["id"], parsed, standing, Decimal(fee_mad))).fetchone()[0]
        for name, kind, data in kinds:
            conn.execute("INSERT INTO note_documents (request_id, filename, content_type, size, data) "
                         "VALUES (%s, %s, %s, %s, %s)", (request_id, name[:200], kind, len(data), data))
        order_id = create_order(conn, number, Decimal(fee_mad), applicant["email"])
        conn.execute("UPDATE note_requests SET order_id = %s WHERE id = %s", (order_id, request_id))
        audit(conn, applicant["email"], "note.demandee", "note_request", number, None,
              {"refs": parsed, "standing": standing, "documents": len(kinds)})
    return number, order_id


def on_payment(conn: psycopg.Connection, order_id: str, options: Options) -> str | None:
    """After a paid callback: instruct the request's land and store the result (None if no request)."""
    row = conn.execute("SELECT r.number, r.refs, p.status FROM note_requests r JOIN payments p "
                       "ON p.order_id = r.order_id WHERE r.order_id = %s", (order_id,)).fetchone()
    if row is None or row[2] != "payee":
        return None
    number, refs, _ = row
    with conn.transaction():
        _set_status(conn, number, "passerelle", "payee")
        result = instruct(conn, LandRequest(refs=tuple(refs)), None,
                          Options(options.max_land_area_m2, options.apply_plans_in_inquiry, True))
        _set_status(conn, number, "instruction-automatique", "instruite", instruction=Jsonb(result))
    return number


def review(conn: psycopg.Connection, number: str, instructor: dict, accept: bool, text: str | None) -> None:
    """An instructor accepts (with remarks) or returns the request (with a reason the applicant sees)."""
    status = conn.execute("SELECT status FROM note_requests WHERE number = %s", (number,)).fetchone()
    if status is None:
        raise NotFound(f"demande inconnue : « {number} »")
    if status[0] != "instruite":
        raise Conflict(f"la demande est « {status[0]} » : seule une demande instruite se révise")
    with conn.transaction():
        if accept:
            _set_status(conn, number, instructor["email"], "acceptee", remarks=text)
        else:
            if not text:
                raise InputError("indiquez le motif du retour : le demandeur le verra")
            _set_status(conn, number, instructor["email"], "retournee", return_reason=text)


@dataclass(frozen=True)
class Delivery:
    """Where the signed note goes."""

    base_url: str
    signing: SigningFiles


def sign_and_send(conn: psycopg.Connection, number: str, signatory: dict, delivery: Delivery) -> bytes:
    """Render the official PDF from the stored instruction, sign it (PAdES), store it, queue the e-mail."""
    with conn.cursor(row_factory=dict_row) as cur:
        req = cur.execute("SELECT r.*, a.full_name, a.email FROM note_requests r JOIN accounts a "
                          "ON a.id = r.applicant_id WHERE r.number = %s", (number,)).fetchone()
    if req is None:
        raise NotFound(f"demande inconnue : « {number} »")
    if req["status"] != "acceptee":
        raise Conflict(f"la demande est « {req['status']} » : seule une demande acceptée se signe")
    result = req["instruction"]
    official = {"number": number, "short_code": req["short_code"], "requested_on": req["created_at"].date(),
                "verify_url": f"{delivery.base_url}/verify/{req['short_code']}", "applicant": req["full_name"],
                "standing": STANDINGS[req["standing"]]}
    note = IndicativeNote(result, map_for(conn, result), datetime.now().replace(microsecond=0))
    signed = sign_pdf(pdf(note, official), delivery.signing, reason=f"Note de renseignements {number}")
    with conn.transaction():
        _set_status(conn, number, signatory["email"], "signee", signed_pdf=signed,
                    pdf_sha256=hashlib.sha256(signed).hexdigest(), signed_by=signatory["id"], signed_at=datetime.now())
        queue_mail(conn, req["email"], f"Votre note de renseignements {number}",
                   f"Bonjour {req['full_name']},\n\nVeuillez trouver ci-joint la note de renseignements urbanistiques "
                   f"{number}, signée électroniquement.\nVérification : {official['verify_url']}\n\n"
                   "Agence urbaine de Casablanca", signed, f"{number}.pdf", "note_request", number)
        _set_status(conn, number, "messagerie", "envoyee")
    return signed


def verify(conn: psycopg.Connection, trust: list[Path], code: str | None = None, data: bytes | None = None,
           options: Options | None = None) -> dict:
    """What the public verification page says, from a short code or an uploaded PDF."""
    if data is not None:
        check = verify_pdf(data, trust)
        digest = hashlib.sha256(data).hexdigest()
        row = conn.execute("SELECT number FROM note_requests WHERE pdf_sha256 = %s", (digest,)).fetchone()
        number = row[0] if row else None
    elif code:
        row = conn.execute("SELECT number, signed_pdf FROM note_requests WHERE short_code = %s AND signed_pdf IS NOT NULL",
                           (code.strip().upper(),)).fetchone()
        if row is None:
            raise NotFound("code de vérification inconnu")
        number = row[0]
        check = verify_pdf(bytes(row[1]), trust)
    else:
        raise InputError("envoyez le PDF ou saisissez le code de vérification")
    out = {"signature_valid": check.valid, "document_unchanged": check.intact and check.whole_document,
           "trusted_signer": check.trusted, "signer": check.signer,
           "signed_at": check.signed_at.isoformat() if check.signed_at else None, "number": number}
    if number:
        with conn.cursor(row_factory=dict_row) as cur:
            req = cur.execute("SELECT refs, instruction, signed_at FROM note_requests WHERE number = %s",
                              (number,)).fetchone()
        stored = req["instruction"]
        out.update(land=req["refs"], issued_on=req["signed_at"].date().isoformat(),
                   zones=[{"code": r["zone"]["code"], "share_pct": r["share_pct"], "plan": r["zone"]["plan"]}
                          for r in stored["rules"]], plans=[p["code"] for p in stored["plans"]["applied"]])
        today = instruct(conn, LandRequest(refs=tuple(req["refs"])), None, options or Options())
        now = [(r["zone"]["code"], r["share_pct"]) for r in today["rules"]]
        then = [(r["zone"]["code"], r["share_pct"]) for r in stored["rules"]]
        out["plans_changed_since"] = now != then or [p["code"] for p in today["plans"]["applied"]] != out["plans"]
    return out


def owner_or_staff(account: dict, applicant_id: int) -> None:
    """Only the applicant or the agency's staff may see a request."""
    if account["role"] == "applicant" and account["id"] != applicant_id:
        raise Forbidden("cette demande n'est pas la vôtre")
