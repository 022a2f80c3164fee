"""What the public map reads from the database: zone families (one SQL rule from layers/catalog.py), the draft
in public inquiry as tiles (versions=enquete_publique: where it would change the zoning), the roads and
commune tiles, and the data's extent. On the hand-made territory tests/fixtures/ogc_world.sql (see its map).
"""

from __future__ import annotations

import math

import psycopg
import pyogrio
import pytest

from app import create_app
from layers.catalog import OTHER_FAMILY, ZONE_FAMILIES, zone_family_sql
from layers.tiles import map_overview
from tests.helpers import app_settings

TILE = "/ogc/collections/{c}/tiles/WebMercatorQuad/{z}/{y}/{x}"


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def _decode(data: bytes, z: int, x: int, y: int, tmp_path, layer: str):
    path = tmp_path / f"{layer}-{len(data)}" / str(z) / str(x) / f"{y}.pbf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return pyogrio.read_dataframe(path, layer=layer)


@pytest.fixture
def client(ogc_url):
    return create_app(app_settings(ogc_url, pool_min=1, pool_max=2)).test_client()


@pytest.fixture
def db(ogc_url):
    with psycopg.connect(ogc_url) as conn:
        yield conn


def _tiles_over(db, table: str, where: str, z: int) -> list[tuple[int, int]]:
    w, s, e, n = db.execute(f"SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (SELECT ST_Transform(ST_SetSRID("
                            f"ST_Extent(geom)::geometry, 26191), 4326) b FROM {table} WHERE {where}) s").fetchone()
    x0, y0 = _tile_of(w, n, z)
    x1, y1 = _tile_of(e, s, z)
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


# (code, dominant use, label) → family: the rule reads what the plan says a zone is for before its letters
FAMILY_CASES = [
    ("V1", "habitat individuel", "Zone de villas isolées", "villas"),
    ("R2", "habitat individuel", None, "villas"),  # words beat an unknown code
    ("E", "habitat", "Zone d'habitat économique", "habitat_economique"),
    ("D", "habitat collectif", "Zone d'immeubles R+4", "immeubles"),
    ("B", "habitat collectif et bureaux", "Zone d'immeubles R+8 du centre", "centre_mixte"),
    ("M2", None, None, "centre_mixte"),  # no words: the code's letters
    ("ZAE", "activités", "Zone d'activités économiques", "activites"),  # activités before « économique »
    ("I2", None, None, "industrie"),
    ("X", "industrie légère", None, "industrie"),
    ("ZV", "espace vert", "Zone d'espaces verts", "espaces_verts"),
    ("RB", None, "Zone naturelle", "espaces_verts"),
    ("EQ1", None, None, "equipements"),
    ("S", "Équipements publics", None, "equipements"),  # capital É
    ("RA", "agricole", "Zone rurale", "agricole"),
    ("A", None, None, "immeubles"),  # Zone A of the older plans: buildings
    ("Q", None, "Zone spéciale", OTHER_FAMILY),
    ("PK", "stationnement et parcelles", None, OTHER_FAMILY),  # « parcelles » is not « parc »
]


def test_zone_family_rule_in_sql(db):
    values = ", ".join(["(%s, %s, %s)"] * len(FAMILY_CASES))
    params = [v for code, use, label, _ in FAMILY_CASES for v in (code, use, label)]
    rows = db.execute(f"SELECT t.code, {zone_family_sql()} FROM (VALUES {values}) t(code, dominant_use, label)",
                      params).fetchall()
    assert [family for _, family in rows] == [case[3] for case in FAMILY_CASES]
    assert {case[3] for case in FAMILY_CASES} == {f.id for f in ZONE_FAMILIES} | {OTHER_FAMILY}  # each one seen


def test_zones_tiles_carry_the_family(client, db, tmp_path):
    z = 15
    (x, y), *_ = _tiles_over(db, "zones", "code = 'ZAE'", z)
    response = client.get(TILE.format(c="zones", z=z, y=y, x=x))
    frame = _decode(response.data, z, x, y, tmp_path, "zones")
    expected = dict(db.execute(f"SELECT t.code, {zone_family_sql()} FROM zones t").fetchall())
    assert len(frame) and all(expected[code] == family for code, family in zip(frame["code"], frame["family"],
                                                                              strict=True))
    assert "activites" in set(frame["family"])


