"""Mapbox vector tiles (WebMercatorQuad) built by PostGIS, with per-zoom simplification and feature caps,
and a tile cache in the database invalidated by layer versions."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import date

import psycopg
from psycopg import sql

MIN_ZOOM, MAX_ZOOM = 10, 20
EXTENT = 4096
WORLD = 2 * math.pi * 6378137.0
COS_LAT = math.cos(math.radians(33.5))  # Web Mercator metres → ground metres around Casablanca


@dataclass(frozen=True)
class TileLayer:
    """A collection as a tile layer: properties (never personal data), order and caps."""

    id: str
    table: str
    props: tuple[tuple[str, str], ...]  # (name, SQL expression on t / p)
    order: str  # biggest first, so a capped tile keeps what shows
    caps: tuple[tuple[int, int], ...]  # (from zoom, max features)
    join_plan: bool = False
    layer_versions: tuple[str, ...] = ()
    geom_3857: str | None = None  # a stored Web Mercator copy, when the table has one

    def cap(self, z: int) -> int:
        """Feature cap at zoom z."""
        return next(n for zoom, n in sorted(self.caps, reverse=True) if z >= zoom)


TILE_LAYERS = {t.id: t for t in (
    TileLayer("parcels", "parcels", (("id", "t.id"), ("land_ref", "t.land_ref"), ("commune", "t.commune_code")),
              "t.area_m2 DESC", ((10, 2000), (13, 8000), (15, 20000)), layer_versions=("parcels",),
              geom_3857="t.geom_3857"),
    TileLayer("zones", "zones", (("id", "t.id"), ("plan", "p.code"), ("code", "t.code"), ("sector", "t.sector"),
                                 ("storeys_max", "t.storeys_max"), ("height_max_m", "t.height_max_m::float8")),
              "ST_Area(t.geom) DESC", ((10, 5000),), join_plan=True, layer_versions=("zones", "plans")),
    TileLayer("prescriptions", "prescriptions", (("id", "t.id"), ("plan", "p.code"), ("kind", "t.kind"),
                                                 ("code", "t.code"), ("label", "t.label")),
              "ST_Area(t.geom) DESC", ((10, 5000),), join_plan=True, layer_versions=("prescriptions", "plans")),
)}


def tile_bounds_ok(z: int, x: int, y: int) -> bool:
    """Whether z/x/y is a tile of WebMercatorQuad within the served zooms."""
    return MIN_ZOOM <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z


def tile_sql(layer: TileLayer, z: int, day: date | None) -> sql.Composable:
    """The ST_AsMVT query of one tile (parameters: z, x, y twice, then the day when given)."""
    pixel_ground_m = WORLD / 2**z / EXTENT * COS_LAT
    props = sql.SQL(", ").join(sql.SQL("{} AS {}").format(sql.SQL(expr), sql.Identifier(name))
                               for name, expr in layer.props)
    frm = sql.SQL("{} t JOIN plans p ON p.id = t.plan_id" if layer.join_plan else "{} t").format(
        sql.Identifier(layer.table))
    when = sql.SQL(" AND plan_in_force(t.plan_id, %(day)s)") if (layer.join_plan and day) else sql.SQL("")
    if layer.geom_3857:  # stored Web Mercator copy: no transform, simplify in Mercator units
        pixel = WORLD / 2**z / EXTENT
        return sql.SQL("""
            WITH b AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS env)
            SELECT ST_AsMVT(q, {name}, {extent}, 'geom', 'id') FROM (
                SELECT {props}, ST_AsMVTGeom(ST_Simplify({g}, {tol}, true), b.env, {extent}, 64, true) AS geom
                FROM {frm}, b
                WHERE {g} && b.env AND ST_Intersects({g}, b.env){when}
                ORDER BY {order} LIMIT {cap}) q
            WHERE q.geom IS NOT NULL""").format(
            name=sql.Literal(layer.id), extent=sql.Literal(EXTENT), props=props, g=sql.SQL(layer.geom_3857),
            tol=sql.Literal(round(pixel, 4)), frm=frm, when=when, order=sql.SQL(layer.order),
            cap=sql.Literal(layer.cap(z)))
    # simplify in Merchich metres to a pixel, skip in-tile work for what is smaller than half a pixel
    return sql.SQL("""
        WITH b AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS env,
                          ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 0.015625), 26191) AS env_m)
        SELECT ST_AsMVT(q, {name}, {extent}, 'geom', 'id') FROM (
            SELECT {props},
                   ST_AsMVTGeom(ST_Transform(ST_Simplify(t.geom, {tol}, true), 3857), b.env, {extent}, 64, true) AS geom
            FROM {frm}, b
            WHERE t.geom && b.env_m AND ST_Intersects(t.geom, b.env_m){when}
            ORDER BY {order} LIMIT {cap}) q
        WHERE q.geom IS NOT NULL""").format(
        name=sql.Literal(layer.id), extent=sql.Literal(EXTENT), props=props, tol=sql.Literal(round(pixel_ground_m, 4)),
        frm=frm, when=when, order=sql.SQL(layer.order), cap=sql.Literal(layer.cap(z)))


def layers_version(conn: psycopg.Connection, layer: TileLayer) -> int:
    """Sum of the versions of the tables a tile layer reads (changes whenever any of them is written)."""
    return conn.execute("SELECT COALESCE(sum(version), 0) FROM layer_versions WHERE layer = ANY(%s)",
                        (list(layer.layer_versions),), prepare=True).fetchone()[0]


def get_tile(conn: psycopg.Connection, layer: TileLayer, z: int, x: int, y: int,
             day: date | None, use_cache: bool = True) -> tuple[bytes, str, bool]:
    """(MVT bytes, ETag, served from cache): from the cache when built from the current layer versions."""
    version = layers_version(conn, layer)
    variant = day.isoformat() if day else ""
    row = None if not use_cache else conn.execute(
        "SELECT data, etag FROM tile_cache WHERE collection = %s AND z = %s AND x = %s AND y = %s AND variant = %s "
        "AND version = %s", (layer.id, z, x, y, variant, version), prepare=True).fetchone()
    if row:
        return bytes(row[0]), row[1], True
    params = {"z": z, "x": x, "y": y, "day": day}
    data = conn.execute(tile_sql(layer, z, day), params).fetchone()[0] or b""
    data = bytes(data)
    etag = hashlib.sha1(f"{layer.id}/{z}/{x}/{y}/{variant}/{version}".encode() + data).hexdigest()[:20]
    if not use_cache:
        return data, etag, False
    conn.execute("INSERT INTO tile_cache (collection, z, x, y, variant, version, etag, data) VALUES "
                 "(%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (collection, z, x, y, variant) DO UPDATE SET "
                 "version = EXCLUDED.version, etag = EXCLUDED.etag, data = EXCLUDED.data, created_at = now()",
                 (layer.id, z, x, y, variant, version, etag, data))
    return data, etag, False


def tile_limits(conn: psycopg.Connection, layer: TileLayer) -> tuple[float, float, float, float] | None:
    """The layer's extent in EPSG:3857 (for tileset limits and TileJSON bounds)."""
    row = conn.execute(sql.SQL("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT "
                               "ST_Transform(ST_SetSRID(ST_Extent(geom)::geometry, 26191), 4326) AS e FROM {}) s").format(
        sql.Identifier(layer.table))).fetchone()
    return None if row[0] is None else tuple(round(v, 6) for v in row)
