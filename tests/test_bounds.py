"""Bounded work and bounded writes (issue 12, points 2 and 10) on the hand-built territory.

Hostile sizes finish with the right answer (their times are in bench/hostile.py); past the limits of the
settings a request gets a 413 in French naming the limit, and nothing is stored; what an anonymous call can
make the database keep (check records, tile cache) is capped.
"""

from __future__ import annotations

import json

import numpy as np
import psycopg
import pytest
import shapely
from shapely.geometry import shape

from app import create_app
from gis.errors import InputError
from instruction.checks import lot_check, permit_check
from instruction.land import LandRequest
from settings import Settings
from tests import instruction_world as world
from tests.helpers import X0, Y0, app_settings, box

CRS = "EPSG:26191"


def _gj(geom) -> dict:
    return json.loads(shapely.to_geojson(geom))


def _stored(conn) -> int:
    return conn.execute("SELECT count(*) FROM check_results").fetchone()[0]


@pytest.fixture
def wconn(conn):
    world.build(conn)
    conn.commit()
    return conn


@pytest.fixture
def client(db_url, wconn):
    app = create_app(app_settings(db_url, pool_min=1, pool_max=2, max_vertices=200, max_request_vertices=400,
                              max_lots=5, max_land_refs=3))
    return app.test_client()


