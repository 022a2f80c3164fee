"""Queries of the instruction engine: land lookup, plans in force on a date, the overlay of every layer.

Each function runs one parameterised, prepared statement and returns plain Python values; the
instruction package turns them into findings and rules.
"""

from __future__ import annotations

from datetime import date

import psycopg
from psycopg.rows import dict_row

from gis.landref import LandRef
from layers.plan_terms import REGULATORY_KINDS

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


PLANS_AT = """
WITH land AS (SELECT ST_GeomFromEWKB(%(land)s) AS g)
SELECT p.id, p.code, p.kind, p.name, p.status, plan_status_on(p.id, %(day)s) AS status_on,
       plan_in_force(p.id, %(day)s) AS in_force, p.approval_act,
       p.approval_date, p.valid_from, p.valid_to, r.code AS replaces,
       (SELECT max(effective_date) FROM plan_statuses s WHERE s.plan_id = p.id AND s.effective_date <= %(day)s)
           AS status_since,
       CASE WHEN c.whole THEN ST_Area(land.g) ELSE ST_Area(c.part) END AS covered_m2,
       CASE WHEN c.whole THEN NULL ELSE ST_AsBinary(c.part) END AS cover_wkb
FROM plans p CROSS JOIN land LEFT JOIN plans r ON r.id = p.replaces_id
CROSS JOIN LATERAL (SELECT ST_CoveredBy(land.g, p.perimeter) AS whole) w
CROSS JOIN LATERAL (SELECT w.whole, CASE WHEN w.whole THEN NULL ELSE ST_Intersection(p.perimeter, land.g) END AS part) c
WHERE p.perimeter && land.g AND ST_Intersects(p.perimeter, land.g)
  AND plan_status_on(p.id, %(day)s) IS NOT NULL
ORDER BY p.kind, p.valid_from NULLS LAST, p.code
"""


def plans_at(conn: psycopg.Connection, land_ewkb: bytes, day: date) -> list[dict]:
    """Every plan version that touches the land and had a status on `day`, with the area it covers."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(PLANS_AT, {"land": land_ewkb, "day": day}, prepare=True).fetchall()


def _attrs(alias: str, layer: str) -> str:
    """jsonb_build_object of a layer's attribute columns (never to_jsonb(row): it would serialise the geometry)."""
    from layers.catalog import LAYERS

    names = ["id"] + [c.name for c in LAYERS[layer].columns if c.type != "landref"]
    return "jsonb_build_object(" + ", ".join(f"'{n}', {alias}.{n}" for n in names) + ")"


_AREA = "CASE WHEN ST_CoveredBy(land.g, {t}.geom) THEN land.a ELSE ST_Area(ST_Intersection({t}.geom, land.g)) END"
_WKB = "CASE WHEN ST_CoveredBy(land.g, {t}.geom) THEN NULL ELSE ST_AsBinary(ST_Intersection({t}.geom, land.g)) END"

OVERLAY = f"""
WITH land AS (SELECT g, ST_Area(g) AS a FROM (SELECT ST_GeomFromEWKB(%(land)s) AS g) x)
SELECT 'zones' AS layer, z.id, z.plan_id,
       {_attrs("z", "zones")} AS attrs, {_AREA.format(t="z")} AS area, 0.0::float8 AS length,
       CASE WHEN %(geom)s THEN {_WKB.format(t="z")} END AS wkb
FROM zones z, land WHERE z.plan_id = ANY(%(plans)s) AND z.geom && land.g AND ST_Intersects(z.geom, land.g)
UNION ALL
SELECT 'prescriptions', r.id, r.plan_id, {_attrs("r", "prescriptions")},
       CASE WHEN ST_Dimension(r.geom) = 2 THEN {_AREA.format(t="r")} ELSE 0.0 END,
       CASE WHEN ST_Dimension(r.geom) = 1 THEN ST_Length(ST_Intersection(r.geom, land.g)) ELSE 0.0 END,
       ST_AsBinary(ST_Intersection(r.geom, land.g))
FROM prescriptions r, land WHERE r.plan_id = ANY(%(plans)s) AND r.geom && land.g AND ST_Intersects(r.geom, land.g)
UNION ALL
SELECT 'sdau', s.id, s.plan_id, {_attrs("s", "sdau")}, {_AREA.format(t="s")}, 0.0,
       CASE WHEN %(geom)s THEN {_WKB.format(t="s")} END
FROM sdau_zones s, land WHERE s.plan_id = ANY(%(plans)s) AND s.geom && land.g AND ST_Intersects(s.geom, land.g)
UNION ALL
SELECT 'communes', 0, NULL, {_attrs("c", "communes").replace("'id', c.id, ", "")}, {_AREA.format(t="c")}, 0.0, NULL
FROM communes c, land WHERE c.geom && land.g AND ST_Intersects(c.geom, land.g)
ORDER BY 1, 2
"""


