"""Partner layers, the write side (issue 16 item 3), over real HTTP: a partner of the Commune d'Anfa creates a layer
in its space, uploads it through the import pipeline (a GeoPackage in EPSG:26191, then a GeoJSON in WGS 84
reprojected), publishes it to the partners then to the public; at each step the catalogue
(layers/datasets.list_datasets) and partner_layers.find_layer answer exactly for anonymous, another organisation
(Lydec) and the admin. Bad files are refused with the import's French errors and write nothing; another
organisation cannot edit (403); every change is in the audit trail; a public information layer shows in the
instruction result and in the indicative note's PDF with its source and version.

One database and one server for the module (tests/instruction_world.py's territory and three accounts); each test
makes its own layers, so the tests do not depend on their order.
"""

from __future__ import annotations

import html
import json
import re
import zipfile
from datetime import date

import lxml.html
import numpy as np
import psycopg
import pyogrio
import pytest
import requests
import shapely

from gis.crs import parse_crs, reproject
from gis.errors import InputError
from instruction.engine import instruct
from instruction.land import LandRequest
from layers import partner_layers as pl
from layers.accounts import create_account
from layers.datasets import Viewer, as_dict, list_datasets
from tests import instruction_world as world
from tests.helpers import box, count, write_layer
from tests.test_notes_indicative import _pdf_text
from tests.test_spaces_admin import PASSWORD, page, served, signed_in

ANFA, LYDEC = "Commune d'Anfa", "Lydec"
PARTNER_A, PARTNER_B, ADMIN = "sig@anfa.ma", "sig@lydec.ma", "admin@auc.ma"
ANON, OTHER, STAFF = Viewer(), Viewer("partner", None, LYDEC), Viewer("admin")
OWNER = Viewer("partner", None, ANFA)
DAY = date(2015, 1, 1)
# Two polygons over TF 1/T (44–84 × 0–50 in tests/helpers.box coordinates): 40–60 covers 16 × 50 = 800 m² of it.
POLYGONS = [box(40, 0, 20, 50), box(300, 300, 10, 10)]
RECORDS = [{"nom": "Collecteur Anfa-Nord", "diametre": 800}, {"nom": "Regard 12", "diametre": 300}]


def _fill(conn: psycopg.Connection) -> None:
    world.build(conn)
    for email, role, organisation in ((PARTNER_A, "partner", ANFA), (PARTNER_B, "partner", LYDEC),
                                      (ADMIN, "admin", None)):
        create_account(conn, email, email.split("@")[0], PASSWORD, role=role, verified=True, organisation=organisation)


@pytest.fixture(scope="module")
def site(server_url, template_name, tmp_path_factory):
    """(base URL, database URL): the territory and the accounts, served with a 6 MiB cap on partner files (above
    the app's 5 MiB for other bodies)."""
    for base, url, _ in served(server_url, template_name, tmp_path_factory.mktemp("var"), "partnerlayers", _fill,
                               partner_upload_max_mb=6):
        yield base, url


@pytest.fixture(scope="module")
def anfa(site):
    """The Commune d'Anfa's partner, signed in (closed at the end: no keep-alive left for the server to wait on)."""
    with signed_in(site[0], PARTNER_A) as session:
        yield session


def _csrf(session: requests.Session, url: str) -> str:
    return page(session, url).xpath("//input[@name='csrf']")[0].get("value")


def _create(session: requests.Session, base: str, title: str, kind: str = "polygon", licence: str = "ODbL-1.0") -> str:
    r = session.post(f"{base}/partenaire/couches", allow_redirects=False, headers={"Accept": "text/html"}, timeout=30,
                     data={"csrf": _csrf(session, f"{base}/partenaire/couches"), "title_fr": title,
                           "title_ar": "شبكة التطهير", "description_fr": "Réseau d'assainissement.",
                           "licence": licence, "geometry_kind": kind})
    assert r.status_code == 303, r.text[:500]
    return r.headers["Location"].rsplit("/", 1)[1]


def _upload(session: requests.Session, base: str, slug: str, path, **fields: str) -> requests.Response:
    token = _csrf(session, f"{base}/partenaire/couches")
    with open(path, "rb") as f:
        return session.post(f"{base}/partenaire/couches/{slug}/versions", data={"csrf": token, **fields},
                            files={"file": (path.name, f.read())}, allow_redirects=False,
                            headers={"Accept": "text/html"}, timeout=60)


