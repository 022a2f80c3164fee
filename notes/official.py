"""The official note: request → payment → automatic instruction → review → signature → e-mail → verification.

Every status change goes to the audit trail with its before and after. The instruction is stored with the
request (canonical JSON with its provenance), so the signed note can be re-verified and reproduced later.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg

from gis import l10n
from gis.errors import Conflict, Forbidden, InputError, NotFound, UrbasigError
from instruction.engine import Options, instruct
from instruction.land import LandRequest, parse_refs
from layers import note_requests
from layers.audit import audit
from layers.db import interruptible, past_deadline
from layers.outbox import queue_mail
from layers.parcels import find_parcels
from layers.payments import apply_callback, create_order
from notes.envelope import with_envelope
from notes.indicative import IndicativeNote, map_for, pdf
from notes.payment import read_callback
from notes.signing import (
    MAX_REVISIONS,
    Ltv,
    SigningFiles,
    SigningRefused,
    Verification,
    refresh_ltv,
    revision_ends,
    sign_pdf,
    verify_pdf,
)

log = logging.getLogger(__name__)
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
MAGIC = {b"%PDF": "application/pdf", b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg"}


def document_type(name: str, data: bytes) -> str:
    """The content type of a supporting document, recognised by its first bytes (PDF, PNG, JPEG only)."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InputError(f"« {name} » dépasse {MAX_DOCUMENT_BYTES // (1024 * 1024)} Mo")
    for magic, kind in MAGIC.items():
        if data.startswith(magic):
            return kind
    raise InputError(f"« {name} » n'est ni un PDF ni une image PNG ou JPEG")


def create_request(conn: psycopg.Connection, applicant: dict, refs: list[str], standing: str,
                   documents: list[tuple[str, bytes]], fee_mad: str) -> tuple[str, str]:
    """A request for one or several titles with its documents and payment order: (number, order id)."""
    if standing not in note_requests.STANDINGS:
        raise InputError(f"qualité du demandeur : {', '.join(note_requests.STANDINGS)}")
    wanted = parse_refs(tuple(refs))
    if not wanted:
        raise InputError("au moins une référence foncière")
    parsed = [r.normalized for r in wanted]
    known = {p["land_ref"] for p in find_parcels(conn, wanted)}
    missing = [r for r in parsed if r not in known]
    if missing:
        raise NotFound(f"titre(s) inconnu(s) : {', '.join(missing)}")
    if not documents:
        raise InputError("joignez au moins une pièce justificative (PDF ou image)")
    kinds = [(name, document_type(name, data), data) for name, data in documents]
    with conn.transaction():
        _, number = note_requests.create(conn, applicant["id"], parsed, standing, Decimal(fee_mad), kinds,
                                         secrets.token_hex(4).upper())
        order_id = create_order(conn, number, Decimal(fee_mad), applicant["email"])
        note_requests.attach_order(conn, number, order_id)
        audit(conn, applicant["email"], "note.demandee", "note_request", number, None,
              {"refs": parsed, "standing": standing, "documents": len(kinds)})
    return number, order_id


def _nothing() -> None:
    """No commit in between (outside HTTP requests the caller commits once)."""


def receive_callback(conn: psycopg.Connection, fields: dict[str, str], secret: str, options: Options,
                     keep: Callable[[], None] = _nothing) -> str:
    """Check and apply a gateway callback; a newly paid request is instructed at once. Returns the outcome.

    400 when the fields are not a callback (an order's fields are not), 403 when the gateway did not sign them,
    404 / 409 for an unknown order or another amount; nothing is written then. `keep` commits what is written so
    far (api/db.py keep_writes): the payment is stored before the instruction runs, whatever becomes of it.
    """
    callback = read_callback(fields, secret)
    outcome = apply_callback(conn, callback.order_id, callback.transaction_id, callback.approved, callback.amount,
                             callback.currency, callback.return_code)
    if outcome == "payee":
        on_payment(conn, callback.order_id, options, keep)
    return outcome


def on_payment(conn: psycopg.Connection, order_id: str, options: Options, keep: Callable[[], None] = _nothing) -> str | None:
    """After a paid callback: mark the request paid, instruct its land, store the result (None if no request).

    The payment (its attempt, the order paid, the request « payée », their audit lines) is kept (`keep`) before
    the instruction runs: an instruction that fails or overruns the time budget leaves the request paid, with the
    failure audited, and the gateway is still told the payment is applied. A request cancelled before the
    payment arrived keeps its status, and the payment is audited for a refund.
    """
    found = note_requests.for_order(conn, order_id)
    if found is None or found[2] != "payee":
        return None
    number, refs, _ = found
    try:
        note_requests.transition(conn, number, "payee", "passerelle", only_from=frozenset({"attente_paiement"}))
    except Conflict as exc:
        audit(conn, "passerelle", "note.paiement_a_rembourser", "note_request", number, None,
              {"order": order_id, "message": exc.message})
        return number
    keep()
    _instruct(conn, number, refs, options, keep)
    return number


def _instruct(conn: psycopg.Connection, number: str, refs: list[str], options: Options,
              keep: Callable[[], None] = _nothing) -> UrbasigError | None:
    """Run the automatic instruction of a paid request (payée → instruite); a failure is audited and returned.

    Its writes are a savepoint, rolled back on failure (a timeout included: the statement cancelled, or Python
    interrupted), so the request's transaction goes on; the failure's audit line may be written after the
    request's budget is spent (`past_deadline`) and is kept at once.
    """
    try:
        with conn.transaction():
            with interruptible():  # its geometry, rules and envelope (its statements are never interrupted)
                result = with_envelope(conn, instruct(conn, LandRequest(refs=tuple(refs)), None,
                                                      replace(options, with_geometry=True)), options)
            note_requests.transition(conn, number, "instruite", "instruction-automatique", instruction=result)
    except UrbasigError as exc:
        log.warning("instruction automatique de %s impossible : %s", number, exc.message)
        with past_deadline():
            audit(conn, "instruction-automatique", "note.instruction_echec", "note_request", number, None,
                  {"code": exc.code, "message": exc.message})
            keep()
        return exc
    return None


def review(conn: psycopg.Connection, number: str, instructor: dict, accept: bool, text: str | None) -> str:
    """An instructor accepts (with remarks) or returns the request (with a reason the applicant sees)."""
    if accept:
        note_requests.transition(conn, number, "acceptee", instructor["email"], remarks=text)
        return "acceptee"
    if not text:
        raise InputError("indiquez le motif du retour : le demandeur le verra")
    note_requests.transition(conn, number, "retournee", instructor["email"], return_reason=text)
    return "retournee"


def resubmit(conn: psycopg.Connection, number: str, applicant: dict, documents: list[tuple[str, bytes]],
             options: Options) -> str:
    """The applicant resubmits a returned request (with more documents): already paid, it is instructed again."""
    summary = note_requests.summary(conn, number)  # its titles do not change with a resubmission
    owner_or_staff(applicant, summary["applicant_id"], note_requests.UNKNOWN.format(number=number))
    kinds = [(name, document_type(name, data), data) for name, data in documents]
    with conn.transaction():
        note_requests.transition(conn, number, "payee", applicant["email"], only_from=frozenset({"retournee"}),
                                 return_reason=None)
        note_requests.add_documents(conn, number, kinds)
    return "payee" if _instruct(conn, number, summary["refs"], options) else "instruite"


def reinstruct(conn: psycopg.Connection, number: str, staff: dict, options: Options,
               keep: Callable[[], None] = _nothing) -> str:
    """Staff run the automatic instruction again on a paid request whose instruction failed (payée → instruite).

    Audited `note.instruction_relancee` (who asked), then as the automatic one; the row is locked meanwhile, so
    two staff members asking at once instruct it once (the second gets a 409). A new failure is audited and
    kept, then raised (its own status: 409, 404, 503…).
    """
    status = note_requests.locked_status(conn, number)
    _require_status(number, status, "payee", "dont l'instruction automatique a échoué s'instruit à nouveau")
    audit(conn, staff["email"], "note.instruction_relancee", "note_request", number, {"status": status}, None)
    failure = _instruct(conn, number, note_requests.summary(conn, number)["refs"], options, keep)
    if failure is not None:
        raise failure
    return "instruite"


def _require_status(number: str, status: str | None, wanted: str, what: str) -> None:
    """404 for an unknown request, 409 unless it is in `wanted` (`what`: what only such a request does)."""
    if status is None:
        raise NotFound(note_requests.UNKNOWN.format(number=number))
    if status != wanted:
        raise Conflict(f"la demande {number} est « {note_requests.label(status)} » : seule une demande « "
                       f"{note_requests.label(wanted)} » {what}")


def cancel(conn: psycopg.Connection, number: str, account: dict) -> None:
    """The applicant (or an administrator) cancels a request waiting for payment or returned; an administrator
    also one paid but stuck « payée ». Cancelling a paid request is audited `note.paiement_a_rembourser`."""
    owner_or_staff(account, note_requests.summary(conn, number)["applicant_id"], note_requests.UNKNOWN.format(number=number))
    if account["role"] not in ("applicant", "admin"):
        raise Forbidden("seul le demandeur ou un administrateur peut annuler une demande")
    sources = note_requests.allowed_from("annulee") if account["role"] == "admin" else note_requests.APPLICANT_CANCELS
    previous = note_requests.transition(conn, number, "annulee", account["email"], only_from=sources)
    if previous in note_requests.PAID:
        audit(conn, account["email"], "note.paiement_a_rembourser", "note_request", number, {"status": previous},
              {"status": "annulee"})


@dataclass(frozen=True)
class Delivery:
    """Where the signed note goes, and what signs it (PAdES B-LTA with `ltv`: a TSA, the revocation data)."""

    base_url: str
    signing: SigningFiles
    ltv: Ltv | None = None


def sign_and_send(conn: psycopg.Connection, number: str, signatory: dict, delivery: Delivery) -> bytes:
    """Render the official PDF from the stored instruction, sign it (PAdES), store it, queue the e-mail.

    The request is claimed first (acceptée → signée, one statement), so two signatories cannot both sign it;
    everything is in the caller's transaction: a failure while rendering or signing leaves it acceptée.
    """
    with conn.transaction():
        note_requests.transition(conn, number, "signee", signatory["email"], signed_by=signatory["id"],
                                 signed_at=datetime.now())
        rendered = _official_pdf(conn, number, delivery.base_url)
        req, result, note = rendered.request, rendered.note.result, rendered.note
        signed = sign_pdf(rendered.pdf, delivery.signing, reason=f"Note de renseignements {number}", ltv=delivery.ltv)
        queue_mail(conn, req["email"], f"Votre note de renseignements {number}",
                   f"Bonjour {req['full_name']},\n\nVeuillez trouver ci-joint la note de renseignements urbanistiques "
                   f"{number}, signée électroniquement le {l10n.long_datetime(note.issued_at)} (situation au "
                   f"{l10n.long_date(datetime.fromisoformat(result['date']).date())}).\n"
                   f"Vérification : {rendered.verify_url}\n\n"
                   "Agence urbaine de Casablanca", signed, f"{number}.pdf", "note_request", number)
        digest = hashlib.sha256(signed).hexdigest()
        note_requests.transition(conn, number, "envoyee", signatory["email"], signed_pdf=signed, pdf_sha256=digest)
        _record(conn, number, digest, verify_pdf(signed, delivery.signing.trust_roots))
    return signed


def _record(conn: psycopg.Connection, number: str, digest: str, check: Verification) -> None:
    note_requests.record_version(conn, number, digest, check.level, check.refresh_by)


@dataclass(frozen=True)
class Refreshed:
    """What `refresh_notes` did: the notes given a new archive timestamp, those it could not (with why), and
    how many stay due: `remaining` (past `max_notes`), `skipped` (refused in the last days, tried again later)."""

    done: list[str]
    refused: list[tuple[str, str]]
    remaining: int = 0
    skipped: int = 0


def refresh_notes(conn: psycopg.Connection, signing: SigningFiles, ltv: Ltv, before: datetime, actor: str,
                  numbers: list[str] | None = None, max_notes: int | None = None) -> Refreshed:
    """Add today's revocation data and an archive timestamp to the issued notes due before `before` (or `numbers`).

    Each note in its own transaction (give an autocommit connection): an incremental update of the stored PDF
    (earlier copies keep verifying and are still found by their digest), its new version recorded and audited.
    The most urgent first, page after page until nothing is due (or `max_notes` were tried). A note that does
    not verify today is left as it is, reported with the reason and remembered (skipped for a while, so refused
    notes never starve the others); an unknown number is reported, never stops the batch.
    """
    done: list[str] = []
    refused: list[tuple[str, str]] = []
    seen: set[str] = set()
    while max_notes is None or len(seen) < max_notes:
        page = numbers if numbers is not None else note_requests.due_for_refresh(conn, before, seen=seen)
        page = [n for n in page if n not in seen][:None if max_notes is None else max_notes - len(seen)]
        if not page:
            break
        for number in page:
            seen.add(number)
            try:
                _refresh_one(conn, signing, ltv, number, actor)
            except UrbasigError as exc:
                refused.append((number, exc.message))
                if isinstance(exc, SigningRefused):  # not an unknown number nor a concurrent change
                    note_requests.refresh_refused(conn, number, exc.message)
                continue
            done.append(number)
        if numbers is not None:
            break
    remaining, skipped = (0, 0) if numbers is not None else note_requests.due_count(conn, before, seen)
    return Refreshed(done, refused, remaining, skipped)


def _refresh_one(conn: psycopg.Connection, signing: SigningFiles, ltv: Ltv, number: str, actor: str) -> None:
    """One note's refresh, stored only when the refreshed PDF verifies (refresh_ltv refuses otherwise)."""
    _, pdf = note_requests.signed_pdf(conn, number)
    refreshed = refresh_ltv(pdf, signing, ltv)
    old, digest = hashlib.sha256(pdf).hexdigest(), hashlib.sha256(refreshed).hexdigest()
    check = verify_pdf(refreshed, signing.trust_roots)
    previous = verify_pdf(pdf, signing.trust_roots).level
    with conn.transaction():
        if not note_requests.replace_pdf(conn, number, old, refreshed, digest):
            raise Conflict("la note a changé pendant le rafraîchissement : relancez la commande")
        note_requests.record_version(conn, number, old, previous, None)
        _record(conn, number, digest, check)
        audit(conn, actor, "note.horodatage_archive", "note_request", number, {"pdf_sha256": old},
              {"pdf_sha256": digest, "niveau": check.level,
               "rafraichir_avant": check.refresh_by.isoformat() if check.refresh_by else None})


@dataclass(frozen=True)
class _Rendered:
    """The official PDF before its signature, and what it was rendered from."""

    pdf: bytes
    request: dict
    note: IndicativeNote
    verify_url: str


def _official_pdf(conn: psycopg.Connection, number: str, base_url: str) -> _Rendered:
    """The official note of a request as it will be signed: from its stored instruction, unsigned."""
    req = note_requests.for_signing(conn, number)
    result = req["instruction"]
    official = {"number": number, "short_code": req["short_code"],
                "requested_on": l10n.local(req["created_at"]).date(),  # the day on the agency's clock
                "verify_url": f"{base_url}/verify/{req['short_code']}", "applicant": req["full_name"],
                "standing": note_requests.STANDINGS[req["standing"]]}
    note = IndicativeNote(result, map_for(conn, result), datetime.now(UTC).replace(microsecond=0))
    return _Rendered(pdf(note, official), req, note, official["verify_url"])


PREVIEW_MARK = "APERÇU - NON SIGNÉ, SANS VALEUR OFFICIELLE"


def preview_pdf(conn: psycopg.Connection, number: str, base_url: str) -> bytes:
    """The note of an accepted request as the signatory will sign it, unsigned and stamped as a preview on each page.

    404 when unknown, 409 when it is not « acceptée » (not reviewed yet, or already signed: its note is issued).
    """
    _require_status(number, note_requests.status_of(conn, number), "acceptee", "a un aperçu de la note à signer")
    return _stamped(_official_pdf(conn, number, base_url).pdf, PREVIEW_MARK)


def _stamped(document: bytes, mark: str) -> bytes:
    """The PDF with `mark` framed at the top of every page (an incremental update, no signature)."""
    import io

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.text import TextBoxStyle
    from pyhanko.stamp import TextStamp, TextStampStyle

    writer = IncrementalPdfFileWriter(io.BytesIO(document))
    style = TextStampStyle(stamp_text=mark, border_width=3, background_opacity=0,
                           text_box_style=TextBoxStyle(font_size=16))
    for page in range(int(writer.root["/Pages"]["/Count"])):
        TextStamp(writer, style).apply(page, 90, 800)  # centred in the top margin of an A4 page
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def verify(conn: psycopg.Connection, trust: list[Path], code: str | None = None, data: bytes | None = None,
           options: Options | None = None, max_revisions: int = MAX_REVISIONS) -> dict:
    """What the public verification page says, from a short code or an uploaded PDF."""
    additions = False
    if data is not None:
        data, additions = _issued_version(conn, data)
        with interruptible():  # pure Python on an upload: the request's budget may stop it
            check = verify_pdf(data, trust, max_revisions=max_revisions)
        number = note_requests.number_by_digest(conn, hashlib.sha256(data).hexdigest())
    elif code:
        number, signed = note_requests.signed_by_code(conn, code.strip().upper())
        with interruptible():
            check = verify_pdf(signed, trust, max_revisions=max_revisions)
    else:
        raise InputError("envoyez le PDF ou saisissez le code de vérification")
    out = {"signature_valid": check.valid, "document_unchanged": check.intact and check.whole_document and not additions,
           "trusted_signer": check.trusted, "signer": check.signer, **long_term(check), "number": number,
           "unverified_additions": ADDITIONS if additions else None}
    if number:
        req = note_requests.issued(conn, number)
        stored = req["instruction"]
        out.update(land=req["refs"], issued_on=req["signed_at"].date().isoformat(),
                   zones=[{"code": r["zone"]["code"], "share_pct": r["share_pct"], "plan": r["zone"]["plan"]}
                          for r in stored["rules"]], plans=[p["code"] for p in stored["plans"]["applied"]])
        try:
            today = instruct(conn, LandRequest(refs=tuple(req["refs"])), None, options or Options())
        except (Conflict, NotFound) as exc:  # the signature still verifies; only today's comparison cannot be made
            out["plans_changed_since"] = None
            out["plans_changed_reason"] = exc.message
            return out
        now = [(r["zone"]["code"], r["share_pct"]) for r in today["rules"]]
        then = [(r["zone"]["code"], r["share_pct"]) for r in stored["rules"]]
        out["plans_changed_since"] = now != then or [p["code"] for p in today["plans"]["applied"]] != out["plans"]
    return out


ADDITIONS = "ajouts non vérifiables après la version délivrée"


def _issued_version(conn: psycopg.Connection, data: bytes) -> tuple[bytes, bool]:
    """The upload itself when it is a version we issued, else its longest prefix that is one (with True: what
    follows was added by someone else, and is not what we vouch for — a CRL or timestamp of anyone's making)."""
    if note_requests.known_versions(conn, [hashlib.sha256(data).hexdigest()]):
        return data, False
    ends = revision_ends(data)
    digests = {hashlib.sha256(data[:end]).hexdigest(): end for end in ends}
    known = note_requests.known_versions(conn, list(digests))
    if not known:
        return data, False
    return data[:max(digests[d] for d in known)], True


def long_term(check: Verification) -> dict:
    """The long-term part of a verification, as JSON: trusted time, signer valid then, revocation data, archive."""
    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {"signed_at": iso(check.signed_at), "signed_at_source": "horodatage" if check.timestamped else "signataire",
            "signer_valid_then": check.trusted, "pades_level": check.level,
            "revocation_embedded": check.revocation_embedded, "signer_revoked_at": iso(check.revoked_at),
            "archive_timestamps": [{"at": iso(a.at), "tsa": a.tsa, "valid_until": iso(a.valid_until)}
                                   for a in check.archive],
            "refresh_by": iso(check.refresh_by), "problem": check.problem}


STAFF_SEES_REQUESTS = frozenset({"instructor", "signatory", "admin"})


def owner_or_staff(account: dict, applicant_id: int, missing: str) -> None:
    """Only the applicant or the agency's staff may see a request; to anyone else it is missing (`missing`).

    Answering 404 with the same message as for a request that does not exist (never a 403) tells nobody
    which request numbers exist.
    """
    if account["role"] in STAFF_SEES_REQUESTS:
        return
    if account["role"] != "applicant" or account["id"] != applicant_id:  # a partner sees issued notes only
        raise NotFound(missing)
