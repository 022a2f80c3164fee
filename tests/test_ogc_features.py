"""OGC API Features through real clients (OWSLib, GDAL's ogr2ogr) against a live server on loopback."""

from __future__ import annotations

import json
import subprocess
from urllib.parse import quote

import psycopg
import pytest
import requests
import shapely
from owslib.ogcapi.features import Features

from tests.conftest import OGC_SAMPLE as N


@pytest.fixture
def db(sample_url):
    with psycopg.connect(sample_url) as conn:
        yield conn


def get(live, path, **params):
    return requests.get(f"{live}{path}", params=params, timeout=30)


def test_owslib_lists_collections_and_reads_items_with_bbox_and_filter(live, db):
    api = Features(live)
    ids = {c["id"] for c in api.collections()["collections"]}
    assert {"parcels", "zones", "prescriptions", "sdau", "communes", "plans"} <= ids
    assert "establishments" not in ids  # restricted: partners only
    x, y = db.execute("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_Centroid(geom), 4326) p FROM parcels "
                      "ORDER BY id LIMIT 1) s").fetchone()
    bbox = [x - 0.0015, y - 0.0015, x + 0.0015, y + 0.0015]  # about 300 m
    page = api.collection_items("parcels", bbox=bbox, limit=100)
    expected = db.execute("SELECT count(*) FROM parcels WHERE ST_Intersects(geom, ST_Transform(ST_MakeEnvelope(%s, %s, "
                          "%s, %s, 4326), 26191))", bbox).fetchone()[0]
    assert page["numberMatched"] == expected and 0 < page["numberReturned"] <= 100
    zones = api.collection_items("zones", filter="code = 'D' AND storeys_max >= 4", limit=1000)
    assert zones["features"] and all(f["properties"]["code"] == "D" for f in zones["features"])
    assert zones["numberMatched"] == db.execute("SELECT count(*) FROM zones WHERE code = 'D' "
                                                "AND plan_in_force(plan_id, CURRENT_DATE)").fetchone()[0]


def test_ogr2ogr_copies_parcels_with_same_count_and_geometries(live, db, tmp_path):
    out = tmp_path / "parcels.gpkg"
    subprocess.run(["ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{live}", "parcels", "-oo", "PAGE_SIZE=500"], check=True,
                   capture_output=True, timeout=300)
    import pyogrio

    frame = pyogrio.read_dataframe(out, fid_as_index=True)  # GDAL keeps the feature id as the FID
    assert len(frame) == N
    wkts = [g.wkt for g in frame.geometry]
    ids = [int(v) for v in frame.index]
    assert sorted(ids) == [r[0] for r in db.execute("SELECT id FROM parcels ORDER BY id")]
    worst = db.execute("""
        SELECT max(ST_HausdorffDistance(p.geom, ST_Transform(ST_GeomFromText(g.wkt, 4326), 26191)))
        FROM unnest(%s::text[], %s::bigint[]) AS g(wkt, id) JOIN parcels p ON p.id = g.id""", (wkts, ids)).fetchone()[0]
    assert worst < 0.01  # 1 cm after reprojection back to Merchich


def test_paging_through_the_whole_collection_loses_nothing(live, db):
    seen, url, pages = [], f"{live}/collections/parcels/items?limit=300&properties=land_ref", 0
    while url:
        body = requests.get(url, timeout=30).json()
        seen += [f["id"] for f in body["features"]]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
        pages += 1
    assert len(seen) == N == len(set(seen)) and pages == 7
    assert seen == sorted(seen)


def test_paging_with_sortby_uses_offsets_without_loss(live):
    seen, url = [], f"{live}/collections/parcels/items?limit=700&sortby=-area_m2&properties=area_m2"
    areas = []
    while url:
        body = requests.get(url, timeout=30).json()
        seen += [f["id"] for f in body["features"]]
        areas += [f["properties"]["area_m2"] for f in body["features"]]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    assert len(seen) == N == len(set(seen)) and areas == sorted(areas, reverse=True)