def _edit(session: requests.Session, base: str, slug: str, **fields: str) -> requests.Response:
    return session.post(f"{base}/partenaire/couches/{slug}", data={"csrf": _csrf(session, f"{base}/partenaire/couches"),
                                                                   **fields},
                        allow_redirects=False, headers={"Accept": "text/html"}, timeout=30)


def _gpkg(tmp_path, name="reseau.gpkg", geoms=None, records=None, crs="EPSG:26191"):
    return write_layer(tmp_path / name, records or RECORDS, geoms or POLYGONS, crs=crs)


def _raw_geojson(path, properties: dict):
    """A one-feature GeoJSON in EPSG:26191 written by hand (GDAL itself refuses to write properties « B » and « b »)."""
    feature = {"type": "Feature", "properties": properties,
               "geometry": shapely.geometry.mapping(shapely.Point(295_000, 332_000).buffer(5))}
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": {"type": "name", "properties": {
        "name": "urn:ogc:def:crs:EPSG::26191"}}, "features": [feature]}))
    return path


def _lonlat():
    return reproject(np.array(POLYGONS, dtype=object), parse_crs("EPSG:26191"), parse_crs("EPSG:4326"))


def _ids(conn, viewer: Viewer) -> set[str]:
    return {d.id for d in list_datasets(conn, viewer) if d.kind == "partner"}


def _answers(url: str, slug: str) -> dict[str, bool]:
    """Who sees the layer, in the catalogue and by find_layer (the two must agree)."""
    with psycopg.connect(url) as conn:
        out = {}
        for name, viewer in (("anonymous", ANON), ("lydec", OTHER), ("admin", STAFF), ("anfa", OWNER)):
            listed = f"partenaire-{slug}" in _ids(conn, viewer)
            assert listed == (pl.find_layer(conn, slug, viewer) is not None), name
            out[name] = listed
    return out


