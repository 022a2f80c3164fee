"""The planner tools' endpoints: files dropped on the map (/carte/fichier) and the printed view (/carte/impression).

Files are made in the test with pyogrio (GDAL): a zipped Shapefile in EPSG:26191, GeoJSON in CRS84 and with a
`crs` member, and hostile ones. Data: tests/fixtures/ogc_world.sql (zones of several plans around X0, Y0).
"""

from __future__ import annotations

import io
import json
import re
import socket
import subprocess
import tempfile
import threading
import time
import zipfile
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg
import pytest
import shapely
from PIL import Image

from app import create_app
from gis.errors import UrbasigError
from gis.measure import area_m2, length_m, to_storage_xy, view_width_m
from tests.helpers import X0, Y0, app_settings, box, in_one_minute, lonlat_box, write_layer


@pytest.fixture(scope="module")
def client(ogc_url):
    """A test client over the OGC world."""
    return create_app(app_settings(ogc_url, pool_min=1, pool_max=2, checks_per_minute=100_000)).test_client()


# What must never reach a person: a server path, GDAL's or GEOS's English sentences, a traceback.
DRIVER_TEXT = re.compile(r"/tmp/|urbasig-upload|not recognized|unreadable|corrupt\b|IllegalArgument|Exception|"
                         r"LinearRing|Traceback|GDAL|supported file format|Failed to", re.IGNORECASE)


TOPOLOGY = json.dumps({"type": "Topology", "arcs": [[[0, 0], [1, 0], [1, 1], [0, 0]]], "objects": {
    "a": {"type": "GeometryCollection", "geometries": [{"type": "Polygon", "arcs": [[0]]}]}}}).encode()


def _zip(folder: Path, stem: str, skip: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.glob(f"{stem}.*")):
            if path.suffix not in skip:
                archive.write(path, f"dossier/{path.name}")
    return buffer.getvalue()


def _send(client, data: bytes, name: str):
    return client.post("/carte/fichier", data={"fichier": (io.BytesIO(data), name)},
                       content_type="multipart/form-data", headers={"Accept": "application/json"})


def _instruct(client, geometry: dict, crs: str | None = None) -> dict:
    inputs = {"land": {"geometry": geometry}, "geometry": True, **({"crs": crs} if crs else {})}
    response = client.post("/ogc/processes/instruction/execution", json={"inputs": inputs})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _zones(result: dict) -> list[tuple[str, float]]:
    return sorted((f["code"], f["area_m2"]) for f in result["layers"][0]["features"])


def _uploads_left() -> list[str]:
    return sorted(p.name for p in Path(tempfile.gettempdir()).glob("urbasig-upload-*"))


def test_zipped_shapefile_in_26191_gives_the_same_overlay_as_its_polygons(client, tmp_path):
    parts = [box(120, 450, 100, 100), box(260, 520, 60, 60)]  # across zones C, V1, V2 and D of the Anfa plan
    write_layer(tmp_path / "terrain.shp", [{"nom": "a"}, {"nom": "b"}], parts)
    before = _uploads_left()
    response = _send(client, _zip(tmp_path, "terrain"), "terrain.zip")
    assert response.status_code == 200, response.get_json()
    land = response.get_json()
    assert land["features"] == 2 and "26191" in land["source_crs"] and land["format"] == "Shapefile"
    assert land["area_m2"] == pytest.approx(sum(p.area for p in parts), abs=0.01)
    assert land["geometry"]["type"] == "MultiPolygon"  # the CRS84 copy, to draw
    direct = _instruct(client, json.loads(shapely.to_geojson(shapely.union_all(parts))), "EPSG:26191")
    through = _instruct(client, land["geometry_26191"], land["crs_26191"])
    assert _zones(through) == _zones(direct) and len(_zones(direct)) >= 2
    assert _uploads_left() == before  # nothing kept on disk