def test_merchich_output_matches_stored_coordinates_to_the_millimetre(live, db):
    body = get(live, "/collections/parcels/items", crs="http://www.opengis.net/def/crs/EPSG/0/26191", limit=50).json()
    assert body["features"]
    for feature in body["features"]:
        stored = db.execute("SELECT ST_AsBinary(geom) FROM parcels WHERE id = %s", (feature["id"],)).fetchone()[0]
        served = shapely.get_coordinates(shapely.geometry.shape(feature["geometry"]))
        exact = shapely.get_coordinates(shapely.from_wkb(stored))
        assert served.shape == exact.shape and abs(served - exact).max() <= 0.0005 + 1e-6  # rounded to the mm


def test_epsg4326_is_lat_lon_and_crs84_lon_lat(live):
    crs84 = get(live, "/collections/parcels/items/1").json()["geometry"]["coordinates"][0][0][0]
    r = get(live, "/collections/parcels/items/1", crs="http://www.opengis.net/def/crs/EPSG/0/4326")
    assert r.headers["Content-Crs"] == "<http://www.opengis.net/def/crs/EPSG/0/4326>"
    latlon = r.json()["geometry"]["coordinates"][0][0][0]
    assert latlon == [crs84[1], crs84[0]] and 33 < latlon[0] < 34
    x, y = crs84
    box84 = f"{x - 0.001},{y - 0.001},{x + 0.001},{y + 0.001}"
    box4326 = f"{y - 0.001},{x - 0.001},{y + 0.001},{x + 0.001}"
    a = get(live, "/collections/parcels/items", bbox=box84, limit=1000).json()
    b = get(live, "/collections/parcels/items", bbox=box4326, limit=1000,
            **{"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4326"}).json()
    assert a["numberMatched"] == b["numberMatched"] > 0


CQL = [  # (collection, CQL2 text, equivalent SQL condition on the table t [+ plans p])
    ("zones", "code = 'D'", "t.code = 'D'"),
    ("zones", "code <> 'D'", "t.code <> 'D'"),
    ("zones", "storeys_max < 4", "t.storeys_max < 4"),
    ("zones", "storeys_max <= 4", "t.storeys_max <= 4"),
    ("zones", "height_max_m > 20", "t.height_max_m > 20"),
    ("zones", "height_max_m >= 17.5", "t.height_max_m >= 17.5"),
    ("zones", "label LIKE 'Zone d''immeubles%'", "t.label LIKE 'Zone d''immeubles%'"),
    ("zones", "code IN ('V1', 'V2')", "t.code IN ('V1', 'V2')"),
    ("zones", "storeys_max BETWEEN 2 AND 4", "t.storeys_max BETWEEN 2 AND 4"),
    ("zones", "cos_value IS NULL", "t.cos_value IS NULL"),
    ("zones", "cos_value IS NOT NULL", "t.cos_value IS NOT NULL"),
    ("zones", "NOT (code = 'D' OR code = 'C')", "NOT (t.code = 'D' OR t.code = 'C')"),
    ("zones", "plan = 'PA-ANFA-2026' AND continuous_frontage = TRUE", "p.code = 'PA-ANFA-2026' AND t.continuous_frontage"),
    ("prescriptions", "kind IN ('road_widening', 'new_road') AND width_m > 15",
     "t.kind IN ('road_widening', 'new_road') AND t.width_m > 15"),
    ("parcels", "S_INTERSECTS(geometry, BBOX(-7.73, 33.47, -7.715, 33.485))",
     "ST_Intersects(t.geom, ST_Transform(ST_MakeEnvelope(-7.73, 33.47, -7.715, 33.485, 4326), 26191))"),
    ("parcels", "S_WITHIN(geometry, POLYGON((-7.73 33.47, -7.715 33.47, -7.715 33.485, -7.73 33.485, -7.73 33.47)))",
     "ST_Within(t.geom, ST_Transform(ST_GeomFromText('POLYGON((-7.73 33.47, -7.715 33.47, -7.715 33.485, -7.73 33.485, "
     "-7.73 33.47))', 4326), 26191))"),
    ("zones", "T_INTERSECTS(validity, INTERVAL('2005-01-01', '2007-01-01'))",
     "daterange(p.valid_from, p.valid_to) && daterange('2005-01-01', '2007-01-01', '[]')"),
    ("plans", "T_BEFORE(approval_date, DATE('2010-01-01'))", "t.approval_date < '2010-01-01'"),
    ("plans", "T_AFTER(approval_date, DATE('2010-01-01'))", "t.approval_date > '2010-01-01'"),
]


