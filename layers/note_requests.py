"""Official note requests in the database: their statuses, the allowed transitions, and every query on them.

The workflow is data: `TRANSITIONS` says which status may follow which, and `transition` is the only code that
changes a status: one `UPDATE … WHERE number = %(number)s AND status = ANY(%(from)s) RETURNING …` (the statuses
the target may follow), so no status is checked in one statement and written in another. Two staff members
acting at once on one request: the second waits for the first's row lock, then matches nothing and gets a 409.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from gis.errors import Conflict, NotFound
from gis.l10n import LOCAL_ZONE
from layers.audit import audit

# Every status of a request, with the words a person reads; the CHECK constraint of note_requests.status holds
# exactly these keys (tested against the migrated database).
STATUSES = {
    "attente_paiement": "en attente de paiement",
    "payee": "payée",
    "instruite": "instruite, en attente de révision",
    "retournee": "retournée au demandeur",
    "acceptee": "acceptée, en attente de signature",
    "signee": "signée",
    "envoyee": "envoyée",
    "annulee": "annulée",
}
TRANSITIONS = {  # status → the statuses that may follow it
    "attente_paiement": {"payee", "annulee"},  # payment applied; cancelled by the applicant
    "payee": {"instruite", "annulee"},  # automatic instruction (again by staff after a failure); cancelled by an admin
    "instruite": {"acceptee", "retournee"},  # review
    "retournee": {"payee", "annulee"},  # resubmitted (already paid: instructed again); cancelled
    "acceptee": {"signee"},
    "signee": {"envoyee"},
    "envoyee": set(),
    "annulee": set(),
}
PAID = frozenset(STATUSES) - {"attente_paiement", "annulee"}  # a request in these was paid: cancelling it owes a refund
APPLICANT_CANCELS = frozenset({"attente_paiement", "retournee"})  # a paid request stuck « payée »: an administrator
STANDINGS = {"proprietaire": "propriétaire", "mandataire": "mandataire", "autre": "autre qualité"}  # CHECK too
CHANGEABLE = {"instruction", "remarks", "return_reason", "signed_pdf", "pdf_sha256", "signed_by", "signed_at"}
JSON_COLUMNS = {"instruction"}


UNKNOWN = "demande inconnue : « {number} »"  # also another applicant's request: no telling which exist
NOT_SIGNED = "note signée introuvable"


def label(status: str) -> str:
    """The French words for a status."""
    return STATUSES.get(status, status)


def create(conn: psycopg.Connection, applicant_id: int, refs: list[str], standing: str, fee_mad: Decimal,
           documents: list[tuple[str, str, bytes]], short_code: str) -> tuple[int, str]:
    """Store a new request and its documents (name, content type, bytes): (id, number NRU-year-000123)."""
    seq = conn.execute("SELECT nextval('note_number_seq')").fetchone()[0]
    number = f"NRU-{date.today().year}-{seq:06d}"
    request_id = conn.execute(
        "INSERT INTO note_requests (number, short_code, applicant_id, refs, standing, fee_mad) "
        "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (number, short_code, applicant_id, refs, standing, fee_mad)).fetchone()[0]
    _insert_documents(conn, request_id, documents)
    return request_id, number


def _insert_documents(conn: psycopg.Connection, request_id: int, documents: list[tuple[str, str, bytes]]) -> None:
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO note_documents (request_id, filename, content_type, size, data) "
                        "VALUES (%s, %s, %s, %s, %s)",
                        [(request_id, name[:200], kind, len(data), data) for name, kind, data in documents])


def add_documents(conn: psycopg.Connection, number: str, documents: list[tuple[str, str, bytes]]) -> None:
    """Add supporting documents (name, content type, bytes) to a request (a resubmission)."""
    row = conn.execute("SELECT id FROM note_requests WHERE number = %s", (number,)).fetchone()
    if row is None:
        raise NotFound(f"demande inconnue : « {number} »")
    _insert_documents(conn, row[0], documents)


def attach_order(conn: psycopg.Connection, number: str, order_id: str) -> None:
    """Link a request to its payment order."""
    conn.execute("UPDATE note_requests SET order_id = %s WHERE number = %s", (order_id, number))


def allowed_from(to_status: str) -> frozenset[str]:
    """The statuses a request may be in to move to `to_status`."""
    return frozenset(s for s, following in TRANSITIONS.items() if to_status in following)


def transition(conn: psycopg.Connection, number: str, to_status: str, actor: str, *,
               only_from: frozenset[str] | None = None, **changes: object) -> str:
    """Move a request to `to_status` (with column changes) in one statement, audit it; returns the status it left.

    The request must be in a status `to_status` may follow (narrowed by `only_from`): 404 when it does not
    exist, 409 when it is no longer in such a status. The row lock taken by the UPDATE is held until the
    caller's transaction ends, so a concurrent transition waits, then sees the new status.
    """
    sources = allowed_from(to_status) if only_from is None else only_from
    if not sources or not sources <= allowed_from(to_status):
        raise ValueError(f"transition non prévue : {sorted(sources)} → {to_status}")
    if set(changes) - CHANGEABLE:
        raise ValueError(f"colonnes non modifiables : {sorted(set(changes) - CHANGEABLE)}")
    sets = sql.SQL("").join(sql.SQL(", {} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in changes)
    # The CTE locks the row and reads the status it leaves (the latest one, after waiting for a concurrent writer).
    query = sql.SQL("WITH old AS (SELECT id, status FROM note_requests WHERE number = %(number)s FOR UPDATE) "
                    "UPDATE note_requests r SET status = %(to)s, updated_at = now(){sets} FROM old "
                    "WHERE r.id = old.id AND old.status = ANY(%(from)s) RETURNING old.status").format(sets=sets)
    values = {k: Jsonb(v) if k in JSON_COLUMNS else v for k, v in changes.items()}
    row = conn.execute(query, {"to": to_status, "number": number, "from": sorted(sources), **values}).fetchone()
    if row is None:
        current = status_of(conn, number)
        if current is None:
            raise NotFound(f"demande inconnue : « {number} »")
        wanted = " ou ".join(f"« {label(s)} »" for s in sorted(sources))
        raise Conflict(f"la demande {number} est « {label(current)} » : elle ne peut plus passer à "
                       f"« {label(to_status)} » (il faut une demande {wanted})")
    previous = row[0]
    after = {"status": to_status, **{k: v for k, v in changes.items() if isinstance(v, str | int | None)}}
    audit(conn, actor, f"note.{to_status}", "note_request", number, {"status": previous}, after)
    return previous


def locked_status(conn: psycopg.Connection, number: str) -> str | None:
    """The current status of a request, its row locked until the transaction ends (None when unknown)."""
    row = conn.execute("SELECT status FROM note_requests WHERE number = %s FOR UPDATE", (number,)).fetchone()
    return row[0] if row else None


def status_of(conn: psycopg.Connection, number: str) -> str | None:
    """The current status of a request (None when unknown)."""
    row = conn.execute("SELECT status FROM note_requests WHERE number = %s", (number,)).fetchone()
    return row[0] if row else None


def summary(conn: psycopg.Connection, number: str) -> dict:
    """What the applicant's space shows of a request (404 when unknown)."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT applicant_id, status, remarks, return_reason, refs, signed_pdf IS NOT NULL AS signed "
                          "FROM note_requests WHERE number = %s", (number,)).fetchone()
    if row is None:
        raise NotFound(UNKNOWN.format(number=number))
    return row


