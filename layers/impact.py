"""Queries of the plan impact (issue 15): the two plan versions, what the vectorised computation reads (zones,
deductions, a commune's parcels, in binary) and writes (a binary COPY of whole columns), the run and its exports.

The computation itself is instruction/impact_rows.py (shapely 2 over STRtrees, numpy), driven by
instruction/impact.py.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import psycopg
import pyogrio
import shapely
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from gis.crs import CRS84, parse_crs, srid_of
from gis.errors import CRSError, FileFormatError, InputError, NotFound
from layers.bulk import copy_columns
from layers.plan_terms import PLAN_KINDS, REGULATORY_KINDS

DEDUCTED_KINDS = ("road_widening", "new_road", "facility_reservation", "green_space", "non_aedificandi")
ROAD_KINDS = ("road_widening", "new_road")
NOISE_M2 = 0.01  # below this an area is digitising noise (instruction/envelope.py NOISE_M2)
OVERLAP_M2 = 1.0  # two perimeters (or a commune and a plan) that share less than this only touch
ZONE_COLUMNS = ("id", "plan_id", "code", "sector", "label", "height_max_m", "storeys_max", "footprint_max_pct",
                "cos_value", "cos_meaning", "cus_value", "cus_meaning", "min_plot_area_m2", "min_frontage_m",
                "setback_road_m", "setback_side_m", "setback_rear_m", "continuous_frontage", "uses_allowed",
                "uses_forbidden", "uses_conditional", "conditional_rules", "dominant_use")
FORMATS = {"json": "application/geo+json", "csv": "text/csv", "gpkg": "application/geopackage+sqlite3"}


# ---------------------------------------------------------------------------------------------- inputs
PAIR = """
SELECT p.code, p.id, p.kind, p.name, p.status, p.status_date, p.approval_act, p.valid_from, p.valid_to,
       p.perimeter IS NOT NULL AS has_perimeter