def test_geojson_in_crs84_is_measured_in_merchich(client, tmp_path):
    x0, y0, x1, y1 = lonlat_box(100, 100, 220, 190)
    ring = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    path = write_layer(tmp_path / "t.geojson", [{}], [shapely.Polygon(ring)], crs="OGC:CRS84", driver="GeoJSON")
    response = _send(client, path.read_bytes(), "t.geojson")
    assert response.status_code == 200, response.get_json()
    land = response.get_json()
    assert land["format"] == "GeoJSON" and land["notices"] == []
    assert land["area_m2"] == pytest.approx(area_m2(ring), rel=1e-6)
    assert land["geometry"]["coordinates"][0][0] == pytest.approx(list(ring[0]), abs=1e-7)


def test_geojson_with_a_crs_member_is_read_in_that_crs(client):
    square = box(120, 300, 50, 40)
    doc = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::26191"}},
           "features": [{"type": "Feature", "properties": {}, "geometry": json.loads(shapely.to_geojson(square))}]}
    response = _send(client, json.dumps(doc).encode(), "terrain.json")
    assert response.status_code == 200, response.get_json()
    land = response.get_json()
    assert "26191" in land["source_crs"]
    back = shapely.geometry.shape(land["geometry_26191"])
    assert back.symmetric_difference(square).area < 1e-3


def test_a_shapefile_without_prj_is_assumed_in_merchich_and_says_so(client, tmp_path):
    write_layer(tmp_path / "sans.shp", [{"n": 1}], [box(100, 100, 30, 30)])
    response = _send(client, _zip(tmp_path, "sans", skip=(".prj",)), "sans.zip")
    assert response.status_code == 200, response.get_json()
    assert any("supposées en EPSG:26191" in n for n in response.get_json()["notices"])


def test_an_invalid_polygon_is_repaired_and_reported(client):
    bowtie = shapely.Polygon([(X0 + 100, Y0 + 100), (X0 + 150, Y0 + 150), (X0 + 150, Y0 + 100), (X0 + 100, Y0 + 150)])
    doc = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:26191"}},
           "features": [{"type": "Feature", "properties": {}, "geometry": json.loads(shapely.to_geojson(bowtie))}]}
    response = _send(client, json.dumps(doc).encode(), "noeud.geojson")
    assert response.status_code == 200, response.get_json()
    land = response.get_json()
    assert any("réparé" in n and "auto-intersection" in n for n in land["notices"])
    assert land["area_m2"] == pytest.approx(1250.0, abs=0.01)  # two triangles of 625 m²


def _bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bombe.shp", b"\0" * (60 * 1024 * 1024))
        archive.writestr("bombe.shx", b"\0" * 100)
        archive.writestr("bombe.dbf", b"\0" * 100)
    return buffer.getvalue()


def _many_vertices() -> bytes:
    circle = shapely.Point(X0 + 300, Y0 + 300).buffer(50, quad_segs=5000)  # 20 001 vertices
    return json.dumps({"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:26191"}},
                       "features": [{"type": "Feature", "properties": {},
                                     "geometry": json.loads(shapely.to_geojson(circle))}]}).encode()


