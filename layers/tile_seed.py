"""Seeding the database tile cache with the public map's tiles (`urbasig tiles seed`), so the map is served from
the cache from its first visitor on.

Only the tiles that may hold data are built (a feature's box meets the tile, with the tile's margin), over an
area (a commune) or the layer's whole extent, lowest zoom first. A tile already cached at the layers' current
version is skipped, so a run stopped half-way goes on where it stopped; a write to a layer invalidates what was
seeded as it invalidates every cached tile (the cache is keyed by the layer versions). The cache keeps its
newest tiles under its cap (layers/tiles.py trim_cache): seeding stops before what it seeded would be evicted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import psycopg
from psycopg import sql

from gis.errors import InputError
from gis.tms import WEB_MERCATOR_QUAD
from layers.tiles import (
    DEFAULT_CAP,
    DRAFT,
    TILE_LAYERS,
    CacheCap,
    TileLayer,
    get_tile,
    layers_version,
    tile_limits,
    tile_variant,
)


@dataclass(frozen=True)
class MapSource:
    """A vector tile source of the public map: a collection, from which zoom, and a draft's status if any."""

    collection: str
    minzoom: int
    status: str | None = None


# The sources of the map's style (api/static/js/map-style.js, buildStyle: `vector(collection, minzoom, draft)`).
MAP_SOURCES: tuple[MapSource, ...] = (
    MapSource("zones", 10), MapSource("prescriptions", 10), MapSource("roads", 12), MapSource("communes", 10),
    MapSource("parcels", 15), MapSource("zones", 10, DRAFT), MapSource("prescriptions", 10, DRAFT),
    MapSource("plan-impact", 12),
)
MAP_MAX_ZOOM = 18  # the style's sources stop there (MapLibre over-zooms beyond)


@dataclass
class SeedReport:
    """What a seeding run did."""

    planned: int = 0  # tiles that may hold data, over every zoom and source
    built: int = 0  # built and stored now
    already: int = 0  # cached at the current version before this run
    empty: int = 0  # built but empty (never cached)
    done: int = 0  # tiles looked at so far
    seeded_bytes: int = 0  # of what is cached for this run's tiles (built and already)
    stopped_at_cap: bool = False
    lines: list[str] = field(default_factory=list)


def parse_zooms(text: str) -> tuple[int, int]:
    """`10-16` or `14` → (low, high) within the levels served, else a French error."""
    low, _, high = text.partition("-")
    try:
        zooms = (int(low), int(high or low))
    except ValueError:
        raise InputError(f"--zoom : un niveau ou un intervalle attendu, comme 10-16 (reçu « {text} »)") from None
    first, last = WEB_MERCATOR_QUAD.served
    if not first <= zooms[0] <= zooms[1] <= last:
        raise InputError(f"--zoom : niveaux de {first} à {last}, le premier avant le second (reçu « {text} »)")
    return zooms


def sources_of(collections: tuple[str, ...]) -> tuple[MapSource, ...]:
    """The map's sources of these collections (all of the map's when none is named); a tiled collection the map
    does not show is seeded from zoom 10."""
    if not collections:
        return MAP_SOURCES
    unknown = [c for c in collections if c not in TILE_LAYERS]
    if unknown:
        raise InputError(f"--collection : pas de tuiles pour « {', '.join(unknown)} » (tuiles : "
                         f"{', '.join(TILE_LAYERS)})")
    return tuple(s for s in MAP_SOURCES if s.collection in collections) + tuple(
        MapSource(c, 10) for c in dict.fromkeys(collections) if all(s.collection != c for s in MAP_SOURCES))


def _area_box(conn: psycopg.Connection, commune: str | None) -> tuple[str | None, tuple | None]:
    if commune is None:
        return None, None
    from layers.communes import find_commune

    code = find_commune(conn, commune)["code"]
    row = conn.execute("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Transform(ST_SetSRID("
                       "ST_Extent(geom)::geometry, 26191), 4326) AS e FROM communes WHERE code = %s) s",
                       (code,)).fetchone()
    return code, row


def candidate_tiles(conn: psycopg.Connection, layer: TileLayer, z: int, day: date | None, status: str | None,
                    commune: str | None, box: tuple[float, float, float, float] | None) -> list[tuple[int, int]]:
    """(x, y) of the tiles of level z that may hold data of the layer (a feature's box meets the tile with its
    margin), within the commune when one is given: one statement, through the spatial index."""
    extent = tile_limits(conn, layer)
    if extent is None:
        return []
    if box is not None:  # the commune's box within the layer's
        extent = (max(extent[0], box[0]), max(extent[1], box[1]), min(extent[2], box[2]), min(extent[3], box[3]))
        if extent[0] > extent[2] or extent[1] > extent[3]:
            return []
    row0, col0 = WEB_MERCATOR_QUAD.tile_of(extent[0], extent[3], z)
    row1, col1 = WEB_MERCATOR_QUAD.tile_of(extent[2], extent[1], z)
    if layer.join_plan and day:
        when = sql.SQL(" AND plan_status_on(t.plan_id, %(day)s) = %(status)s" if status
                       else " AND plan_in_force(t.plan_id, %(day)s)")
    else:
        when = sql.SQL("")
    if layer.geom_3857:
        meets = sql.SQL("{} && ST_TileEnvelope(%(z)s, x, y, margin => 0.015625)").format(sql.SQL(layer.geom_3857))
    else:
        meets = sql.SQL("t.geom && ST_Transform(ST_TileEnvelope(%(z)s, x, y, margin => 0.015625), 26191)")
    in_area = sql.SQL(" AND ST_Intersects(ST_Transform(ST_TileEnvelope(%(z)s, x, y), 26191), "
                      "(SELECT geom FROM communes WHERE code = %(commune)s))" if commune else "")
    query = sql.SQL("SELECT x, y FROM generate_series(%(x0)s::int, %(x1)s::int) x, "
                    "generate_series(%(y0)s::int, %(y1)s::int) y "
                    "WHERE EXISTS (SELECT 1 FROM {table} t WHERE {meets}{when}){in_area} ORDER BY y, x").format(
        table=sql.Identifier(layer.table), meets=meets, when=when, in_area=in_area)
    params = {"z": z, "x0": col0, "x1": col1, "y0": row0, "y1": row1, "day": day, "status": status,
              "commune": commune}
    return [(x, y) for x, y in conn.execute(query, params).fetchall()]