FROM plans p WHERE p.code = ANY(%s)
"""


def plan_pair(conn: psycopg.Connection, from_code: str, to_code: str) -> tuple[dict, dict, float]:
    """The two plan versions and the area (m²) their perimeters share; refused with a French message unless both
    exist, are regulatory (not the SDAU), differ and overlap."""
    if from_code == to_code:
        raise InputError(f"comparer le plan « {from_code} » à lui-même n'a pas de sens : donnez deux versions "
                         "différentes (par ex. le plan en vigueur et sa révision)")
    with conn.cursor(row_factory=dict_row) as cur:
        found = {r["code"]: r for r in cur.execute(PAIR, ([from_code, to_code],)).fetchall()}
    for code, which in ((from_code, "de départ"), (to_code, "comparé")):
        if code not in found:
            codes = [r[0] for r in conn.execute("SELECT code FROM plans WHERE kind = ANY(%s) ORDER BY code LIMIT 20",
                                                (list(REGULATORY_KINDS),))]
            raise NotFound(f"plan {which} inconnu : « {code} »" + (f" (plans réglementaires : {', '.join(codes)})"
                                                                  if codes else " (aucun plan chargé)"))
        plan = found[code]
        if plan["kind"] not in REGULATORY_KINDS:
            raise InputError(f"le plan « {code} » est un {PLAN_KINDS.get(plan['kind'], plan['kind'])} : l'impact se "
                             f"calcule entre deux plans réglementaires ({', '.join(REGULATORY_KINDS)})")
        if not plan["has_perimeter"]:
            raise InputError(f"le plan « {code} » n'a pas de périmètre : impossible de savoir quelles parcelles il "
                             "couvre (importez son périmètre)")
    shared = conn.execute("SELECT ST_Area(ST_Intersection(a.perimeter, b.perimeter)) FROM plans a, plans b "
                          "WHERE a.id = %s AND b.id = %s", (found[from_code]["id"], found[to_code]["id"])).fetchone()[0]
    if not shared or shared < OVERLAP_M2:
        raise InputError(f"les plans « {from_code} » et « {to_code} » ne se recouvrent pas : l'impact compare deux "
                         "versions d'un même territoire")
    return found[from_code], found[to_code], float(shared)


AREA_COVER = """
SELECT ST_Area(ST_Intersection(c.geom, ST_Intersection(a.perimeter, b.perimeter)))
FROM communes c, plans a, plans b WHERE c.code = %s AND a.id = %s AND b.id = %s
"""


def check_area(conn: psycopg.Connection, commune_code: str, commune_name: str, from_plan: dict, to_plan: dict) -> None:
    """Refuse a commune that the two plans do not both cover (in part at least)."""
    shared = conn.execute(AREA_COVER, (commune_code, from_plan["id"], to_plan["id"])).fetchone()
    if not shared or not shared[0] or shared[0] < OVERLAP_M2:
        raise InputError(f"la commune {commune_name} ({commune_code}) n'est pas couverte par les deux plans "
                         f"« {from_plan['code']} » et « {to_plan['code']} » : choisissez une commune de leur "
                         "périmètre commun, ou aucune")


def run_communes(conn: psycopg.Connection, from_id: int, to_id: int) -> list[str | None]:
    """The communes whose parcels a whole-plan run covers (None: the parcels without a commune, if any)."""
    rows = conn.execute(
        "WITH u AS (SELECT ST_Union(perimeter) AS g FROM plans WHERE id IN (%(f)s, %(t)s)) "
        "SELECT c.code FROM communes c, u WHERE c.geom && u.g AND ST_Area(ST_Intersection(c.geom, u.g)) >= %(min)s "
        "ORDER BY c.code", {"f": from_id, "t": to_id, "min": OVERLAP_M2}).fetchall()
    out: list[str | None] = [r[0] for r in rows]
    orphans = conn.execute("SELECT EXISTS (SELECT 1 FROM parcels p, plans pl WHERE pl.id IN (%s, %s) "
                           "AND p.commune_code IS NULL AND p.geom && pl.perimeter)", (from_id, to_id)).fetchone()[0]
    return [*out, None] if orphans else out


def plan_zones(conn: psycopg.Connection, plan_ids: list[int]) -> list[dict]:
    """The zones of some plan versions with their rules and WKB geometry (`wkb`), in binary."""
    with conn.cursor(binary=True, row_factory=dict_row) as cur:
        return cur.execute(sql.SQL("SELECT {}, ST_AsBinary(geom) AS wkb FROM zones WHERE plan_id = ANY(%s) "
                                   "ORDER BY id").format(sql.SQL(", ").join(sql.Identifier(c) for c in ZONE_COLUMNS)),
                           (plan_ids,)).fetchall()


# ---------------------------------------------------------------------------------------------- the run
def start_run(conn: psycopg.Connection, from_id: int, to_id: int, area: str | None, job_id: str | None,
              provenance: dict) -> int:
    """A new run (status running), after the pair's lock: two runs of one pair publish one after the other."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('urbasig.impact'), %s * 65536 + %s)",
                 (from_id % 32768, to_id % 65536))
    row = conn.execute("INSERT INTO impact_runs (job_id, from_plan_id, to_plan_id, area, provenance) "
                       "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                       (job_id, from_id, to_id, area, Jsonb(provenance))).fetchone()
    return int(row[0])


# What the vectorised computation (instruction/impact_rows.py) reads, moved once per run (zones, deductions) or
# per commune (parcels), in binary; and what it writes, with one binary COPY per commune.
DEDUCTIONS_SQL = """
SELECT plan_id, kind, ST_AsBinary(geom) AS wkb FROM prescriptions WHERE plan_id = ANY(%s) AND kind = ANY(%s)
ORDER BY id
"""
PARCELS_SQL = "SELECT id, area_m2, ST_AsBinary(geom) FROM parcels p WHERE {} ORDER BY id"
PARCEL_COLUMNS = (("run_id", "int8"), ("parcel_id", "int8"), ("commune_code", "text"), ("zone_before", "text"),
                  ("zone_after", "text"), ("zones_before", "int2"), ("zones_after", "int2"),
                  ("floor_before_m2", "float8"), ("floor_after_m2", "float8"), ("floor_delta_m2", "float8"),
                  ("uses_gained", "text[]"), ("uses_lost", "text[]"), ("reserved_new_m2", "float8"),
                  ("widening_new_m2", "float8"), ("buildable_before", "bool"), ("buildable_after", "bool"),
                  ("change", "text"))


def plan_deductions(conn: psycopg.Connection, plan_ids: list[int]) -> list[dict]:
    """The deducted prescriptions (planned roads, reservations, green spaces, no-build areas) of some plan
    versions: plan, kind and WKB geometry."""
    with conn.cursor(binary=True, row_factory=dict_row) as cur:
        return cur.execute(DEDUCTIONS_SQL, (plan_ids, list(DEDUCTED_KINDS))).fetchall()


def run_parcels(conn: psycopg.Connection, commune: str | None, plan_ids: list[int]) -> tuple[list, list, list]:
    """Ids, stored areas (m²) and WKB geometries of one commune's parcels (None: the parcels without a commune
    near either plan), in binary."""
    if commune is not None:
        where, params = sql.SQL("p.commune_code = %s"), [commune]
    else:
        where = sql.SQL("p.commune_code IS NULL AND EXISTS (SELECT 1 FROM plans pl WHERE pl.id = ANY(%s) "
                        "AND p.geom && pl.perimeter)")
        params = [plan_ids]
    with conn.cursor(binary=True) as cur:
        rows = cur.execute(sql.SQL(PARCELS_SQL).format(where), params).fetchall()
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def write_parcels(conn: psycopg.Connection, columns: Sequence[tuple[str, str, object]]) -> int:
    """Write rows of impact_parcels, given as columns (layers/bulk.py copy_columns), with one binary COPY; their
    count."""
    return copy_columns(conn, "impact_parcels", columns)


def commune_names(conn: psycopg.Connection, codes: list[str]) -> dict[str, str]:
    """The names of some communes, by code."""
    return dict(conn.execute("SELECT code, name FROM communes WHERE code = ANY(%s)", (codes,)).fetchall())


def finish_run(conn: psycopg.Connection, run_id: int, parcels: int, summary: dict, publish: bool) -> None:
    """Mark the run done with its summary; when `publish`, it replaces the pair's published run."""
    if publish:
        conn.execute("UPDATE impact_runs SET published = false WHERE published AND id <> %s AND (from_plan_id, "
                     "to_plan_id) = (SELECT from_plan_id, to_plan_id FROM impact_runs WHERE id = %s)", (run_id, run_id))
    conn.execute("UPDATE impact_runs SET status = 'done', parcels = %s, summary = %s, finished_at = clock_timestamp(), "
                 "published = %s WHERE id = %s", (parcels, Jsonb(summary), publish, run_id))


def get_run(conn: psycopg.Connection, run_id: int) -> dict:
    """A run with its plan codes, or NotFound."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT r.id, r.status, r.published, r.area, r.parcels, r.summary, r.provenance, "
                          "r.created_at, r.finished_at, f.code AS from_plan, t.code AS to_plan FROM impact_runs r "
                          "JOIN plans f ON f.id = r.from_plan_id JOIN plans t ON t.id = r.to_plan_id WHERE r.id = %s",
                          (run_id,)).fetchone()
    if row is None:
        raise NotFound(f"calcul d'impact inconnu : n° {run_id}")
    return row


# ---------------------------------------------------------------------------------------------- exports
EXPORT_COLUMNS = (
    ("parcel_id", "i.parcel_id", "int"), ("land_ref", "COALESCE(p.land_ref, 'non immatriculé')", "text"),
    ("commune_code", "i.commune_code", "text"), ("area_m2", "round(p.area_m2::numeric, 2)::float8", "float"),
    ("zone_before", "i.zone_before", "text"), ("zone_after", "i.zone_after", "text"),
    ("zones_before", "i.zones_before", "int"), ("zones_after", "i.zones_after", "int"),
    ("floor_before_m2", "round(i.floor_before_m2::numeric, 2)::float8", "float"),
    ("floor_after_m2", "round(i.floor_after_m2::numeric, 2)::float8", "float"),
    ("floor_delta_m2", "round(i.floor_delta_m2::numeric, 2)::float8", "float"),
    ("uses_gained", "array_to_string(i.uses_gained, '; ')", "text"),
    ("uses_lost", "array_to_string(i.uses_lost, '; ')", "text"),
    ("reserved_new_m2", "round(i.reserved_new_m2::numeric, 2)::float8", "float"),
    ("widening_new_m2", "round(i.widening_new_m2::numeric, 2)::float8", "float"),
    ("buildable_before", "i.buildable_before", "bool"), ("buildable_after", "i.buildable_after", "bool"),
    ("change", "i.change", "text"),
)


def _srid(crs_text: str) -> int:
    srid = srid_of(parse_crs(crs_text))
    if srid is None:
        raise CRSError(f"SCR d'export sans code EPSG : {crs_text}")
    return srid


def _geom_sql(srid: int, as_geojson: bool) -> sql.Composable:
    geom = sql.SQL("p.geom") if srid == 26191 else sql.SQL("ST_Transform(p.geom, {})").format(sql.Literal(srid))
    if as_geojson:
        return sql.SQL("ST_AsGeoJSON({}, 8)::json").format(geom)
    return sql.SQL("ST_AsBinary({})").format(geom)


def _select(srid: int, as_geojson: bool) -> sql.Composable:
    cols = sql.SQL(", ").join(sql.SQL(expr + " AS {}").format(sql.Identifier(name)) for name, expr, _ in EXPORT_COLUMNS)
    return sql.SQL("SELECT {cols}, {geom} AS geom FROM impact_parcels i JOIN parcels p ON p.id = i.parcel_id "
                   "WHERE i.run_id = %s ORDER BY i.parcel_id").format(cols=cols, geom=_geom_sql(srid, as_geojson))


def impact_export(conn: psycopg.Connection, run_id: int, fmt: str, crs: str | None = None) -> bytes:
    """One run's parcels as GeoJSON (`json`, CRS84 unless `crs`), CSV with a WKT geometry or GeoPackage (EPSG:26191
    unless `crs`); parcel geometry joined from parcels, never an owner."""
    if fmt not in FORMATS:
        raise FileFormatError(f"format d'export « {fmt} » inconnu (formats : {', '.join(FORMATS)})")
    run = get_run(conn, run_id)
    crs_text = crs or (CRS84 if fmt == "json" else "EPSG:26191")
    srid = _srid(crs_text)
    if fmt == "json":
        return _geojson(conn, run, srid, crs_text)
    rows = conn.execute(_select(srid, False), (run_id,)).fetchall()
    names = [name for name, _, _ in EXPORT_COLUMNS]
    geoms = shapely.from_wkb([r[-1] for r in rows]) if rows else []
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*names, "wkt"])
        for row, geom in zip(rows, geoms, strict=True):
            writer.writerow([_csv_value(v) for v in row[:-1]] + [shapely.to_wkt(geom, rounding_precision=3 if srid
                                                                                == 26191 else 8)])
        return out.getvalue().encode("utf-8")
    records = {name: [r[i] for r in rows] for i, name in enumerate(names)}
    frame = gpd.GeoDataFrame(records, geometry=list(geoms), crs=parse_crs(crs_text).to_wkt())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "impact.gpkg"
        pyogrio.write_dataframe(frame, path, driver="GPKG", layer="plan_impact", promote_to_multi=True,
                                layer_options={"DESCRIPTION": f"Impact {run['from_plan']} → {run['to_plan']}, "
                                                              f"calcul n° {run_id}"})
        return path.read_bytes()


def _csv_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    return value


def _geojson(conn: psycopg.Connection, run: dict, srid: int, crs_text: str) -> bytes:
    props = sql.SQL(", ").join(sql.SQL("{}, q.{}").format(sql.Literal(name), sql.Identifier(name))
                               for name, _, _ in EXPORT_COLUMNS)
    query = sql.SQL("SELECT COALESCE(json_agg(json_build_object('type', 'Feature', 'id', q.parcel_id, "
                    "'properties', json_build_object({props}), 'geometry', q.geom)), '[]'::json)::text "
                    "FROM ({select}) q").format(props=props, select=_select(srid, True))
    features = conn.execute(query, (run["id"],)).fetchone()[0]
    head = {"type": "FeatureCollection", "name": "plan_impact",
            "run": {"id": run["id"], "from_plan": run["from_plan"], "to_plan": run["to_plan"], "area": run["area"],
                    "status": run["status"], "published": run["published"], "parcels": run["parcels"]}}
    if srid != 4326:
        head["crs"] = {"type": "name", "properties": {"name": crs_text}}
    text = json.dumps(head, ensure_ascii=False)[:-1] + ', "features": ' + features + "}"
    return text.encode("utf-8")