def test_audience_journey_versions_and_audit(site, anfa, tmp_path):
    base, url = site
    slug = _create(anfa, base, "Réseau d'assainissement")
    assert slug == "reseau-d-assainissement"
    r = _upload(anfa, base, slug, _gpkg(tmp_path), declarations="diametre ; int ; Diamètre (mm)")
    assert r.status_code == 303, r.text[:800]
    assert _answers(url, slug) == {"anonymous": False, "lydec": False, "admin": True, "anfa": True}
    listing = page(anfa, f"{base}/partenaire/couches")
    row = listing.xpath(f"//tr[@data-slug='{slug}']")[0]
    assert row.get("data-audience") == "owner" and row.get("data-version") == "1"
    assert "2 entité(s)" in row.text_content()
    arabic = page(anfa, f"{base}/partenaire/couches/{slug}?lang=ar")
    assert arabic.get("dir") == "rtl" and "إيداع صيغة" in arabic.text_content()  # « Déposer une version »

    with psycopg.connect(url) as conn:
        dataset = as_dict(next(d for d in list_datasets(conn, OWNER) if d.id == f"partenaire-{slug}"))
    assert dataset["producer"] == {"fr": ANFA, "ar": ANFA} and dataset["licence"]["id"] == "ODbL-1.0"
    assert dataset["audience"] == "owner" and dataset["owner_organisation"] == ANFA
    assert dataset["feature_count"] == 2 and dataset["parts"][0]["collection"] == f"partenaire-{slug}"
    lon0, lat0, lon1, lat1 = dataset["extent"]
    assert -7.7 < lon0 < lon1 < -7.5 and 33.5 < lat0 < lat1 < 33.7  # Casablanca, in CRS84

    assert _edit(anfa, base, slug, audience="partners").status_code == 303
    assert _answers(url, slug) == {"anonymous": False, "lydec": True, "admin": True, "anfa": True}
    records = f"{base}/ogc/collections/catalogue/items?ids=partenaire-{slug}"
    assert requests.get(records, timeout=30).json()["features"] == []  # the machine-readable catalogue too
    assert _edit(anfa, base, slug, audience="public").status_code == 303
    assert _answers(url, slug) == {"anonymous": True, "lydec": True, "admin": True, "anfa": True}
    [record] = requests.get(records, timeout=30).json()["features"]
    assert record["id"] == f"partenaire-{slug}" and record["properties"]["license"] == "ODbL-1.0"

    # the replacement: a GeoJSON in WGS 84, reprojected; version 1 stays, version 2 is in force
    lonlat = _lonlat()
    geojson = write_layer(tmp_path / "reseau.geojson", [{"nom": "Collecteur v2", "diametre": 900},
                                                        {"nom": "Regard 12", "diametre": 300}], list(lonlat),
                          crs="EPSG:4326")
    r = _upload(anfa, base, slug, geojson)
    assert r.status_code == 303, r.text[:800]
    with psycopg.connect(url) as conn:
        layer = pl.find_layer(conn, slug, ANON)
        assert layer.current_version == 2 and layer.attributes[1] == pl.Attribute("diametre", "int", "Diamètre (mm)")
        per_version = dict(conn.execute("SELECT f.version, count(*) FROM partner_features f JOIN partner_layers l "
                                        "ON l.id = f.layer_id WHERE l.slug = %s GROUP BY 1", (slug,)).fetchall())
        assert per_version == {1: 2, 2: 2}
        moved = conn.execute("SELECT max(ST_HausdorffDistance(a.geom, b.geom)) FROM partner_features a "
                             "JOIN partner_features b ON a.layer_id = b.layer_id AND a.version = 1 AND b.version = 2 "
                             "AND a.properties->>'diametre' = '300' AND b.properties->>'diametre' = '300' "
                             "JOIN partner_layers l ON l.id = a.layer_id WHERE l.slug = %s", (slug,)).fetchone()[0]
        assert moved < 0.01  # WGS 84 there and back: the same ground
        props = conn.execute("SELECT properties FROM partner_features f JOIN partner_layers l ON l.id = f.layer_id "
                             "WHERE l.slug = %s AND f.version = 2 ORDER BY f.id", (slug,)).fetchone()[0]
        assert props == {"nom": "Collecteur v2", "diametre": 900}
        sources = conn.execute("SELECT i.layer, i.source_path, i.source_crs FROM partner_layer_versions v JOIN imports i "
                               "ON i.id = v.import_id JOIN partner_layers l ON l.id = v.layer_id WHERE l.slug = %s "
                               "ORDER BY v.version", (slug,)).fetchall()
        assert [s[:2] for s in sources] == [(f"partenaire-{slug}", "reseau.gpkg"), (f"partenaire-{slug}", "reseau.geojson")]
        assert "26191" in sources[0][2] and ("4326" in sources[1][2] or "WGS 84" in sources[1][2])
        trail = conn.execute("SELECT actor, action, before, after FROM audit_log WHERE entity = 'partner_layer' "
                             "AND entity_id = %s ORDER BY id", (slug,)).fetchall()
    assert [(a, act) for a, act, _, _ in trail] == [
        (PARTNER_A, "partenaire.couche.creee"), (PARTNER_A, "partenaire.couche.version"),
        (PARTNER_A, "partenaire.couche.audience"), (PARTNER_A, "partenaire.couche.audience"),
        (PARTNER_A, "partenaire.couche.version")]
    assert trail[2][2] == {"audience": "owner"} and trail[2][3]["audience"] == "partners"
    assert trail[4][2] == {"version": 1} and trail[4][3]["version"] == 2 and trail[4][3]["features"] == 2

    # the open-data download of the public layer: the version in force, its declared attributes typed, read back
    download = f"{base}/donnees/partenaire-{slug}/telecharger?format=gpkg&crs=26191"
    r = requests.get(download, timeout=60)
    assert r.status_code == 200, r.text[:400]
    (tmp_path / "dl.gpkg").write_bytes(r.content)
    frame = pyogrio.read_dataframe(tmp_path / "dl.gpkg")
    assert sorted(zip(frame["nom"], frame["diametre"], strict=True)) == [("Collecteur v2", 900), ("Regard 12", 300)]
    assert frame["diametre"].dtype.kind == "i" and frame.crs.to_epsg() == 26191
    with psycopg.connect(url) as conn:
        stored = {row[0]: shapely.from_wkb(row[1]) for row in conn.execute(
            "SELECT f.id, ST_AsBinary(f.geom) FROM partner_features f JOIN partner_layers l ON l.id = f.layer_id "
            "WHERE l.slug = %s AND f.version = 2", (slug,)).fetchall()}
    assert set(frame["id"]) == set(stored)
    assert all(geom.hausdorff_distance(stored[fid]) < 0.01 for fid, geom in zip(frame["id"], frame.geometry, strict=True))

    # the partner relabels an attribute (the description form): declared once, its name and type kept
    assert _edit(anfa, base, slug, label_nom="Nom de l'ouvrage").status_code == 303
    with psycopg.connect(url) as conn:
        assert pl.find_layer(conn, slug, ANON).attributes[0] == pl.Attribute("nom", "text", "Nom de l'ouvrage")
        before, after = conn.execute("SELECT before, after FROM audit_log WHERE action = 'partenaire.couche.description' "
                                     "AND entity_id = %s", (slug,)).fetchone()
    assert before["attributes"][0]["label"] == "nom" and after["attributes"][0]["label"] == "Nom de l'ouvrage"

    # a later file is checked against the declared attributes: their type row by row, every one present
    before = _written(url)
    wrong = _gpkg(tmp_path, "types.gpkg", records=[{"nom": "a", "diametre": "800"}, {"nom": "b", "diametre": "grand"}])
    r = _upload(anfa, base, slug, wrong)
    assert r.status_code == 400 and "entité 2 : diametre = « grand »" in html.unescape(r.text)
    r = _upload(anfa, base, slug, _gpkg(tmp_path, "sans.gpkg", records=[{"nom": "a"}, {"nom": "b"}]))
    assert r.status_code == 400 and "attribut(s) de la couche absent(s) du fichier : diametre" in html.unescape(r.text)
    assert _written(url) == before

    # and back to the organisation only: gone from the open catalogue again
    assert _edit(anfa, base, slug, audience="owner").status_code == 303
    assert _answers(url, slug) == {"anonymous": False, "lydec": False, "admin": True, "anfa": True}
    assert requests.get(download, timeout=30).status_code == 404  # nor its download (its file stays on disk unread)


