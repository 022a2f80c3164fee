"""Mapbox vector tiles (WebMercatorQuad, WorldCRS84Quad) built by PostGIS, with per-zoom simplification and
feature caps, and a tile cache in the database invalidated by layer versions."""

from __future__ import annotations

import hashlib
import math
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import psycopg
from psycopg import sql

from gis.crs import storage_area_lonlat
from gis.tms import METRES_PER_DEGREE, WEB_MERCATOR_QUAD, WORLD_CRS84_QUAD, TileMatrixSet
from layers.catalog import CATALOGUE, Column, Layer
from layers.db import primary

MIN_ZOOM, MAX_ZOOM = WEB_MERCATOR_QUAD.served
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
    feature_id: bool = True  # whether "id" is an integer MVT feature id (else a plain property, e.g. a code)
    changes_of: str | None = None  # in a draft's tiles: cut to where this column differs from the plans in force
    where: str = ""  # a condition on t besides the tile's (a partner layer: its version in force)
    audience: str = "public"  # a partner layer's: not public, its tiles are private

    def cap(self, z: int) -> int:
        """Feature cap at zoom z."""
        return next(n for zoom, n in sorted(self.caps, reverse=True) if z >= zoom)


def _tile_expr(column: Column) -> str:
    expr = column.expr or f"t.{column.name}"
    return f"{expr}::float8" if column.type == "float" else expr  # MVT has no numeric type


def tile_layer_of(layer: Layer) -> TileLayer:
    """The vector tile layer of a catalogue layer that declares tiles (its `tile` columns, never personal data)."""
    spec = layer.tiles
    props = (("id", f"t.{layer.id_column}"),
             *((c.tile, _tile_expr(c)) for c in layer.fields if c.tile and c.ogc == "public"))
    return TileLayer(layer.name, layer.table, props, spec.order, spec.caps, join_plan=layer.plan_bound,
                     layer_versions=layer.versions, geom_3857=spec.geom_3857, feature_id=layer.id_column == "id",
                     changes_of=spec.changes_of)


TILE_LAYERS = {name: tile_layer_of(layer) for name, layer in CATALOGUE.items() if layer.tiles}


DRAFT = "enquete_publique"  # the plan versions a draft tile shows (tile parameter versions)


def _common(layer: TileLayer, z: int, day: date | None, status: str | None = None) -> dict[str, sql.Composable]:
    if not layer.join_plan or not day:
        when = sql.SQL("")
    elif status:  # the versions with that status that day (a plan in public inquiry), not the ones in force
        when = sql.SQL(" AND plan_status_on(t.plan_id, %(day)s) = %(status)s")
    else:
        when = sql.SQL(" AND plan_in_force(t.plan_id, %(day)s)")
    if layer.where:
        when = sql.SQL(f" AND {layer.where}") + when
    mvt_id = sql.SQL(", 'id'") if layer.feature_id else sql.SQL("")
    return {"name": sql.Literal(layer.id), "extent": sql.Literal(EXTENT), "order": sql.SQL(layer.order),
            "props": sql.SQL(", ").join(sql.SQL("{} AS {}").format(sql.SQL(expr), sql.Identifier(name))
                                        for name, expr in layer.props),
            "frm": sql.SQL("{} t JOIN plans p ON p.id = t.plan_id" if layer.join_plan else "{} t").format(
                sql.Identifier(layer.table)),
            "when": when, "mvt_id": mvt_id}


