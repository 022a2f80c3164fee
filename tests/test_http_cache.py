"""HTTP caching of the OGC API: ETag and 304 for items and item, Cache-Control by access, the tiles kept in each
process in front of the database cache, and `urbasig tiles seed`.

One database for the module, holding tests/fixtures/ogc_world.sql; each test empties the tile cache first.
Changes of the data are real ones: an import of a parcels file, a plan's status change.
"""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from shapely.geometry import box

from app import cli, create_app
from gis.tms import WEB_MERCATOR_QUAD
from tests.helpers import app_settings, ogc_world_database, write_layer

ITEMS = "/ogc/collections/parcels/items"
TILE = "/ogc/collections/parcels/tiles/WebMercatorQuad/{z}/{y}/{x}"
MAP_STYLE = Path(__file__).resolve().parent.parent / "api" / "static" / "js" / "map-style.js"


@pytest.fixture(scope="module")
def world_url(server_url, template_name):
    """The OGC world in a database of this module's own: its tests import files and change plan statuses."""
    yield from ogc_world_database(server_url, template_name, "urbasig_cache")


@pytest.fixture
def db(world_url):
    with psycopg.connect(world_url) as conn:
        conn.execute("DELETE FROM tile_cache")
        conn.commit()
        yield conn


@pytest.fixture(scope="module")
def client(world_url):
    """An app whose processes keep tiles in memory, reading the layer versions again after 0.2 s."""
    return create_app(app_settings(world_url, pool_min=1, pool_max=2, tile_versions_ttl_s=0.2)).test_client()


_refs = iter(range(99_001, 99_999))


def _import_parcel(conn: psycopg.Connection, tmp_path: Path, near: int) -> str:
    """Import a file of one 4 × 4 m parcel on parcel `near`, as `urbasig import` does; its title."""
    from layers.imports import ImportRequest, run_import

    ref = f"TF {next(_refs)}/C"
    x, y = conn.execute("SELECT ST_X(p), ST_Y(p) FROM parcels, LATERAL ST_PointOnSurface(geom) p WHERE id = %s",
                        (near,)).fetchone()
    path = write_layer(tmp_path / f"{ref.split()[1].replace('/', '-')}.gpkg", [{"land_ref": ref}],
                       [box(x - 2, y - 2, x + 2, y + 2)])
    run_import(conn, ImportRequest(path=path, layer="parcels"))
    conn.commit()
    return ref


def _tile_at(conn: psycopg.Connection, z: int, parcel_id: int) -> tuple[int, int]:
    lon, lat = conn.execute("SELECT ST_X(p), ST_Y(p) FROM parcels, LATERAL ST_Transform(ST_PointOnSurface(geom), 4326) p "
                            "WHERE id = %s", (parcel_id,)).fetchone()
    row, col = WEB_MERCATOR_QUAD.tile_of(lon, lat, z)
    return col, row