def _written(url: str) -> tuple[int, ...]:
    """What an upload writes: versions, features, import rows, audit lines (but those of refused uploads)."""
    with psycopg.connect(url) as conn:
        return (*(count(conn, t) for t in ("partner_layer_versions", "partner_features", "imports")),
                conn.execute("SELECT count(*) FROM audit_log WHERE action <> 'partenaire.couche.refusee'").fetchone()[0])


def _refusals(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT entity_id, actor, after->>'file', after->>'reason' FROM audit_log "
                            "WHERE action = 'partenaire.couche.refusee' ORDER BY id").fetchall()


def test_bad_files_are_refused_in_french_and_write_nothing(site, anfa, tmp_path):
    base, url = site
    slug = _create(anfa, base, "Points lumineux", kind="point")
    polygons_slug = _create(anfa, base, "Emprises", kind="polygon")
    bowtie = shapely.Polygon([(295_000, 332_000), (295_010, 332_010), (295_010, 332_000), (295_000, 332_010)])
    garbage = tmp_path / "garbage.gpkg"
    garbage.write_bytes(b"\x00\x01pas un geopackage" * 50)
    empty = tmp_path / "vide.geojson"
    empty.write_text('{"type": "FeatureCollection", "features": []}')
    nothing = tmp_path / "rien.gpkg"
    nothing.write_bytes(b"")
    big = tmp_path / "gros.geojson"
    big.write_bytes(b" " * (6 * 1024 * 1024 + 10))
    cases = [
        (polygons_slug, _gpkg(tmp_path, "bowtie.gpkg", [bowtie], [{"nom": "x"}]), 400,
         "entité 1 : géométrie invalide : auto-intersection en (295005, 332005) ; cochez « Réparer"),
        (slug, _gpkg(tmp_path, "kind.gpkg"), 400, "entité 1 : type polygon au lieu de point"),
        (polygons_slug, write_layer(tmp_path / "faux.geojson", RECORDS, POLYGONS, crs="EPSG:4326"), 400,
         "hors du domaine de EPSG:4326"),
        (polygons_slug, garbage, 400, "fichier illisible ou tronqué : garbage.gpkg"),
        (polygons_slug, empty, 400, "est vide : rien à importer"),
        (polygons_slug, nothing, 400, "fichier vide"),
        (polygons_slug, big, 413, "envoi trop volumineux : 6 Mo au plus"),
        # names the published files give the feature id or the geometry, and two names a GeoPackage confounds
        (polygons_slug, _raw_geojson(tmp_path / "fid.geojson", {"nom": "x", "FID": 7}), 400,
         "nom de champ « FID » réservé"),
        (polygons_slug, _raw_geojson(tmp_path / "casse.geojson", {"B": 2, "b": 3}), 400,
         "deux noms qui ne diffèrent que par les majuscules"),
    ]
    before = _written(url)
    for target, path, status, message in cases:
        refused = _refusals(url)
        r = _upload(anfa, base, target, path)
        assert (r.status_code, path.name) == (status, path.name), r.text[:600]
        assert message in r.text, (path.name, re.sub(r"\s+", " ", r.text)[:1500])
        assert _written(url) == before, path.name
        if status != 413:  # refused while the body was read, before the page knew a file: no line
            # every upload is in the audit trail, a refused one too: who, which file, why (and nothing else written)
            assert _refusals(url)[len(refused):] == [(target, PARTNER_A, path.name, _refusals(url)[-1][3])]
            assert html.unescape(message) in _refusals(url)[-1][3] or message.split(" ; ")[0] in _refusals(url)[-1][3]
    # an integer past what bigint holds would break every read of the layer (items, tiles, downloads)
    r = _upload(anfa, base, polygons_slug, write_layer(tmp_path / "enorme.geojson", [{"n": 10**30}, {"n": 1}], POLYGONS),
                declarations="n ; int")
    assert r.status_code == 400 and "entier hors des bornes" in html.unescape(r.text), \
        re.findall(r"entit[^<]*", html.unescape(r.text))
    assert _written(url) == before
    r = _upload(anfa, base, polygons_slug, _gpkg(tmp_path, "bowtie2.gpkg", [bowtie, POLYGONS[1]],
                                                 [{"nom": "x", "proprietaire": "M. Alami"},
                                                  {"nom": "y", "proprietaire": "Mme Bennani"}]),
                repair="1", declarations="proprietaire ; -")
    assert r.status_code == 303  # the same file, with repair asked: written (the pipeline's own repair)
    with psycopg.connect(url) as conn:  # the field left out (« ; - ») is published nowhere, nor stored
        layer = pl.find_layer(conn, polygons_slug, STAFF)
        stored = conn.execute("SELECT properties FROM partner_features WHERE layer_id = %s", (layer.id,)).fetchall()
    assert [a.name for a in layer.attributes] == ["nom"] and all(set(p) == {"nom"} for (p,) in stored)
    padded = write_layer(tmp_path / "ample.geojson", RECORDS, list(_lonlat()), crs="EPSG:4326")
    padded.write_bytes(padded.read_bytes() + b" " * (5 * 1024 * 1024 + 512 * 1024))  # 5.5 MiB: valid JSON still
    r = _upload(anfa, base, _create(anfa, base, "Emprises amples"), padded)  # past the app's 5 MiB, within the cap
    assert r.status_code == 303, r.text[:500]


