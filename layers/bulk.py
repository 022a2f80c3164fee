"""Bulk writes with COPY: the one fast path used by imports and the sample loader."""

from __future__ import annotations

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
    bar = tqdm(total=total, desc=desc, unit=" ent.", disable=not progress, leave=False, mininterval=0.5)
    with conn.cursor() as cur, cur.copy(query) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
            if count % 5000 == 0:
                bar.update(5000)
    bar.update(count % 5000)
    bar.close()
    return count


def estimated_rows(conn: psycopg.Connection, table: str) -> int:
    """The planner's row estimate of a table (cheap, no count(*))."""
    row = conn.execute("SELECT GREATEST(reltuples, 0)::bigint FROM pg_class WHERE oid = %s::regclass",
                       (table,)).fetchone()
    return int(row[0]) if row else 0
