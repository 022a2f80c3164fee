"""The applicant's own requests, as the applicant's space shows them (api/spaces/applicant.py).

Who may see a request is decided by notes.official.owner_or_staff (another applicant's request is missing, a
404); these queries only read. The timeline is layers.note_requests.timeline without who did each step: the
applicant sees what happened and when, never a staff member's address.
"""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row

from gis.errors import NotFound
from layers import note_requests

LIST_LIMIT = 200
# The steps of the audit trail the applicant reads (the others, e.g. a mail's failed attempt, stay for the staff).
SHOWN_STEPS = frozenset({"note.demandee", "note.payee", "note.instruite", "note.instruction_echec", "note.retournee",
                         "note.acceptee", "note.signee", "note.envoyee", "note.annulee", "note.paiement_a_rembourser",
                         "courriel.envoye"})


def own_requests(conn: psycopg.Connection, applicant_id: int, limit: int = LIST_LIMIT) -> list[dict]:
    """The applicant's requests, newest first: number, titles, status, dates, whether the signed note is there."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT number, refs, status, created_at, updated_at, signed_at, "
                           "signed_pdf IS NOT NULL AS signed FROM note_requests WHERE applicant_id = %s "
                           "ORDER BY created_at DESC, id DESC LIMIT %s", (applicant_id, limit)).fetchall()


def request_page(conn: psycopg.Connection, number: str) -> dict:
    """A request with what its page shows: status, titles, standing, fee, order, reason, remarks, documents.

    404 when unknown; `applicant_id` is for notes.official.owner_or_staff.
    """
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT id, number, applicant_id, refs, status, standing, fee_mad, order_id, remarks, "
                          "return_reason, created_at, updated_at, signed_at, signed_pdf IS NOT NULL AS signed "
                          "FROM note_requests WHERE number = %s", (number,)).fetchone()
        if row is None:
            raise NotFound(note_requests.UNKNOWN.format(number=number))
        row["documents"] = cur.execute("SELECT filename, content_type, size FROM note_documents WHERE request_id = %s "
                                       "ORDER BY id", (row.pop("id"),)).fetchall()
    return row


def applicant_timeline(conn: psycopg.Connection, number: str) -> list[dict]:
    """The steps of a request for its applicant, oldest first: at, action, status, reason, remarks (no actor).

    A resubmission (retournée → payée) is the step `note.renvoyee`, so the page does not say « paid » twice.
    """
    steps: list[dict] = []
    last = None
    for row in note_requests.timeline(conn, number):
        if row["action"] not in SHOWN_STEPS:
            continue
        after, action = row["after"], row["action"]
        if action == "note.payee" and last == "retournee":
            action = "note.renvoyee"  # a returned request goes back to « payée » when its applicant resubmits it
        status = "attente_paiement" if action == "note.demandee" else row["status"]  # a request starts so
        last = status or last
        steps.append({"at": row["at"], "action": action, "status": status,
                      "reason": after.get("return_reason") if action == "note.retournee" else None,
                      "remarks": after.get("remarks") if action == "note.acceptee" else None})
    return steps
