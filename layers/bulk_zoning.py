"""Queries of the bulk instruction of a commune: its parcels, the plans in force there, their zones, and the
set-based zone shares (the SQL path beside the vectorised one)."""

from __future__ import annotations

from datetime import date

import psycopg
from psycopg.rows import dict_row

from layers.plan_terms import REGULATORY_KINDS


def commune_parcels(conn: psycopg.Connection, commune_code: str) -> tuple[list[int], list[str | None], list[bytes]]:
    """Ids, titles and WKB geometries of every parcel of a commune (binary transfer)."""
    with conn.cursor(binary=True) as cur:
        rows = cur.execute("SELECT id, land_ref, ST_AsBinary(geom) FROM parcels WHERE commune_code = %s ORDER BY id",
                           (commune_code,)).fetchall()
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def plan_zones(conn: psycopg.Connection, plan_ids: list[int]) -> list[dict]:
    """Zones of some plan versions with their WKB geometry."""
    with conn.cursor(binary=True, row_factory=dict_row) as cur:
        return cur.execute("SELECT z.id, z.code, z.sector, p.code AS plan, ST_AsBinary(z.geom) AS wkb FROM zones z "
                           "JOIN plans p ON p.id = z.plan_id WHERE z.plan_id = ANY(%s) ORDER BY z.id",
                           (plan_ids,)).fetchall()


def plans_in_force(conn: psycopg.Connection, commune_code: str, day: date) -> list[dict]:
    """The regulatory plans in force on `day` whose perimeter touches the commune, with their dates and the
    part of the commune they cover (WKB), so that overlaps between them can be resolved."""
    with conn.cursor(row_factory=dict_row, binary=True) as cur:
        return cur.execute(
            "SELECT p.id, p.code, p.valid_from, p.approval_date, ST_AsBinary(ST_Intersection(p.perimeter, c.geom)) "
            "AS cover_wkb FROM plans p JOIN communes c ON c.code = %s AND ST_Intersects(p.perimeter, c.geom) "
            "WHERE p.kind = ANY(%s) AND plan_in_force(p.id, %s) ORDER BY p.id",
            (commune_code, list(REGULATORY_KINDS), day)).fetchall()


BULK_SQL = """
SELECT p.id, z.id,
       CASE WHEN ST_CoveredBy(p.geom, z.geom) THEN p.area_m2 ELSE ST_Area(ST_Intersection(p.geom, z.geom)) END,
       p.area_m2
FROM parcels p JOIN zones z ON z.plan_id = ANY(%(plans)s) AND p.geom && z.geom AND ST_Intersects(p.geom, z.geom)
WHERE p.commune_code = %(commune)s
"""


def bulk_zone_shares_sql(conn: psycopg.Connection, commune_code: str, plan_ids: list[int]) -> list[tuple]:
    """(parcel id, zone id, intersection m², parcel m²) for a whole commune in one set-based statement."""
    return conn.execute(BULK_SQL, {"plans": plan_ids, "commune": commune_code}).fetchall()