def _ogc_error(response, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()["description"]


# ------------------------------------------------------------------------------------- hostile sizes finish
def test_a_2400_vertex_land_gets_the_same_setbacks_as_its_4_vertex_outline(wconn):
    from datetime import date

    # TF 10 (5–35 × 200–240) with its rear limit digitised in 2,400 vertices, dipping by up to 1 cm
    t = np.linspace(0, 1, 2400)
    rear = np.column_stack([X0 + 35 - 30 * t, Y0 + 200 - 0.005 * (1 - np.cos(40 * np.pi * t))])
    land = shapely.Polygon([(X0 + 5, Y0 + 240), (X0 + 35, Y0 + 240), *rear])
    assert land.is_valid and shapely.get_num_coordinates(land) > 2400
    footprint = box(6.5, 205, 23.5, 30)
    check = permit_check(wconn, LandRequest(geometry=_gj(land), crs=CRS),
                         {"use": "habitation individuelle", "footprint": _gj(footprint)}, date(2015, 1, 1), crs=CRS)
    rules = {r["rule"]: r for r in check["rules"]}
    assert (rules["setback_side"]["status"], rules["setback_side"]["measured"]) == ("fail", 1.5)
    assert shape(rules["setback_side"]["geometry"]).area == pytest.approx(45.0)  # 1.5 m × 30 m in the 3 m strip
    assert (rules["setback_road"]["status"], rules["setback_road"]["measured"]) == ("pass", 5.0)
    assert (rules["setback_rear"]["status"], rules["setback_rear"]["measured"]) == ("pass", 5.0)


def test_a_1000_lot_subdivision_is_judged_lot_by_lot(wconn):
    from datetime import date

    # TF 11 (100–160 × 200–240) cut into 40 × 25 lots of 1.5 m × 1.6 m; the north road runs along the top row
    lots = [{"id": f"L{r}-{c}", "geometry": _gj(box(100 + 1.5 * c, 200 + 1.6 * r, 1.5, 1.6))}
            for r in range(25) for c in range(40)]
    check = lot_check(wconn, LandRequest(refs=("TF 11/T",)), lots, day=date(2015, 1, 1), crs=CRS)
    assert len(check["lots"]) == 1000
    assert {r["rule"]: r["status"] for r in check["rules"]}["no_overlap"] == "pass"
    assert {r["rule"]: r["status"] for r in check["rules"]}["all_assigned"] == "pass"
    access = {lot["id"]: next(r for r in lot["rules"] if r["rule"] == "road_access") for lot in check["lots"]}
    on_road = {i for i, r in access.items() if r["status"] == "pass"}
    assert on_road == {f"L24-{c}" for c in range(40)}  # the top row only, each with its 1.5 m façade
    assert {access[i]["measured"] for i in on_road} == {1.5}
    assert all(next(r for r in lot["rules"] if r["rule"] == "area")["status"] == "fail" for lot in check["lots"])


# ------------------------------------------------------------------------------------------ limits → 413
def test_a_land_past_the_vertex_limit_is_a_413_naming_the_limit(client, wconn):
    before = _stored(wconn)
    land = _gj(shapely.segmentize(box(5, 200, 30, 40), 0.5))  # 281 vertices > 200
    body = {"inputs": {"land": {"geometry": land}, "crs": CRS, "project": {"storeys": 1}}}
    text = _ogc_error(client.post("/ogc/processes/permit-check/execution", json=body), 413)
    assert "281 sommets" in text and "200" in text and "URBASIG_MAX_VERTICES" in text and "administrateur" in text
    text = _ogc_error(client.post("/ogc/processes/instruction/execution",
                                  json={"inputs": {"land": {"geometry": land}, "crs": CRS}}), 413)
    assert "URBASIG_MAX_VERTICES" in text
    assert _stored(wconn) == before


def test_a_footprint_or_a_lot_past_the_vertex_limit_is_refused_too(client, wconn):
    before = _stored(wconn)
    big = _gj(shapely.segmentize(box(6, 205, 20, 20), 0.2))
    body = {"inputs": {"land": {"refs": ["TF 10/T"]}, "crs": CRS, "project": {"footprint": big}}}
    assert "URBASIG_MAX_VERTICES" in _ogc_error(client.post("/ogc/processes/permit-check/execution", json=body), 413)
    body = {"inputs": {"land": {"refs": ["TF 11/T"]}, "crs": CRS, "lots": [{"id": "A", "geometry": big}]}}
    assert "URBASIG_MAX_VERTICES" in _ogc_error(client.post("/ogc/processes/lot-check/execution", json=body), 413)
    assert _stored(wconn) == before


def test_too_many_lots_or_vertices_in_all_is_a_413(client, wconn):
    before = _stored(wconn)
    lots = [{"id": str(i), "geometry": _gj(box(100 + 10 * i, 200, 10, 40))} for i in range(6)]
    body = {"inputs": {"land": {"refs": ["TF 11/T"]}, "crs": CRS, "lots": lots}}
    text = _ogc_error(client.post("/ogc/processes/lot-check/execution", json=body), 413)
    assert "6 éléments" in text and "URBASIG_MAX_LOTS" in text
    body["inputs"]["lots"] = lots[:5]
    body["inputs"]["internal_roads"] = [_gj(box(100, 240, 60, 1))] * 6
    assert "URBASIG_MAX_LOTS" in _ogc_error(client.post("/ogc/processes/lot-check/execution", json=body), 413)
    # five lots of 100 vertices each: under the per-geometry limit, over the request's 400
    dense = [{"id": str(i), "geometry": _gj(shapely.segmentize(box(100 + 12 * i, 200, 12, 40), 1.1))} for i in range(5)]
    assert all(shapely.get_num_coordinates(shape(d["geometry"])) < 200 for d in dense)
    body = {"inputs": {"land": {"refs": ["TF 11/T"]}, "crs": CRS, "lots": dense}}
    text = _ogc_error(client.post("/ogc/processes/lot-check/execution", json=body), 413)
    assert "URBASIG_MAX_REQUEST_VERTICES" in text
    assert _stored(wconn) == before


def test_too_many_titles_for_one_land_is_a_413(client, wconn):
    body = {"inputs": {"land": {"refs": ["TF 1/T", "TF 2/T", "TF 3/T", "TF 4/T"]}}}
    assert "URBASIG_MAX_LAND_REFS" in _ogc_error(client.post("/ogc/processes/instruction/execution", json=body), 413)
    r = client.get("/notes/indicative?format=html&land=TF 1/T;TF 2/T;TF 3/T;TF 4/T")
    assert r.status_code == 413 and "URBASIG_MAX_LAND_REFS" in r.get_data(as_text=True)


def test_limits_are_validated_at_start_up():
    from gis.errors import ConfigError

    with pytest.raises(ConfigError, match="URBASIG_MAX_LOTS"):
        Settings.from_env({"URBASIG_MAX_LOTS": "0"}, dotenv=None)
    with pytest.raises(ConfigError, match="URBASIG_MAX_REQUEST_VERTICES"):
        Settings.from_env({"URBASIG_MAX_VERTICES": "500", "URBASIG_MAX_REQUEST_VERTICES": "100"}, dotenv=None)
    with pytest.raises(ConfigError, match="URBASIG_TILE_CACHE_MAX_ROWS"):
        Settings.from_env({"URBASIG_TILE_CACHE_MAX_ROWS": "0"}, dotenv=None)
    assert Settings.from_env({"URBASIG_MAX_VERTICES": "2400"}, dotenv=None).max_vertices == 2400


# ------------------------------------------------------------------------------- what a check may store
def test_a_1_mb_lot_id_is_a_400_and_nothing_is_stored(wconn):
    from datetime import date

    lots = [{"id": "L" * 1_000_000, "geometry": _gj(box(100, 200, 60, 40))}]
    before = _stored(wconn)
    with pytest.raises(InputError, match="200 au plus"):
        lot_check(wconn, LandRequest(refs=("TF 11/T",)), lots, day=date(2015, 1, 1), crs=CRS)
    assert _stored(wconn) == before
    lots[0]["id"] = "L1"
    lot_check(wconn, LandRequest(refs=("TF 11/T",)), lots, day=date(2015, 1, 1), crs=CRS)
    assert _stored(wconn) == before + 1  # the same check with a short id is recorded


def test_a_1_mb_id_over_http_is_a_400_in_french(client, wconn):
    before = _stored(wconn)
    body = {"inputs": {"land": {"refs": ["TF 11/T"]}, "crs": CRS,
                       "lots": [{"id": "x" * 1_000_000, "geometry": _gj(box(100, 200, 60, 40))}]}}
    assert "caractères" in _ogc_error(client.post("/ogc/processes/lot-check/execution", json=body), 400)
    body["inputs"]["lots"][0] = {"id": "A", "geometry": _gj(box(100, 200, 60, 40)), "note": "y" * 100_000}
    assert "inconnu" in _ogc_error(client.post("/ogc/processes/lot-check/execution", json=body), 400)
    body = {"inputs": {"land": {"refs": ["TF 10/T"]}, "project": {"use": "u" * 10_000}}}
    assert "caractères" in _ogc_error(client.post("/ogc/processes/permit-check/execution", json=body), 400)
    body = {"inputs": {"land": {"refs": ["TF 10/T"]}, "project": {"basement": ["b"] * 10_000}}}
    assert "basement" in _ogc_error(client.post("/ogc/processes/permit-check/execution", json=body), 400)
    assert _stored(wconn) == before


def test_extra_members_of_a_geometry_are_not_recorded(wconn):
    from datetime import date

    footprint = {**_gj(box(6.5, 205, 23.5, 30)), "padding": "p" * 500_000}
    land = {"type": "Feature", "properties": {"padding": "q" * 500_000}, "geometry": _gj(box(5, 200, 30, 40))}
    check = permit_check(wconn, LandRequest(geometry=land, crs=CRS), {"footprint": footprint}, date(2015, 1, 1),
                         crs=CRS)
    size = wconn.execute("SELECT octet_length(request::text) FROM check_results WHERE id = %s",
                         (check["check_id"],)).fetchone()[0]
    assert size < 5_000
    assert {r["rule"]: r["status"] for r in check["rules"]}["setback_side"] == "fail"  # judged all the same


# -------------------------------------------------------------------------------------------- tile cache
def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    import math

    n = 2**z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def test_empty_tiles_are_not_cached_and_the_cache_stays_under_its_cap(db_url, wconn):
    app = create_app(app_settings(db_url, pool_min=1, pool_max=2, tile_cache_max_rows=3))
    client = app.test_client()
    lon, lat = wconn.execute("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) p "
                             "FROM parcels WHERE land_ref = 'TF 10/T') s").fetchone()
    # the sea west of the territory, inside the storage area: empty tiles, none of them cached
    for dx in range(5):
        x, y = _tile_of(lon - 0.2 - 0.01 * dx, lat, 16)
        r = client.get(f"/ogc/collections/parcels/tiles/WebMercatorQuad/16/{y}/{x}")
        assert r.status_code == 204 and r.data == b""
    assert wconn.execute("SELECT count(*) FROM tile_cache").fetchone()[0] == 0
    seen = []
    for z in range(13, 19):  # tiles over the parcels: each has data and is cached, the oldest evicted
        x, y = _tile_of(lon, lat, z)
        r = client.get(f"/ogc/collections/parcels/tiles/WebMercatorQuad/{z}/{y}/{x}")
        assert r.status_code == 200 and r.data
        seen.append(z)
        rows = wconn.execute("SELECT z FROM tile_cache ORDER BY created_at").fetchall()
        wconn.commit()
        assert 1 <= len(rows) <= 3
        assert rows[-1][0] == z  # the tile just built is kept
    assert [r[0] for r in wconn.execute("SELECT z FROM tile_cache ORDER BY z")] == seen[-len(rows):]


def test_the_cache_cap_counts_bytes_too(db_url, wconn):
    from layers.tiles import CacheCap, trim_cache

    with psycopg.connect(db_url) as c:
        for i in range(10):
            c.execute("INSERT INTO tile_cache (collection, z, x, y, version, etag, data, created_at) VALUES "
                      "('parcels', 10, %s, 0, 1, 'e', %s, now() - make_interval(secs => %s))",
                      (i, b"\x00" * 1000, 100 - i))
        evicted = trim_cache(c, CacheCap(max_rows=1000, max_bytes=5000))
        left = [r[0] for r in c.execute("SELECT x FROM tile_cache ORDER BY x")]
    assert evicted == 6 and left == [6, 7, 8, 9]  # 90 % of 5,000 bytes: the four newest of 1,000 bytes


def test_anonymous_checks_are_limited_per_client_and_a_partner_key_is_not(db_url, wconn):
    from layers.apikeys import create_key

    key = create_key(wconn, "plateforme des autorisations")
    wconn.commit()
    client = create_app(app_settings(db_url, pool_min=1, pool_max=2, checks_per_minute=3)).test_client()
    body = {"inputs": {"land": {"refs": ["TF 10/T"]}, "project": {"use": "habitation"}}}
    before = _stored(wconn)
    answers = [client.post("/ogc/processes/permit-check/execution", json=body).status_code for _ in range(5)]
    assert answers[:3] == [200, 200, 200] and answers[3:] == [429, 429], answers
    assert _stored(wconn) == before + 3  # a refused call stores nothing
    refused = client.post("/ogc/processes/lot-check/execution", json=body)  # one count for every stored check
    assert refused.status_code == 429 and "minute" in refused.get_json()["description"]
    partner = [client.post("/ogc/processes/permit-check/execution", json=body, headers={"X-API-Key": key})
               for _ in range(3)]
    assert [r.status_code for r in partner] == [200, 200, 200]
    assert _stored(wconn) == before + 6
    # the instruction stores nothing and is not counted here
    assert client.post("/ogc/processes/instruction/execution",
                       json={"inputs": {"land": {"refs": ["TF 10/T"]}}}).status_code == 200
