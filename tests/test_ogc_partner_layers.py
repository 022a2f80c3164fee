"""Partner layers in the OGC API Features and Tiles (issue 16): each to exactly its audience, on a live server.

One small database for the module (a migrated template copy, no territory): four partner layers written as the
upload side leaves them (tests/partner_world.py), by hand —

| collection              | organisation     | audience | kind    | features (version in force)       |
|-------------------------|------------------|----------|---------|-----------------------------------|
| partenaire-parcs        | Commune d'Anfa   | public   | polygon | 3 parks A, B, C (W → E)           |
| partenaire-equipements  | Commune d'Anfa   | public   | point   | 2 (a 3rd in version 2, by a test) |
| partenaire-reseau       | Lydec            | partners | line    | 2 pipes                           |
| partenaire-projets      | Commune d'Anfa   | owner    | point   | 2 projects                        |
| partenaire-brouillon    | Lydec            | public   | polygon | none: never uploaded, so unseen   |

Keys: « lydec » (organisation Lydec), « anfa » (Commune d'Anfa); an administrator signs in with a session.
"""

from __future__ import annotations

import html
import math
import subprocess

import psycopg
import pyogrio
import pytest
import requests

from tests.helpers import app_settings, free_port, serve
from tests.partner_world import add_partner_layer, add_version, square

PASSWORD = "un mot de passe long"
ANFA, LYDEC = "Commune d'Anfa", "Lydec"
PARKS = [({"nom": "Parc A", "surface_ha": 1.5, "ouvert": True, "cree": "2019-03-01"}, square(-7.630, 33.590)),
         ({"nom": "Parc B", "surface_ha": 3.25, "ouvert": False, "cree": "2021-06-15"}, square(-7.620, 33.590)),
         ({"nom": "Parc C", "surface_ha": 0.8, "ouvert": True}, square(-7.610, 33.590))]
PARK_ATTRIBUTES = [{"name": "nom", "type": "text", "label": "Nom du parc"},
                   {"name": "surface_ha", "type": "float", "label": "Surface (ha)"},
                   {"name": "ouvert", "type": "bool", "label": "Ouvert au public"},
                   {"name": "cree", "type": "date", "label": "Date de création"}]
POINT_ATTRIBUTES = [{"name": "nom", "type": "text", "label": "Nom"}, {"name": "places", "type": "int", "label": "Places"}]
PUBLIC_IDS = {"partenaire-equipements", "partenaire-parcs"}
ALL_IDS = PUBLIC_IDS | {"partenaire-reseau", "partenaire-projets"}


def _fill(conn: psycopg.Connection, keys: dict) -> None:
    from layers.accounts import create_account
    from layers.apikeys import create_key

    add_partner_layer(conn, "parcs", ANFA, "public", "polygon", PARK_ATTRIBUTES, PARKS, "Parcs et jardins",
                      "الحدائق")
    add_partner_layer(conn, "equipements", ANFA, "public", "point", POINT_ATTRIBUTES,
                      [({"nom": "École 1", "places": 300}, "POINT(-7.625 33.595)"),
                       ({"nom": "École 2", "places": 120}, "POINT(-7.615 33.595)")])
    add_partner_layer(conn, "reseau", LYDEC, "partners", "line", [{"name": "diametre", "type": "int", "label": "Ø"}],
                      [({"diametre": 300}, "LINESTRING(-7.63 33.585, -7.61 33.585)"),
                       ({"diametre": 150}, "LINESTRING(-7.63 33.586, -7.62 33.596)")])
    add_partner_layer(conn, "projets", ANFA, "owner", "point", POINT_ATTRIBUTES,
                      [({"nom": "Projet secret", "places": 10}, "POINT(-7.622 33.592)"),
                       ({"nom": "Projet 2", "places": 20}, "POINT(-7.612 33.592)")])
    add_partner_layer(conn, "brouillon", LYDEC, "public", "polygon", [], [], published=False)
    keys["lydec"] = create_key(conn, "lydec", LYDEC)
    keys["anfa"] = create_key(conn, "anfa", ANFA)
    create_account(conn, "admin@auc.ma", "Administratrice", PASSWORD, role="admin", verified=True)
    create_account(conn, "sig@anfa.ma", "Service SIG d'Anfa", PASSWORD, role="partner", verified=True,
                   organisation=ANFA)


