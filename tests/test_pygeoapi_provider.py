"""urbasig's layers in a real pygeoapi (0.2x, from PyPI) through the provider plugin urbasig_pygeoapi.

pygeoapi runs in its own process (gunicorn, its Flask app) with a configuration written here that points at
the test database behind the live urbasig server (tests/fixtures/ogc_world.sql and its grid of parcels); every
answer is compared with urbasig's own /ogc.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyproj
import pytest
import requests
import shapely
import yaml

from tests.helpers import lonlat_box

ROOT = Path(__file__).resolve().parent.parent
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
CRS_LIST = [CRS84, EPSG + "4326", EPSG + "3857", EPSG + "26191"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pygeoapi_config(database_url: str, port: int) -> dict:
    """A pygeoapi configuration publishing urbasig collections with the urbasig provider."""

    def resource(collection: str, title: str, **provider: object) -> dict:
        return {"type": "collection", "title": title, "description": title, "keywords": [collection], "links": [],
                "extents": {"spatial": {"bbox": [-7.75, 33.45, -7.45, 33.65], "crs": CRS84}},
                "providers": [{"type": "feature", "name": "urbasig_pygeoapi.UrbasigProvider", "data": database_url,
                               "collection": collection, "id_field": "id", "crs": CRS_LIST, **provider}]}

    return {
        "server": {"bind": {"host": "127.0.0.1", "port": port}, "url": f"http://127.0.0.1:{port}",
                   "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8", "languages": ["fr-FR"],
                   "limits": {"default_items": 10, "max_items": 1000}, "pretty_print": False,
                   "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"}},
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {"title": "Agence urbaine (test)", "description": "pygeoapi + urbasig",
                               "keywords": ["urbanisme"], "keywords_type": "theme", "terms_of_service": "-",
                               "url": "https://auc.example.ma"},
            "license": {"name": "-", "url": "https://auc.example.ma"},
            "provider": {"name": "AUC", "url": "https://auc.example.ma"},
            "contact": {"name": "SIG", "position": "-", "address": "-", "city": "Casablanca",
                        "stateorprovince": "Casablanca-Settat", "postalcode": "20000", "country": "Maroc",
                        "phone": "-", "fax": "-", "email": "sig@auc.example.ma", "url": "https://auc.example.ma",
                        "hours": "-", "instructions": "-", "role": "pointOfContact"}},
        "resources": {
            "parcels": resource("parcels", "Parcelles"),
            "zones": resource("zones", "Zones des plans d'aménagement", time_field="validity"),
            "parcels-merchich": resource("parcels", "Parcelles (stockage EPSG:26191)", storage_crs=EPSG + "26191"),
            "parcels-partner": resource("parcels", "Parcelles (partenaire)", options={"partner": True}),
            "parcels-light": resource("parcels", "Parcelles (deux champs)", properties=["land_ref", "commune_code"]),
        },
    }


@pytest.fixture(scope="module")
def pygeoapi(ogc_url, tmp_path_factory):
    """A pygeoapi server (gunicorn, one worker) configured with the urbasig provider, on loopback."""
    work = tmp_path_factory.mktemp("pygeoapi")
    port = _free_port()
    config, openapi = work / "pygeoapi.yml", work / "openapi.yml"
    config.write_text(yaml.safe_dump(pygeoapi_config(ogc_url, port), allow_unicode=True), encoding="utf-8")
    env = {**os.environ, "PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi), "PYTHONPATH": str(ROOT)}
    bindir = Path(sys.executable).parent
    started = time.perf_counter()
    subprocess.run([str(bindir / "pygeoapi"), "openapi", "generate", str(config), "--output-file", str(openapi)],
                   cwd=work, env=env, check=True, capture_output=True, timeout=120)
    server = subprocess.Popen([str(bindir / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1",
                               "--log-level", "warning", "pygeoapi.flask_app:APP"], cwd=work, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(f"{base}/conformance", params={"f": "json"}, timeout=5).raise_for_status()
            break
        except (requests.ConnectionError, requests.Timeout):  # still importing on a loaded machine
            assert server.poll() is None, server.stdout.read()
            assert time.monotonic() < deadline, "pygeoapi ne démarre pas"
            time.sleep(0.2)
    print(f"pygeoapi up in {time.perf_counter() - started:.1f} s")
    yield base
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope="module")
def bbox() -> str:
    """A CRS84 box over the Maârif part of the grid (local x 640–880 m, y 30–150 m): about a hundred parcels."""
    return ",".join(map(str, lonlat_box(640, 30, 880, 150)))


def theirs(pygeoapi: str, path: str, **params: object) -> dict:
    """pygeoapi's JSON answer (200 expected)."""
    r = requests.get(pygeoapi + path, params={"f": "json", **params}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def ours(live: str, path: str, **params: object) -> dict:
    """urbasig's own /ogc answer (200 expected)."""
    r = requests.get(live + path, params=params, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def assert_same_features(a: list[dict], b: list[dict], crs: str = "OGC:CRS84") -> None:
    """Same ids in the same order, same properties, geometries (in crs, x/y order) within 1 cm."""
    assert [f["id"] for f in a] == [f["id"] for f in b]
    to_metres = pyproj.Transformer.from_crs(crs, "EPSG:26191", always_xy=True).transform
    for fa, fb in zip(a, b, strict=True):
        assert fa["properties"] == fb["properties"]
        ga, gb = (shapely.transform(shapely.geometry.shape(f["geometry"]), to_metres, interleaved=False)
                  for f in (fa, fb))
        assert ga.hausdorff_distance(gb) <= 0.01, fa["id"]


def test_items_with_bbox_and_limit_match_urbasig(pygeoapi, live, bbox):
    mine = ours(live, "/collections/parcels/items", bbox=bbox, limit=200)
    got = theirs(pygeoapi, "/collections/parcels/items", bbox=bbox, limit=200)
    assert 20 <= len(mine["features"]) <= 200
    assert_same_features(got["features"], mine["features"])
    assert got["numberMatched"] == mine["numberMatched"]
    assert "address" not in got["features"][0]["properties"]  # restricted properties stay out by default


def test_offset_sortby_and_selected_properties_match_urbasig(pygeoapi, live):
    params = {"limit": 15, "offset": 30, "sortby": "-area_m2,land_ref", "properties": "land_ref,area_m2"}
    mine = ours(live, "/collections/parcels/items", **params)
    got = theirs(pygeoapi, "/collections/parcels/items", **params)
    assert_same_features(got["features"], mine["features"])
    assert set(got["features"][0]["properties"]) == {"land_ref", "area_m2"}
    areas = [f["properties"]["area_m2"] for f in got["features"]]
    assert areas == sorted(areas, reverse=True)


def test_property_filter_is_urbasig_equality(pygeoapi, live):
    commune = ours(live, "/collections/parcels/items", limit=1)["features"][0]["properties"]["commune_code"]
    mine = ours(live, "/collections/parcels/items", filter=f"commune_code = '{commune}'", limit=100)
    got = theirs(pygeoapi, "/collections/parcels/items", commune_code=commune, limit=100)
    assert mine["features"]
    assert_same_features(got["features"], mine["features"])


def test_an_item_matches_urbasig_in_crs84_and_in_merchich(pygeoapi, live, bbox):
    some = ours(live, "/collections/parcels/items", bbox=bbox, limit=3)["features"]
    for feature in some:
        fid = feature["id"]
        got = theirs(pygeoapi, f"/collections/parcels/items/{fid}")
        assert_same_features([got], [ours(live, f"/collections/parcels/items/{fid}")])
        merchich = theirs(pygeoapi, f"/collections/parcels/items/{fid}", crs=EPSG + "26191")
        assert_same_features([merchich], [ours(live, f"/collections/parcels/items/{fid}", crs=EPSG + "26191")],
                             "EPSG:26191")


def test_output_crs_is_transformed_by_postgis_with_urbasig_axis_order(pygeoapi, live, bbox):
    for crs in ("26191", "3857", "4326"):
        got = theirs(pygeoapi, "/collections/parcels/items", bbox=bbox, limit=20, crs=EPSG + crs)
        mine = ours(live, "/collections/parcels/items", bbox=bbox, limit=20, crs=EPSG + crs)
        if crs == "4326":  # lat/lon as the EPSG definition says, like urbasig: compared as they come
            assert [f["geometry"] for f in got["features"]] == [f["geometry"] for f in mine["features"]]
            assert 33 < got["features"][0]["geometry"]["coordinates"][0][0][0][0] < 34
        else:
            assert_same_features(got["features"], mine["features"], f"EPSG:{crs}")


def test_a_storage_crs_of_merchich_takes_bbox_in_merchich(pygeoapi, live, bbox):
    # storage_crs EPSG:26191: pygeoapi hands the bbox over in it (here given in it, so untransformed)
    x0, y0, x1, y1 = (float(v) for v in bbox.split(","))
    to_metres = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:26191", always_xy=True).transform
    (mx0, mx1), (my0, my1) = to_metres([x0, x1], [y0, y1])
    box = f"{mx0:.2f},{my0:.2f},{mx1:.2f},{my1:.2f}"
    got = theirs(pygeoapi, "/collections/parcels-merchich/items", bbox=box, limit=200, **{"bbox-crs": EPSG + "26191"})
    mine = ours(live, "/collections/parcels/items", bbox=box, limit=200, **{"bbox-crs": EPSG + "26191"})
    assert len(mine["features"]) >= 20
    assert_same_features(got["features"], mine["features"])  # output CRS84 (pygeoapi's default), by PostGIS
    assert got["features"][0]["geometry"]["coordinates"][0][0][0][0] < 0  # longitude first


def test_datetime_selects_the_plan_versions_in_force_like_urbasig(pygeoapi, live):
    for day in (None, "../..", "2026-11-23", "2007-01-01", "2000-01-01", "2000-01-01/2030-12-31"):  # None: today
        mine = ours(live, "/collections/zones/items", datetime=day, limit=1000, properties="plan,code")
        got = theirs(pygeoapi, "/collections/zones/items", datetime=day, limit=1000, properties="plan,code")
        assert mine["features"]
        assert_same_features(got["features"], mine["features"])
    plans = {f["properties"]["plan"] for f in theirs(pygeoapi, "/collections/zones/items", datetime="2026-11-23",
                                                     limit=1000, properties="plan")["features"]}
    assert plans == {"PA-ANFA-2006", "PA-MAARIF-2008"}  # not the revisions: in public inquiry, not yet in force


def test_hits_queryables_partner_and_errors(pygeoapi, live, bbox):
    hits = theirs(pygeoapi, "/collections/parcels/items", resulttype="hits", bbox=bbox)
    assert hits["features"] == [] and hits["numberMatched"] == ours(
        live, "/collections/parcels/items", bbox=bbox)["numberMatched"]
    queryables = theirs(pygeoapi, "/collections/parcels/queryables")["properties"]
    assert {"land_ref", "area_m2", "commune_code"} <= set(queryables) and "address" not in queryables
    assert queryables["area_m2"]["type"] == "number"
    partner = theirs(pygeoapi, "/collections/parcels-partner/items", limit=1)["features"][0]["properties"]
    assert "address" in partner
    light = theirs(pygeoapi, "/collections/parcels-light/items", limit=2)["features"]
    assert [set(f["properties"]) for f in light] == [{"land_ref", "commune_code"}] * 2
    one = theirs(pygeoapi, f"/collections/parcels-light/items/{light[0]['id']}")
    assert one["properties"] == light[0]["properties"]
    assert set(theirs(pygeoapi, "/collections/parcels-light/queryables")["properties"]) == {
        "geometry", "land_ref", "commune_code"}
    assert requests.get(f"{pygeoapi}/collections/parcels/items/999999999", timeout=30).status_code == 404
    assert requests.get(f"{pygeoapi}/collections/parcels/items/abc", timeout=30).status_code == 404
    bad = requests.get(f"{pygeoapi}/collections/parcels/items", params={"area_m2": "grand"}, timeout=30)
    assert bad.status_code == 400 and "area_m2" in bad.json()["description"]
    cql = requests.get(f"{pygeoapi}/collections/parcels/items", params={"filter": "area_m2 > 100"}, timeout=30)
    assert cql.status_code == 400 and "/ogc" in cql.json()["description"]


def test_the_plugin_writes_no_sql_of_its_own():
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "urbasig_pygeoapi").glob("*.py"))
    assert "execute(" not in source and "psycopg.sql" not in source and "from psycopg import sql" not in source
    assert not any(word in source for word in ("SELECT ", "FROM ", "WHERE ", "ST_"))
    assert "run_items" in source and "run_item" in source  # layers/features.py runs urbasig's statements
