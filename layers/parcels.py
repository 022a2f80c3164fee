"""Land lookup: parcels by title or by point, and the union of several titles (instruction, note requests)."""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row

from gis.landref import LandRef

PARCEL_COLUMNS = "id, land_ref, ref_kind, legal_area_m2::float8 AS legal_area_m2, area_m2, commune_code, " \
                 "ST_AsEWKB(geom) AS ewkb"


def find_parcels(conn: psycopg.Connection, refs: list[LandRef]) -> list[dict]:
    """Parcels with these normalised references (missing ones are simply absent)."""
    wanted = [r.normalized for r in refs]
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT {PARCEL_COLUMNS} FROM parcels WHERE land_ref = ANY(%s) ORDER BY land_ref",
                           (wanted,), prepare=True).fetchall()


def parcel_at(conn: psycopg.Connection, x: float, y: float) -> dict | None:
    """The parcel that holds a point given in EPSG:26191."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT {PARCEL_COLUMNS} FROM parcels WHERE ST_Covers(geom, ST_SetSRID(ST_MakePoint(%s, %s), "
                           "26191)) ORDER BY id LIMIT 1", (x, y), prepare=True).fetchone()


def merge_parcels(conn: psycopg.Connection, ewkbs: list[bytes], tolerance_m: float) -> tuple[bytes, int]:
    """Union of several parcels (snapping shared limits within `tolerance_m`) and its number of parts."""
    row = conn.execute(
        "WITH u AS (SELECT ST_Union(ST_SnapToGrid(ST_GeomFromEWKB(g), 0.001)) AS g FROM unnest(%s::bytea[]) AS g) "
        "SELECT ST_AsEWKB(ST_Multi(g)), ST_NumGeometries(ST_Buffer(ST_Buffer(g, %s), -%s)) FROM u",
        (ewkbs, tolerance_m, tolerance_m), prepare=True).fetchone()
    return row[0], row[1]
