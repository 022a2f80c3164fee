"""Versioned rule sets (thresholds, activities…): the version valid on a day."""

from __future__ import annotations

from datetime import date

import psycopg

from gis import l10n
from gis.errors import ConfigError, InputError

# What each rule set is, in words (the table's kinds are names for the code, not for the person who asked)
WORDS = {"thresholds": "seuils d'instruction (parts marginales, tolérances de surface)",
         "activities": "catalogue des activités"}


def rule_set(conn: psycopg.Connection, kind: str, day: date) -> tuple[str, dict]:
    """The version of a rule set valid on `day`, and its content."""
    row = conn.execute("SELECT version, content FROM rule_sets WHERE kind = %s AND valid_from <= %s "
                       "ORDER BY valid_from DESC, id DESC LIMIT 1", (kind, day), prepare=True).fetchone()
    if row is None:
        no_rules(conn, kind, day)
    return row[0], row[1]


def no_rules(conn: psycopg.Connection, kind: str, day: date) -> None:
    """Raise the error of a day with no version: before every version is the caller's mistake (400), no version
    at all is ours (500)."""
    first = conn.execute("SELECT min(valid_from) FROM rule_sets WHERE kind = %s", (kind,)).fetchone()[0]
    if first is None:
        raise ConfigError(f"aucune version des règles « {kind} » (table rule_sets)")
    raise InputError(f"date trop ancienne : le {l10n.long_date(day, 'fr')} précède les règles enregistrées "
                     f"({WORDS.get(kind, 'règles d’instruction')}), en vigueur à partir du "
                     f"{l10n.long_date(first, 'fr')} ; choisissez une date postérieure")