def test_draft_tiles_show_what_the_plan_in_public_inquiry_would_change(client, db, tmp_path):
    """PA-ANFA-2026 (in public inquiry) turns V1 and V2 into B: the draft's tile holds those pieces, each with the
    code in force there (`was`), and nothing where it keeps the code in force (C stays C)."""
    z = 15
    day = db.execute("SELECT CURRENT_DATE").fetchone()[0].isoformat()
    draft = db.execute("SELECT id FROM plans WHERE code = 'PA-ANFA-2026'").fetchone()[0]
    assert db.execute("SELECT plan_status_on(%s, CURRENT_DATE)", (draft,)).fetchone()[0] == "enquete_publique"
    expected = set(db.execute(
        "SELECT d.code, f.code FROM zones d JOIN zones f ON ST_Intersects(d.geom, f.geom) "
        "WHERE plan_status_on(d.plan_id, CURRENT_DATE) = 'enquete_publique' AND plan_in_force(f.plan_id, CURRENT_DATE) "
        "AND d.code <> f.code AND ST_Area(ST_Intersection(d.geom, f.geom)) > 1").fetchall())
    assert {("B", "V1"), ("B", "V2")} <= expected and ("C", "C") not in expected  # the fixture's map
    seen, etags = set(), set()
    for x, y in _tiles_over(db, "zones", f"plan_id = {draft}", z):
        url = TILE.format(c="zones", z=z, y=y, x=x)
        in_force = client.get(f"{url}?datetime={day}")
        response = client.get(f"{url}?datetime={day}&versions=enquete_publique")
        assert response.status_code in (200, 204)
        if response.status_code == 200:
            frame = _decode(response.data, z, x, y, tmp_path, "zones")
            assert set(frame["plan"]) == {"PA-ANFA-2026"}
            seen |= set(zip(frame["code"], frame["was"], strict=True))
            assert response.headers["ETag"] != in_force.headers["ETag"]  # another tile, cached apart
            etags.add(response.headers["ETag"])
            again = client.get(f"{url}?datetime={day}&versions=enquete_publique")
            assert again.headers["ETag"] == response.headers["ETag"] and again.data == response.data
    assert seen == expected


def test_draft_parameter_errors(client):
    base = TILE.format(c="zones", z=15, y=13000, x=15000)
    wrong = client.get(f"{base}?versions=homologue")
    assert wrong.status_code == 400 and "enquete_publique" in wrong.get_json()["description"]
    roads = client.get(TILE.format(c="roads", z=15, y=13000, x=15000) + "?versions=enquete_publique")
    assert roads.status_code == 400 and "aucune version de plan" in roads.get_json()["description"]
    crs84 = client.get("/ogc/collections/zones/tiles/WorldCRS84Quad/14/5000/5000?versions=enquete_publique")
    assert crs84.status_code == 400 and "WebMercatorQuad" in crs84.get_json()["description"]
    unknown = client.get(f"{base}?statut=x")
    assert unknown.status_code == 400 and "versions" in unknown.get_json()["description"]


def test_roads_and_communes_tiles(client, db, tmp_path):
    z = 15
    names = {name for (name,) in db.execute("SELECT name FROM communes")}
    roads = {name for (name,) in db.execute("SELECT name FROM roads WHERE name IS NOT NULL")}
    seen_communes, seen_roads = set(), set()
    for x, y in _tiles_over(db, "communes", "true", z):
        communes = client.get(TILE.format(c="communes", z=z, y=y, x=x))
        if communes.status_code == 200:
            frame = _decode(communes.data, z, x, y, tmp_path, "communes")
            seen_communes |= set(frame["name"])
            assert set(frame["id"]) == set(frame["code"])  # a code, not an integer feature id
        road = client.get(TILE.format(c="roads", z=z, y=y, x=x))
        if road.status_code == 200:
            seen_roads |= set(_decode(road.data, z, x, y, tmp_path, "roads")["name"])
    assert seen_communes == names and seen_roads == roads


def test_map_overview_is_the_data_extent(db):
    overview = map_overview(db)
    w, s, e, n = db.execute("SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (SELECT ST_Transform(ST_SetSRID("
                            "ST_Extent(geom)::geometry, 26191), 4326) b FROM communes) s").fetchone()
    assert overview["extent"] == pytest.approx([w, s, e, n], abs=1e-5)
    assert {c["code"] for c in overview["communes"]} == {code for (code,) in db.execute("SELECT code FROM communes")}
    for commune in overview["communes"]:  # each label point inside its commune
        lon, lat = commune["point"]
        assert db.execute("SELECT ST_Contains(geom, ST_Transform(ST_SetSRID(ST_MakePoint(%s, %s), 4326), 26191)) "
                          "FROM communes WHERE code = %s", (lon, lat, commune["code"])).fetchone()[0]


def test_map_overview_of_an_empty_database(conn):
    assert map_overview(conn) == {"extent": None, "communes": []}