def _changes_sql(layer: TileLayer, z: int, day: date | None, status: str) -> sql.Composable:
    """A draft's features cut to where `changes_of` differs from the versions in force that day (WebMercatorQuad).

    Each piece keeps the draft feature's properties and adds `was`: the value in force there. Where the draft
    changes nothing, the tile holds nothing: the map draws only what the draft would change.
    """
    parts = _common(layer, z, day, status) | {"cap": sql.Literal(layer.cap(z)),
                                              "col": sql.Identifier(layer.changes_of or "")}
    return sql.SQL("""
        WITH b AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS env,
                          ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 0.015625), 26191) AS env_m)
        SELECT ST_AsMVT(q, {name}, {extent}, 'geom'{mvt_id}) FROM (
            SELECT {props}, f.{col} AS was,
                   ST_AsMVTGeom(ST_Transform(ST_Simplify(ST_CollectionExtract(ST_Intersection(
                       ST_ClipByBox2D(t.geom, b.env_m), ST_ClipByBox2D(f.geom, b.env_m)), 3), {tol}, true), 3857),
                       b.env, {extent}, 64, true) AS geom
            FROM {frm} CROSS JOIN b JOIN {table} f ON f.geom && t.geom AND ST_Intersects(f.geom, t.geom)
            WHERE t.geom && b.env_m AND f.geom && b.env_m{when} AND plan_in_force(f.plan_id, %(day)s)
              AND f.{col} IS DISTINCT FROM t.{col} AND ST_Area(ST_Intersection(t.geom, f.geom)) > 1
            ORDER BY {order} LIMIT {cap}) q
        WHERE q.geom IS NOT NULL""").format(tol=sql.Literal(round(WORLD / 2**z / EXTENT * COS_LAT, 4)),
                                            table=sql.Identifier(layer.table), **parts)


def _mercator_sql(layer: TileLayer, z: int, day: date | None, status: str | None = None) -> sql.Composable:
    """WebMercatorQuad (parameters z, x, y, day, status)."""
    if status and layer.changes_of:
        return _changes_sql(layer, z, day, status)
    parts = _common(layer, z, day, status) | {"cap": sql.Literal(layer.cap(z))}
    if layer.geom_3857:  # stored Web Mercator copy: no transform, simplify in Mercator units
        return sql.SQL("""
            WITH b AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS env)
            SELECT ST_AsMVT(q, {name}, {extent}, 'geom'{mvt_id}) FROM (
                SELECT {props}, ST_AsMVTGeom(ST_Simplify({g}, {tol}, true), b.env, {extent}, 64, true) AS geom
                FROM {frm}, b
                WHERE {g} && b.env AND ST_Intersects({g}, b.env){when}
                ORDER BY {order} LIMIT {cap}) q
            WHERE q.geom IS NOT NULL""").format(g=sql.SQL(layer.geom_3857),
                                                tol=sql.Literal(round(WORLD / 2**z / EXTENT, 4)), **parts)
    # simplify in Merchich metres to a pixel, skip in-tile work for what is smaller than half a pixel
    return sql.SQL("""
        WITH b AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS env,
                          ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 0.015625), 26191) AS env_m)
        SELECT ST_AsMVT(q, {name}, {extent}, 'geom'{mvt_id}) FROM (
            SELECT {props},
                   ST_AsMVTGeom(ST_Transform(ST_Simplify(t.geom, {tol}, true), 3857), b.env, {extent}, 64, true) AS geom
            FROM {frm}, b
            WHERE t.geom && b.env_m AND ST_Intersects(t.geom, b.env_m){when}
            ORDER BY {order} LIMIT {cap}) q
        WHERE q.geom IS NOT NULL""").format(tol=sql.Literal(round(WORLD / 2**z / EXTENT * COS_LAT, 4)), **parts)


def _crs84_sql(layer: TileLayer, z: int, day: date | None) -> sql.Composable:
    """WorldCRS84Quad (parameters x0, y0, x1, y1 of the tile in degrees, margin, day)."""
    cell_deg = WORLD_CRS84_QUAD.cell(z) * 256 / EXTENT
    parts = _common(layer, z, day) | {"cap": sql.Literal(layer.cap(z + 1))}  # level z ~ WebMercatorQuad z + 1
    return sql.SQL("""
        WITH b AS (SELECT ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 4326) AS env,
                          ST_Transform(ST_Segmentize(ST_Expand(ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 4326),
                                                               %(margin)s), %(margin)s), 26191) AS env_m)
        SELECT ST_AsMVT(q, {name}, {extent}, 'geom'{mvt_id}) FROM (
            SELECT {props},
                   ST_AsMVTGeom(ST_Transform(ST_Simplify(t.geom, {tol}, true), 4326), b.env, {extent}, 64, true) AS geom
            FROM {frm}, b
            WHERE t.geom && b.env_m AND ST_Intersects(t.geom, b.env_m){when}
            ORDER BY {order} LIMIT {cap}) q
        WHERE q.geom IS NOT NULL""").format(tol=sql.Literal(round(cell_deg * METRES_PER_DEGREE * COS_LAT, 4)),
                                            **parts)