@pytest.fixture(scope="module")
def world(server_url, template_name):
    """(database URL, OGC base URL, keys) of the module's live server."""
    from app import create_app
    from tests.helpers import _database_with

    keys: dict[str, str] = {}
    for url in _database_with(server_url, template_name, "urbasig_partnerogc", lambda conn: _fill(conn, keys)):
        port = free_port()
        app = create_app(app_settings(url, pool_min=1, pool_max=4, public_url=f"http://127.0.0.1:{port}"))
        server, base = serve(app, port)
        yield url, f"{base}/ogc", keys
        server.shutdown()


def _ids(world, **headers) -> set[str]:
    _, ogc, _ = world
    r = requests.get(f"{ogc}/collections", headers=headers, timeout=30)
    assert r.status_code == 200
    return {c["id"] for c in r.json()["collections"] if c["id"].startswith("partenaire-")}


def _key(world, name: str) -> dict[str, str]:
    return {"X-API-Key": world[2][name]}


def _signed_in(world, email: str = "admin@auc.ma") -> requests.Session:
    base = world[1].removesuffix("/ogc")
    s = requests.Session()
    s.headers["Origin"] = base
    assert s.post(f"{base}/notes/session", json={"email": email, "password": PASSWORD}, timeout=30).status_code == 200
    return s


def _not_found(r: requests.Response) -> None:
    assert r.status_code == 404, (r.status_code, r.text[:300])
    assert "inconnu" in r.json()["description"] or "pas de tuiles" in r.json()["description"]


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def test_anonymous_sees_only_the_public_partner_layers(world):
    _, ogc, _ = world
    assert _ids(world) == PUBLIC_IDS  # not « brouillon »: nothing uploaded yet
    doc = requests.get(f"{ogc}/collections/partenaire-parcs", timeout=30).json()
    assert doc["title"] == "Parcs et jardins" and ANFA in doc["description"]
    assert any(link["href"].endswith("/collections/partenaire-parcs/tiles") for link in doc["links"])
    w, s, e, n = doc["extent"]["spatial"]["bbox"][0]
    assert (round(w, 3), round(s, 3), round(e, 3), round(n, 3)) == (-7.63, 33.59, -7.608, 33.592)  # its own extent
    unknown = requests.get(f"{ogc}/collections/partenaire-inconnue", timeout=30)
    for hidden in ("partenaire-reseau", "partenaire-projets", "partenaire-brouillon"):
        for path in ("", "/items", "/items/1", "/queryables", "/tiles", "/tiles/WebMercatorQuad/12/1652/1951"):
            r = requests.get(f"{ogc}/collections/{hidden}{path}", timeout=30)
            _not_found(r)  # never a 403: the layer's existence is not told
        assert requests.get(f"{ogc}/collections/{hidden}", timeout=30).json()["description"] == \
            unknown.json()["description"].replace("partenaire-inconnue", hidden)
    items = requests.get(f"{ogc}/collections/partenaire-parcs/items", timeout=30)
    assert items.headers["Cache-Control"].startswith("public") and items.json()["numberMatched"] == 3


def test_a_partner_key_of_another_organisation_sees_partners_layers_not_the_owner_ones(world):
    _, ogc, _ = world
    assert _ids(world, **_key(world, "lydec")) == PUBLIC_IDS | {"partenaire-reseau"}
    r = requests.get(f"{ogc}/collections/partenaire-reseau/items", headers=_key(world, "lydec"), timeout=30)
    assert r.status_code == 200 and r.json()["numberMatched"] == 2
    assert r.headers["Cache-Control"].startswith("private") and "Cookie" in r.headers["Vary"]
    assert {f["properties"]["diametre"] for f in r.json()["features"]} == {300, 150}  # integers, as declared
    _not_found(requests.get(f"{ogc}/collections/partenaire-projets/items", headers=_key(world, "lydec"), timeout=30))
    listing = requests.get(f"{ogc}/collections", headers=_key(world, "lydec"), timeout=30)
    assert listing.headers["Cache-Control"] == "private, no-store"
    # every answer that shows the partners' layer is kept out of shared caches, the download too (not « public »)
    site = ogc.removesuffix("/ogc")
    for path in ("/ogc/collections/partenaire-reseau", "/ogc/collections/partenaire-reseau/queryables",
                 "/ogc/collections/partenaire-reseau/tiles", "/ogc/collections/partenaire-reseau?f=html",
                 "/ogc/collections/catalogue/items?f=html", "/donnees/partenaire-reseau",
                 "/donnees/partenaire-reseau/telecharger?format=geojson&crs=4326"):
        r = requests.get(site + path, headers=_key(world, "lydec"), timeout=30)
        cache = [d.strip() for d in r.headers.get("Cache-Control", "").split(",")]
        assert r.status_code == 200 and "private" in cache and "public" not in cache, (path, r.headers)
        assert "X-API-Key" in r.headers.get("Vary", ""), (path, r.headers)


