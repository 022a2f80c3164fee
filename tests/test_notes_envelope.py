"""The buildable envelope in the indicative note (PDF, page, Arabic), computed once and stored with its result.

Figures worked out by hand on tests/instruction_world.py (zone rules there):
- TF 10/T: 30 × 40 m = 1 200 m² in zone V2 (setbacks road 4, side 3, rear 4; 40 %; R+2, 11,5 m; COS 0,8
  plancher), on the north road: buildable x 3–27 × y 4–36 = 24 × 32 = 768 m²; footprint min(768, 40 % × 1 200 =
  480) = 480 (the 40 % binds); floor area min(0,8 × 1 200 = 960, 480 × 3 levels = 1 440) = 960 (the COS binds).
- TF 7/T + TF 8/T today: 40 × 40 = 1 600 m² in zone B of PA-T-2020 (no setback, 80 %, R+8, 30 m, no COS) with
  the school reservation (20 × 20 = 400 m²) deducted: buildable 1 200 m² < 80 % × 1 600 = 1 280 → 1 200 (the
  remaining ground binds), floor area 1 200 × 9 levels = 10 800 m². On 2015-01-01 the same land is in zone C,
  whose 15 m minimum frontage it lacks (it fronts no road): not buildable, and the note says so.
- TF 5/T: outside every plan d'aménagement (SDAU only): no envelope, and the note says why.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from datetime import date

import pytest

from app import create_app
from instruction.engine import Options
from instruction.land import LandRequest
from notes.indicative import build
from tests import instruction_world as world
from tests.helpers import app_settings
from tests.test_notes_arabic import _plain, _words


@pytest.fixture
def client(db_url, conn):
    world.build(conn)
    return create_app(app_settings(db_url, pool_min=1, pool_max=2, indicative_per_minute=100)).test_client()


def _text(data: bytes, tmp_path) -> str:
    path = tmp_path / "note.pdf"
    path.write_bytes(data)
    out = subprocess.run([shutil.which("pdftotext"), str(path), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(out.replace("\u00a0", " ").split())


def test_the_pdf_has_the_envelope_line_with_its_binding_rules_the_mention_and_the_drawing(client, tmp_path):
    r = client.get("/notes/indicative?land=TF%2010/T&date=2015-01-01")
    assert r.status_code == 200
    text = _text(r.data, tmp_path)
    assert ("Enveloppe indicative, zone V2 : emprise au sol max. 480 m² (limitée par l'emprise de 40 %), R+2 "
            "(11,5 m), surface de plancher max. 960 m² (COS limitant).") in text
    assert "Indicatif : reculs calculés sur le contour cadastral" in text
    assert "Enveloppe constructible indicative" in text and "emprise constructible" in text and "reculs" in text


def test_deductions_and_storeys_binding_in_the_pdf(client, tmp_path):
    text = _text(client.get("/notes/indicative?land=TF%207/T;TF%208/T").data, tmp_path)
    assert "zone B : emprise au sol max. 1 200 m² (limitée par les reculs et les prescriptions)" in text
    assert "R+8 (30 m), surface de plancher max. 10 800 m² (emprise × 9 niveaux limitant)" in text
    assert "réserve d'équipement" in text  # the school's ground, deducted, in the drawing's legend


def test_a_land_under_the_minimum_frontage_says_why_instead_of_numbers(client, tmp_path):
    text = _text(client.get("/notes/indicative?land=TF%207/T;TF%208/T&date=2015-01-01").data, tmp_path)
    assert ("Terrain non constructible en l'état : façade sur voie de 0 m, sous la façade minimale de 15 m de la "
            "zone C.") in text
    assert "emprise au sol max." not in text and "non constructible" in text  # the drawing's grey ground


def test_a_land_with_no_zoning_says_why_and_has_no_drawing(client, tmp_path):
    text = _text(client.get("/notes/indicative?land=TF%205/T&date=2015-01-01").data, tmp_path)
    assert "Terrain non constructible en l'état : aucune zone de plan d'aménagement ici : enveloppe non déterminée" in text
    assert "emprise constructible" not in text and "emprise au sol max." not in text


def test_the_page_has_the_envelope_drawing_as_an_svg_image_and_its_lines(client):
    body = client.get("/notes/indicative?land=TF%202/T&format=html&date=2015-01-01").get_data(as_text=True)
    section = body[body.index('<section class="envelope"'):]
    images = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', section)
    assert len(images) == 1  # the map extract is before the section
    svg = base64.b64decode(images[0]).decode()
    assert svg.startswith("<svg") and "emprise constructible" in svg and "élargissement de voie" in svg
    # TF 2/T: 30 × 40 m in zone D, 150 m² taken by the widening; D has no road or side setback (rear 6 m)
    assert ("Enveloppe indicative, zone D : emprise au sol max. 840\u00a0m² (limitée par l&#39;emprise de "
            "70\u00a0%)") in section
    assert "Indicatif" in section and 'style="' not in body  # no inline style: the page's CSP holds


def test_the_note_result_stores_the_envelope_it_renders(conn):
    world.build(conn)
    note = build(conn, LandRequest(refs=("TF 10/T",)), date(2015, 1, 1), Options())
    envelope = note.result["envelope"]
    assert envelope["schema"] == "urbasig/envelope/1" and envelope["buildable"] is True
    assert envelope["totals"] == {"land_area_m2": 1200.0, "buildable_area_m2": 768.0, "max_footprint_m2": 480.0,
                                  "max_floor_area_m2": 960.0}
    assert envelope["parts"][0]["geometry"]["type"] == "Polygon" and "provenance" not in envelope
    import json

    import jsonschema

    from instruction import schema_path

    jsonschema.validate(note.result, json.loads(schema_path().read_text()))  # the note's result, envelope included


def test_the_arabic_pdf_has_the_envelope_line(client, tmp_path):
    r = client.get("/notes/indicative?land=TF%2010/T&date=2015-01-01&lang=ar")
    path = tmp_path / "ar.pdf"
    path.write_bytes(r.data)
    text = _plain(subprocess.run([shutil.which("pdftotext"), "-layout", str(path), "-"], capture_output=True,
                                 text=True, check=True).stdout)
    words = _words(text)
    for word in ("الغلاف", "الإرشادي", "القصوى", "إرشادي", "يحدها", "480", "960"):
        assert word in words, word
    assert "COS" in text and "R+2" in text and "11,5" in text
    assert "Enveloppe indicative" not in text


def test_a_land_past_the_envelope_limits_gets_its_note_saying_the_envelope_is_not_computed(db_url, conn, tmp_path):
    # review S2: TF 10/T (1 200 m²) with the envelope's area limit at 500 m² still gets its note, whose envelope
    # paragraph says why it is not computed (the land's size and the limits stored with the note's result)
    import json

    import jsonschema

    from instruction import schema_path
    from notes.envelope import envelope_lines

    world.build(conn)
    note = build(conn, LandRequest(refs=("TF 10/T",)), date(2015, 1, 1), Options(envelope_max_area_m2=500))
    envelope = note.result["envelope"]
    assert envelope["computed"] is False and envelope["reasons"][0]["code"] == "terrain_trop_grand"
    assert envelope["size"] == {"area_m2": 1200.0, "vertices": 5, "max_area_m2": 500, "max_vertices": 2000}
    jsonschema.validate(note.result, json.loads(schema_path().read_text()))
    (arabic,) = envelope_lines(note.result, "ar")
    assert "لم يُحسب الغلاف" in arabic and "500" in arabic
    client = create_app(app_settings(db_url, pool_min=1, pool_max=2, envelope_max_area_m2=500)).test_client()
    r = client.get("/notes/indicative?land=TF%2010/T&date=2015-01-01")
    assert r.status_code == 200
    text = _text(r.data, tmp_path)
    assert ("Enveloppe constructible non calculée : terrain trop grand pour une enveloppe (1 200 m² pour au plus "
            "500 m²) ; elle se calcule pour un terrain à bâtir") in text
    assert "emprise au sol max." not in text and "emprise constructible" not in text  # no figures, no drawing