def queue(conn: psycopg.Connection, status: str, limit: int = 500) -> list[dict]:
    """The requests in a status, oldest change first (the agency's work queue)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT number, refs, status, created_at, updated_at FROM note_requests WHERE status = %s "
                           "ORDER BY updated_at LIMIT %s", (status, limit)).fetchall()


def signed_pdf(conn: psycopg.Connection, number: str) -> tuple[int, bytes]:
    """(applicant id, signed PDF) of a request (404 when unknown or not signed yet)."""
    row = conn.execute("SELECT applicant_id, signed_pdf FROM note_requests WHERE number = %s", (number,)).fetchone()
    if row is None or row[1] is None:
        raise NotFound(NOT_SIGNED)
    return row[0], bytes(row[1])


def for_order(conn: psycopg.Connection, order_id: str) -> tuple[str, list[str], str] | None:
    """(number, titles, payment status) of the request paid by an order, None when no request has it."""
    row = conn.execute("SELECT r.number, r.refs, p.status FROM note_requests r JOIN payments p "
                       "ON p.order_id = r.order_id WHERE r.order_id = %s", (order_id,)).fetchone()
    return (row[0], row[1], row[2]) if row else None


def for_signing(conn: psycopg.Connection, number: str) -> dict:
    """Everything the official PDF is rendered from: the request, its stored instruction, the applicant."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT r.number, r.short_code, r.standing, r.instruction, r.created_at, a.full_name, a.email "
                          "FROM note_requests r JOIN accounts a ON a.id = r.applicant_id WHERE r.number = %s",
                          (number,)).fetchone()
    if row is None:
        raise NotFound(UNKNOWN.format(number=number))
    return row


