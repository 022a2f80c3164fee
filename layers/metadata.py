"""Metadata of the OGC collections: the data version of a set of layers, and extents cached per process until
one of their layers changes."""

from __future__ import annotations

import psycopg

from layers.features import Collection, extent

_EXTENTS: dict[str, tuple[int, list[float] | None]] = {}


def data_version(conn: psycopg.Connection, layers: list[str]) -> int:
    """Sum of the versions of some layers (it changes whenever any of them is written)."""
    return conn.execute("SELECT COALESCE(sum(version), 0) FROM layer_versions WHERE layer = ANY(%s)", (layers,),
                        prepare=True).fetchone()[0]


def collection_extent(conn: psycopg.Connection, c: Collection) -> list[float] | None:
    """The collection's bounding box in CRS84, recomputed only when its layers have changed."""
    version = data_version(conn, list(c.layer_versions))
    cached = _EXTENTS.get(c.id)
    if cached and cached[0] == version:
        return cached[1]
    box = extent(conn, c)
    _EXTENTS[c.id] = (version, box)
    return box