def test_the_owner_key_and_an_administrator_see_every_published_layer(world):
    _, ogc, _ = world
    assert _ids(world, **_key(world, "anfa")) == ALL_IDS
    r = requests.get(f"{ogc}/collections/partenaire-projets/items", headers=_key(world, "anfa"), timeout=30)
    assert sorted(f["properties"]["nom"] for f in r.json()["features"]) == ["Projet 2", "Projet secret"]
    admin = _signed_in(world)
    listing = admin.get(f"{ogc}/collections", timeout=30).json()
    assert {c["id"] for c in listing["collections"] if c["id"].startswith("partenaire-")} == ALL_IDS
    assert admin.get(f"{ogc}/collections/partenaire-projets/items/999999", timeout=30).status_code == 404
    first = r.json()["features"][0]["id"]
    assert admin.get(f"{ogc}/collections/partenaire-projets/items/{first}", timeout=30).status_code == 200


def test_items_by_bbox_and_cql2_on_the_declared_attributes(world):
    _, ogc, _ = world
    url = f"{ogc}/collections/partenaire-parcs"

    def names(**params) -> list[str]:
        r = requests.get(f"{url}/items", params=params, timeout=30)
        assert r.status_code == 200, r.text
        return sorted(f["properties"]["nom"] for f in r.json()["features"])

    assert names() == ["Parc A", "Parc B", "Parc C"]
    assert names(bbox="-7.631,33.589,-7.619,33.593") == ["Parc A", "Parc B"]
    assert names(filter="surface_ha > 1") == ["Parc A", "Parc B"]  # a number, not text (« 0.8 » < « 1 »)
    assert names(filter="ouvert = true AND cree < DATE('2020-01-01')") == ["Parc A"]
    assert names(filter="cree IS NULL") == ["Parc C"]
    assert names(nom="Parc B") == ["Parc B"]  # a queryable as a query parameter
    assert names(filter="S_INTERSECTS(geometry, POINT(-7.619 33.591))") == ["Parc B"]
    feature = requests.get(f"{url}/items", params={"filter": "nom = 'Parc A'"}, timeout=30).json()["features"][0]
    assert feature["properties"] == {"nom": "Parc A", "surface_ha": 1.5, "ouvert": True, "cree": "2019-03-01"}
    schema = requests.get(f"{url}/queryables", timeout=30).json()["properties"]
    assert {name: (spec.get("type"), spec.get("format"), spec["title"]) for name, spec in schema.items()
            if name != "geometry"} == {"nom": ("string", None, "Nom du parc"),
                                       "surface_ha": ("number", None, "Surface (ha)"),
                                       "ouvert": ("boolean", None, "Ouvert au public"),
                                       "cree": ("string", "date", "Date de création")}
    for params in ({"filter": "inconnu = 1"}, {"datetime": "2024-01-01"}, {"limit": "0"}):
        r = requests.get(f"{url}/items", params=params, timeout=30)
        assert r.status_code == 400 and r.json()["description"], params
    assert "version en vigueur" in requests.get(f"{url}/items", params={"datetime": "2024-01-01"},
                                                timeout=30).json()["description"]


def test_gdal_reads_a_public_partner_collection(world):
    _, ogc, _ = world
    out = subprocess.run(["ogrinfo", "-ro", "-al", "-so", f"OAPIF:{ogc}", "partenaire-parcs"], capture_output=True,
                         text=True, timeout=120, check=True)
    assert "Feature Count: 3" in out.stdout and "surface_ha: Real" in out.stdout and "ouvert: Integer(Boolean)" in \
        out.stdout


def _decode(data: bytes, tmp_path, z: int, x: int, y: int, layer: str):
    path = tmp_path / str(z) / str(x) / f"{y}.pbf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return pyogrio.read_dataframe(path, layer=layer)


