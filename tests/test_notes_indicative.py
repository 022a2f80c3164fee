"""The indicative note: PDF and HTML from the instruction, map drawn on the server, rate limit, errors."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from app import create_app
from gis.crs import parse_crs, reproject
from tests import instruction_world as world
from tests.helpers import app_settings, in_one_minute


@pytest.fixture
def client(db_url, conn):
    world.build(conn)
    return create_app(app_settings(db_url, pool_min=1, pool_max=2, indicative_per_minute=5)).test_client()


def _pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "note.pdf"
    path.write_bytes(data)
    exe = shutil.which("pdftotext")
    assert exe, "pdftotext (poppler-utils) is installed by scripts/system-deps.sh"
    return subprocess.run([exe, "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_pdf_note_carries_zones_shares_plan_and_disclaimer(client, tmp_path):
    r = client.get("/notes/indicative?land=TF%201/T&date=2015-01-01")
    assert r.status_code == 200 and r.mimetype == "application/pdf" and r.data.startswith(b"%PDF")
    text = _pdf_text(r.data, tmp_path)
    assert "INDICATIVE" in text and "aucune valeur" in text
    assert "PA-T-2006" in text and "TF 1/T" in text
    assert "V2" in text and "40,00" in text and "60,00" in text and "2 000" in text
    assert "Légende" in text and "terrain" in text  # the map extract and its legend


def test_html_note_has_the_map_as_svg(client):
    r = client.get("/notes/indicative?land=TF%202/T&format=html&date=2015-01-01")
    assert r.status_code == 200 and r.mimetype == "text/html"
    body = r.get_data(as_text=True)
    # an SVG image (data URI): its inline styles would be refused by the page's CSP if it were inline markup
    import base64
    import re

    image = base64.b64decode(re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', body).group(1)).decode()
    assert image.startswith("<svg") and "<svg" not in body and 'style="' not in body
    assert "indicative" in body and "Élargissement de la rue A" in body + image


def test_point_designates_the_parcel(client):
    lon, lat = reproject(__import__("numpy").array([world.PARCELS["TF 4/T"].centroid], dtype=object),
                         parse_crs(26191), parse_crs(4326))[0].coords[0]
    r = client.get(f"/notes/indicative?lon={lon}&lat={lat}&format=html")
    assert r.status_code == 200 and "TF 4/T" in r.get_data(as_text=True)


@pytest.mark.parametrize("query,status,message", [
    ("land=TF%20999/T", 404, "inconnu"),
    ("land=lot%20B", 400, "illisible"),
    ("", 400, "indiquez le terrain"),
    ("land=TF%201/T&format=docx", 400, "format"),
    ("lon=abc&lat=1", 400, "nombres"),
    ("land=TF%201/T&date=hier", 400, "AAAA-MM-JJ"),
    ("land=TF%201/T&date=2026-W01-1", 400, "AAAA-MM-JJ"),
    ("land=TF%201/T&date=20260101", 400, "AAAA-MM-JJ"),
    ("land=TF%201/T&date=0001-01-01", 400, "date trop ancienne"),
])
def test_errors(client, query, status, message):
    r = client.get(f"/notes/indicative?{query}")
    assert r.status_code == status and message in r.get_json()["message"]


def test_rate_limit_per_client(client, conn):
    def burst():  # six requests in one calendar minute (the window), run again if they straddled two
        return [client.get("/notes/indicative?land=TF%201/T&format=html") for _ in range(6)]

    *allowed, r = in_one_minute(conn, "indicative", burst)
    assert [a.status_code for a in allowed] == [200] * 5
    assert r.status_code == 429 and "par minute" in r.get_json()["message"]


def test_map_skips_empty_pieces_of_clipped_features():
    import shapely

    from notes.mapdraw import draw_map

    land = shapely.box(0, 0, 10, 10)
    layers = [("prescriptions", "alignment", shapely.from_wkt("LINESTRING EMPTY")),
              ("prescriptions", "flood_zone", shapely.from_wkt("GEOMETRYCOLLECTION (POINT (1 1), POLYGON EMPTY)")),
              ("zones", "D", shapely.box(-5, -5, 15, 15))]
    drawing = draw_map(land, layers, (-20, -20, 30, 30))
    assert drawing.width == 480  # drawn, no error on the empty pieces


@pytest.mark.parametrize("query,headline", [
    ("land=TF%204/T&date=2019-06-01", "Plan en enquête publique"),  # PA-T-2020 in inquiry then
    ("land=TF%205/T&date=2015-01-01", "Aucun plan d'aménagement en vigueur"),  # SDAU only
])
def test_layouts_for_a_plan_in_inquiry_and_sdau_only(client, tmp_path, query, headline):
    r = client.get(f"/notes/indicative?{query}")
    assert r.status_code == 200
    assert headline in " ".join(_pdf_text(r.data, tmp_path).split())