def _expected(db, collection, condition):
    from layers.features import COLLECTIONS

    c = COLLECTIONS[collection]
    join = " JOIN plans p ON p.id = t.plan_id" if c.join_plan else ""
    extra = f" AND {c.extra_where}" if c.extra_where else ""
    if c.temporal == "plan":  # zoning layers default to the plan versions in force today
        extra += " AND plan_in_force(t.plan_id, CURRENT_DATE)"
    return db.execute(f"SELECT count(*) FROM {c.table} t{join} WHERE ({condition}){extra}").fetchone()[0]  # noqa: S608


@pytest.mark.parametrize("collection,text,condition", CQL, ids=[c[1][:40] for c in CQL])
def test_cql2_text_matrix(live, db, collection, text, condition):
    expected = _expected(db, collection, condition)
    body = get(live, f"/collections/{collection}/items", filter=text, limit=1000).json()
    assert body.get("numberMatched", body["numberReturned"]) == expected


CQL_JSON = [
    ("zones", {"op": "=", "args": [{"property": "code"}, "D"]}, "t.code = 'D'"),
    ("zones", {"op": "and", "args": [{"op": ">=", "args": [{"property": "storeys_max"}, 4]},
                                     {"op": "like", "args": [{"property": "sector"}, "C%"]}]},
     "t.storeys_max >= 4 AND t.sector LIKE 'C%'"),
    ("zones", {"op": "in", "args": [{"property": "code"}, ["V1", "V2"]]}, "t.code IN ('V1', 'V2')"),
    ("zones", {"op": "between", "args": [{"property": "storeys_max"}, 2, 4]}, "t.storeys_max BETWEEN 2 AND 4"),
    ("zones", {"op": "isNull", "args": [{"property": "cos_value"}]}, "t.cos_value IS NULL"),
    ("parcels", {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [-7.73, 33.47, -7.715, 33.485]}]},
     "ST_Intersects(t.geom, ST_Transform(ST_MakeEnvelope(-7.73, 33.47, -7.715, 33.485, 4326), 26191))"),
    ("zones", {"op": "t_intersects", "args": [{"property": "validity"}, {"interval": ["2005-01-01", "2007-01-01"]}]},
     "daterange(p.valid_from, p.valid_to) && daterange('2005-01-01', '2007-01-01', '[]')"),
]


@pytest.mark.parametrize("collection,expr,condition", CQL_JSON, ids=[json.dumps(c[1])[:40] for c in CQL_JSON])
def test_cql2_json_matrix(live, db, collection, expr, condition):
    body = get(live, f"/collections/{collection}/items", filter=json.dumps(expr), limit=1000,
               **{"filter-lang": "cql2-json"}).json()
    assert body.get("numberMatched", body["numberReturned"]) == _expected(db, collection, condition)


