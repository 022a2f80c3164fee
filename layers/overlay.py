"""Queries of the instruction of one land as of a date: plans on that date, the overlay of every layer, the roads
it fronts, and the context (first plan date, data timestamp, thresholds) in one round trip.

Each function runs one parameterised, prepared statement and returns plain Python values; the
instruction package turns them into findings and rules. Land lookup is in layers/parcels.py.
"""

from __future__ import annotations

from datetime import date

import psycopg
from psycopg.rows import dict_row

from layers.rule_sets import no_rules

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


# The partner layers the instruction shows (issue 16): declared information layers open to the public, in their
# version in force. Only « public » ones: a note is read by its applicant (or anyone, for the indicative note), so
# it shows only what every reader of a note may see; a « partners » layer stays in the partners' own catalogue.
PARTNER_INFO = """(SELECT id, slug, organisation, current_version AS version, geometry_kind, attributes,
       COALESCE(info_label_fr, title_fr) AS label_fr, COALESCE(info_label_ar, info_label_fr, title_ar, title_fr) AS label_ar
FROM partner_layers WHERE information_layer AND audience = 'public' AND current_version IS NOT NULL)"""
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
UNION ALL
SELECT 'partner', f.id, NULL,
       jsonb_build_object('slug', l.slug, 'organisation', l.organisation, 'version', l.version,
                          'label_fr', l.label_fr, 'label_ar', l.label_ar, 'kind', l.geometry_kind,
                          'attributes', l.attributes, 'properties', f.properties),
       CASE WHEN ST_Dimension(f.geom) = 2 THEN {_AREA.format(t="f")} ELSE 0.0 END,
       CASE WHEN ST_Dimension(f.geom) = 1 THEN ST_Length(ST_Intersection(f.geom, land.g)) ELSE 0.0 END, NULL
FROM {PARTNER_INFO} l JOIN partner_features f ON f.layer_id = l.id AND f.version = l.version, land
WHERE f.geom && land.g AND ST_Intersects(f.geom, land.g)
ORDER BY 1, 2
"""


def overlay(conn: psycopg.Connection, land_ewkb: bytes, plan_ids: list[int], with_geometry: bool) -> list[dict]:
    """Each feature of the plans' zones, prescriptions and SDAU zones, each commune, and each feature of the
    partner information layers (PARTNER_INFO), crossing the land.

    `area` is the area of the intersection (m²), `length` the length for linear features, `wkb` the
    intersection (always for prescriptions, on request for zones and SDAU; NULL when the land lies wholly
    inside the feature).
    """
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(OVERLAY, {"land": land_ewkb, "plans": plan_ids, "geom": with_geometry},
                           prepare=True).fetchall()


ZONES_BY_ID = f"SELECT z.id, {_attrs('z', 'zones')} AS attrs FROM zones z WHERE z.id = ANY(%(ids)s)"


def zones_by_id(conn: psycopg.Connection, ids: list[int]) -> dict[int, dict]:
    """The attributes of zones (as the overlay reads them, conditional rules included), by id."""
    with conn.cursor(row_factory=dict_row) as cur:
        return {r["id"]: r["attrs"] for r in cur.execute(ZONES_BY_ID, {"ids": ids}, prepare=True)}


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
        no_rules(conn, "thresholds", day)
    return earliest, stamp, (version, content)
