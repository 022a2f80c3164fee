"""Bulk writes with COPY: the one fast path used by imports and the sample loader."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence

import psycopg
from psycopg import sql
from tqdm import tqdm


def copy_rows(conn: psycopg.Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]],
              total: int | None = None, progress: bool = False, desc: str = "écriture") -> int:
    """COPY rows into table(columns); geometries are given as hex EWKB strings. Returns the row count."""
    query = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns))
    count = 0
    bar = tqdm(total=total, desc=desc, unit=" ent.", disable=not show_bar(progress), leave=False, mininterval=0.5)
    with conn.cursor() as cur, cur.copy(query) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
            if count % 5000 == 0:
                bar.update(5000)
    bar.update(count % 5000)
    bar.close()
    return count


def show_bar(progress: bool, stream: object | None = None) -> bool:
    """Whether to draw a progress bar: asked for, and stderr is a terminal (in a log a bar is only noise)."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(progress and isatty and isatty())


def estimated_rows(conn: psycopg.Connection, table: str) -> int:
    """The planner's row estimate of a table (cheap, no count(*))."""
    row = conn.execute("SELECT GREATEST(reltuples, 0)::bigint FROM pg_class WHERE oid = %s::regclass",
                       (table,)).fetchone()
    return int(row[0]) if row else 0


def bulk_deferral(conn: psycopg.Connection, table: str) -> list[tuple[sql.Composable, sql.Composable]]:
    """(drop, create) statements for the secondary indexes and foreign keys of a table.

    Dropping them before a large COPY and recreating them after is several times faster than maintaining
    them row by row; inside one transaction nothing is lost, and the recreation re-checks uniqueness and
    references. The table is locked for the duration: meant for initial or very large loads.
    """
    out: list[tuple[sql.Composable, sql.Composable]] = []
    for name, definition in conn.execute(
            "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)", (table,)):
        out.append((sql.SQL("DROP INDEX {}").format(sql.Identifier(name)), sql.SQL(definition)))
    for name, definition in conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
            "AND contype = 'f'", (table,)):
        out.append((sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(table), sql.Identifier(name)),
                    sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(sql.Identifier(table), sql.Identifier(name))
                    + sql.SQL(definition)))
    return out