ERRORS = [
    ({"filter": "nope = 1"}, "propriété inconnue"),
    ({"filter": "code = "}, "incomplet"),
    ({"filter": "code = 'D' AND"}, "incomplet"),
    ({"filter": "storeys_max = 'quatre'"}, "nombre attendu"),
    ({"filter": "code > 3"}, "texte attendu"),
    ({"filter": "lower(code) = 'd'"}, "non prise en charge"),
    ({"filter": "S_INTERSECTS(code, BBOX(0,0,1,1))"}, "géométrie"),
    ({"filter": "S_INTERSECTS(geometry, POLYGON((0 0, 1 1)))"}, "WKT"),
    ({"filter": "T_BEFORE(code, DATE('2010-01-01'))"}, "date"),
    ({"filter": "code = 'D'", "filter-lang": "sql"}, "filter-lang"),
    ({"filter": "{bad json", "filter-lang": "cql2-json"}, "illisible"),
    ({"filter": "code = 'D'", "filter-crs": "EPSG:2154"}, "filter-crs"),
    ({"filter": "code = 'D' ; DROP TABLE zones"}, "illisible"),
    ({"bbox": "1,2,3"}, "quatre"),
    ({"bbox": "a,b,c,d"}, "nombres"),
    ({"bbox": "5,5,1,1"}, "coin"),
    ({"crs": "EPSG:2154"}, "crs"),
    ({"limit": "0"}, "limit"),
    ({"limit": "x"}, "entier"),
    ({"sortby": "nope"}, "sortby"),
    ({"properties": "nope"}, "properties"),
    ({"datetime": "hier"}, "datetime"),
    ({"cursor": "%%%"}, "cursor"),
    ({"offset": "8254638588856028684976390144"}, "offset"),  # found by schemathesis: was a 500
    ({"cursor": "eyJvIjogMWUzMH0"}, "cursor"),  # {"o": 1e30}
    ({"cursor": "eyJhIjogMTAwMDAwMDAwMDAwMDAwMDAwMDAwMDB9"}, "cursor"),  # {"a": 10**24}
    ({"foo": "bar"}, "inconnu"),
]


@pytest.mark.parametrize("params,message", ERRORS, ids=[str(p)[:40] for p, _ in ERRORS])
def test_bad_requests_are_400_with_a_message(live, params, message):
    r = get(live, "/collections/zones/items", **params)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == "InvalidParameterValue" and message in body["description"]


def test_unknown_collection_and_item_are_404(live):
    assert get(live, "/collections/batiments/items").status_code == 404
    assert get(live, "/collections/parcels/items/999999999").status_code == 404
    assert get(live, "/collections/parcels/items/abc").status_code == 404


def test_datetime_returns_the_plan_versions_in_force(live, db):
    plans = {f["properties"]["plan"] for f in get(live, "/collections/zones/items", datetime="2026-11-23",
                                                     limit=1000, properties="plan").json()["features"]}
    assert "PA-ANFA-2006" in plans and "PA-ANFA-2026" not in plans  # the revision is only in public inquiry
    before = get(live, "/collections/zones/items", datetime="2007-01-01", limit=1000, properties="plan").json()
    assert {f["properties"]["plan"] for f in before["features"]} == {"PA-ANFA-2006"}


def test_partner_key_unlocks_restricted_collections_and_fields(live):
    public = get(live, "/collections/parcels/items/1").json()
    assert "address" not in public["properties"] and "ref_text" not in public["properties"]
    partner = requests.get(f"{live}/collections/parcels/items/1", headers={"X-API-Key": "ubk_test"}, timeout=30).json()
    assert partner["properties"]["address"]
    assert get(live, "/collections/establishments/items").status_code == 404
    r = requests.get(f"{live}/collections/establishments/items", headers={"X-API-Key": "ubk_test"}, timeout=30)
    assert r.status_code == 200 and r.json()["features"]
    wrong = requests.get(f"{live}/collections/establishments/items", headers={"X-API-Key": "ubk_wrong"}, timeout=30)
    assert wrong.status_code == 401  # a wrong key is not a public caller


def test_no_owner_data_in_any_public_response(live, db):
    names = [r[0] for r in db.execute("SELECT DISTINCT full_name FROM parcel_owners LIMIT 20")]
    for collection in ("parcels", "zones", "prescriptions", "plans", "communes"):
        text = get(live, f"/collections/{collection}/items", limit=1000).text
        assert not any(name in text for name in names)


def test_cors_and_content_types(live):
    r = requests.get(f"{live}/collections/parcels/items?limit=1", headers={"Origin": "https://carte.example"},
                     timeout=30)
    assert r.headers["Access-Control-Allow-Origin"] == "https://carte.example"
    assert r.headers["Content-Type"].startswith("application/geo+json")
    other = requests.get(f"{live}/collections/parcels/items?limit=1", headers={"Origin": "https://evil.example"},
                         timeout=30)
    assert "Access-Control-Allow-Origin" not in other.headers
    html = requests.get(f"{live}/collections/parcels/items?limit=3&f=html", timeout=30)
    assert html.headers["Content-Type"].startswith("text/html") and "land_ref" in html.text


