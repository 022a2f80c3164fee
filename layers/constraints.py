"""Check rows against their table's constraints *before* writing, and say what is wrong in French.

The database schema (the migrations) stays the one statement of what a value may be: this module reads
the table's CHECK constraints, numeric precisions and unique keys from the catalogue of PostgreSQL and
tests the candidate rows against them in one query, so that a refused value is reported with the feature
number, the column, the value and the values allowed, and no driver message ever reaches the user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

import psycopg
from psycopg import sql

from gis.errors import Conflict, InputError

ROW = "urbasig_row_n"
_ALLOWED = re.compile(r"'((?:[^']|'')*)'::text")
_BOUND = re.compile(r"^\(?\(?(\w+) (>=|>|<=|<) \(?(-?[\d.]+)\)?(?:::\w+)?\)?\)?$")
_BETWEEN = re.compile(r"^\(\((\w+) >= \(?(-?[\d.]+)\)?(?:::\w+)?\) AND \((\w+) <= \(?(-?[\d.]+)\)?(?:::\w+)?\)\)$")
_INTEGER_MAX = {"smallint": 32767, "integer": 2147483647, "bigint": 9223372036854775807}
_OPERATORS = {">=": "supérieur ou égal à", ">": "strictement supérieur à", "<=": "inférieur ou égal à",
              "<": "strictement inférieur à"}


@dataclass(frozen=True)
class _Column:
    name: str
    type: str  # format_type with modifiers: numeric(6,2), text, smallint…
    base: str  # the type without modifiers, for array casts
    default: str | None
    not_null: bool


@dataclass(frozen=True)
class _Check:
    name: str
    expr: str
    columns: tuple[str, ...]
    comment: str | None

    def describe(self) -> str:
        """What the constraint asks, in French."""
        if self.comment:
            return self.comment
        allowed = [v.replace("''", "'") for v in _ALLOWED.findall(self.expr)]
        if allowed and len(self.columns) == 1:
            return f"valeur non admise (valeurs admises : {', '.join(allowed)})"
        if m := _BETWEEN.match(self.expr):
            return f"doit être compris entre {m[2]} et {m[4]}"
        if m := _BOUND.match(self.expr):
            return f"doit être {_OPERATORS[m[2]]} {m[3]}"
        return f"contrainte « {self.name} » non respectée ({self.expr})"


def _columns(conn: psycopg.Connection, table: str) -> dict[str, _Column]:
    rows = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), format_type(a.atttypid, NULL), "
        "CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END, a.attnotnull "
        "FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped", (table,)).fetchall()
    return {r[0]: _Column(*r) for r in rows}


def _checks(conn: psycopg.Connection, table: str) -> list[_Check]:
    rows = conn.execute(
        "SELECT c.conname, pg_get_expr(c.conbin, c.conrelid), "
        "ARRAY(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey) "
        "ORDER BY a.attnum), obj_description(c.oid, 'pg_constraint') "
        "FROM pg_constraint c WHERE c.conrelid = %s::regclass AND c.contype = 'c' ORDER BY c.conname",
        (table,)).fetchall()
    return [_Check(name, expr, tuple(cols), comment) for name, expr, cols, comment in rows]


def _numeric_limit(column: _Column) -> Decimal | int | None:
    """The largest absolute value a numeric(p, s) or integer column holds."""
    if m := re.fullmatch(r"numeric\((\d+),(\d+)\)", column.type):
        precision, scale = int(m[1]), int(m[2])
        return Decimal(10) ** (precision - scale) - Decimal(10) ** -scale
    return _INTEGER_MAX.get(column.type)


def _range_problems(columns: dict[str, _Column], names: list[str], data: list[list[object]]) -> list[tuple[int, str]]:
    problems = []
    for name, values in zip(names, data, strict=True):
        limit = _numeric_limit(columns[name]) if name in columns else None
        if limit is None:
            continue
        for i, value in enumerate(values):
            if isinstance(value, int | float | Decimal) and not isinstance(value, bool) and abs(value) > limit:
                problems.append((i + 1, f"{name} = « {value} » : valeur trop grande (au plus {limit} en valeur absolue)"))
    return problems


def _check_problems(conn: psycopg.Connection, table: str, columns: dict[str, _Column], names: list[str],
                    data: list[list[object]]) -> list[tuple[int, str]]:
    given = [n for n in names if n in columns and not columns[n].base.endswith("[]") and columns[n].base != "geometry"]
    checks = [c for c in _checks(conn, table) if set(c.columns) & set(given)
              and all(col in given or (col in columns and columns[col].base != "geometry") for col in c.columns)]
    if not checks:
        return []
    needed = sorted({col for c in checks for col in c.columns})
    arrays = [n for n in given if n in needed]
    missing = [n for n in needed if n not in arrays]
    inner = sql.SQL("SELECT u.*{extra} FROM unnest({arrays}) WITH ORDINALITY AS u({names})").format(
        extra=sql.SQL("").join(sql.SQL(", ({})::{} AS {}").format(
            sql.SQL(columns[n].default or "NULL"), sql.SQL(columns[n].type), sql.Identifier(n)) for n in missing),
        arrays=sql.SQL(", ").join(sql.SQL("%s::{}[]").format(sql.SQL(columns[n].base)) for n in arrays),
        names=sql.SQL(", ").join(sql.Identifier(n) for n in [*arrays, ROW]))
    failed = [sql.SQL("({}) IS FALSE").format(sql.SQL(c.expr)) for c in checks]
    query = sql.SQL("SELECT {row}, ARRAY[{failed}] FROM ({inner}) t WHERE {any} ORDER BY {row} LIMIT 200").format(
        row=sql.Identifier(ROW), failed=sql.SQL(", ").join(failed), inner=inner, any=sql.SQL(" OR ").join(failed))
    values = [data[names.index(n)] for n in arrays]
    problems = []
    for row_n, flags in conn.execute(query, values).fetchall():
        for check, bad in zip(checks, flags, strict=True):
            if bad:
                shown = ", ".join(f"{col} = « {_value(names, data, col, row_n)} »" for col in check.columns)
                problems.append((int(row_n), f"{shown} : {check.describe()}"))
    return problems


def _value(names: list[str], data: list[list[object]], column: str, row_n: int) -> object:
    value = data[names.index(column)][row_n - 1] if column in names else None
    if value is None:
        return "vide"
    return getattr(value, "obj", value)  # a Jsonb shows its content


def _fill_defaults(conn: psycopg.Connection, columns: dict[str, _Column], names: list[str],
                   data: list[list[object]]) -> list[tuple[int, str]]:
    """Give an empty value of a NOT NULL column its default (an empty list of uses…); say which have none."""
    from psycopg.types.json import Jsonb

    problems = []
    for name, values in zip(names, data, strict=True):
        column = columns.get(name)
        if column is None or not column.not_null or all(v is not None for v in values):
            continue
        if column.default is None:
            problems += [(i + 1, f"{name} : valeur obligatoire manquante") for i, v in enumerate(values) if v is None]
            continue
        default = conn.execute(sql.SQL("SELECT ({})::{}").format(sql.SQL(column.default), sql.SQL(column.type))
                               ).fetchone()[0]
        if column.base in ("json", "jsonb"):
            default = Jsonb(default)
        values[:] = [default if v is None else v for v in values]
    return problems


def check_rows(conn: psycopg.Connection, table: str, names: list[str], data: list[list[object]]) -> None:
    """Raise InputError listing every value the table's constraints would refuse (nothing is written).

    Empty values of NOT NULL columns that have a default get it here (in `data`), as an INSERT would.
    """
    from gis.geometry import describe_problems

    columns = _columns(conn, table)
    problems = _fill_defaults(conn, columns, names, data) + _range_problems(columns, names, data)
    if not problems:
        problems = _check_problems(conn, table, columns, names, data)
    if problems:
        problems.sort()
        raise InputError(f"{len(problems)} valeur(s) refusée(s), rien n'a été écrit : {describe_problems(problems)}",
                         detail=problems[:100])


def check_unique_titles(conn: psycopg.Connection, refs: list[str | None]) -> None:
    """Refuse land titles already in the database (Conflict naming them)."""
    wanted = [r for r in refs if r]
    if not wanted:
        return
    found = [r[0] for r in conn.execute("SELECT land_ref FROM parcels WHERE land_ref = ANY(%s) ORDER BY land_ref "
                                        "LIMIT 20", (wanted,))]
    if found:
        raise Conflict(f"import refusé, rien n'a été écrit : {len(found)}{'+' if len(found) == 20 else ''} titre(s) "
                       f"déjà dans la base : {', '.join(found[:10])} (une parcelle ne s'importe qu'une fois)")


def check_unique_codes(conn: psycopg.Connection, table: str, column: str, values: list[object]) -> None:
    """Refuse codes already present in a table's unique column (e.g. commune codes)."""
    wanted = sorted({str(v) for v in values if v is not None})
    if not wanted:
        return
    query = sql.SQL("SELECT {c} FROM {t} WHERE {c} = ANY(%s) ORDER BY 1 LIMIT 20").format(
        c=sql.Identifier(column), t=sql.Identifier(table))
    found = [r[0] for r in conn.execute(query, (wanted,))]
    if found:
        raise Conflict(f"import refusé, rien n'a été écrit : {column} déjà présent(s) dans « {table} » : "
                       f"{', '.join(found[:10])}")