def number_by_digest(conn: psycopg.Connection, sha256_hex: str) -> str | None:
    """The number of the note whose signed PDF, now or in an earlier version, has this SHA-256."""
    row = conn.execute("SELECT number FROM note_requests WHERE pdf_sha256 = %(h)s UNION ALL "
                       "SELECT number FROM note_pdf_versions WHERE sha256 = %(h)s LIMIT 1", {"h": sha256_hex}).fetchone()
    return row[0] if row else None


def record_version(conn: psycopg.Connection, number: str, sha256_hex: str, level: str,
                   refresh_by: datetime | None) -> None:
    """Keep a version of an issued note's PDF: its digest, PAdES level and when to refresh it."""
    conn.execute("INSERT INTO note_pdf_versions (number, sha256, level, refresh_by) VALUES (%s, %s, %s, %s) "
                 "ON CONFLICT (sha256) DO NOTHING", (number, sha256_hex, level, refresh_by))


REFUSED_RETRY = "7 days"  # a note refresh-ltv could not refresh is tried again after this


def _due_sql(what: str) -> str:
    return (f"SELECT {what} FROM note_requests r LEFT JOIN LATERAL (SELECT v.refresh_by FROM note_pdf_versions v "
            "WHERE v.number = r.number AND v.sha256 = r.pdf_sha256) v ON true WHERE r.signed_pdf IS NOT NULL "
            "AND (v.refresh_by IS NULL OR v.refresh_by < %(before)s) "
            f"AND (r.ltv_refused_at IS NULL OR r.ltv_refused_at < now() - interval '{REFUSED_RETRY}') "
            "AND r.number <> ALL(%(seen)s)")


def due_for_refresh(conn: psycopg.Connection, before: datetime, limit: int = 1000,
                    seen: Iterable[str] = ()) -> list[str]:
    """Issued notes whose latest version must get an archive timestamp before `before` (or has none known).

    The most urgent first (the earliest `refresh_by`; unknown, i.e. never refreshed, last); notes refused in
    the last REFUSED_RETRY and those in `seen` (already handled by this run) are left out.
    """
    rows = conn.execute(_due_sql("r.number") + " ORDER BY v.refresh_by NULLS LAST, r.id LIMIT %(limit)s",
                        {"before": before, "seen": list(seen), "limit": limit}).fetchall()
    return [r[0] for r in rows]


def due_count(conn: psycopg.Connection, before: datetime, seen: Iterable[str] = ()) -> tuple[int, int]:
    """(notes still due and not in `seen`, notes due but skipped because refused recently)."""
    due = conn.execute(_due_sql("count(*)"), {"before": before, "seen": list(seen)}).fetchone()[0]
    skipped = conn.execute(
        "SELECT count(*) FROM note_requests WHERE signed_pdf IS NOT NULL AND ltv_refused_at >= now() - "
        f"interval '{REFUSED_RETRY}'").fetchone()[0]
    return due, skipped


def refresh_refused(conn: psycopg.Connection, number: str, reason: str) -> None:
    """Remember that refresh-ltv could not refresh this note (skipped for REFUSED_RETRY)."""
    conn.execute("UPDATE note_requests SET ltv_refused_at = now(), ltv_refused_reason = %s WHERE number = %s",
                 (reason, number))


