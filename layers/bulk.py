"""Bulk writes with COPY: the one fast path used by imports and the sample loader, and a binary COPY of whole
columns (numpy) for computed results."""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
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


# ------------------------------------------------------------------------------------------- binary COPY of columns
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)
FIXED_TYPES = {"int8": ">i8", "int4": ">i4", "int2": ">i2", "float8": ">f8", "bool": "u1"}
TEXT_OID = 25


@dataclass(frozen=True)
class Categories:
    """A text or text[] column given as codes into its distinct values (−1 or a None value: NULL)."""

    codes: np.ndarray
    values: Sequence[str | Sequence[str] | None]


def _field(pgtype: str, value: str | Sequence[str]) -> bytes:
    """One value of a text or text[] column in PostgreSQL's binary format."""
    if pgtype == "text":
        return str(value).encode("utf-8")
    items = [str(v).encode("utf-8") for v in value]
    if not items:
        return struct.pack(">iii", 0, 0, TEXT_OID)
    return struct.pack(">iiiii", 1, 0, TEXT_OID, len(items), 1) + b"".join(struct.pack(">i", len(b)) + b for b in items)


def _lengths_and_data(pgtype: str, values: object, n: int) -> tuple[np.ndarray, dict[int, np.ndarray], np.ndarray]:
    """Per row the field's length (−1: NULL), the data per length (rows × length, bytes or numbers), and per row
    the index into it."""
    if isinstance(values, Categories):
        encoded = [None if v is None else _field(pgtype, v) for v in values.values]
        sizes = np.array([-1 if e is None else len(e) for e in encoded] + [-1], dtype=np.int32)
        codes = np.where(values.codes < 0, len(encoded), values.codes)
        tables = {}
        for size in {len(e) for e in encoded if e is not None}:
            table = np.zeros((len(encoded) + 1, size), dtype=np.uint8)
            for i, e in enumerate(encoded):
                if e is not None and len(e) == size:
                    table[i] = np.frombuffer(e, dtype=np.uint8)
            tables[size] = table
        return sizes[codes], tables, codes
    data = np.ma.getdata(values)
    null = np.ma.getmaskarray(values) | (np.isnan(data) if data.dtype.kind == "f" else False)
    width = np.dtype(FIXED_TYPES[pgtype]).itemsize
    return np.where(null, -1, width).astype(np.int32), {width: data}, np.arange(n)


def copy_columns(conn: psycopg.Connection, table: str, columns: Sequence[tuple[str, str, object]]) -> int:
    """COPY whole columns into table in the binary format, built with numpy (no Python per row); the row count.

    `columns`: (name, type, values), type one of FIXED_TYPES (values a numpy array; NaN or a masked value is
    NULL) or "text" / "text[]" (values `Categories`). Rows are grouped by the lengths of their fields: the rows of
    one group share a layout, written at once as a numpy structured array.
    """
    n = len(np.ma.getdata(columns[0][2]) if not isinstance(columns[0][2], Categories) else columns[0][2].codes)
    fields = [_lengths_and_data(pgtype, values, n) for _, pgtype, values in columns]
    lengths = np.stack([f[0] for f in fields], axis=1)
    key = np.zeros(n, dtype=np.int64)  # the layout of each row as one number (mixed radix over the columns)
    for c in range(len(fields)):
        sizes, code = np.unique(lengths[:, c], return_inverse=True)
        key = key * len(sizes) + code.reshape(-1)
        if key.max(initial=0) > 2 ** 40:  # keep it small: renumber the layouts seen so far
            key = np.unique(key, return_inverse=True)[1].reshape(-1).astype(np.int64)
    _, first, layout_of = np.unique(key, return_index=True, return_inverse=True)
    layouts, layout_of = lengths[first], layout_of.reshape(-1)
    chunks = [COPY_HEADER]
    for k, layout in enumerate(layouts):
        rows = np.flatnonzero(layout_of == k)
        spec: list[tuple] = [("count", ">i2")]
        for c, size in enumerate(layout):
            spec.append((f"l{c}", ">i4"))
            if size >= 0:
                pgtype = columns[c][1]
                spec.append((f"d{c}", FIXED_TYPES[pgtype]) if pgtype in FIXED_TYPES else (f"d{c}", "u1", (int(size),)))
        out = np.empty(len(rows), dtype=np.dtype(spec))
        out["count"] = len(columns)
        for c, size in enumerate(layout):
            out[f"l{c}"] = size
            if size >= 0:
                length, data, index = fields[c]
                out[f"d{c}"] = data[int(size)][index[rows]]
        chunks.append(out.tobytes())
    chunks.append(COPY_TRAILER)
    query = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(name) for name, _, _ in columns))
    with conn.cursor() as cur, cur.copy(query) as copy:
        copy.write(b"".join(chunks))
    return n
