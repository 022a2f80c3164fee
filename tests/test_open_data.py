"""The open-data catalogue (issue 16): /donnees/ and a dataset's page in French and Arabic, every download format
read back with GDAL (counts and geometries against PostGIS, public columns only), the cache (ETag, 304, a new file
after a change of the layer) and the French 400 and 404.

Over the session's sample territory (tests/conftest.py `sample_url`, read only); the change of a layer is made in
a database of its own, of three communes."""

from __future__ import annotations

import re
import time
import zipfile
from dataclasses import replace
from html import unescape

import psycopg
import pyogrio
import pytest
import shapely

from layers import open_data
from layers.datasets import Part, get_dataset, list_datasets
from tests.helpers import add_commune, app_settings, box

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
PARCEL_FIELDS = {"id", "land_ref", "ref_kind", "area_m2", "legal_area_m2", "commune_code"}
PARCEL_SHORT = {"id", "land_ref", "ref_kind", "area_m2", "legal_area", "commune"}
PRIVATE = ("address", "ref_text", "owner", "owner_name", "applicant")


@pytest.fixture(scope="module")
def sample_conn(sample_url):
    with psycopg.connect(sample_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def client(sample_url, downloads):
    from app import create_app

    app = create_app(app_settings(sample_url, pool_min=1, pool_max=2, downloads_dir=downloads))
    return app.test_client()


@pytest.fixture(scope="module")
def plan_dataset(sample_conn):
    """A plan version of the sample with zones and prescriptions (two parts)."""
    return next(d for d in list_datasets(sample_conn) if d.kind == "plan" and len(d.parts) == 2)


def _text(response) -> str:
    return unescape(response.get_data(as_text=True))


# ---------------------------------------------------------------------------------------------------- pages

def test_the_list_shows_every_public_dataset_in_french_and_arabic(client, sample_conn):
    datasets = list_datasets(sample_conn)
    page = client.get("/donnees/?lang=fr", headers=BROWSER)
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = _text(page)
    for d in datasets:
        assert d.title["fr"] in html and f'href="/donnees/{d.id}"' in html
    plan = next(d for d in datasets if d.kind == "plan")
    assert "Version de plan" in html and plan.plan["status"]["fr"] in html
    assert "CC-BY-4.0" in html and "Agence urbaine de Casablanca" in html
    assert f"{len(datasets)} jeux de données sur {len(datasets)}" in html

    arabic = _text(client.get("/donnees/?lang=ar", headers=BROWSER))
    assert 'dir="rtl"' in arabic and 'lang="ar"' in arabic
    assert all(d.title["ar"] in arabic for d in datasets) and "البيانات المفتوحة" in arabic

    home = _text(client.get("/?lang=fr", headers=BROWSER))
    assert 'href="/donnees/"' in home  # the map's header links to the catalogue


def test_the_list_filters_by_kind_theme_and_words(client, sample_conn):
    datasets = list_datasets(sample_conn)
    plans = client.get("/donnees/?type=plan").get_json()
    assert {d["id"] for d in plans["datasets"]} == {d.id for d in datasets if d.kind == "plan"}
    assert plans["numberTotal"] == len(datasets)
    boundaries = client.get("/donnees/?theme=boundaries").get_json()["datasets"]
    assert [d["id"] for d in boundaries] == ["communes"]
    found = client.get("/donnees/?q=Parcelles cadastrales").get_json()["datasets"]
    assert [d["id"] for d in found] == ["parcels"]
    arabic = client.get("/donnees/?q=القطع").get_json()["datasets"]
    assert "parcels" in [d["id"] for d in arabic]
    bad = client.get("/donnees/?type=raster")
    assert bad.status_code == 400 and "type=couche, plan ou partenaire" in bad.get_json()["message"]


def test_a_plan_dataset_page_says_every_fact_and_links_its_data(client, plan_dataset):
    d = plan_dataset
    page = client.get(f"/donnees/{d.id}?lang=fr", headers=BROWSER)
    assert page.status_code == 200
    html = _text(page)
    assert d.title["fr"] in html and d.description["fr"] in html
    assert d.plan["status"]["fr"] in html
    if d.plan["approval_act"]:
        assert d.plan["approval_act"] in html
    assert 'href="https://creativecommons.org/licenses/by/4.0/"' in html and "EPSG:26191" in html
    assert ", ".join(str(round(v, 5)) for v in d.extent) in html
    for part in d.parts:  # the OGC API items of each part, with its plan's filter and every version
        assert f"/ogc/collections/{part.collection}/items?filter=plan+%3D+%27{d.plan['code']}%27" in html
    for fmt in ("gpkg", "geojson", "csv", "shp"):
        for crs in ("26191", "4326"):
            assert f"/donnees/{d.id}/telecharger?format={fmt}&crs={crs}" in html.replace("&amp;", "&")
    assert 'id="preview"' in html and "/vendor/maplibre-gl/" in html
    assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith(("/", "data:")) for a in assets)  # every script and style from this server

    arabic = _text(client.get(f"/donnees/{d.id}?lang=ar", headers=BROWSER))
    assert d.title["ar"] in arabic and d.plan["status"]["ar"] in arabic and 'dir="rtl"' in arabic

    data = client.get(f"/donnees/{d.id}").get_json()  # a program gets the same facts as JSON
    assert data["id"] == d.id and data["plan"]["code"] == d.plan["code"] and len(data["downloads"]) == 8


