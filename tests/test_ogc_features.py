"""OGC API Features through real clients (OWSLib, GDAL's ogr2ogr) against a live server on loopback.

The server holds tests/fixtures/ogc_world.sql (its map gives every number below) and a grid of 1 000 parcels
(tests/helpers.py, grid_parcels): hand counts are written next to each assertion, with how they were counted.
"""

from __future__ import annotations

import json
import subprocess
from datetime import date, timedelta
from urllib.parse import quote

import psycopg
import pytest
import requests
import shapely
from owslib.ogcapi.features import Features

from tests.helpers import OGC_COMMUNE_PARCELS, OGC_PARCELS, lonlat_box

N = OGC_PARCELS  # 14 hand-made parcels + the grid's 1 000
# ANFA's north strip (local x −15…350 m, y 860…1020 m) as a CRS84 box: parcels 1–6 and 9 lie inside it, 7 (the
# courtyard house) and 8 (its enclave) across its east edge, 10 and the grid outside (see the fixture's map).
STRIP = lonlat_box(-15, 860, 350, 1020)
STRIP_BBOX = ", ".join(map(str, STRIP))
STRIP_WKT = "POLYGON(({0} {1}, {2} {1}, {2} {3}, {0} {3}, {0} {1}))".format(*STRIP)
IN_FORCE_TODAY = {"PA-ANFA-2006", "PA-MAARIF-2008"}  # regulatory plans with zones (the SDAU has none)


@pytest.fixture
def db(ogc_url):
    with psycopg.connect(ogc_url) as conn:
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
    assert zones["numberMatched"] == 2  # D-1 of PA-ANFA-2006 and D-2 of PA-MAARIF-2008, both R+4


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
    by_id = dict(zip(ids, frame.geometry, strict=True))
    assert [shapely.get_num_interior_rings(p) for p in shapely.get_parts(by_id[7])] == [1]  # the courtyard
    assert len(shapely.get_parts(by_id[9])) == 2  # one title in two parts
    assert shapely.get_num_coordinates(by_id[13]) == 4801  # the park's outline, no vertex lost


