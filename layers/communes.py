"""Communes and arrondissements: find one by its code or its name, as a person writes it."""

from __future__ import annotations

import re
import unicodedata

import psycopg

from gis.errors import InputError, NotFound

LISTED_AT_MOST = 40  # communes named in the "unknown commune" message


def fold_name(text: str) -> str:
    """Fold a name for comparison: no case, no accents, hyphens and apostrophes as spaces ("Maârif" → "maarif")."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[-_'’.]", " ", bare).split())


def find_commune(conn: psycopg.Connection, text: str) -> dict:
    """The commune whose code or name is `text` (case and accents ignored): {"code", "name"}.

    A code wins over a name; a name shared by several communes is refused (give the code); an unknown
    commune raises NotFound listing the known ones.
    """
    rows = conn.execute("SELECT code, name FROM communes ORDER BY name, code").fetchall()
    wanted = fold_name(text)
    by_code = [r for r in rows if fold_name(r[0]) == wanted]
    by_name = [r for r in rows if fold_name(r[1]) == wanted]
    found = by_code or by_name
    if len(found) == 1:
        return {"code": found[0][0], "name": found[0][1]}
    if found:
        codes = ", ".join(code for code, _ in found)
        raise InputError(f"plusieurs communes s'appellent « {text} » (codes {codes}) : indiquez le code")
    raise NotFound(f"commune inconnue : « {text} » ; {_known(rows)}")


def _known(rows: list[tuple[str, str]]) -> str:
    if not rows:
        return "aucune commune n'est chargée (urbasig import … --layer communes, ou urbasig sample-data)"
    listed = ", ".join(f"{name} ({code})" for code, name in rows[:LISTED_AT_MOST])
    more = f" … et {len(rows) - LISTED_AT_MOST} autre(s)" if len(rows) > LISTED_AT_MOST else ""
    return f"communes connues (nom ou code) : {listed}{more}"