def test_an_unknown_dataset_is_the_french_404(client):
    page = client.get("/donnees/nulle-part?lang=fr", headers=BROWSER)
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "jeu de données inconnu : « nulle-part »" in _text(page)
    data = client.get("/donnees/nulle-part", headers={"Accept": "application/json"})
    assert data.status_code == 404 and data.get_json()["code"] == "introuvable"
    assert client.get("/donnees/nulle-part/telecharger?format=gpkg").status_code == 404


def test_a_partner_key_sees_its_organisation_s_dataset_and_the_public_does_not(client, sample_conn, monkeypatch):
    from layers import datasets
    from layers.apikeys import create_key

    hidden = replace(get_dataset(sample_conn, "roads"), id="partenaire-vannes", kind="partner",
                     audience="owner", owner_organisation="Lydec", parts=(
                         Part("partenaire-vannes", {"fr": "Vannes", "ar": "صمامات"}, "partner_features"),))
    monkeypatch.setattr(datasets, "PROVIDERS", [*datasets.PROVIDERS, lambda conn, viewer: [hidden]])
    name = f"lydec-{time.monotonic_ns()}"
    key = create_key(sample_conn, name, "Lydec")
    try:
        anonymous = client.get("/donnees/").get_json()["datasets"]
        assert "partenaire-vannes" not in [d["id"] for d in anonymous]
        assert client.get("/donnees/partenaire-vannes").status_code == 404  # hidden: as if unknown
        lydec = {"X-API-Key": key}
        listed = client.get("/donnees/?type=partenaire", headers=lydec).get_json()["datasets"]
        assert [d["id"] for d in listed] == ["partenaire-vannes"]
        page = client.get("/donnees/partenaire-vannes?lang=fr", headers={**lydec, **BROWSER})
        assert page.status_code == 200 and "Couche partenaire" in _text(page)
        none_yet = client.get("/donnees/partenaire-vannes/telecharger?format=gpkg", headers=lydec)
        assert none_yet.status_code == 404 and "aucun téléchargement" in none_yet.get_json()["message"]
    finally:
        sample_conn.execute("DELETE FROM api_keys WHERE name = %s", (name,))


# ---------------------------------------------------------------------------------------------------- downloads