def tile_sql(layer: TileLayer, z: int, day: date | None, tms: TileMatrixSet = WEB_MERCATOR_QUAD,
             status: str | None = None) -> sql.Composable:
    """The ST_AsMVT query of one tile of a tile matrix set (parameters from tile_params).

    `status` (WebMercatorQuad only): the plan versions with that status on `day` instead of those in force.
    """
    return _crs84_sql(layer, z, day) if tms is WORLD_CRS84_QUAD else _mercator_sql(layer, z, day, status)


def tile_params(tms: TileMatrixSet, z: int, x: int, y: int, day: date | None,
                status: str | None = None) -> dict[str, object]:
    """The parameters of tile_sql for tile z/y/x (x: column, y: row)."""
    if tms is not WORLD_CRS84_QUAD:
        return {"z": z, "x": x, "y": y, "day": day, "status": status}
    x0, y0, x1, y1 = tms.envelope(z, y, x)
    return {"x0": x0, "y0": y0, "x1": x1, "y1": y1, "margin": (x1 - x0) / 64, "day": day}


def layers_version(conn: psycopg.Connection, layer: TileLayer) -> int:
    """Sum of the versions of the tables a tile layer reads (changes whenever any of them is written)."""
    return conn.execute("SELECT COALESCE(sum(version), 0) FROM layer_versions WHERE layer = ANY(%s)",
                        (list(layer.layer_versions),), prepare=True).fetchone()[0]


@lru_cache(maxsize=1)
def _storage_area() -> tuple[float, float, float, float]:
    return storage_area_lonlat()


def _may_hold_data(tms: TileMatrixSet, z: int, x: int, y: int) -> bool:
    west, south, east, north = tms.lonlat_envelope(z, y, x)
    a_west, a_south, a_east, a_north = _storage_area()
    return west < a_east and east > a_west and south < a_north and north > a_south