def known_versions(conn: psycopg.Connection, digests: list[str]) -> set[str]:
    """The SHA-256 digests among `digests` that are versions of an issued note (now or earlier)."""
    rows = conn.execute("SELECT pdf_sha256 FROM note_requests WHERE pdf_sha256 = ANY(%(d)s) UNION "
                        "SELECT sha256 FROM note_pdf_versions WHERE sha256 = ANY(%(d)s)", {"d": digests}).fetchall()
    return {r[0] for r in rows}


def replace_pdf(conn: psycopg.Connection, number: str, old_sha256: str, pdf: bytes, sha256_hex: str) -> bool:
    """Store a refreshed PDF in place of the one it extends; False when that one changed meanwhile."""
    row = conn.execute("UPDATE note_requests SET signed_pdf = %s, pdf_sha256 = %s, updated_at = now(), "
                       "ltv_refused_at = NULL, ltv_refused_reason = NULL "
                       "WHERE number = %s AND pdf_sha256 = %s RETURNING id",
                       (pdf, sha256_hex, number, old_sha256)).fetchone()
    return row is not None


def signed_by_code(conn: psycopg.Connection, short_code: str) -> tuple[str, bytes]:
    """(number, signed PDF) of the note with this verification code (404 when unknown)."""
    row = conn.execute("SELECT number, signed_pdf FROM note_requests WHERE short_code = %s AND signed_pdf IS NOT NULL",
                       (short_code,)).fetchone()
    if row is None:
        raise NotFound("code de vérification inconnu")
    return row[0], bytes(row[1])


def issued(conn: psycopg.Connection, number: str) -> dict:
    """Titles, stored instruction and signature time of a signed note."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT refs, instruction, signed_at FROM note_requests WHERE number = %s",
                           (number,)).fetchone()


def timeline(conn: psycopg.Connection, number: str) -> list[dict]:
    """Every recorded step of a request, oldest first, from the audit trail: at, action, actor, status, after.

    `status` is the status the step led to (None for a step that changes none: a failed instruction, a
    refund owed); `after` holds what the step recorded (the reason of a return, the remarks). The actor is
    staff's or the applicant's e-mail: the applicant's own pages show the step, not who did it.
    """
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("SELECT at, action, actor, after FROM audit_log WHERE entity = 'note_request' "
                           "AND entity_id = %s ORDER BY at, id", (number,)).fetchall()
    for row in rows:
        after = row["after"] or {}
        row["after"] = after
        row["status"] = after.get("status") if row["action"].startswith("note.") else None
    return rows


# ------------------------------------------------------------------ the staff's pages (instruction, signature)
# The land's communes: those of the parcels of the request's titles, else those of its stored instruction.
_REQUEST_COMMUNES = """COALESCE(
    (SELECT array_agg(DISTINCT c.name ORDER BY c.name) FROM parcels p JOIN communes c ON c.code = p.commune_code
      WHERE p.land_ref = ANY(r.refs)),
    (SELECT array_agg(DISTINCT c->>'name' ORDER BY c->>'name')
       FROM jsonb_array_elements(COALESCE(r.instruction->'land'->'communes', '[]'::jsonb)) c),
    ARRAY[]::text[])"""
_IN_COMMUNE = """(EXISTS (SELECT 1 FROM parcels p WHERE p.land_ref = ANY(r.refs) AND p.commune_code = %(commune)s)
    OR COALESCE(r.instruction->'land'->'communes', '[]'::jsonb)
       @> jsonb_build_array(jsonb_build_object('code', %(commune)s::text)))"""


def staff_queue(conn: psycopg.Connection, status: str, commune: str | None = None, since: date | None = None,
                until: date | None = None, limit: int = 500) -> list[dict]:
    """The requests in a status for the staff, longest waiting first: titles, communes, dates, days waiting.

    `requested_on` and `since_on` (the day it reached its status) are days on the agency's clock.
    `commune` (a code) keeps the requests whose land is in it; `since` / `until` bound the day of the request
    (inclusive, on the agency's clock). Days waiting count from the request's last change of status.
    """
    where = [sql.SQL("r.status = %(status)s")]
    if commune:
        where.append(sql.SQL(_IN_COMMUNE))
    if since:
        where.append(sql.SQL("(r.created_at AT TIME ZONE %(zone)s)::date >= %(since)s"))
    if until:
        where.append(sql.SQL("(r.created_at AT TIME ZONE %(zone)s)::date <= %(until)s"))
    query = sql.SQL("SELECT r.number, r.refs, r.status, r.standing, r.created_at, r.updated_at, "
                    "(r.created_at AT TIME ZONE %(zone)s)::date AS requested_on, "
                    "(r.updated_at AT TIME ZONE %(zone)s)::date AS since_on, "
                    "floor(extract(epoch FROM now() - r.updated_at) / 86400)::int AS days_waiting, "
                    + _REQUEST_COMMUNES + " AS communes FROM note_requests r WHERE {where} "
                    "ORDER BY r.updated_at, r.id LIMIT %(limit)s").format(where=sql.SQL(" AND ").join(where))
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, {"status": status, "commune": commune, "since": since, "until": until,
                                   "zone": LOCAL_ZONE, "limit": limit}).fetchall()


def commune_choices(conn: psycopg.Connection) -> list[dict]:
    """Every commune (code, name), by name: the choices of the queue's filter."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT code, name FROM communes ORDER BY name, code").fetchall()


def staff_detail(conn: psycopg.Connection, number: str) -> dict:
    """A request as the staff see it: the request, its applicant, its land's box (CRS84), its documents (404 if unknown).

    `bounds` is [west, south, east, north] of the parcels of its titles (None when none is known any more).
    """
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT r.id, r.number, r.refs, r.status, r.standing, r.fee_mad, r.instruction, r.remarks, r.return_reason, "
            "r.created_at, r.updated_at, r.signed_at, a.full_name, a.email, " + _REQUEST_COMMUNES + " AS communes, "
            "(SELECT ARRAY[ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)] FROM (SELECT ST_Extent(ST_Transform(p.geom, "
            "4326))::geometry AS e FROM parcels p WHERE p.land_ref = ANY(r.refs)) x WHERE e IS NOT NULL) AS bounds "
            "FROM note_requests r JOIN accounts a ON a.id = r.applicant_id WHERE r.number = %s", (number,)).fetchone()
        if row is None:
            raise NotFound(UNKNOWN.format(number=number))
        row["documents"] = cur.execute("SELECT id, filename, content_type, size FROM note_documents "
                                       "WHERE request_id = %s ORDER BY id", (row.pop("id"),)).fetchall()
    return row