def test_landing_conformance_openapi(live):
    links = {link["rel"] for link in get(live, "/").json()["links"]}
    assert {"service-desc", "conformance", "data"} <= links
    classes = get(live, "/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in classes
    doc = get(live, "/openapi").json()
    assert doc["openapi"].startswith("3.0") and "/collections/parcels/items" in doc["paths"]
    queryables = get(live, "/collections/zones/queryables").json()
    assert queryables["properties"]["storeys_max"]["type"] == "integer" and "validity" in queryables["properties"]
    assert quote("x")  # keep urllib import meaningful for readers of the filter tests


# ------------------------------------------------------------------ queryables as query parameters (Part 3)
def test_queryables_are_query_parameters(live, db):
    ref, commune = db.execute("SELECT land_ref, commune_code FROM parcels WHERE land_ref LIKE 'TF %/%' "
                              "ORDER BY id LIMIT 1").fetchone()
    number, suffix = ref[3:].split("/")
    body = get(live, "/collections/parcels/items", land_ref=f"T.F. n° {number}-{suffix.lower()}").json()
    assert [f["properties"]["land_ref"] for f in body["features"]] == [ref]  # any accepted spelling of a title
    in_commune = db.execute("SELECT count(*) FROM parcels WHERE commune_code = %s", (commune,)).fetchone()[0]
    assert get(live, "/collections/parcels/items", commune_code=commune, limit=1).json()["numberMatched"] == in_commune
    zones = get(live, "/collections/zones/items", code="D", storeys_max="4", limit=1000).json()
    expected = db.execute("SELECT count(*) FROM zones WHERE code = 'D' AND storeys_max = 4 "
                          "AND plan_in_force(plan_id, CURRENT_DATE)").fetchone()[0]
    assert zones["numberMatched"] == expected > 0
    assert all(f["properties"]["code"] == "D" and f["properties"]["storeys_max"] == 4 for f in zones["features"])
    frontage = get(live, "/collections/zones/items", continuous_frontage="true", limit=1000).json()
    assert frontage["numberMatched"] == db.execute(
        "SELECT count(*) FROM zones WHERE continuous_frontage AND plan_in_force(plan_id, CURRENT_DATE)").fetchone()[0]
    day = db.execute("SELECT status_date FROM plans WHERE code = 'PA-ANFA-2006'").fetchone()[0]
    plans = get(live, "/collections/plans/items", status_date=day.isoformat()).json()
    assert {f["id"] for f in plans["features"]} == {r[0] for r in db.execute(
        "SELECT code FROM plans WHERE status_date = %s AND perimeter IS NOT NULL", (day,))}


QUERYABLE_ERRORS = [
    ("zones", {"storeys_max": "quatre"}, "storeys_max : un entier attendu"),
    ("zones", {"height_max_m": "haut"}, "height_max_m : un nombre attendu"),
    ("zones", {"height_max_m": "inf"}, "hors limites"),
    ("zones", {"continuous_frontage": "peut-être"}, "true ou false"),
    ("plans", {"status_date": "hier"}, "date AAAA-MM-JJ"),
    ("parcels", {"land_ref": "lot B"}, "référence foncière illisible"),
    ("parcels", {"commune_code": "A\x00B"}, "caractère nul"),
    ("parcels", {"address": "rue"}, "inconnu"),  # a partner-only property is no public query parameter
    ("zones", {"uses_allowed": "habitat"}, "inconnu"),  # arrays are no simple queryables
]


@pytest.mark.parametrize("collection,params,message", QUERYABLE_ERRORS, ids=[str(p) for _, p, _ in QUERYABLE_ERRORS])
def test_bad_queryable_values_are_400_in_french(live, collection, params, message):
    r = get(live, f"/collections/{collection}/items", **params)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "InvalidParameterValue" and message in r.json()["description"]


def test_partners_may_query_their_restricted_properties(live, db):
    address = db.execute("SELECT address FROM parcels WHERE address IS NOT NULL ORDER BY id LIMIT 1").fetchone()[0]
    r = requests.get(f"{live}/collections/parcels/items", params={"address": address},
                     headers={"X-API-Key": "ubk_test"}, timeout=30)
    assert r.status_code == 200 and r.json()["features"]
    assert all(f["properties"]["address"] == address for f in r.json()["features"])


def test_api_definition_lists_each_simple_queryable_as_a_parameter(live):
    doc = get(live, "/openapi").json()
    for collection in ("parcels", "zones", "prescriptions", "sdau", "communes", "plans", "roads"):
        schema = get(live, f"/collections/{collection}/queryables").json()["properties"]
        simple = {name: (s["type"], s.get("format")) for name, s in schema.items()
                  if s.get("type") in ("string", "number", "integer", "boolean") and name != "validity"}
        params = {p["name"]: (p["schema"]["type"], p["schema"].get("format"))
                  for p in doc["paths"][f"/collections/{collection}/items"]["get"]["parameters"] if "name" in p}
        assert params == simple, collection
        assert all(p.get("style", "form") == "form" for p in doc["paths"][f"/collections/{collection}/items"]["get"][
            "parameters"])


def test_gdal_sends_where_equalities_to_the_server(live, db, live_requests):
    """GDAL's OAPIF driver (3.6, the system's ogrinfo) turns `-where a = 'x'` into `?a=x` for the queryables
    it finds in the API definition; without them it downloads every feature and filters on the client."""
    commune, n = db.execute("SELECT commune_code, count(*) FROM parcels GROUP BY 1 ORDER BY 2 LIMIT 1").fetchone()
    out = subprocess.run(["ogrinfo", "-ro", "-al", "-so", "-where", f"commune_code = '{commune}'", f"OAPIF:{live}",
                          "parcels"], capture_output=True, text=True, timeout=300, check=True)
    assert f"Feature Count: {n}" in out.stdout
    pages = [r for r in live_requests if r.startswith("/ogc/collections/parcels/items") and "cursor=" in r]
    assert pages and all(f"commune_code={commune}" in r for r in pages)
    assert len(pages) <= n // 10 + 1  # only that commune's parcels were sent


# ------------------------------------------------------------------ paging for GDAL and QGIS
def test_api_definition_gives_the_limit_where_gdal_and_qgis_look(live):
    """GDAL ≥ 3.8 resolves the items path of each collection relative to the landing page and reads the
    `$ref`'d limit parameter's maximum and default; QGIS reads #/components/parameters/limit."""
    doc = get(live, "/openapi").json()
    assert doc["servers"][0]["url"] == "/ogc"
    limit = doc["components"]["parameters"]["limit"]["schema"]
    assert (limit["maximum"], limit["default"]) == (1000, 10)
    for c in get(live, "/collections").json()["collections"]:
        href = next(link["href"] for link in c["links"] if link["rel"] == "items"
                    and link["type"] == "application/geo+json")
        path = doc["paths"][href[len(live):]]
        refs = [p["$ref"] for p in path["get"]["parameters"] if "$ref" in p]
        assert "#/components/parameters/limit" in refs


def test_gdal_pages_by_the_maximum_of_the_api_definition(live, live_requests):
    """A GDAL that reads the API definition (the one bundled with pyogrio) reads every parcel in pages of
    1,000; run in a subprocess so that the server thread keeps the GIL."""
    import sys

    script = f"import pyogrio; print(len(pyogrio.read_dataframe('OAPIF:{live}', layer='parcels')))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True)
    assert int(out.stdout) == N
    items = [r for r in live_requests if r.startswith("/ogc/collections/parcels/items")]
    pages = [r for r in items if "limit=1000" in r]
    assert len(pages) == -(-N // 1000) and len(items) <= len(pages) + 1  # + one small probe for the schema


def test_ogr2ogr_36_with_page_size_reads_the_collection_in_few_requests(live, live_requests, tmp_path):
    """GDAL before 3.8 reads no API definition and asks 10 features a page: the README's -oo PAGE_SIZE=1000."""
    out = tmp_path / "parcels.gpkg"
    subprocess.run(["ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{live}", "parcels", "-oo", "PAGE_SIZE=1000"],
                   check=True, capture_output=True, timeout=300)
    items = [r for r in live_requests if r.startswith("/ogc/collections/parcels/items")]
    assert len(items) <= -(-N // 1000) + 1


# ------------------------------------------------------------------ zoning: plans in force, their status
ZONING = [("zones", "zones"), ("prescriptions", "prescriptions"), ("sdau", "sdau_zones")]


@pytest.mark.parametrize("collection,table", ZONING)
def test_zoning_collections_default_to_the_plans_in_force_today(live, db, collection, table):
    body = get(live, f"/collections/{collection}/items", limit=1000, properties="plan,plan_status").json()
    expected = db.execute(f"SELECT count(*) FROM {table} WHERE plan_in_force(plan_id, CURRENT_DATE)"  # noqa: S608
                          ).fetchone()[0]
    assert body["numberMatched"] == expected > 0
    in_force = {r[0] for r in db.execute("SELECT code FROM plans WHERE plan_in_force(id, CURRENT_DATE)")}
    assert {f["properties"]["plan"] for f in body["features"]} <= in_force
    assert {f["properties"]["plan_status"] for f in body["features"]} == {"homologue"}
    description = get(live, f"/collections/{collection}").json()["description"]
    assert "en vigueur aujourd'hui" in description and "plan_status" in description


def test_every_version_on_request_with_its_status(live, db):
    every = get(live, "/collections/zones/items", limit=1000, datetime="../..", properties="plan,plan_status").json()
    assert every["numberMatched"] == db.execute("SELECT count(*) FROM zones").fetchone()[0]
    statuses = {(f["properties"]["plan"], f["properties"]["plan_status"]) for f in every["features"]}
    assert ("PA-ANFA-2026", "enquete_publique") in statuses  # the revision in public inquiry, marked as such
    item = get(live, f"/collections/zones/items/{every['features'][0]['id']}").json()
    assert {"plan", "plan_status"} <= set(item["properties"])


def test_an_interval_gives_the_versions_in_force_at_some_day_of_it(live):
    """A version never in force (in public inquiry, no validity) is in no interval, however wide."""
    during = get(live, "/collections/zones/items", limit=1000, datetime="2000-01-01/2030-12-31",
                 properties="plan").json()
    assert {f["properties"]["plan"] for f in during["features"]} == {"PA-ANFA-2006", "PA-MAARIF-2008",
                                                                      "PA-SIDI-BELYOUT-2011"}
    early = get(live, "/collections/zones/items", limit=1000, datetime="2007-01-01/2008-12-31",
                properties="plan").json()
    assert {f["properties"]["plan"] for f in early["features"]} == {"PA-ANFA-2006", "PA-MAARIF-2008"}


@pytest.mark.parametrize("path", ["/collections", "/collections/parcels", "/collections/parcels/items",
                                  "/collections/parcels/items/1", "/collections/zones/queryables"])
def test_a_wrong_api_key_is_401_with_an_ogc_exception(live, path):
    for r in (requests.get(f"{live}{path}", headers={"X-API-Key": "ubk_wrong"}, timeout=30),
              requests.get(f"{live}{path}", params={"api_key": "ubk_wrong"}, timeout=30)):
        assert r.status_code == 401, r.text
        body = r.json()
        assert body["code"] == "Unauthorized" and "clé d'API" in body["description"]
        assert r.headers["WWW-Authenticate"].startswith("X-API-Key")


@pytest.mark.parametrize("path", ["/", "/conformance", "/collections", "/collections/parcels",
                                  "/collections/parcels/items", "/collections/parcels/items/1"])
def test_every_resource_has_an_html_page(live, path):
    for r in (get(live, path, f="html"), requests.get(f"{live}{path}", headers={"Accept": "text/html"}, timeout=30)):
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
        assert "<html" in r.text.lower()