def test_another_organisation_may_not_edit(site, anfa, tmp_path):
    base, url = site
    slug = _create(anfa, base, "Voirie communale")
    lydec = signed_in(base, PARTNER_B)
    r = _upload(lydec, base, slug, _gpkg(tmp_path))  # the layer is « owner »: Lydec does not even see it
    assert r.status_code in (403, 404)
    assert _edit(anfa, base, slug, audience="partners").status_code == 303
    before = _written(url)
    r = _edit(lydec, base, slug, audience="public")
    assert r.status_code == 403 and "appartient à Commune d'Anfa" in html.unescape(r.text)
    assert _upload(lydec, base, slug, _gpkg(tmp_path)).status_code == 403
    assert lydec.get(f"{base}/partenaire/couches/{slug}", headers={"Accept": "text/html"}, timeout=30).status_code == 403
    assert _written(url) == before
    assert f"/partenaire/couches/{slug}" not in lydec.get(f"{base}/partenaire/couches", timeout=30).text
    admin = signed_in(base, ADMIN)  # the agency's administrator may
    assert _edit(admin, base, slug, description_fr="Revue par l'agence.").status_code == 303
    with psycopg.connect(url) as conn:
        actor, action = conn.execute("SELECT actor, action FROM audit_log WHERE entity = 'partner_layer' "
                                     "AND entity_id = %s ORDER BY id DESC LIMIT 1", (slug,)).fetchone()
    assert (actor, action) == (ADMIN, "partenaire.couche.description")