# ------------------------------------------------------------------------------------------- items and item
def test_items_and_item_answer_304_from_the_versions_alone(client, db):
    """A current copy gets a 304 while parcels is locked against any reader: only layer_versions was read."""
    first = client.get(f"{ITEMS}?limit=5")
    assert first.status_code == 200 and re.fullmatch(r'W/"[0-9a-f]{20}"', first.headers["ETag"])
    assert first.headers["Cache-Control"] == "public, max-age=60"
    assert {"Accept", "X-API-Key"} <= {v.strip() for v in first.headers["Vary"].split(",")}
    one = client.get(f"{ITEMS}/1")
    assert one.status_code == 200 and one.headers["ETag"].startswith('"')
    db.execute("LOCK TABLE parcels IN ACCESS EXCLUSIVE MODE")  # held until the rollback below
    try:
        again = client.get(f"{ITEMS}?limit=5", headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304 and again.data == b""
        assert again.headers["ETag"] == first.headers["ETag"] and again.headers["Cache-Control"] == "public, max-age=60"
        listed = client.get(f"{ITEMS}/1", headers={"If-None-Match": f'"x", {one.headers["ETag"]}'})
        assert listed.status_code == 304
    finally:
        db.rollback()
    assert client.get(f"{ITEMS}?limit=6").headers["ETag"] != first.headers["ETag"]  # another query
    assert client.get(f"{ITEMS}?limit=6", headers={"If-None-Match": first.headers["ETag"]}).status_code == 200
    page = client.get(f"{ITEMS}?limit=5&f=html")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert page.headers["ETag"] != first.headers["ETag"] and page.headers["Cache-Control"].startswith("private")
    assert client.get(f"{ITEMS}?limit=5&f=html", headers={"If-None-Match": page.headers["ETag"]}).status_code == 304
    arabic = client.get(f"{ITEMS}?limit=5&f=html&lang=ar")  # (and the page's language is now the cookie's)
    assert arabic.headers["ETag"] != page.headers["ETag"]
    assert client.get(f"{ITEMS}?limit=5&f=html", headers={"If-None-Match": page.headers["ETag"]}).status_code == 200
    bad = client.get(f"{ITEMS}?limit=cinq", headers={"If-None-Match": "*"})
    assert bad.status_code == 400 and "ETag" not in bad.headers  # a bad request is never a 304


def test_items_etag_changes_with_an_import_and_a_plan_status_change(client, db, tmp_path):
    from layers.plans import set_status

    before = client.get(f"{ITEMS}?limit=3")
    zones = client.get("/ogc/collections/zones/items?limit=3")
    _import_parcel(db, tmp_path, 20)
    after = client.get(f"{ITEMS}?limit=3", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    assert client.get("/ogc/collections/zones/items?limit=3").headers["ETag"] == zones.headers["ETag"]  # not read
    set_status(db, "PA-ANFA-2026", "abroge", date.today())  # the inquiry's plan withdrawn
    db.commit()
    changed = client.get("/ogc/collections/zones/items?limit=3", headers={"If-None-Match": zones.headers["ETag"]})
    assert changed.status_code == 200 and changed.headers["ETag"] != zones.headers["ETag"]
    assert client.get(f"{ITEMS}?limit=3").headers["ETag"] == after.headers["ETag"]  # parcels read no plan


def test_in_force_today_answers_change_at_midnight(db):
    """Zones (the versions in force today, each feature's status today) have a new ETag the next day, and may be
    kept only until midnight; parcels do not depend on the day."""
    from api.ogc.features import cache_headers
    from layers.features import COLLECTIONS

    evening, morning = datetime(2026, 12, 3, 23, 59, 30), datetime(2026, 12, 4, 0, 0, 1)
    zones = [cache_headers(db, COLLECTIONS["zones"], "items", {}, False, now=t) for t in (evening, morning)]
    assert zones[0]["ETag"] != zones[1]["ETag"]
    assert zones[0]["Cache-Control"] == "public, max-age=30" and zones[1]["Cache-Control"] == "public, max-age=60"
    parcels = [cache_headers(db, COLLECTIONS["parcels"], "items", {}, False, now=t) for t in (evening, morning)]
    assert parcels[0] == parcels[1] and parcels[0]["Cache-Control"] == "public, max-age=60"
    dated = [cache_headers(db, COLLECTIONS["zones"], "items", {"datetime": "2015-01-01"}, False, now=t)
             for t in (evening, morning + timedelta(days=1))]
    assert dated[0]["ETag"] != dated[1]["ETag"]  # each feature's plan_status is today's, whatever datetime says


def test_a_partner_answer_is_private_and_has_its_own_etag(client, db):
    from layers.apikeys import create_key

    key = create_key(db, f"cache-{time.monotonic_ns()}")
    db.commit()
    public = client.get(f"{ITEMS}?limit=2")
    partner = client.get(f"{ITEMS}?limit=2", headers={"X-API-Key": key})
    assert partner.status_code == 200 and "address" in partner.get_data(as_text=True)  # restricted fields
    assert partner.headers["Cache-Control"] == "private, max-age=60" and public.headers["Cache-Control"].startswith("public")
    assert partner.headers["ETag"] != public.headers["ETag"]
    assert "X-API-Key" in partner.headers["Vary"]
    by_query = client.get(f"{ITEMS}?limit=2&api_key={key}")
    assert by_query.headers["Cache-Control"].startswith("private") and by_query.headers["ETag"] == partner.headers["ETag"]
    assert client.get(f"{ITEMS}?limit=2", headers={"If-None-Match": partner.headers["ETag"]}).status_code == 200


def test_cors_keeps_the_vary_of_a_cacheable_answer(world_url):
    app = create_app(app_settings(world_url, pool_min=1, pool_max=1, cors_origins="*"))
    answer = app.test_client().get(f"{ITEMS}?limit=1", headers={"Origin": "https://carte.example"})
    assert {"Accept", "X-API-Key", "Origin"} <= {v.strip() for v in answer.headers["Vary"].split(",")}


# ------------------------------------------------------------------------------------------- tiles in memory
def test_a_tile_in_memory_needs_no_database_and_an_import_replaces_it(client, world_url, db, tmp_path):
    x, y = _tile_at(db, 16, 1)
    url = TILE.format(z=16, y=y, x=x)
    built = client.get(url)
    assert built.status_code == 200 and built.headers["X-Urbasig-Cache"] == "built"
    kept = create_app(app_settings(world_url, pool_min=1, pool_max=1, tile_versions_ttl_s=60)).test_client()
    assert kept.get(url).headers["X-Urbasig-Cache"] == "database"  # another process: the shared cache
    db.execute("LOCK TABLE layer_versions, tile_cache, parcels IN ACCESS EXCLUSIVE MODE")
    try:
        again = kept.get(url)
        assert again.headers["X-Urbasig-Cache"] == "memory" and again.data == built.data
        assert again.headers["ETag"] == built.headers["ETag"]
        assert kept.get(url, headers={"If-None-Match": built.headers["ETag"]}).status_code == 304
    finally:
        db.rollback()
    assert client.get(url).headers["X-Urbasig-Cache"] == "memory"
    ref = _import_parcel(db, tmp_path, 1)  # in parcel 1's tile
    deadline = time.monotonic() + 5
    while (fresh := client.get(url)).headers["ETag"] == built.headers["ETag"] and time.monotonic() < deadline:
        time.sleep(0.05)  # until the versions this process read are 0.2 s old
    assert fresh.headers["ETag"] != built.headers["ETag"] and fresh.headers["X-Urbasig-Cache"] == "built"
    assert ref.encode() in fresh.data and ref.encode() not in built.data
    uncached = create_app(app_settings(world_url, pool_min=1, pool_max=1, tile_cache=False)).test_client()
    assert uncached.get(url).headers["X-Urbasig-Cache"] == "built"  # URBASIG_TILE_CACHE=false: no memory either
    assert uncached.get(url).headers["X-Urbasig-Cache"] == "built"


def test_tile_memory_is_bounded_in_bytes_and_reads_versions_once_per_period(db):
    from layers.tiles import TILE_LAYERS, TileMemory

    now = [0.0]
    memory = TileMemory(3 * (1000 + TileMemory.ENTRY_BYTES), versions_ttl_s=1.0, clock=lambda: now[0])
    for n in range(3):
        memory.put(("parcels", 16, n, 0, ""), 7, bytes(1000), f"e{n}")
    assert memory.get(("parcels", 16, 0, 0, ""), 7) == (bytes(1000), "e0")  # now the most recently used
    memory.put(("parcels", 16, 3, 0, ""), 7, bytes(1000), "e3")
    assert memory.get(("parcels", 16, 1, 0, ""), 7) is None  # the least recently used went
    assert memory.get(("parcels", 16, 0, 0, ""), 7) is not None and memory.size_bytes <= memory.max_bytes
    assert memory.get(("parcels", 16, 0, 0, ""), 8) is None  # another version is another tile
    memory.put(("parcels", 16, 0, 0, ""), 8, bytes(10), "e0b")  # replaces it, and its bytes
    assert memory.size_bytes == 2 * 1000 + 10 + 3 * TileMemory.ENTRY_BYTES
    reads = []

    def connect():
        reads.append(1)
        return db

    expected = db.execute("SELECT COALESCE(sum(version), 0) FROM layer_versions WHERE layer = 'parcels'").fetchone()[0]
    assert [memory.version(connect, TILE_LAYERS["parcels"]) for _ in range(5)] == [expected] * 5 and len(reads) == 1
    now[0] = 1.0
    memory.version(connect, TILE_LAYERS["zones"])
    assert len(reads) == 2


# ------------------------------------------------------------------------------------------- seeding
def test_seeded_tiles_are_cache_hits_until_an_import(world_url, db, tmp_path):
    from layers.tile_seed import candidate_tiles, seed_tiles
    from layers.tiles import TILE_LAYERS

    seen = []
    report = seed_tiles(db, (15, 16), "ANFA", ("parcels", "zones"), progress=lambda done, planned: seen.append(
        (done, planned)))
    assert report.planned == len(seen) and [d for d, _ in seen] == list(range(1, report.planned + 1))
    assert report.built > 0 and report.built + report.empty == report.planned and not report.stopped_at_cap
    assert any(line.startswith("z16 parcels : ") for line in report.lines)
    cached = set(db.execute("SELECT x, y FROM tile_cache WHERE collection = 'parcels' AND z = 16").fetchall())
    # every parcel of Anfa is in a seeded tile
    assert {_tile_at(db, 16, i) for (i,) in db.execute("SELECT id FROM parcels WHERE commune_code = 'ANFA'")} <= cached
    assert cached <= set(candidate_tiles(db, TILE_LAYERS["parcels"], 16, None, None, "ANFA", None))
    x, y = _tile_at(db, 16, 1)
    served = create_app(app_settings(world_url, pool_min=1, pool_max=1, tile_memory_cache_mb=0)).test_client()
    assert served.get(TILE.format(z=16, y=y, x=x)).headers["X-Urbasig-Cache"] == "database"
    _import_parcel(db, tmp_path, 1)
    assert served.get(TILE.format(z=16, y=y, x=x)).headers["X-Urbasig-Cache"] == "built"
    again = seed_tiles(db, (16, 16), "ANFA", ("parcels",))
    assert again.built >= 1 and again.already >= 1  # the parcels' version changed: all rebuilt but the one served


class _Stop(Exception):
    pass


def test_seeding_resumes_where_it_stopped_and_stops_at_the_cap(db):
    from layers.tile_seed import seed_tiles
    from layers.tiles import CacheCap

    def stop_after_three(done, planned):
        if done == 3:
            raise _Stop

    with pytest.raises(_Stop):
        seed_tiles(db, (16, 16), "ANFA", ("parcels",), progress=stop_after_three)
    db.rollback()
    assert db.execute("SELECT count(*) FROM tile_cache").fetchone()[0] == 3  # each tile committed
    rest = seed_tiles(db, (16, 16), "ANFA", ("parcels",))
    assert rest.already == 3 and rest.built + rest.empty == rest.planned - 3 > 0
    db.execute("DELETE FROM tile_cache")
    db.commit()
    capped = seed_tiles(db, (15, 16), "ANFA", ("parcels",), cap=CacheCap(max_rows=4, max_bytes=10**9))
    assert capped.stopped_at_cap and capped.built == 3  # 90 % of the cap: what a trim keeps
    assert any("URBASIG_TILE_CACHE_MAX_ROWS" in line for line in capped.lines)
    assert db.execute("SELECT count(*) FROM tile_cache").fetchone()[0] == 3


def test_tiles_seed_command(world_url, db, monkeypatch):
    monkeypatch.setenv("URBASIG_DATABASE_URL", world_url)
    args = ["tiles", "seed", "--zoom", "16", "--area", "anfa", "--collection", "parcels"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "urbasig : z16 parcels : " in first.output
    built = int(re.search(r"(\d+) tuile\(s\) construite\(s\) et mise", first.output)[1])
    assert built > 0
    second = CliRunner().invoke(cli, args)
    assert second.exit_code == 0 and f"0 tuile(s) construite(s) et mise(s) en cache, {built} déjà en cache" in second.output
    assert CliRunner().invoke(cli, ["tiles", "seed", "--zoom", "9-12"]).exit_code == 2
    unknown = CliRunner().invoke(cli, ["tiles", "seed", "--collection", "sdau"])
    assert unknown.exit_code == 2 and "pas de tuiles pour « sdau »" in unknown.output
    db.execute("DELETE FROM tile_cache")
    db.commit()
    monkeypatch.setenv("URBASIG_TILE_CACHE_MAX_ROWS", "2")
    capped = CliRunner().invoke(cli, args)
    assert capped.exit_code == 1 and "évincerait les tuiles semées" in capped.output


def test_seeded_sources_are_the_map_styles():
    """MAP_SOURCES says what buildStyle's vector sources are: collection, minimum zoom, draft or not."""
    from layers.tile_seed import DRAFT, MAP_SOURCES, MapSource

    text = MAP_STYLE.read_text(encoding="utf-8")
    body = text[text.index("export function buildStyle"):]
    found = re.findall(r'vector\("([\w-]+)"(?:, (\d+))?(?:, (true))?\)', body[:body.index("layers:")])
    assert found and {MapSource(c, int(z or 10), DRAFT if d else None) for c, z, d in found} == set(MAP_SOURCES)