def _late_bomb() -> bytes:
    """A bomb whose .shp comes after a 1.5 MiB .dbf: the refusal must still name the 20 Mo limit, not what was left."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bombe.dbf", b"\0" * (3 * 512 * 1024))
        archive.writestr("bombe.shx", b"\0" * 100)
        archive.writestr("bombe.shp", b"\0" * (60 * 1024 * 1024))
    return buffer.getvalue()


def _geojson_26191(*geoms) -> bytes:
    return json.dumps({"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:26191"}},
                       "features": [{"type": "Feature", "properties": {}, "geometry": json.loads(shapely.to_geojson(g))}
                                    for g in geoms]}).encode()


def _crossing_ring(n: int) -> bytes:
    """A ring of n vertices zigzagging across itself (each edge crosses many others): make_valid takes minutes."""
    rng = __import__("numpy").random.default_rng(7)
    pts = [(X0 + 100 + 400 * float(a), Y0 + 100 + 400 * float(b)) for a, b in rng.random((n, 2))]
    return _geojson_26191(shapely.Polygon(pts))


def _corrupt_shp(tmp_path: Path) -> bytes:
    write_layer(tmp_path / "k.shp", [{"n": 1}], [box(0, 0, 10, 10)])
    (tmp_path / "k.shp").write_bytes(b"\0" * 40)
    return _zip(tmp_path, "k")


def _two_shapefiles(tmp_path: Path) -> bytes:
    write_layer(tmp_path / "a.shp", [{"n": 1}], [box(0, 0, 10, 10)])
    write_layer(tmp_path / "b.shp", [{"n": 1}], [box(20, 0, 10, 10)])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in tmp_path.glob("[ab].*"):
            archive.write(path, path.name)
    return buffer.getvalue()


def _traversal() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../evil.shp", b"x")
        archive.writestr("/etc/evil.shx", b"x")
    return buffer.getvalue()


def _points(tmp_path: Path) -> bytes:
    path = write_layer(tmp_path / "p.geojson", [{}], [shapely.Point(-7.6, 33.5)], crs="OGC:CRS84", driver="GeoJSON")
    return path.read_bytes()


def _metres_without_crs(tmp_path: Path) -> bytes:
    doc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
                                                      "geometry": json.loads(shapely.to_geojson(box(0, 0, 50, 50)))}]}
    return json.dumps(doc).encode()


def _truncated_zip(tmp_path: Path) -> bytes:
    write_layer(tmp_path / "c.shp", [{"n": 1}], [box(0, 0, 10, 10)])
    return _zip(tmp_path, "c")[:300]


@pytest.mark.parametrize(("name", "make", "status", "words"), [
    ("faux.zip", lambda p: b"PK\x03\x04 pas une archive", 400, "illisible"),
    ("notes.txt", lambda p: b"bonjour", 400, "format non pris en charge"),
    ("vide.geojson", lambda p: b"", 400, "vide"),
    ("tronque.zip", _truncated_zip, 400, "archive"),
    ("casse.geojson", lambda p: b'{"type": "FeatureCollection", "features": [{"type": ', 400, "illisible"),
    ("points.geojson", _points, 400, "polygone"),
    ("metres.geojson", _metres_without_crs, 400, "hors du domaine"),
    ("bombe.zip", lambda p: _bomb(), 413, "décompressée"),
    ("bombe-tardive.zip", lambda p: _late_bomb(), 413, "(20 Mo)"),
    ("noeuds.geojson", lambda p: _crossing_ring(9_999), 400, "Réparer les géométries"),
    ("enchevetre.geojson", lambda p: _crossing_ring(600), 400, "Réparer les géométries"),
    ("casse.zip", _corrupt_shp, 400, "Shapefile illisible"),
    ("topo.json", lambda p: TOPOLOGY, 400, "TopoJSON"),
    ("anneau.geojson", lambda p: b'{"type": "Polygon", "coordinates": [[[0, 0], [1, 0]]]}', 400, "coordonnées"),
    ("crs-inconnu.geojson", lambda p: _crs_named("foo"), 400, "inconnu"),
    ("crs-99999.geojson", lambda p: _crs_named("urn:ogc:def:crs:EPSG::99999"), 400, "inconnu"),
    ("sommets.geojson", lambda p: _many_vertices(), 413, "sommets"),
    ("deux.zip", _two_shapefiles, 400, "2 Shapefiles"),
    ("evasion.zip", lambda p: _traversal(), 400, "ne contient pas de Shapefile"),
])
def test_hostile_files_are_refused_in_french_and_leave_nothing(client, tmp_path, name, make, status, words):
    data = make(tmp_path)
    before = _uploads_left()
    started = time.perf_counter()
    response = _send(client, data, name)
    assert time.perf_counter() - started < 4.0  # well within the 5 s budget: no unbounded C call
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert words in body["message"], body
    assert not DRIVER_TEXT.search(body["message"]), body["message"]
    assert "fichier .prj ne décrit pas" not in body["message"] or name.endswith(".zip")
    assert _uploads_left() == before


def _crs_named(name: str) -> bytes:
    doc = json.loads(_geojson_26191(box(100, 100, 30, 30)))
    doc["crs"]["properties"]["name"] = name
    return json.dumps(doc).encode()


@contextmanager
def _listener():
    """A local HTTP server that records every connection (and never answers): where a fetch would land."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    hits: list[bytes] = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.settimeout(0.5)
            try:
                hits.append(conn.recv(1024))
            except OSError:
                hits.append(b"")
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/crs.wkt", hits
    finally:
        stop.set()
        thread.join()
        server.close()