def test_tiles_of_partner_layers_to_their_audience(world, tmp_path):
    _, ogc, _ = world
    z = 13
    x, y = _tile_of(-7.62, 33.591, z)
    assert {_tile_of(lon, 33.591, z) for lon in (-7.629, -7.609)} == {(x, y)}  # the three parks in one tile
    r = requests.get(f"{ogc}/collections/partenaire-parcs/tiles/WebMercatorQuad/{z}/{y}/{x}", timeout=30)
    assert r.status_code == 200 and r.headers["Cache-Control"].startswith("public")
    frame = _decode(r.content, tmp_path / "a", z, x, y, "partenaire-parcs")
    assert sorted(frame["nom"]) == ["Parc A", "Parc B", "Parc C"] and set(frame["surface_ha"]) == {1.5, 3.25, 0.8}
    path = f"{ogc}/collections/partenaire-reseau/tiles/WebMercatorQuad/{z}/{y}/{x}"
    _not_found(requests.get(path, timeout=30))
    keyed = requests.get(path, headers=_key(world, "lydec"), timeout=30)
    assert keyed.status_code == 200 and keyed.headers["Cache-Control"].startswith("private")
    assert len(_decode(keyed.content, tmp_path / "b", z, x, y, "partenaire-reseau")) == 2
    tilejson = requests.get(f"{ogc}/collections/partenaire-parcs/tiles/WebMercatorQuad/tilejson", timeout=30).json()
    assert tilejson["vector_layers"][0]["id"] == "partenaire-parcs"


def test_a_new_version_changes_the_items_the_tiles_and_the_etag(world, tmp_path):
    url, ogc, _ = world
    items = f"{ogc}/collections/partenaire-equipements/items"
    z = 13
    x, y = _tile_of(-7.62, 33.595, z)
    tile = f"{ogc}/collections/partenaire-equipements/tiles/WebMercatorQuad/{z}/{y}/{x}"
    before, tile_before = requests.get(items, timeout=30), requests.get(tile, timeout=30)
    assert before.json()["numberMatched"] == 2
    assert requests.get(items, headers={"If-None-Match": before.headers["ETag"]}, timeout=30).status_code == 304
    with psycopg.connect(url) as conn:
        layer_id = conn.execute("SELECT id FROM partner_layers WHERE slug = 'equipements'").fetchone()[0]
        add_version(conn, layer_id, "equipements", 2, [({"nom": "École 1", "places": 320}, "POINT(-7.625 33.595)"),
                                                        ({"nom": "Lycée", "places": 800}, "POINT(-7.62 33.596)"),
                                                        ({"nom": "Crèche", "places": 40}, "POINT(-7.618 33.594)")])
    after = requests.get(items, headers={"If-None-Match": before.headers["ETag"]}, timeout=30)
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    assert sorted(f["properties"]["nom"] for f in after.json()["features"]) == ["Crèche", "Lycée", "École 1"]
    tile_after = requests.get(tile, timeout=30)
    assert tile_after.headers["ETag"] != tile_before.headers["ETag"]
    assert sorted(_decode(tile_after.content, tmp_path, z, x, y, "partenaire-equipements")["places"]) == [40, 320, 800]


def test_the_html_pages_of_a_partner_collection(world):
    _, ogc, _ = world
    listing = requests.get(f"{ogc}/collections", params={"f": "html"}, timeout=30)
    assert listing.status_code == 200 and "Parcs et jardins" in listing.text and "partenaire-projets" not in listing.text
    page = requests.get(f"{ogc}/collections/partenaire-parcs/items", params={"f": "html"}, timeout=30)
    assert page.status_code == 200 and "Parc B" in page.text and "Surface (ha)" in page.text
    assert "/collections/partenaire-parcs/tiles/WebMercatorQuad/" in page.text  # the preview draws its tiles
    assert page.headers["Cache-Control"].startswith("private")  # a page: its language follows the cookie


def test_the_map_lists_the_partner_layers_of_the_signed_in_account(world):
    """The public map's switcher: the public layers for everyone, its own and the partners' ones for a partner
    account of the organisation, whose session also opens their tiles."""
    _, ogc, _ = world
    base = ogc.removesuffix("/ogc")
    anonymous = requests.get(f"{base}/", timeout=30)
    assert anonymous.status_code == 200 and "Cache-Control" not in anonymous.headers

    def switcher(text: str) -> set[str]:
        return {line.split('data-partner="')[1].split('"')[0] for line in text.splitlines() if 'data-partner="' in line}

    assert switcher(anonymous.text) == PUBLIC_IDS
    assert "Source : Commune d'Anfa" in html.unescape(anonymous.text) and "Parcs et jardins" in anonymous.text
    assert "الحدائق" in requests.get(f"{base}/", params={"lang": "ar"}, timeout=30).text  # the Arabic title
    partner = _signed_in(world, "sig@anfa.ma")
    page = partner.get(f"{base}/", timeout=30)
    assert switcher(page.text) == ALL_IDS and page.headers["Cache-Control"] == "private, no-store"
    z = 13
    x, y = _tile_of(-7.62, 33.591, z)
    tile = f"{ogc}/collections/partenaire-projets/tiles/WebMercatorQuad/{z}/{y}/{x}"
    assert partner.get(tile, timeout=30).status_code == 200
    _not_found(requests.get(tile, timeout=30))