def _db_geometries(conn, srid: int) -> tuple[list[int], list]:
    geom = "geom" if srid == 26191 else f"ST_Transform(geom, {srid})"
    rows = conn.execute(f"SELECT id, ST_AsBinary({geom}) FROM parcels ORDER BY id").fetchall()  # noqa: S608
    return [r[0] for r in rows], list(shapely.from_wkb([r[1] for r in rows]))


def _read(path, fmt: str):
    if fmt == "shp":
        with zipfile.ZipFile(path) as zipped:
            names = set(zipped.namelist())
        assert {"parcels.shp", "parcels.shx", "parcels.dbf", "parcels.prj", "parcels.cpg"} <= names
        return pyogrio.read_dataframe(f"/vsizip/{path}/parcels.shp")
    if fmt == "csv":
        return pyogrio.read_dataframe(path, GEOM_POSSIBLE_NAMES="WKT", KEEP_GEOM_COLUMNS="NO")
    return pyogrio.read_dataframe(path)


@pytest.mark.parametrize("crs", [26191, 4326])
@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "csv", "shp"])
def test_every_format_reads_back_with_the_database_geometries_and_no_private_column(client, sample_conn, fmt, crs):
    answer = client.get(f"/donnees/parcels/telecharger?format={fmt}&crs={crs}")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["ETag"] and answer.headers["Last-Modified"]
    assert "attachment" in answer.headers["Content-Disposition"] and f"epsg{crs}" in answer.headers[
        "Content-Disposition"]
    path = open_data.download(sample_conn, get_dataset(sample_conn, "parcels"),
                              client.application.config["URBASIG"].download_cache, fmt, str(crs)).path
    assert path.read_bytes() == answer.get_data()
    frame = _read(path, fmt)
    ids, geoms = _db_geometries(sample_conn, crs)
    assert len(frame) == len(ids)
    columns = set(frame.columns) - {"geometry"}
    assert columns == (PARCEL_SHORT if fmt == "shp" else PARCEL_FIELDS)
    assert not any(c in columns for c in PRIVATE)
    assert [int(v) for v in frame["id"]] == ids
    if fmt != "csv":  # a CSV names no CRS: its WKT is in the one asked for
        assert frame.crs.to_epsg() == crs
    tolerance = 0.01 if crs == 26191 else 1e-7  # 1 cm, or 1e-7 degree
    distances = shapely.hausdorff_distance(frame.geometry.values, geoms)
    assert float(distances.max()) < tolerance