def _linked(href: str) -> bytes:
    doc = json.loads(_geojson_26191(box(100, 100, 30, 30)))
    doc["crs"] = {"type": "link", "properties": {"href": href, "type": "ogcwkt"}}
    return json.dumps(doc).encode()


def test_a_linked_crs_is_refused_and_never_fetched(client):
    with _listener() as (href, hits):
        started = time.perf_counter()
        response = _send(client, _linked(href), "lien.geojson")
        elapsed = time.perf_counter() - started
        time.sleep(0.3)
    assert response.status_code == 400, response.get_json()
    assert "link" in response.get_json()["message"] and response.get_json()["code"] == "crs"
    assert hits == [] and elapsed < 1.0


def test_gdal_never_fetches_for_an_import_either(tmp_path):
    """`urbasig import` reads through GDAL: a linked crs, or a /vsicurl/ path, must not reach the network."""
    from layers.imports import read_source

    path = tmp_path / "lien.geojson"
    with _listener() as (href, hits):
        path.write_bytes(_linked(href))
        started = time.perf_counter()
        with suppress(UrbasigError):
            read_source(path)
        import pyogrio

        with pytest.raises(Exception):  # noqa: B017 - whatever GDAL says, as long as it says it without fetching
            pyogrio.read_info(f"/vsicurl/{href}")
        elapsed = time.perf_counter() - started
        time.sleep(0.3)
    assert hits == [] and elapsed < 3.0


def test_the_upload_limit_names_files_not_notes(ogc_url):
    strict = create_app(app_settings(ogc_url, pool_min=1, pool_max=1, checks_per_minute=2)).test_client()
    with psycopg.connect(ogc_url) as conn:  # the three requests in one calendar minute (the window)
        answers = in_one_minute(conn, "fichier", lambda: [_send(strict, _geojson_26191(box(100, 100, 30, 30)),
                                                                "t.geojson") for _ in range(3)])
    assert answers[-1].status_code == 429, answers[-1].get_json()
    message = answers[-1].get_json()["message"]
    assert "2 fichiers déposés" in message and "notes" not in message


def test_a_request_without_a_file_is_400(client):
    response = client.post("/carte/fichier", data={}, content_type="multipart/form-data")
    assert response.status_code == 400 and "fichier" in response.get_json()["message"]


# ---------------------------------------------------------------------------------------------- measures
def test_merchich_measures_are_not_web_mercator():
    x0, y0, x1, y1 = lonlat_box(0, 0, 500, 300)
    width = view_width_m(x0, y0, x1, y1)
    assert 500 <= width <= 520  # the rounded box is a little wider than 500 m of the grid
    xy = to_storage_xy([(x0, y0), (x1, y0)])
    assert length_m([(x0, y0), (x1, y0)]) == pytest.approx(float(xy[1][0] - xy[0][0]), abs=0.5)


# ---------------------------------------------------------------------------------------------- printing
def _png(width=800, height=500) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (240, 235, 220)).save(buffer, "PNG")
    return buffer.getvalue()


def _print(client, **fields):
    bbox = ",".join(str(v) for v in lonlat_box(0, 0, 600, 400))
    legend = json.dumps([{"source": "zones", "colour": "#c9a227", "kind": "fill"},
                         {"source": "parcels", "colour": "#555", "kind": "line"}])
    data = {"image": (io.BytesIO(fields.pop("image", _png())), "carte.png"), "paper": "A4", "orientation": "landscape",
            "bbox": bbox, "bearing": "0", "legend": legend, **fields}
    return client.post("/carte/impression", data=data, content_type="multipart/form-data")


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "carte.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def _page_size(pdf: bytes, tmp_path: Path) -> tuple[float, float]:
    path = tmp_path / "size.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    line = next(x for x in info.splitlines() if x.startswith("Page size"))
    w, _, h = line.split(":")[1].split()[:3]
    return float(w), float(h)