def test_a_public_information_layer_is_in_the_instruction_and_the_note(site, anfa, tmp_path):
    base, url = site
    slug = _create(anfa, base, "Servitudes d'assainissement")
    write_layer(tmp_path / "servitudes.shp", RECORDS, POLYGONS)  # a zipped Shapefile, as partners send them
    with zipfile.ZipFile(tmp_path / "servitudes.zip", "w") as archive:
        for part in tmp_path.glob("servitudes.*"):
            if part.suffix != ".zip":
                archive.write(part, part.name)
    assert _upload(anfa, base, slug, tmp_path / "servitudes.zip").status_code == 303
    r = _edit(anfa, base, slug, audience="partners", information_layer="1",
              info_label_fr="Servitude du réseau d'assainissement", info_label_ar="ارتفاق شبكة التطهير")
    assert r.status_code == 303
    query = "land=TF%201/T&date=2015-01-01"
    with psycopg.connect(url) as conn:
        assert "partners" not in instruct(conn, LandRequest(refs=("TF 1/T",)), DAY)  # partners only: in no note

    assert _edit(anfa, base, slug, audience="public").status_code == 303
    with psycopg.connect(url) as conn:
        result = instruct(conn, LandRequest(refs=("TF 1/T",)), DAY)
    [entry] = [e for e in result["partners"] if e["layer"] == slug]
    assert entry["source"] == ANFA and entry["version"] == 1
    assert entry["label"] == {"fr": "Servitude du réseau d'assainissement", "ar": "ارتفاق شبكة التطهير"}
    [feature] = entry["features"]
    assert feature["area_m2"] == 800.0 and feature["share_pct"] == 40.0
    assert feature["attributes"] == [{"name": "nom", "label": "nom", "value": "Collecteur Anfa-Nord"},
                                     {"name": "diametre", "label": "diametre", "value": 800}]
    assert {"layer": slug, "source": ANFA, "version": 1} in result["provenance"]["partner_layers_used"]

    text = re.sub(r"\s+", " ", _pdf_text(requests.get(f"{base}/notes/indicative?{query}", timeout=60).content,
                                         tmp_path))
    assert "Informations des partenaires" in text
    assert "Servitude du réseau d'assainissement — source : Commune d'Anfa" in text
    assert f"« {slug} », version 1" in text and "Collecteur Anfa-Nord" in text and "40,00 %" in text
    page_html = requests.get(f"{base}/notes/indicative?{query}&format=html", timeout=60).text
    section = lxml.html.fromstring(page_html).xpath("//section[@id='partenaires']")[0].text_content()
    assert "source : Commune d'Anfa" in section and "Collecteur Anfa-Nord" in section


def test_a_file_past_the_feature_limit_is_refused_before_it_is_read(site, anfa, tmp_path, monkeypatch):
    from layers import imports, partner_edits

    base, url = site
    slug = _create(anfa, base, "Compteurs")
    read = []
    monkeypatch.setattr(imports.pyogrio.raw, "read", lambda *a, **k: read.append(a) or pytest.fail("read"))
    with psycopg.connect(url) as conn:
        account = conn.execute("SELECT id FROM accounts WHERE email = %s", (PARTNER_A,)).fetchone()[0]
        editor = partner_edits.Editor(account, PARTNER_A, ANFA)
        before = _written(url)
        with pytest.raises(InputError, match=r"^2 entités : au-delà de la limite de 1 \(URBASIG_PARTNER_MAX_FEATURES\)$"):
            partner_edits.upload_version(conn, slug, editor, _gpkg(tmp_path), "reseau.gpkg", max_features=1)
    assert read == [] and _written(url) == before
