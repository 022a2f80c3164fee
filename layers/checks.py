"""Queries of the permit, subdivision and licence checks: establishments near a location, public road space,
and the stored check results."""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

ESTABLISHMENTS_NEAR = """
WITH here AS (SELECT ST_GeomFromEWKB(%(geom)s) AS g)
SELECT e.id, e.kind, e.name, e.status, e.opened_on, e.filed_at, ST_Distance(e.geom, here.g) AS distance_m
FROM establishments e, here
WHERE e.kind = %(kind)s AND e.status IN ('ouvert', 'demande') AND ST_DWithin(e.geom, here.g, %(radius)s)
ORDER BY ST_Distance(e.geom, here.g), e.id
LIMIT %(limit)s
"""


def establishments_near(conn: psycopg.Connection, geom_ewkb: bytes, kind: str, radius_m: float,
                        limit: int) -> list[dict]:
    """Open or pending establishments of a kind within `radius_m`, nearest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(ESTABLISHMENTS_NEAR, {"geom": geom_ewkb, "kind": kind, "radius": radius_m,
                                                 "limit": limit}, prepare=True).fetchall()


def on_public_domain(conn: psycopg.Connection, geom_ewkb: bytes, tolerance_m: float) -> float:
    """Share (0–1) of a location lying on public road space (a point counts as 1 or 0)."""
    row = conn.execute(
        "WITH g AS (SELECT ST_GeomFromEWKB(%s) AS g), "
        "r AS (SELECT ST_Union(geom) AS u FROM roads, g WHERE ST_DWithin(roads.geom, g.g, %s)) "
        "SELECT CASE WHEN r.u IS NULL THEN 0 WHEN ST_Dimension(g.g) < 2 THEN "
        "(CASE WHEN ST_DWithin(r.u, g.g, %s) THEN 1 ELSE 0 END) "
        "ELSE ST_Area(ST_Intersection(ST_Buffer(r.u, %s), g.g)) / ST_Area(g.g) END FROM g, r",
        (geom_ewkb, tolerance_m, tolerance_m, tolerance_m), prepare=True).fetchone()
    return float(row[0] or 0)


def store_check(conn: psycopg.Connection, kind: str, request: dict, result: dict, outcome: str | None,
                code_version: str) -> int:
    """Keep a check's request and result (with everything it used) so it can be reproduced."""
    return conn.execute("INSERT INTO check_results (kind, request, result, outcome, code_version) "
                        "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                        (kind, Jsonb(request), Jsonb(result), outcome, code_version)).fetchone()[0]