@dataclass(frozen=True)
class CacheCap:
    """How much the tile cache may hold: past either bound the oldest tiles go, down to 90 % of both."""

    max_rows: int = 50_000
    max_bytes: int = 256 * 1024 * 1024

    @property
    def check_every(self) -> int:
        """Inserts between two measures of the cache, on average (one in a hundredth of the row cap)."""
        return max(1, self.max_rows // 100)


DEFAULT_CAP = CacheCap()
# The newest tiles are kept while both running totals fit; the rest are the oldest, to evict.
_OLDEST = """
SELECT ctid FROM (
    SELECT ctid, row_number() OVER w AS newer_rows, sum(octet_length(data)) OVER w AS newer_bytes
    FROM tile_cache WINDOW w AS (ORDER BY created_at DESC, collection, z, x, y, variant)) r
WHERE newer_rows > %(rows)s OR newer_bytes > %(bytes)s
"""


def trim_cache(conn: psycopg.Connection, cap: CacheCap) -> int:
    """Evict the oldest tiles when the cache is past its cap (rows or bytes); returns how many went.

    Rows another request holds are skipped, never waited for (no deadlock with a concurrent insert).
    """
    rows, size = conn.execute("SELECT count(*), COALESCE(sum(octet_length(data)), 0) FROM tile_cache").fetchone()
    if rows <= cap.max_rows and size <= cap.max_bytes:
        return 0
    old = [r[0] for r in conn.execute(_OLDEST, {"rows": int(cap.max_rows * 0.9),
                                                "bytes": int(cap.max_bytes * 0.9)}).fetchall()]
    return conn.execute("DELETE FROM tile_cache WHERE ctid IN (SELECT ctid FROM tile_cache WHERE ctid = ANY(%s) "
                        "FOR UPDATE SKIP LOCKED)", (old,)).rowcount


def tile_variant(day: date | None, status: str | None = None, tms: TileMatrixSet = WEB_MERCATOR_QUAD) -> str:
    """What besides z/x/y tells two tiles of a layer apart: the day, a draft's status, the tile matrix set."""
    variant = day.isoformat() if day else ""
    if status:  # a draft's tile is another tile than the plans in force of the same day
        variant = f"{variant}:{status}"
    if tms is not WEB_MERCATOR_QUAD:
        variant = f"{tms.id}:{variant}"
    return variant


def _etag(layer: TileLayer, z: int, x: int, y: int, variant: str, version: int, data: bytes = b"") -> str:
    return hashlib.sha1(f"{layer.id}/{z}/{x}/{y}/{variant}/{version}".encode() + data).hexdigest()[:20]


def get_tile(conn: psycopg.Connection, layer: TileLayer, z: int, x: int, y: int, day: date | None,
             use_cache: bool = True, tms: TileMatrixSet = WEB_MERCATOR_QUAD,
             cap: CacheCap = DEFAULT_CAP, status: str | None = None,
             version: int | None = None) -> tuple[bytes, str, bool]:
    """(MVT bytes, ETag, served from cache): from the cache when built from the current layer versions.

    Empty tiles are not cached (finding nothing through the spatial index costs less than a cache row each,
    and an anonymous client could otherwise fill the table with the empty sea); the cache stays under `cap`.
    `version`: the layers' version when the caller already knows it (TileMemory), else it is read.
    """
    if version is None:
        version = layers_version(conn, layer)
    variant = tile_variant(day, status, tms)
    if not _may_hold_data(tms, z, x, y):  # far from Morocco: empty, and not transformable to the storage CRS
        return b"", _etag(layer, z, x, y, variant, version), False
    # tile_cache is unlogged, so never on a replica: when `conn` reads one, the cache is the primary's, the tile
    # is built on the replica
    row = None if not use_cache else primary(conn).execute(
        "SELECT data, etag FROM tile_cache WHERE collection = %s AND z = %s AND x = %s AND y = %s AND variant = %s "
        "AND version = %s", (layer.id, z, x, y, variant, version), prepare=True).fetchone()
    if row:
        return bytes(row[0]), row[1], True
    data = conn.execute(tile_sql(layer, z, day, tms, status),
                        tile_params(tms, z, x, y, day, status)).fetchone()[0] or b""
    data = bytes(data)
    etag = _etag(layer, z, x, y, variant, version, data)
    if not use_cache or not data:
        return data, etag, False
    # never over the tile of a newer version (built on a replica behind)
    primary(conn).execute(
        "INSERT INTO tile_cache (collection, z, x, y, variant, version, etag, data) VALUES "
        "(%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (collection, z, x, y, variant) DO UPDATE SET "
        "version = EXCLUDED.version, etag = EXCLUDED.etag, data = EXCLUDED.data, created_at = now() "
        "WHERE tile_cache.version <= EXCLUDED.version", (layer.id, z, x, y, variant, version, etag, data))
    if random.random() < 1 / cap.check_every:  # noqa: S311 - spreading the measures, not a secret
        trim_cache(primary(conn), cap)
    return data, etag, False


class TileMemory:
    """Tiles kept in this process in front of the database cache (least recently used first out, bounded in
    bytes), and the layer versions as this process last read them, read again once `versions_ttl_s` old.

    A tile found here costs no database round trip; a write to a layer reaches every process's tiles within
    `versions_ttl_s` (one query of layer_versions per process and period, whatever the traffic). LISTEN/NOTIFY
    would tell sooner but needs a connection held per process and is not replicated: a server reading from a
    streaming replica would never hear it.
    """

    ENTRY_BYTES = 200  # counted per tile besides its data (key, ETag, the dictionary's slot)

    def __init__(self, max_bytes: int, versions_ttl_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_bytes = max_bytes
        self.versions_ttl_s = versions_ttl_s
        self._clock = clock
        self._tiles: OrderedDict[tuple, tuple[int, bytes, str]] = OrderedDict()
        self._bytes = 0
        self._versions: dict[str, int] = {}
        self._read_at = -math.inf
        self._lock = threading.Lock()

    @property
    def size_bytes(self) -> int:
        """What the tiles held take, as counted against max_bytes."""
        return self._bytes

    def version(self, connect: Callable[[], psycopg.Connection], layer: TileLayer) -> int:
        """The layer's version (as layers_version), from the versions read at most versions_ttl_s ago."""
        now = self._clock()
        if now - self._read_at >= self.versions_ttl_s:
            rows = connect().execute("SELECT layer, version FROM layer_versions", prepare=True).fetchall()
            self._versions, self._read_at = dict(rows), now
        versions = self._versions
        return sum(versions.get(name, 0) for name in layer.layer_versions)

    def get(self, key: tuple, version: int) -> tuple[bytes, str] | None:
        """(data, ETag) of a tile built from `version`, else None."""
        with self._lock:
            found = self._tiles.get(key)
            if found is None or found[0] != version:
                return None
            self._tiles.move_to_end(key)
            return found[1], found[2]

    def put(self, key: tuple, version: int, data: bytes, etag: str) -> None:
        """Keep a tile (replacing the one of an older version), evicting the least recently used past max_bytes."""
        size = len(data) + self.ENTRY_BYTES
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._tiles.pop(key, None)
            if old is not None:
                self._bytes -= len(old[1]) + self.ENTRY_BYTES
            self._tiles[key] = (version, data, etag)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, gone, _) = self._tiles.popitem(last=False)
                self._bytes -= len(gone) + self.ENTRY_BYTES


def cached_tile(connect: Callable[[], psycopg.Connection], layer: TileLayer, z: int, x: int, y: int,
                day: date | None, use_cache: bool = True, tms: TileMatrixSet = WEB_MERCATOR_QUAD,
                cap: CacheCap = DEFAULT_CAP, status: str | None = None,
                memory: TileMemory | None = None) -> tuple[bytes, str, str]:
    """(MVT bytes, ETag, where it came from: "memory", "database" or "built"): get_tile behind this process's
    TileMemory; `connect` is called only when the database is needed."""
    if memory is None or not use_cache:
        data, etag, cached = get_tile(connect(), layer, z, x, y, day, use_cache, tms, cap, status)
        return data, etag, "database" if cached else "built"
    version = memory.version(connect, layer)
    key = (layer.id, z, x, y, tile_variant(day, status, tms))
    found = memory.get(key, version)
    if found is not None:
        return found[0], found[1], "memory"
    data, etag, cached = get_tile(connect(), layer, z, x, y, day, use_cache, tms, cap, status, version)
    memory.put(key, version, data, etag)
    return data, etag, "database" if cached else "built"


def tile_limits(conn: psycopg.Connection, layer: TileLayer) -> tuple[float, float, float, float] | None:
    """The layer's extent in EPSG:3857 (for tileset limits and TileJSON bounds)."""
    query = sql.SQL("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT "
                    "ST_Transform(ST_SetSRID(ST_Extent(geom)::geometry, 26191), 4326) AS e FROM {} t{}) s").format(
        sql.Identifier(layer.table), sql.SQL(f" WHERE {layer.where}" if layer.where else ""))
    row = conn.execute(query).fetchone()
    return None if row[0] is None else tuple(round(v, 6) for v in row)


def map_overview(conn: psycopg.Connection) -> dict[str, object]:
    """What the map page needs once per process: the data's extent in lon/lat ([w, s, e, n] of the communes,
    else of the parcels; None when the database is empty) and a label point of each commune."""
    row = conn.execute("""
        SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (
            SELECT ST_Transform(ST_SetSRID(COALESCE((SELECT ST_Extent(geom) FROM communes),
                                                    (SELECT ST_Extent(geom) FROM parcels))::geometry, 26191), 4326) AS e) s
        """).fetchone()
    extent = None if row[0] is None else [round(v, 6) for v in row]
    labels = [{"code": code, "name": name, "point": [round(lon, 6), round(lat, 6)]} for code, name, lon, lat in
              conn.execute("SELECT code, name, ST_X(pt), ST_Y(pt) FROM communes, "
                           "LATERAL ST_Transform(ST_PointOnSurface(geom), 4326) pt ORDER BY code")]
    return {"extent": extent, "communes": labels}