def document(conn: psycopg.Connection, number: str, document_id: int) -> tuple[str, str, bytes]:
    """(file name, content type, bytes) of one supporting document of a request (404 when not one of its own)."""
    row = conn.execute("SELECT d.filename, d.content_type, d.data FROM note_documents d JOIN note_requests r "
                       "ON r.id = d.request_id WHERE r.number = %s AND d.id = %s", (number, document_id)).fetchone()
    if row is None:
        raise NotFound(f"pièce n° {document_id} introuvable pour la demande « {number} »")
    return row[0], row[1], bytes(row[2])


def delivery_state(status: str | None, attempts: int) -> str:
    """The state of a note's e-mail for the staff: sent, waiting (for the mail server) or failed (given up)."""
    if status == "envoye":
        return "sent"
    if status == "abandonne":
        return "failed"
    return "waiting"  # queued, not tried yet or to be tried again (attempts > 0: the last error is known)


def signed_notes(conn: psycopg.Connection, limit: int = 100) -> list[dict]:
    """The notes signed, latest first, with the delivery of their e-mail from the outbox (its latest message)."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT r.number, r.refs, r.status, r.signed_at, s.email AS signed_by, o.status AS mail_status, "
            "o.recipient, COALESCE(o.attempts, 0) AS attempts, o.sent_at, o.next_attempt_at, o.last_error "
            "FROM note_requests r LEFT JOIN accounts s ON s.id = r.signed_by "
            "LEFT JOIN LATERAL (SELECT status, recipient, attempts, sent_at, next_attempt_at, last_error FROM outbox "
            "  WHERE entity = 'note_request' AND entity_id = r.number ORDER BY id DESC LIMIT 1) o ON true "
            "WHERE r.signed_at IS NOT NULL ORDER BY r.signed_at DESC, r.id DESC LIMIT %s", (limit,)).fetchall()
    for row in rows:
        row["delivery"] = delivery_state(row["mail_status"], row["attempts"])
    return rows