def test_print_gives_a_pdf_with_legend_scale_plans_and_dates(client, ogc_url, tmp_path):
    import psycopg

    from gis.measure import view_polygon
    from layers.map_print import plans_in_view

    response = _print(client, date="2026-06-01")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/pdf" and "attachment" in response.headers["Content-Disposition"]
    text = _pdf_text(response.data, tmp_path)
    assert "Légende" in text and "Zones des plans d'aménagement" in text and "Parcelles" in text
    assert "1:" in text and " m" in text  # the scale bar and the scale
    assert "Plans en vigueur au 1er juin 2026" in text
    assert "Données mises à jour le" in text
    assert "aucune valeur juridique" in text
    from datetime import date

    with psycopg.connect(ogc_url) as conn:
        shown = plans_in_view(conn, view_polygon(*lonlat_box(0, 0, 600, 400)), date(2026, 6, 1))
    assert shown
    flat = " ".join(text.split())
    for plan in shown:
        assert plan["code"] in flat


@pytest.mark.parametrize(("paper", "orientation", "size"), [("A4", "landscape", (842, 595)),
                                                            ("A3", "portrait", (842, 1191))])
def test_print_paper_sizes(client, tmp_path, paper, orientation, size):
    response = _print(client, paper=paper, orientation=orientation)
    assert response.status_code == 200
    assert _page_size(response.data, tmp_path) == pytest.approx(size, abs=1)


@pytest.mark.parametrize(("fields", "words"), [
    ({"image": b"pas une image"}, "illisible"),
    ({"paper": "A0"}, "A4 ou A3"),
    ({"bbox": "1,2,3"}, "bbox"),
    ({"bbox": "10,40,5,45"}, "emprise"),
    ({"legend": "{pas du json"}, "legend"),
    ({"date": "hier"}, "date"),
    ({"date": "2026-W01-1"}, "AAAA-MM-JJ"),  # a week date fromisoformat takes (29 December 2025)
    ({"date": "20260101"}, "AAAA-MM-JJ"),
])
def test_bad_print_requests_are_400_in_french(client, fields, words):
    response = _print(client, **fields)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert words in response.get_json()["message"]


def _arabic_words(pdf: bytes, tmp_path: Path) -> set[str]:
    """The words of the PDF's text, Arabic presentation forms folded back (NFKC), each also read reversed."""
    import unicodedata

    controls = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"), " ")
    text = unicodedata.normalize("NFKC", _pdf_text(pdf, tmp_path)).replace("\u00a0", " ").translate(controls)
    words = set(text.split())
    return words | {w[::-1] for w in words}


def test_print_in_arabic_is_set_in_the_arabic_font(client, tmp_path):
    from api.i18n import translate

    response = _print(client, lang="ar", date="2026-06-01")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    path = tmp_path / "ar.pdf"
    path.write_bytes(response.data)
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    assert "NotoSansArabic" in fonts
    words = _arabic_words(response.data, tmp_path)
    for key in ("planner.print.legend", "planner.print.plans", "planner.layer.parcels"):
        assert set(translate(key, "ar").split()) <= words, key
    assert "يونيو" in words  # « 1 يونيو 2026 », the Moroccan month


def test_print_refuses_an_unknown_language(client):
    response = _print(client, lang="en")
    assert response.status_code == 400 and "fr ou ar" in response.get_json()["message"]


@pytest.mark.parametrize("name", ["foo", "urn:ogc:def:crs:EPSG::99999"])
def test_an_import_refuses_an_unknown_crs_name(tmp_path, name):
    """GDAL reads an unknown `crs` name as WGS 84: `urbasig import` must refuse it instead."""
    from gis.errors import CRSError
    from layers.imports import read_source

    path = tmp_path / "inconnu.geojson"
    path.write_bytes(_crs_named(name))
    with pytest.raises(CRSError, match="inconnu"):
        read_source(path)