def test_a_geojson_in_wgs84_is_rfc7946_longitude_first(client, sample_conn):
    doc = client.get("/donnees/communes/telecharger?format=geojson&crs=4326").get_json(force=True)
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    lon, lat = doc["features"][0]["geometry"]["coordinates"][0][0][0]
    assert -8.5 < lon < -7 and 33 < lat < 34
    merchich = client.get("/donnees/communes/telecharger?format=geojson&crs=26191").get_json(force=True)
    assert merchich["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::26191"


def test_a_plan_version_is_one_geopackage_layer_per_part_or_a_zip_of_files(client, sample_conn, plan_dataset,
                                                                          downloads):
    d = plan_dataset
    gpkg = open_data.download(sample_conn, d, downloads, "gpkg", "26191").path
    layers = {name for name, _ in pyogrio.list_layers(gpkg)}
    assert layers == {p.collection for p in d.parts}
    plan_id = d.parts[0].plan_id
    for part in d.parts:
        expected = sample_conn.execute(f"SELECT count(*) FROM {part.table} WHERE plan_id = %s",  # noqa: S608
                                       (plan_id,)).fetchone()[0]
        frame = pyogrio.read_dataframe(gpkg, layer=part.collection)
        assert len(frame) == expected == part.count and set(frame["plan"]) == {d.plan["code"]}
        assert "conditional_rules" not in frame.columns and "attributes" not in frame.columns  # not published
    answer = client.get(f"/donnees/{d.id}/telecharger?format=geojson&crs=4326")
    assert answer.mimetype == "application/zip"
    zipped = open_data.download(sample_conn, d, downloads, "geojson", "4326").path
    with zipfile.ZipFile(zipped) as archive:
        assert sorted(archive.namelist()) == sorted(f"{p.collection}.geojson" for p in d.parts)
    one = client.get(f"/donnees/{d.id}/telecharger?format=csv&part=zones")
    assert one.status_code == 200 and one.mimetype.startswith("text/csv")
    assert one.get_data(as_text=True).count("\n") == d.parts[0].count + 1  # the header, one line a zone
    shp = open_data.download(sample_conn, d, downloads, "shp", "26191", "prescriptions").path
    with zipfile.ZipFile(shp) as archive:  # mixed geometries: one Shapefile per kind
        kinds = {n.rsplit(".", 1)[0] for n in archive.namelist()}
    assert kinds <= {"prescriptions_points", "prescriptions_lignes", "prescriptions_polygones"} and kinds


def test_a_second_download_is_the_cached_file_with_its_etag(client, sample_conn):
    first = client.get("/donnees/roads/telecharger?format=gpkg&crs=4326")
    path = open_data.download(sample_conn, get_dataset(sample_conn, "roads"),
                              client.application.config["URBASIG"].download_cache, "gpkg", "4326")
    assert not path.built  # the first request wrote it
    written = path.path.stat().st_mtime_ns
    second = client.get("/donnees/roads/telecharger?format=gpkg&crs=4326")
    assert second.headers["ETag"] == first.headers["ETag"] and second.get_data() == first.get_data()
    assert path.path.stat().st_mtime_ns == written
    assert "public" in second.headers["Cache-Control"]
    again = client.get("/donnees/roads/telecharger?format=gpkg&crs=4326",
                       headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and not again.get_data()


@pytest.mark.parametrize(("query", "says"), [
    ("format=kml", "format=gpkg, geojson, csv ou shp"),
    ("format=gpkg&crs=3857", "crs=26191"),
    ("format=csv&part=routes", "partie inconnue « routes »"),
])
def test_bad_parameters_are_a_french_400(client, query, says):
    answer = client.get(f"/donnees/parcels/telecharger?{query}")
    assert answer.status_code == 400 and says in answer.get_json()["message"]


def test_a_change_of_the_layer_makes_a_new_file_built_ahead_by_the_cli(conn, db_url, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from app import cli

    for i, code in enumerate(("AR01", "AR02")):
        add_commune(conn, code, box(300_000 + i * 1000, 330_000, 1000, 1000))
    before = open_data.download(conn, get_dataset(conn, "communes"), tmp_path, "gpkg", "26191")
    assert before.built and len(pyogrio.read_dataframe(before.path)) == 2
    monkeypatch.setenv("URBASIG_DATABASE_URL", db_url)
    monkeypatch.setenv("URBASIG_DOWNLOADS_DIR", str(tmp_path))
    written = before.path.stat().st_mtime_ns
    build = ["open-data-build", "--dataset", "communes", "--format", "gpkg", "--crs", "26191"]
    kept = CliRunner().invoke(cli, build)
    assert kept.exit_code == 0 and "communes gpkg EPSG:26191 : déjà à jour" in kept.output
    assert before.path.stat().st_mtime_ns == written  # not written again

    add_commune(conn, "AR03", box(302_000, 330_000, 1000, 1000))  # a write: the layer's version changes
    done = CliRunner().invoke(cli, build)
    assert done.exit_code == 0 and "communes gpkg EPSG:26191 : construit" in done.output
    after = open_data.download(conn, get_dataset(conn, "communes"), tmp_path, "gpkg", "26191")
    assert not after.built and after.etag != before.etag and after.path != before.path
    assert len(pyogrio.read_dataframe(after.path)) == 3
    assert not before.path.exists()  # the file of the old version is gone
    assert list(tmp_path.glob("communes/.build-*")) == []  # no temporary file left
