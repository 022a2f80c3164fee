"""Issued official notes (signed, sent) as a partner administration finds and reads them: by title or number.

A partner sees what the signed note itself says (titles, dates, plans cited, verification code), never the
applicant's account; a request not yet signed does not exist for them (the same 404 as an unknown number).
"""

from __future__ import annotations

import re

import psycopg
from psycopg.rows import dict_row

from gis.errors import InputError, LandRefError, NotFound
from gis.landref import parse_land_ref

ISSUED = ("signee", "envoyee")
SEARCH_LIMIT = 100
_NUMBER = re.compile(r"NRU[\s\-]*(\d{4})[\s\-]*(\d{1,6})", re.IGNORECASE | re.ASCII)
UNKNOWN = "note délivrée introuvable : « {number} »"
HOW = ("saisissez un titre foncier (par exemple « TF 3875/C », « T.3875/C », « R 1234/C ») ou un numéro de note "
       "(par exemple « NRU-2026-000123 »)")


def note_number(text: str) -> str | None:
    """The canonical note number (NRU-2026-000123) written in `text` (« nru 2026 123 » too), else None."""
    match = _NUMBER.fullmatch(text.strip())
    return f"NRU-{match[1]}-{int(match[2]):06d}" if match else None


def search(conn: psycopg.Connection, query: str) -> list[dict]:
    """Issued notes whose number is `query`, or that cover the title `query` (read leniently), latest first."""
    query = (query or "").strip()
    if not query:
        raise InputError(f"recherche vide : {HOW}")
    if len(query) > 100:
        raise InputError(f"recherche trop longue (100 caractères au plus) : {HOW}")
    number = note_number(query)
    if number:
        where, value = "number = %s", number
    else:
        try:
            ref = parse_land_ref(query).normalized
        except LandRefError:
            raise InputError(f"« {query} » n'est ni un titre ni un numéro de note : {HOW}") from None
        if ref is None:
            raise InputError(f"un terrain non immatriculé n'a pas de titre à chercher : {HOW}")
        where, value = "refs @> ARRAY[%s]", ref
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT number, refs, status, created_at, signed_at FROM note_requests "  # noqa: S608
                           f"WHERE {where} AND status = ANY(%s) ORDER BY signed_at DESC, number DESC LIMIT %s",
                           (value, list(ISSUED), SEARCH_LIMIT)).fetchall()


def issued_note(conn: psycopg.Connection, number: str) -> dict:
    """What a partner reads of an issued note: number, titles, dates, plans applied, verification code."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT number, refs, status, created_at, signed_at, short_code, "
                          "instruction -> 'plans' -> 'applied' AS plans, (instruction ->> 'date')::date AS situation_on "
                          "FROM note_requests WHERE number = %s AND status = ANY(%s)",
                          (number, list(ISSUED))).fetchone()
    if row is None:
        raise NotFound(UNKNOWN.format(number=number))
    row["plans"] = row["plans"] or []
    return row


def issued_pdf(conn: psycopg.Connection, number: str) -> bytes:
    """The signed PDF of an issued note (404 when unknown or not issued)."""
    row = conn.execute("SELECT signed_pdf FROM note_requests WHERE number = %s AND status = ANY(%s) "
                       "AND signed_pdf IS NOT NULL", (number, list(ISSUED))).fetchone()
    if row is None:
        raise NotFound(UNKNOWN.format(number=number))
    return bytes(row[0])