def overlay(conn: psycopg.Connection, land_ewkb: bytes, plan_ids: list[int], with_geometry: bool) -> list[dict]:
    """Each feature of the plans' zones, prescriptions and SDAU zones, and each commune, crossing the land.

    `area` is the area of the intersection (m²), `length` the length for linear features, `wkb` the
    intersection (always for prescriptions, on request for zones and SDAU; NULL when the land lies wholly
    inside the feature).
    """
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(OVERLAY, {"land": land_ewkb, "plans": plan_ids, "geom": with_geometry},
                           prepare=True).fetchall()


ROADS_NEAR = """
WITH land AS (SELECT ST_GeomFromEWKB(%(land)s) AS g)
SELECT r.id, r.name, r.width_m::float8 AS width_m, ST_Distance(r.geom, land.g) AS distance_m,
       ST_AsBinary(r.geom) AS wkb
FROM roads r, land WHERE ST_DWithin(r.geom, land.g, %(tolerance)s)
ORDER BY r.width_m DESC NULLS LAST, r.id
"""


def roads_near(conn: psycopg.Connection, land_ewkb: bytes, tolerance_m: float) -> list[dict]:
    """Existing roads within `tolerance_m` of the land (the roads it fronts)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(ROADS_NEAR, {"land": land_ewkb, "tolerance": tolerance_m}, prepare=True).fetchall()


CONTEXT = """
SELECT (SELECT min(effective_date) FROM plan_statuses),
       (SELECT to_char(max(changed_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') FROM layer_versions),
       r.version, r.content
FROM (SELECT 1) one
LEFT JOIN LATERAL (SELECT version, content FROM rule_sets WHERE kind = 'thresholds' AND valid_from <= %(day)s
                   ORDER BY valid_from DESC, id DESC LIMIT 1) r ON true
"""


def instruction_context(conn: psycopg.Connection, day: date) -> tuple[date | None, str | None, tuple[str, dict]]:
    """In one round trip: the first plan date, the data timestamp and the thresholds valid on `day`."""
    earliest, stamp, version, content = conn.execute(CONTEXT, {"day": day}, prepare=True).fetchone()
    if version is None:
        _no_rules(conn, "thresholds", day)
    return earliest, stamp, (version, content)


def rule_set(conn: psycopg.Connection, kind: str, day: date) -> tuple[str, dict]:
    """The version of a rule set valid on `day`, and its content."""
    row = conn.execute("SELECT version, content FROM rule_sets WHERE kind = %s AND valid_from <= %s "
                       "ORDER BY valid_from DESC, id DESC LIMIT 1", (kind, day), prepare=True).fetchone()
    if row is None:
        _no_rules(conn, kind, day)
    return row[0], row[1]


def _no_rules(conn: psycopg.Connection, kind: str, day: date) -> None:
    """A date before every version is the caller's mistake (400); no version at all is ours (500)."""
    from gis.errors import ConfigError, InputError

    first = conn.execute("SELECT min(valid_from) FROM rule_sets WHERE kind = %s", (kind,)).fetchone()[0]
    if first is None:
        raise ConfigError(f"aucune version des règles « {kind} » (table rule_sets)")
    raise InputError(f"date du {day} antérieure aux règles « {kind} » enregistrées (à partir du {first})")


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
    from psycopg.types.json import Jsonb

    return conn.execute("INSERT INTO check_results (kind, request, result, outcome, code_version) "
                        "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                        (kind, Jsonb(request), Jsonb(result), outcome, code_version)).fetchone()[0]


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
