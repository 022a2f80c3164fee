"""Queries of the bulk instruction of a commune: its parcels, the plans in force there, their zones, and two
set-based alternatives measured beside the vectorised path (bench/instruction.py) and not used by it: the zone
shares in one statement, and the parcels wholly inside a zone told apart in SQL (`commune_split`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import psycopg
from psycopg.rows import dict_row

from layers.plan_terms import REGULATORY_KINDS


def commune_parcels(conn: psycopg.Connection, commune_code: str) -> tuple[list[int], list[str], list[bytes]]:
    """Ids, titles ('' when none) and WKB geometries of every parcel of a commune, in id order.

    One row of packed columns rather than a row per parcel: the driver builds no tuple per parcel (70,000
    parcels: 8 ms of client CPU instead of 47)."""
    with conn.cursor(binary=True) as cur:
        ids, refs, wkbs = cur.execute(
            "SELECT string_agg(int8send(id), '' ORDER BY id), string_agg(coalesce(land_ref, ''), E'\\n' ORDER BY id), "
            "array_agg(ST_AsBinary(geom) ORDER BY id) FROM parcels WHERE commune_code = %s", (commune_code,)).fetchone()
    if ids is None:
        return [], [], []
    return np.frombuffer(ids, ">i8").tolist(), refs.split("\n"), wkbs


@dataclass
class CommuneSplit:
    """The parcels of a commune in id order, split by the database: those wholly inside one of the zones sent
    (`zone_key` ≥ 0) come with their area only; the others (`zone_key` −1) with their WKB geometry too."""

    ids: np.ndarray
    refs: list[str]
    zone_key: np.ndarray
    area_m2: np.ndarray
    wkbs: list[bytes]  # the geometries of the parcels with zone_key −1, in the same order


# Every zone sent is tested against the parcels its box contains (the GiST index on parcels, the zone prepared
# once: ST_CoveredBy's cache keeps the repeated argument; `|| ''` keeps the planner from AND-ing the commune index
# into every zone's probe); a parcel covered by one needs no geometry sent. Measured (README, « Benchmarks »): on
# the 1M territory's largest arrondissement it costs the server 1.0 s of CPU (14 µs a parcel in PostGIS 3.3 /
# GEOS 3.11), four times the whole load it saves (0.25 s): the product sends every geometry and lets shapely decide.
SPLIT_SQL = """
WITH z AS MATERIALIZED (
    SELECT k, ST_GeomFromWKB(w, 26191) AS g FROM unnest(%(wkbs)s::bytea[], %(keys)s::int[]) AS t(w, k)),
inside AS MATERIALIZED (
    SELECT DISTINCT ON (p.id) p.id, z.k FROM z JOIN parcels p ON ST_CoveredBy(p.geom, z.g)
    WHERE p.commune_code || '' = %(commune)s ORDER BY p.id, z.k),
rows AS (
    SELECT p.id, p.land_ref, coalesce(i.k, -1) AS k, p.area_m2, CASE WHEN i.k IS NULL THEN p.geom END AS geom
    FROM parcels p LEFT JOIN inside i ON i.id = p.id WHERE p.commune_code = %(commune)s)
SELECT string_agg(int8send(id), '' ORDER BY id), string_agg(coalesce(land_ref, ''), E'\\n' ORDER BY id),
       string_agg(int4send(k), '' ORDER BY id), string_agg(float8send(area_m2), '' ORDER BY id),
       array_agg(ST_AsBinary(geom) ORDER BY id) FILTER (WHERE geom IS NOT NULL), count(*)
FROM rows
"""


def commune_split(conn: psycopg.Connection, commune_code: str, zone_wkbs: list[bytes],
                  zone_keys: list[int]) -> CommuneSplit:
    """The parcels of a commune, those wholly inside one of the zones (WKB, each with its key) told apart in SQL."""
    with conn.cursor(binary=True) as cur:
        ids, refs, keys, areas, wkbs, n = cur.execute(
            SPLIT_SQL, {"wkbs": zone_wkbs, "keys": zone_keys, "commune": commune_code}).fetchone()
    if not n:
        return CommuneSplit(np.zeros(0, np.int64), [], np.zeros(0, np.int64), np.zeros(0), [])
    return CommuneSplit(np.frombuffer(ids, ">i8").astype(np.int64), refs.split("\n"),
                        np.frombuffer(keys, ">i4").astype(np.int64), np.frombuffer(areas, ">f8").astype(np.float64),
                        wkbs or [])


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