def test_paging_through_the_whole_collection_loses_nothing(live, db):
    seen, url, pages = [], f"{live}/collections/parcels/items?limit=300&properties=land_ref", 0
    while url:
        body = requests.get(url, timeout=30).json()
        seen += [f["id"] for f in body["features"]]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
        pages += 1
    assert len(seen) == N == len(set(seen)) and pages == -(-N // 300)  # 4 pages for 1 014 parcels
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


@pytest.mark.parametrize("collection,params", [
    ("parcels", {}), ("parcels", {"sortby": "-area_m2"}), ("parcels", {"bbox": "-7.70,33.50,-7.55,33.62"}),
    ("zones", {"sortby": "code"}), ("zones", {"datetime": "2020-01-01"})])
def test_a_page_by_offset_is_the_slice_of_the_whole_order(live, collection, params):
    """Deep pages pick their ids before building features (layers/features.items_sql): same features, same order,
    as the first page's slice, filters, sorting and the plan join included."""
    whole = get(live, f"/collections/{collection}/items", limit=1000, **params).json()["features"]
    assert len(whole) >= 8
    for offset in (1, len(whole) // 2, len(whole) - 3):
        page = get(live, f"/collections/{collection}/items", limit=3, offset=offset, **params).json()["features"]
        assert page == whole[offset:offset + 3]


def test_merchich_output_matches_stored_coordinates_to_the_millimetre(live, db):
    body = get(live, "/collections/parcels/items", crs="http://www.opengis.net/def/crs/EPSG/0/26191", limit=50).json()
    assert {7, 9, 13} <= {f["id"] for f in body["features"]}  # a hole, two parts, 4 801 vertices among them
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


# (collection, CQL2 text, equivalent SQL condition on the table t [+ plans p], count by hand). The zoning
# collections answer for the plan versions in force today: the 8 zones of PA-ANFA-2006 (V1, V2, D-1, ZV, C-1)
# and PA-MAARIF-2008 (D-2, C-2, ZAE), the 10 prescriptions of those two and of the SDAU (the fixture's comments).
CQL = [
    ("zones", "code = 'D'", "t.code = 'D'", 2),
    ("zones", "code <> 'D'", "t.code <> 'D'", 6),
    ("zones", "storeys_max < 4", "t.storeys_max < 4", 4),  # V1 (1), V2 (2), ZV (0), ZAE (2)
    ("zones", "storeys_max <= 4", "t.storeys_max <= 4", 6),  # and the two D (4)
    ("zones", "height_max_m > 20", "t.height_max_m > 20", 2),  # the two C (23.5 m)
    ("zones", "height_max_m >= 17.5", "t.height_max_m >= 17.5", 4),  # D and C, twice
    ("zones", "label LIKE 'Zone d''immeubles%'", "t.label LIKE 'Zone d''immeubles%'", 4),  # D and C, twice
    ("zones", "code IN ('V1', 'V2')", "t.code IN ('V1', 'V2')", 2),
    ("zones", "storeys_max BETWEEN 2 AND 4", "t.storeys_max BETWEEN 2 AND 4", 4),  # V2, D, D, ZAE
    ("zones", "cos_value IS NULL", "t.cos_value IS NULL", 5),  # a COS only on V1, V2 and ZAE
    ("zones", "cos_value IS NOT NULL", "t.cos_value IS NOT NULL", 3),
    ("zones", "NOT (code = 'D' OR code = 'C')", "NOT (t.code = 'D' OR t.code = 'C')", 4),
    ("zones", "plan = 'PA-ANFA-2026' AND continuous_frontage = TRUE",  # in public inquiry: never in force
     "p.code = 'PA-ANFA-2026' AND t.continuous_frontage", 0),
    ("zones", "plan = 'PA-MAARIF-2008' AND continuous_frontage = TRUE",
     "p.code = 'PA-MAARIF-2008' AND t.continuous_frontage", 2),  # D-2 and C-2, not ZAE
    ("zones", "label LIKE '%خضراء%'", "t.label LIKE '%خضراء%'", 1),  # ZV, « Espace vert public — مساحة خضراء »
    ("communes", "name = 'Maârif — المعاريف'", "t.name = 'Maârif — المعاريف'", 1),
    ("prescriptions", "kind IN ('road_widening', 'new_road') AND width_m > 15",
     "t.kind IN ('road_widening', 'new_road') AND t.width_m > 15", 2),  # boulevard d'Anfa 30 m, Maârif–Oasis 20 m
    ("prescriptions", "label LIKE 'Réservé%'", "t.label LIKE 'Réservé%'", 2),  # the school and the mosque (a point)
    ("parcels", f"S_INTERSECTS(geometry, BBOX({STRIP_BBOX}))",
     f"ST_Intersects(t.geom, ST_Transform(ST_MakeEnvelope({STRIP_BBOX}, 4326), 26191))", 9),  # 1–9
    ("parcels", f"S_WITHIN(geometry, {STRIP_WKT})",
     f"ST_Within(t.geom, ST_Transform(ST_GeomFromText('{STRIP_WKT}', 4326), 26191))", 7),  # 7 and 8 cross its edge
    ("zones", "T_INTERSECTS(validity, INTERVAL('2005-01-01', '2007-01-01'))",  # PA-ANFA-1989 too, not in force today
     "daterange(p.valid_from, p.valid_to) && daterange('2005-01-01', '2007-01-01', '[]')", 5),
    # the plans collection lists every version unless datetime is given: PA-ANFA-1989, -2006, PA-MAARIF-2008
    ("plans", "T_BEFORE(approval_date, DATE('2010-01-01'))", "t.approval_date < '2010-01-01'", 3),
    # the SDAU (2010-01-14) and PA-MAARIF-2026 (approved ten days before the load); PA-ANFA-2026 has no approval
    ("plans", "T_AFTER(approval_date, DATE('2010-01-01'))", "t.approval_date > '2010-01-01'", 2),
]


def _expected(db, collection, condition):
    from layers.features import COLLECTIONS

    c = COLLECTIONS[collection]
    join = " JOIN plans p ON p.id = t.plan_id" if c.join_plan else ""
    extra = f" AND {c.extra_where}" if c.extra_where else ""
    if c.temporal == "plan":  # zoning layers default to the plan versions in force today
        extra += " AND plan_in_force(t.plan_id, CURRENT_DATE)"
    return db.execute(f"SELECT count(*) FROM {c.table} t{join} WHERE ({condition}){extra}").fetchone()[0]  # noqa: S608


@pytest.mark.parametrize("collection,text,condition,by_hand", CQL, ids=[c[1][:40] for c in CQL])
def test_cql2_text_matrix(live, db, collection, text, condition, by_hand):
    expected = _expected(db, collection, condition)
    body = get(live, f"/collections/{collection}/items", filter=text, limit=1000).json()
    assert body.get("numberMatched", body["numberReturned"]) == expected == by_hand


CQL_JSON = [  # (collection, CQL2 JSON, SQL condition, count by hand: see CQL)
    ("zones", {"op": "=", "args": [{"property": "code"}, "D"]}, "t.code = 'D'", 2),
    ("zones", {"op": "and", "args": [{"op": ">=", "args": [{"property": "storeys_max"}, 4]},
                                     {"op": "like", "args": [{"property": "sector"}, "C%"]}]},
     "t.storeys_max >= 4 AND t.sector LIKE 'C%'", 2),  # C-1 and C-2
    ("zones", {"op": "in", "args": [{"property": "code"}, ["V1", "V2"]]}, "t.code IN ('V1', 'V2')", 2),
    ("zones", {"op": "between", "args": [{"property": "storeys_max"}, 2, 4]}, "t.storeys_max BETWEEN 2 AND 4", 4),
    ("zones", {"op": "isNull", "args": [{"property": "cos_value"}]}, "t.cos_value IS NULL", 5),
    ("zones", {"op": "like", "args": [{"property": "label"}, "%خضراء%"]}, "t.label LIKE '%خضراء%'", 1),
    ("parcels", {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": list(STRIP)}]},
     f"ST_Intersects(t.geom, ST_Transform(ST_MakeEnvelope({STRIP_BBOX}, 4326), 26191))", 9),
    ("zones", {"op": "t_intersects", "args": [{"property": "validity"}, {"interval": ["2005-01-01", "2007-01-01"]}]},
     "daterange(p.valid_from, p.valid_to) && daterange('2005-01-01', '2007-01-01', '[]')", 5),
]


@pytest.mark.parametrize("collection,expr,condition,by_hand", CQL_JSON,
                         ids=[json.dumps(c[1])[:40] for c in CQL_JSON])
def test_cql2_json_matrix(live, db, collection, expr, condition, by_hand):
    body = get(live, f"/collections/{collection}/items", filter=json.dumps(expr), limit=1000,
               **{"filter-lang": "cql2-json"}).json()
    assert body.get("numberMatched", body["numberReturned"]) == _expected(db, collection, condition) == by_hand


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


def _plans_of_zones(live, day: str | None) -> set[str]:
    body = get(live, "/collections/zones/items", datetime=day, limit=1000, properties="plan").json()
    return {f["properties"]["plan"] for f in body["features"]}


def test_datetime_returns_the_plan_versions_in_force(live):
    # the Anfa revision is only in public inquiry; the Maârif one applies from 20 days after the load
    assert _plans_of_zones(live, "2026-11-23") == {"PA-ANFA-2006", "PA-MAARIF-2008"}
    assert _plans_of_zones(live, "2007-01-01") == {"PA-ANFA-2006"}  # before Maârif's first plan (2008-03-27)
    assert _plans_of_zones(live, "2000-01-01") == {"PA-ANFA-1989"}  # the version since replaced applied then
    # replaced on 2006-06-12: the old version applies the day before, the new one from that day
    assert _plans_of_zones(live, "2006-06-11") == {"PA-ANFA-1989"}
    assert _plans_of_zones(live, "2006-06-12") == {"PA-ANFA-2006"}


def test_a_version_approved_but_not_yet_in_force_is_served_from_its_entry_into_force(live, db):
    """PA-MAARIF-2026 was homologated ten days before the load and applies twenty days after it: until then
    its zones are not served by default, though their plan_status is already homologue, and the version it
    replaces still applies."""
    today, approved, start = db.execute("SELECT CURRENT_DATE, approval_date, valid_from FROM plans "
                                        "WHERE code = 'PA-MAARIF-2026'").fetchone()
    assert start - approved == timedelta(days=30) and approved < today < start  # (not == today + 20: midnight)
    assert _plans_of_zones(live, None) == IN_FORCE_TODAY
    assert _plans_of_zones(live, (start - timedelta(days=1)).isoformat()) == IN_FORCE_TODAY
    assert _plans_of_zones(live, start.isoformat()) == {"PA-ANFA-2006", "PA-MAARIF-2026"}
    pending = get(live, "/collections/zones/items", datetime="../..", filter="plan = 'PA-MAARIF-2026'",
                  properties="plan_status").json()
    assert pending["numberMatched"] == 2 and {f["properties"]["plan_status"] for f in pending["features"]} == {
        "homologue"}  # B-2 and D-3
    every = {f["id"] for f in get(live, "/collections/plans/items", limit=100).json()["features"]}
    assert len(every) == 6 and "PA-MAARIF-2026" in every  # the plans collection lists every version
    now = get(live, "/collections/plans/items", limit=100, datetime=today.isoformat()).json()
    assert {f["id"] for f in now["features"]} == IN_FORCE_TODAY | {"SDAU-CASA-2010"}
    later = get(live, "/collections/plans/items", limit=100, datetime=start.isoformat()).json()
    assert {f["id"] for f in later["features"]} == {"PA-ANFA-2006", "PA-MAARIF-2026", "SDAU-CASA-2010"}


def test_partner_key_unlocks_restricted_collections_and_fields(live):
    public = get(live, "/collections/parcels/items/1").json()
    assert "address" not in public["properties"] and "ref_text" not in public["properties"]
    partner = requests.get(f"{live}/collections/parcels/items/1", headers={"X-API-Key": "ubk_test"}, timeout=30).json()
    assert partner["properties"]["address"] == "3, impasse des Jasmins — ٣ زنقة الياسمين"
    assert partner["properties"]["ref_text"] == "TF 2451/C"
    assert get(live, "/collections/establishments/items").status_code == 404
    r = requests.get(f"{live}/collections/establishments/items", headers={"X-API-Key": "ubk_test"}, timeout=30)
    assert r.status_code == 200 and r.json()["numberMatched"] == 5  # the fixture's registry
    assert "Pharmacie Al Amal — صيدلية الأمل" in {f["properties"]["name"] for f in r.json()["features"]}
    for key in ("ubk_wrong", "ubk_revoked"):  # a wrong or a revoked key is not a public caller
        wrong = requests.get(f"{live}/collections/establishments/items", headers={"X-API-Key": key}, timeout=30)
        assert wrong.status_code == 401, key


def test_no_owner_data_in_any_public_response(live, db):
    owners = [v for row in db.execute("SELECT full_name, id_number FROM parcel_owners") for v in row if v]
    assert len(owners) == 9 + 7  # the fixture's nine owners and their seven identity numbers
    for collection in ("parcels", "zones", "prescriptions", "plans", "communes", "sdau", "roads"):
        text = get(live, f"/collections/{collection}/items", limit=1000).text  # parcels 1–14 are on this page
        assert not any(value in text for value in owners), collection


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


def test_non_ascii_text_reaches_json_html_and_gdal_intact(live, tmp_path):
    """French accents and Arabic (right to left) in names: in GeoJSON, as a query parameter, in HTML, in GDAL."""
    names = {"ANFA": "Anfa — أنفا", "MAARIF": "Maârif — المعاريف", "SIDI-BELYOUT": "Sidi Belyout — سيدي بليوط"}
    body = get(live, "/collections/communes/items").json()
    assert {f["id"]: f["properties"]["name"] for f in body["features"]} == names
    found = get(live, "/collections/communes/items", name=names["SIDI-BELYOUT"]).json()["features"]
    assert [f["id"] for f in found] == ["SIDI-BELYOUT"]  # sent percent-encoded UTF-8
    html = get(live, "/collections/communes/items", f="html")
    assert "charset=utf-8" in html.headers["Content-Type"].lower() and "سيدي بليوط" in html.text
    out = tmp_path / "communes.gpkg"
    subprocess.run(["ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{live}", "communes"], check=True, capture_output=True,
                   timeout=120)
    import pyogrio

    frame = pyogrio.read_dataframe(out)
    assert dict(zip(frame["code"], frame["name"], strict=True)) == names


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
    assert (ref, commune) == ("TF 2451/C", "ANFA")  # parcel 1
    number, suffix = ref[3:].split("/")
    body = get(live, "/collections/parcels/items", land_ref=f"T.F. n° {number}-{suffix.lower()}").json()
    assert [f["properties"]["land_ref"] for f in body["features"]] == [ref]  # any accepted spelling of a title
    for spelling, expected in (("TF-1005-D", "TF 1005/D"), ("Réq. 2002/C", "R 2002/C"), ("tf 7781 d", "TF 7781/D")):
        found = get(live, "/collections/parcels/items", land_ref=spelling).json()["features"]
        assert [f["properties"]["land_ref"] for f in found] == [expected], spelling
    in_commune = db.execute("SELECT count(*) FROM parcels WHERE commune_code = %s", (commune,)).fetchone()[0]
    assert get(live, "/collections/parcels/items", commune_code=commune, limit=1).json()["numberMatched"] == in_commune
    assert in_commune == OGC_COMMUNE_PARCELS["ANFA"]  # parcels 1–10 and the grid's 400 in Anfa
    zones = get(live, "/collections/zones/items", code="D", storeys_max="4", limit=1000).json()
    expected = db.execute("SELECT count(*) FROM zones WHERE code = 'D' AND storeys_max = 4 "
                          "AND plan_in_force(plan_id, CURRENT_DATE)").fetchone()[0]
    assert zones["numberMatched"] == expected == 2  # D-1 (Anfa 2006) and D-2 (Maârif 2008)
    assert all(f["properties"]["code"] == "D" and f["properties"]["storeys_max"] == 4 for f in zones["features"])
    frontage = get(live, "/collections/zones/items", continuous_frontage="true", limit=1000).json()
    assert frontage["numberMatched"] == db.execute(
        "SELECT count(*) FROM zones WHERE continuous_frontage AND plan_in_force(plan_id, CURRENT_DATE)").fetchone()[0]
    assert frontage["numberMatched"] == 4  # the D and C zones of both plans in force
    day = db.execute("SELECT status_date FROM plans WHERE code = 'PA-ANFA-2006'").fetchone()[0]
    plans = get(live, "/collections/plans/items", status_date=day.isoformat()).json()
    assert {f["id"] for f in plans["features"]} == {r[0] for r in db.execute(
        "SELECT code FROM plans WHERE status_date = %s AND perimeter IS NOT NULL", (day,))}
    # the version it replaced has the same status date: remplacé on the day PA-ANFA-2006 was homologated
    assert {f["id"] for f in plans["features"]} == {"PA-ANFA-1989", "PA-ANFA-2006"}
    today = get(live, "/collections/plans/items", status_date=day.isoformat(), datetime=date.today().isoformat())
    assert {f["id"] for f in today.json()["features"]} == {"PA-ANFA-2006"}  # the one in force


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
    assert address == "3, impasse des Jasmins — ٣ زنقة الياسمين"  # parcel 1's, in French and Arabic
    r = requests.get(f"{live}/collections/parcels/items", params={"address": address},
                     headers={"X-API-Key": "ubk_test"}, timeout=30)
    assert r.status_code == 200 and [f["id"] for f in r.json()["features"]] == [1]
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
    assert (commune, n) == ("SIDI-BELYOUT", OGC_COMMUNE_PARCELS["SIDI-BELYOUT"])  # parcels 13, 14 and 200 of the grid
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
    assert len(pages) == -(-N // 1000) == 2 and len(items) <= len(pages) + 1  # + one small probe for the schema


def test_ogr2ogr_36_with_page_size_reads_the_collection_in_few_requests(live, live_requests, tmp_path):
    """GDAL before 3.8 reads no API definition and asks 10 features a page: the README's -oo PAGE_SIZE=1000."""
    out = tmp_path / "parcels.gpkg"
    subprocess.run(["ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{live}", "parcels", "-oo", "PAGE_SIZE=1000"],
                   check=True, capture_output=True, timeout=300)
    items = [r for r in live_requests if r.startswith("/ogc/collections/parcels/items")]
    assert len(items) <= -(-N // 1000) + 1


# ------------------------------------------------------------------ zoning: plans in force, their status
ZONING = [("zones", "zones"), ("prescriptions", "prescriptions"), ("sdau", "sdau_zones")]


ZONING_TODAY = {"zones": 8, "prescriptions": 10, "sdau": 3}  # by hand: the fixture's « In force today »


@pytest.mark.parametrize("collection,table", ZONING)
def test_zoning_collections_default_to_the_plans_in_force_today(live, db, collection, table):
    body = get(live, f"/collections/{collection}/items", limit=1000, properties="plan,plan_status").json()
    expected = db.execute(f"SELECT count(*) FROM {table} WHERE plan_in_force(plan_id, CURRENT_DATE)"  # noqa: S608
                          ).fetchone()[0]
    assert body["numberMatched"] == expected == ZONING_TODAY[collection]
    in_force = {r[0] for r in db.execute("SELECT code FROM plans WHERE plan_in_force(id, CURRENT_DATE)")}
    assert {f["properties"]["plan"] for f in body["features"]} <= in_force
    assert {f["properties"]["plan_status"] for f in body["features"]} == {"homologue"}
    description = get(live, f"/collections/{collection}").json()["description"]
    assert "en vigueur aujourd'hui" in description and "plan_status" in description


def test_every_version_on_request_with_its_status(live, db):
    every = get(live, "/collections/zones/items", limit=1000, datetime="../..", properties="plan,plan_status").json()
    assert every["numberMatched"] == db.execute("SELECT count(*) FROM zones").fetchone()[0] == 15
    statuses = {(f["properties"]["plan"], f["properties"]["plan_status"]) for f in every["features"]}
    assert statuses == {("PA-ANFA-1989", "remplace"), ("PA-ANFA-2006", "homologue"),
                        ("PA-ANFA-2026", "enquete_publique"),  # the revision in public inquiry, marked as such
                        ("PA-MAARIF-2008", "homologue"),
                        ("PA-MAARIF-2026", "homologue")}  # approved, not yet in force: the status alone says little
    item = get(live, f"/collections/zones/items/{every['features'][0]['id']}").json()
    assert {"plan", "plan_status"} <= set(item["properties"])


def test_an_interval_gives_the_versions_in_force_at_some_day_of_it(live):
    """A version never in force (in public inquiry, no validity) is in no interval, however wide."""
    # every version but PA-ANFA-2026, including the one replaced in 2006 and the one in force in 20 days
    assert _plans_of_zones(live, "1900-01-01/2100-12-31") == {"PA-ANFA-1989", "PA-ANFA-2006", "PA-MAARIF-2008",
                                                              "PA-MAARIF-2026"}
    assert _plans_of_zones(live, "2007-01-01/2008-12-31") == {"PA-ANFA-2006", "PA-MAARIF-2008"}
    assert _plans_of_zones(live, "2005-01-01/2007-01-01") == {"PA-ANFA-1989", "PA-ANFA-2006"}  # across 2006-06-12


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
