"""The query of a note's map extract: parcels, zones, roads and prescriptions clipped to the frame."""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row

MAP = """
WITH b AS (SELECT ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 26191) AS g),
pl AS (SELECT id FROM plans WHERE code = ANY(%(plans)s))
SELECT 'parcels' AS layer, NULL AS code, ST_AsBinary(ST_Intersection(t.geom, b.g)) AS wkb
FROM parcels t, b WHERE t.geom && b.g
UNION ALL
SELECT 'zones', z.code, ST_AsBinary(ST_Intersection(z.geom, b.g)) FROM zones z, b
WHERE z.plan_id IN (SELECT id FROM pl) AND z.geom && b.g
UNION ALL
SELECT 'roads', r.name, ST_AsBinary(ST_Intersection(r.geom, b.g)) FROM roads r, b WHERE r.geom && b.g
UNION ALL
SELECT 'prescriptions', p.kind, ST_AsBinary(ST_Intersection(p.geom, b.g)) FROM prescriptions p, b
WHERE p.plan_id IN (SELECT id FROM pl) AND p.geom && b.g
"""


def map_layers(conn: psycopg.Connection, bbox: tuple[float, float, float, float], plan_codes: list[str]) -> list[dict]:
    """What a map extract shows around a land: parcels, zones, roads and prescriptions clipped to the frame."""
    x0, y0, x1, y1 = bbox
    with conn.cursor(row_factory=dict_row, binary=True) as cur:
        return cur.execute(MAP, {"x0": x0, "y0": y0, "x1": x1, "y1": y1, "plans": plan_codes}).fetchall()