def _cached(conn: psycopg.Connection, layer: TileLayer, z: int, variant: str, version: int) -> dict[tuple, int]:
    """The tiles of level z cached at this version, with their size; marked newest (the cap evicts the oldest)."""
    rows = conn.execute("UPDATE tile_cache SET created_at = now() WHERE collection = %s AND z = %s AND variant = %s "
                        "AND version = %s RETURNING x, y, octet_length(data)", (layer.id, z, variant, version))
    return {(x, y): size for x, y, size in rows.fetchall()}


@dataclass(frozen=True)
class _Level:
    """One level of one source to seed: its tiles that may hold data."""

    z: int
    source: MapSource
    layer: TileLayer
    day: date | None
    tiles: list[tuple[int, int]]


def _plan(conn: psycopg.Connection, zooms: tuple[int, int], commune: str | None, collections: tuple[str, ...],
          day: date) -> list[_Level]:
    code, box = _area_box(conn, commune)
    levels = []
    for z in range(zooms[0], min(zooms[1], MAP_MAX_ZOOM) + 1):
        for source in sources_of(collections):
            if z >= source.minzoom:
                layer = TILE_LAYERS[source.collection]
                tile_day = day if layer.join_plan else None
                levels.append(_Level(z, source, layer, tile_day,
                                     candidate_tiles(conn, layer, z, tile_day, source.status, code, box)))
    return levels


def _seed_level(conn: psycopg.Connection, level: _Level, cap: CacheCap, report: SeedReport,
                progress: Callable[[int, int], None] | None) -> str:
    """Seed one level of one source (stopping before the cap would evict seeded tiles); its report line."""
    version = layers_version(conn, level.layer)
    have = _cached(conn, level.layer, level.z, tile_variant(level.day, level.source.status), version)
    conn.commit()
    room_rows, room_bytes = int(cap.max_rows * 0.9), int(cap.max_bytes * 0.9)  # what a trim keeps
    built = empty = already = 0
    for x, y in level.tiles:
        if (x, y) in have:
            already += 1
            report.seeded_bytes += have[(x, y)]
        elif report.built + built + report.already + already >= room_rows or report.seeded_bytes >= room_bytes:
            report.stopped_at_cap = True
            break
        else:
            data, _, _ = get_tile(conn, level.layer, level.z, x, y, level.day, True, WEB_MERCATOR_QUAD, cap,
                                  level.source.status, version)
            conn.commit()
            built, empty = (built + 1, empty) if data else (built, empty + 1)
            report.seeded_bytes += len(data)
        report.done += 1
        if progress:
            progress(report.done, report.planned)
    report.built, report.already, report.empty = report.built + built, report.already + already, report.empty + empty
    name = level.layer.id + (f" ({level.source.status})" if level.source.status else "")
    return (f"z{level.z} {name} : {len(level.tiles)} tuile(s) possible(s), {built} construite(s), {already} déjà "
            f"en cache, {empty} vide(s)")


def seed_tiles(conn: psycopg.Connection, zooms: tuple[int, int], commune: str | None = None,
               collections: tuple[str, ...] = (), day: date | None = None, cap: CacheCap = DEFAULT_CAP,
               progress: Callable[[int, int], None] | None = None,
               step: Callable[[str], None] | None = None) -> SeedReport:
    """Fill the tile cache with the map's tiles of levels zooms[0]..zooms[1] (see the module); each tile is
    committed as it is stored (a stopped run keeps what it did). `progress(done, planned)` after each tile,
    `step(line)` for each level and source; the same lines are in the report."""
    report = SeedReport()
    conn.execute("SET synchronous_commit = off")  # a commit per tile: durable within a fraction of a second
    levels = _plan(conn, zooms, commune, collections, day or date.today())
    conn.commit()
    report.planned = sum(len(level.tiles) for level in levels)

    def say(line: str) -> None:
        report.lines.append(line)
        if step:
            step(line)

    if report.planned > cap.max_rows * 0.9:
        say(f"attention : {report.planned} tuiles à semer, le cache en garde {int(cap.max_rows * 0.9)} "
            f"(URBASIG_TILE_CACHE_MAX_ROWS = {cap.max_rows}) : le semis s'arrêtera avant")
    for level in levels:
        say(_seed_level(conn, level, cap, report, progress))
        if report.stopped_at_cap:
            say(f"arrêt : le plafond du cache ({cap.max_rows} tuiles, {cap.max_bytes // (1024 * 1024)} Mio ; "
                "URBASIG_TILE_CACHE_MAX_ROWS, URBASIG_TILE_CACHE_MAX_MB) évincerait les tuiles semées ; "
                f"semis arrêté au niveau {level.z}")
            break
    return report
