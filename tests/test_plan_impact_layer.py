"""The plan impact layer (issue 15): the OGC collection `plan-impact` over the view plan_impact read by GDAL's OGR,
its CQL2 filters, its vector tiles coloured by `change`, the tile cache invalidated when a run is published, an
empty collection when nothing is, the map page's toggle and the land panel's line.

The runs are rows written here by hand (the computation is instruction/impact.py's), over the hand-made world
tests/fixtures/ogc_world.sql: PA-ANFA-2006 (in force) against PA-ANFA-2026 (in public inquiry).
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess

import psycopg
import pyogrio
import pytest
import requests
import shapely

from app import create_app
from layers.db import drop_database, ensure_database, with_dbname
from tests.helpers import app_settings, app_url, free_port, load_ogc_world, serve

FROM, TO = "PA-ANFA-2006", "PA-ANFA-2026"
# (parcel id, zone before, zone after, floor before m², floor after m², reserved m², widening m², change)
# Parcels 1, 2 (30 × 40 m, 1 200 m²): V1 (COS 0.2 plancher: 240 m²) → B (CUS 5 plancher: 6 000 m²).
# Parcel 4 (1 200 m²): V2 (COS 0.8: 960 m²) → B (6 000 m²). Parcel 7 (3 200 m²): D (CUS 2.8: 8 960 m²) → D
# (3.2: 10 240 m²). Parcel 10 (2 000 m²): D → D (5 600 → 6 400 m²) but 400 m² newly reserved: « reserved » wins.
# Grid parcels 15–19 (300 m², zone C, CUS 4: 1 200 m²): unchanged; 20–21 lose 300 m² (a loss chosen here).
ROWS = [
    (1, "V1", "B", 240.0, 6000.0, 0.0, 0.0, "gain"),
    (2, "V1", "B", 240.0, 6000.0, 0.0, 0.0, "gain"),
    (4, "V2", "B", 960.0, 6000.0, 0.0, 0.0, "gain"),
    (7, "D", "D", 8960.0, 10240.0, 0.0, 0.0, "gain"),
    (10, "D", "D", 5600.0, 6400.0, 400.0, 0.0, "reserved"),
    *((pid, "C", "C", 1200.0, 1200.0, 0.0, 0.0, "unchanged") for pid in range(15, 20)),
    (20, "C", "C", 1200.0, 900.0, 0.0, 0.0, "loss"),
    (21, "C", "C", 1200.0, 900.0, 0.0, 25.0, "loss"),
]
BY_CHANGE = {"gain": 4, "reserved": 1, "unchanged": 5, "loss": 2}
TILE = "/ogc/collections/plan-impact/tiles/WebMercatorQuad/{z}/{y}/{x}"


def publish_run(conn: psycopg.Connection, rows: list[tuple], published: bool = True) -> int:
    """A finished run of FROM → TO with these parcel rows (published: the previous one of the pair withdrawn)."""
    if published:
        conn.execute("UPDATE impact_runs SET published = false WHERE published")
    run = conn.execute(
        "INSERT INTO impact_runs (from_plan_id, to_plan_id, area, status, published, parcels, summary, provenance, "
        "finished_at) SELECT f.id, t.id, 'ANFA', 'done', false, %s, '{}', '{\"by\": \"test\"}', now() "
        "FROM plans f, plans t WHERE f.code = %s AND t.code = %s RETURNING id", (len(rows), FROM, TO)).fetchone()[0]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO impact_parcels (run_id, parcel_id, commune_code, zone_before, zone_after, floor_before_m2, "
            "floor_after_m2, floor_delta_m2, uses_gained, uses_lost, reserved_new_m2, widening_new_m2, "
            "buildable_before, buildable_after, change) VALUES (%s, %s, 'ANFA', %s, %s, %s, %s, %s, %s, '{}', %s, %s, "
            "true, true, %s)",
            [(run, pid, zb, za, fb, fa, fa - fb, ["bureaux"] if za == "B" else [], res, wid, ch)
             for pid, zb, za, fb, fa, res, wid, ch in rows])
    if published:
        conn.execute("UPDATE impact_runs SET published = true WHERE id = %s", (run,))
    conn.commit()
    return run


def _world(server_url: str, template_name: str, name: str):
    ensure_database(server_url, name, template=template_name)
    url = with_dbname(server_url, name)
    with psycopg.connect(url) as conn:
        load_ogc_world(conn)
    return url


@pytest.fixture(scope="module")
def world_url(server_url, template_name):
    """The hand-made world with one published run (ROWS)."""
    name = f"urbasig_impact_{os.getpid()}"
    url = _world(server_url, template_name, name)
    with psycopg.connect(url) as conn:
        publish_run(conn, ROWS)
    yield url
    drop_database(server_url, name)


@pytest.fixture(scope="module")
def live(world_url):
    """The app over that world on a loopback port (GDAL's OGR reads it there): its /ogc base URL."""
    port = free_port()  # the documents' links come from the public URL: the server's own address
    server, base = serve(create_app(app_settings(world_url, pool_min=1, pool_max=4, public_url=f"http://127.0.0.1:{port}")),
                         port)
    yield base + "/ogc"
    server.shutdown()


@pytest.fixture
def db(world_url):
    with psycopg.connect(world_url) as conn:
        yield conn


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def _tile_over(conn, parcel_id: int, z: int) -> tuple[int, int]:
    lon, lat = conn.execute("SELECT ST_X(c), ST_Y(c) FROM parcels, LATERAL ST_Transform(ST_PointOnSurface(geom), 4326) c "
                            "WHERE id = %s", (parcel_id,)).fetchone()
    return _tile_of(lon, lat, z)


def _decode(data: bytes, z: int, x: int, y: int, tmp_path):
    path = tmp_path / f"t{len(data)}-{os.urandom(3).hex()}" / str(z) / str(x) / f"{y}.pbf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return pyogrio.read_dataframe(path, layer="plan-impact")


def _ogr2ogr(live: str, out, *options: str):
    """Copy the collection with the system's GDAL (a subprocess: the server thread of this process keeps the GIL)."""
    subprocess.run(["ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{live}", "plan-impact", "-preserve_fid", *options],
                   check=True, capture_output=True, timeout=300)
    return pyogrio.read_dataframe(out, fid_as_index=True)  # the feature id (the parcel's) as the FID


def test_ogr_reads_the_collection_and_filters_it_by_change(live, db, tmp_path):
    """GDAL's OAPIF driver reads every published row with the parcel's geometry, and `-where "change = 'gain'"`
    (sent to the server as ?change=gain) gives the gains only."""
    frame = _ogr2ogr(live, tmp_path / "all.gpkg")
    assert len(frame) == len(ROWS)
    assert dict(frame["change"].value_counts()) == BY_CHANGE
    expected = {pid: (zb, za, fa - fb, ch) for pid, zb, za, fb, fa, _, _, ch in ROWS}
    for pid, row in frame.iterrows():
        assert (row["zone_before"], row["zone_after"], row["floor_delta_m2"], row["change"]) == expected[pid]
        assert (row["from_plan"], row["to_plan"]) == (FROM, TO)
    refs = dict(db.execute("SELECT id, land_ref FROM parcels WHERE id = ANY(%s)", ([r[0] for r in ROWS],)).fetchall())
    assert frame["land_ref"].to_dict() == refs
    gains = _ogr2ogr(live, tmp_path / "gains.gpkg", "-where", "change = 'gain'")
    assert sorted(gains.index) == [1, 2, 4, 7]
    # the geometry is the parcel's: within 1 cm once back in EPSG:26191
    merchich = gains.to_crs(26191)
    stored = dict(db.execute("SELECT id, ST_AsText(geom) FROM parcels WHERE id = ANY(%s)", ([1, 2, 4, 7],)).fetchall())
    for pid, geom in merchich.geometry.items():
        assert shapely.hausdorff_distance(geom, shapely.from_wkt(stored[pid])) < 0.01


@pytest.mark.parametrize(("params", "ids"), [
    ({"filter": "change = 'loss'"}, [20, 21]),
    ({"filter": "change IN ('gain', 'reserved') AND zone_before = 'D'"}, [7, 10]),
    ({"filter": "zone_after = 'B' AND zone_before <> 'V2'"}, [1, 2]),
    ({"filter": f"from_plan = '{FROM}' AND to_plan = '{TO}' AND commune_code = 'ANFA' AND change = 'reserved'"}, [10]),
    ({"filter": "widening_new_m2 > 0"}, [21]),
    ({"filter": "to_plan = 'PA-MAARIF-2026'"}, []),
    ({"change": "unchanged"}, [15, 16, 17, 18, 19]),  # a queryable as a query parameter
    ({"land_ref": "T.F. n° 2452-c"}, [2]),  # any spelling of a title
])
def test_cql2_and_queryables_filter_the_collection(live, params, ids):
    doc = requests.get(f"{live}/collections/plan-impact/items", params={"limit": 100, **params}, timeout=30).json()
    assert sorted(f["id"] for f in doc["features"]) == ids
    assert doc["numberMatched"] == len(ids)


def test_bbox_crs_queryables_and_description(live, db):
    x0, y0, x1, y1 = db.execute("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e "
                                "FROM parcels WHERE id IN (1, 2)) s").fetchone()
    merchich = "http://www.opengis.net/def/crs/EPSG/0/26191"
    r = requests.get(f"{live}/collections/plan-impact/items", timeout=30,
                     params={"bbox": f"{x0 + 1},{y0 + 1},{x1 - 1},{y1 - 1}", "bbox-crs": merchich, "crs": merchich})
    assert r.headers["Content-Crs"] == f"<{merchich}>"
    features = r.json()["features"]
    assert sorted(f["id"] for f in features) == [1, 2]
    stored = dict(db.execute("SELECT id, ST_AsText(geom) FROM parcels WHERE id IN (1, 2)").fetchall())
    for f in features:  # storage coordinates to the millimetre
        assert shapely.hausdorff_distance(shapely.geometry.shape(f["geometry"]), shapely.from_wkt(stored[f["id"]])) < 1e-3
    props = requests.get(f"{live}/collections/plan-impact/queryables", timeout=30).json()["properties"]
    assert {"change", "zone_before", "zone_after", "from_plan", "to_plan", "commune_code", "floor_delta_m2"} <= set(props)
    doc = requests.get(f"{live}/collections/plan-impact", timeout=30).json()
    assert any(link["rel"].endswith("tilesets-vector") for link in doc["links"])
    w, s, e, n = doc["extent"]["spatial"]["bbox"][0]
    lon, lat = db.execute("SELECT ST_X(c), ST_Y(c) FROM parcels, LATERAL ST_Transform(ST_Centroid(geom), 4326) c "
                          "WHERE id = 7").fetchone()
    assert w < lon < e and s < lat < n


def test_no_owner_in_the_collection(live, db):
    owners = [name for (name,) in db.execute("SELECT DISTINCT full_name FROM parcel_owners "
                                             "WHERE parcel_id = ANY(%s)", ([r[0] for r in ROWS],))]
    text = requests.get(f"{live}/collections/plan-impact/items", params={"limit": 100}, timeout=30).text
    assert owners and not [name for name in owners if name in text]


def test_a_tile_carries_the_change_of_each_parcel(live, db, tmp_path):
    z = 16
    x, y = _tile_over(db, 1, z)
    r = requests.get(live.removesuffix("/ogc") + TILE.format(z=z, y=y, x=x), timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/vnd.mapbox-vector-tile"
    frame = _decode(r.content, z, x, y, tmp_path)
    changes = {pid: ch for pid, *_, ch in ROWS}
    assert len(frame) and {"change", "zone_before", "zone_after", "floor_delta_m2", "to_plan"} <= set(frame.columns)
    by_ref = dict(db.execute("SELECT land_ref, id FROM parcels WHERE id = ANY(%s)", (list(changes),)).fetchall())
    seen = {by_ref[ref]: change for ref, change in zip(frame["land_ref"], frame["change"], strict=True)}
    assert seen[1] == seen[2] == "gain" and all(changes[pid] == ch for pid, ch in seen.items())
    assert set(frame["to_plan"]) == {TO}


def test_the_tile_follows_a_newly_published_run(db_url, tmp_path):
    """A tile is cached (tile_cache); publishing a new run of the pair bumps impact_runs' and impact_parcels'
    layer versions, so the next request builds the tile again with the new run's colours."""
    with psycopg.connect(db_url) as conn:
        load_ogc_world(conn)
        publish_run(conn, ROWS)
        # layer versions read at every request: the new run is seen at once (else within URBASIG_TILE_VERSIONS_TTL_S)
        client = create_app(app_settings(db_url, pool_min=1, pool_max=2, tile_versions_ttl_s=0)).test_client()
        z = 16
        x, y = _tile_over(conn, 1, z)
        url = TILE.format(z=z, y=y, x=x)
        first = client.get(url)
        assert first.status_code == 200
        assert conn.execute("SELECT count(*) FROM tile_cache WHERE collection = 'plan-impact'").fetchone()[0] == 1
        again = client.get(url)
        assert again.headers["ETag"] == first.headers["ETag"] and again.data == first.data
        before = {ref: ch for ref, ch in zip(*(_decode(first.data, z, x, y, tmp_path)[c] for c in ("land_ref", "change")),
                                             strict=True)}
        assert before["TF 2451/C"] == "gain"
        revised = [(1, "V1", "V1", 240.0, 240.0, 600.0, 0.0, "reserved"), *ROWS[1:]]  # parcel 1 newly reserved
        publish_run(conn, revised)
        after = client.get(url)
        assert after.status_code == 200 and after.headers["ETag"] != first.headers["ETag"]
        frame = _decode(after.data, z, x, y, tmp_path)
        now = dict(zip(frame["land_ref"], frame["change"], strict=True))
        assert now["TF 2451/C"] == "reserved" and now["TF 2452/C"] == "gain"
        assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 200  # not a 304
        # the collection follows too: one run published, the revised one
        doc = client.get("/ogc/collections/plan-impact/items?change=reserved&limit=100").get_json()
        assert sorted(f["id"] for f in doc["features"]) == [1, 10]


def test_nothing_published_is_an_empty_collection_no_tile_and_no_toggle(db_url):
    with psycopg.connect(db_url) as conn:
        load_ogc_world(conn)
        publish_run(conn, ROWS, published=False)  # computed, not published: shown nowhere
        client = create_app(app_settings(db_url, pool_min=1, pool_max=2)).test_client()
        r = client.get("/ogc/collections/plan-impact/items")
        assert r.status_code == 200
        doc = r.get_json()
        assert doc["features"] == [] and doc["numberMatched"] == 0 and doc["numberReturned"] == 0
        assert client.get("/ogc/collections/plan-impact").status_code == 200
        x, y = _tile_over(conn, 1, 16)
        assert client.get(TILE.format(z=16, y=y, x=x)).status_code == 204
        assert client.get("/ogc/collections/plan-impact/items/1").status_code == 404
        page = client.get("/").get_data(as_text=True)
        assert 'id="layer-impact"' not in page
        config = json.loads(re.search(r'id="urbasig-config">(.*?)</script>', page).group(1))
        assert config["impact"] == []
        panel = client.get("/carte/terrain?land=TF 2451/C&fragment=1").get_data(as_text=True)
        assert "land-panel-impact" not in panel


def test_the_map_offers_the_toggle_for_the_published_run_of_the_plan_in_inquiry(live):
    base = live.removesuffix("/ogc")
    page = requests.get(f"{base}/", timeout=30).text
    assert 'id="layer-impact"' in page and "Impact du projet" in page
    for label in ("Gain de surface de plancher", "Perte de surface de plancher", "Nouvellement réservé", "Inchangé"):
        assert label in page
    config = json.loads(re.search(r'id="urbasig-config">(.*?)</script>', page).group(1))
    assert [(r["from_plan"], r["to_plan"]) for r in config["impact"]] == [(FROM, TO)]
    arabic = requests.get(f"{base}/?lang=ar", timeout=30).text
    assert 'dir="rtl"' in arabic and "أثر المشروع" in arabic


def test_the_panel_says_what_the_draft_changes_for_the_land(live):
    base = live.removesuffix("/ogc")
    html = requests.get(f"{base}/carte/terrain", params={"land": "TF 2451/C", "fragment": "1"}, timeout=60).text
    assert "land-panel-impact" in html
    line = re.search(r'<li class="land-panel-impact-gain">.*?</span>(.*?)</li>', html, re.S).group(1)
    assert line == (f"Avec le projet {TO} : zone V1 → B, surface de plancher max 240\u00a0m² → 6\u00a0000\u00a0m² "
                    "(+5\u00a0760\u00a0m²), usages ajoutés : bureaux")
    reserved = requests.get(f"{base}/carte/terrain", params={"land": "TF 5010/C", "fragment": "1"}, timeout=60).text
    assert "400\u00a0m² nouvellement réservés" in reserved and "land-panel-impact-reserved" in reserved
    arabic = requests.get(f"{base}/carte/terrain", params={"land": "TF 2451/C", "lang": "ar"}, timeout=60).text
    assert 'dir="rtl"' in arabic and "مع المشروع" in arabic and "المنطقة" in arabic
    untouched = requests.get(f"{base}/carte/terrain", params={"land": "TF 8842/D", "fragment": "1"}, timeout=60).text
    assert "land-panel-impact" not in untouched  # Maârif: no run there


def test_the_server_role_publishing_a_run_bumps_the_layer_versions(db_url):
    """The runner writes runs as the server's role (least privilege): the trigger still bumps both tables."""
    with psycopg.connect(db_url) as owner:
        load_ogc_world(owner)
    with psycopg.connect(app_url(db_url)) as conn:
        versions = "SELECT layer, version FROM layer_versions WHERE layer IN ('impact_runs', 'impact_parcels')"
        before = dict(conn.execute(versions).fetchall())
        publish_run(conn, ROWS[:3])
        after = dict(conn.execute(versions).fetchall())
        assert after["impact_runs"] > before.get("impact_runs", 0)
        assert after["impact_parcels"] > before.get("impact_parcels", 0)
        assert conn.execute("SELECT count(*) FROM plan_impact").fetchone()[0] == 3


def test_a_parcel_in_two_published_pairs_is_one_feature_with_the_latest_run(db_url):
    """Two published pairs over parcels 1 and 2 (the run of FROM → TO, then the reverse comparison): the collection
    has each parcel once, its feature id the parcel's, with the run published last (migration 0023)."""
    with psycopg.connect(db_url) as conn:
        load_ogc_world(conn)
        publish_run(conn, ROWS)
        run = conn.execute(
            "INSERT INTO impact_runs (from_plan_id, to_plan_id, area, status, published, parcels, summary, provenance, "
            "finished_at) SELECT t.id, f.id, 'ANFA', 'done', true, 2, '{}', '{}', now() FROM plans f, plans t "
            "WHERE f.code = %s AND t.code = %s RETURNING id", (FROM, TO)).fetchone()[0]
        conn.execute("INSERT INTO impact_parcels (run_id, parcel_id, commune_code, zone_before, zone_after, change) "
                     "VALUES (%s, 1, 'ANFA', 'B', 'V1', 'loss'), (%s, 2, 'ANFA', 'B', 'V1', 'loss')", (run, run))
        conn.commit()
        client = create_app(app_settings(db_url, pool_min=1, pool_max=2)).test_client()
        features = client.get("/ogc/collections/plan-impact/items?limit=100").get_json()["features"]
        ids = [f["id"] for f in features]
        assert sorted(ids) == sorted(r[0] for r in ROWS)  # each parcel once
        props = {f["id"]: f["properties"] for f in features}
        assert (props[1]["to_plan"], props[1]["change"], props[1]["run_id"]) == (FROM, "loss", run)
        assert (props[4]["to_plan"], props[4]["change"]) == (TO, "gain")  # only in the first pair
        item = client.get("/ogc/collections/plan-impact/items/2").get_json()
        assert item["properties"]["run_id"] == run
