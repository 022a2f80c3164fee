"""The printed view (/carte/impression) against hostile requests: every one a 400 or 413 in French, never a 500;
the legend printed only from our own words; plans cited in the print exactly as the indicative note cites them.

Images are made here with Pillow and cut or forged by hand (a PNG's chunks with their CRCs); the data is
tests/fixtures/ogc_world.sql. Expected texts are read from the database and the catalogues, never written in.
"""

from __future__ import annotations

import io
import json
import random
import struct
import subprocess
import unicodedata
import zlib
from datetime import date
from pathlib import Path

import psycopg
import pytest
from PIL import Image

from app import create_app
from tests.helpers import app_settings, lonlat_box

VIEW = (0, 0, 600, 400)  # metres from X0, Y0: the view the tests print (zones of several plans)


@pytest.fixture(scope="module")
def client(ogc_url):
    """A test client over the OGC world."""
    return create_app(app_settings(ogc_url, pool_min=1, pool_max=2, checks_per_minute=100_000)).test_client()


def _noise(width: int, height: int) -> Image.Image:
    rng = random.Random(13)
    return Image.frombytes("RGB", (width, height), bytes(rng.getrandbits(8) for _ in range(width * height * 3)))


def _png(width: int = 800, height: int = 500) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (240, 235, 220)).save(buffer, "PNG")
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_claiming(width: int, height: int, rows: int = 0) -> bytes:
    """A PNG whose header (good CRC) claims width × height RGB pixels, with only `rows` rows of data (good CRC):
    its compressed stream stops there, unfinished, as a file cut short and re-chunked does."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    stream = zlib.compressobj()
    data = stream.compress((b"\x00" + b"\x80" * width * 3) * rows) + stream.flush(zlib.Z_SYNC_FLUSH)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def _half_jpeg() -> bytes:
    buffer = io.BytesIO()
    _noise(400, 300).save(buffer, "JPEG", quality=90)
    whole = buffer.getvalue()
    return whole[: len(whole) // 2]


def _legend(*entries: dict) -> str:
    return json.dumps(list(entries) or [{"source": "zones", "colour": "#c9a227", "kind": "fill"},
                                        {"source": "parcels", "colour": "#555", "kind": "line"}])


def _print(client, **fields):
    bbox = ",".join(str(v) for v in lonlat_box(*VIEW))
    data = {"image": (io.BytesIO(fields.pop("image", _png())), "carte.png"), "paper": "A4", "orientation": "landscape",
            "bbox": bbox, "bearing": "0", "legend": _legend(), "date": "2026-06-01", **fields}
    return client.post("/carte/impression", data=data, content_type="multipart/form-data")


def _pdf_text(pdf: bytes, tmp_path: Path, name: str = "carte.pdf") -> str:
    path = tmp_path / name
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def _flat(text: str) -> str:
    """The PDF's text on one line, Arabic presentation forms folded back (NFKC), no-break spaces as spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).replace("\u00a0", " ").split())


@pytest.mark.parametrize(("fields", "status", "words"), [
    ({"image": _png_claiming(100_000, 100_000)}, 413, "trop grande"),  # a decompression bomb: its header, 65 bytes
    ({"image": _png_claiming(9_000, 9_000)}, 413, "trop grande"),  # over our bound, under Pillow's
    ({"image": _png_claiming(800, 500, rows=20)}, 400, "illisible"),  # CRCs good, 20 rows of 500
    ({"image": _half_jpeg()}, 400, "illisible"),
    ({"bbox": "-180,-90,180,90"}, 400, "EPSG:26191"),
    ({"bbox": "-7.6,33.5,-7.6,33.6"}, 400, "emprise"),  # no width
    ({"bbox": "nan,33.5,-7.5,33.6"}, 400, "bbox"),
    ({"bbox": "-7.6,33.5,inf,33.6"}, 400, "bbox"),
    ({"bearing": "nan"}, 400, "bearing"),
    ({"bearing": "inf"}, 400, "bearing"),
    ({"bearing": "-inf"}, 400, "bearing"),
    ({"legend": _legend({"source": "zones", "colour": "[1,2]", "kind": "fill"})}, 400, "colour"),
    ({"legend": _legend({"source": "zones", "colour": {"a": 1}, "kind": "fill"})}, 400, "colour"),
    ({"legend": _legend({"source": "zones", "colour": "red", "kind": "fill"})}, 400, "#rrggbb"),
    ({"legend": _legend({"source": ["zones"], "colour": "#fff"})}, 400, "source"),
    ({"legend": _legend({"source": "zones", "colour": "#fff", "kind": "polygon"})}, 400, "kind"),
    ({"legend": "[" * 100_000}, 400, "legend"),  # nested beyond any depth: not a RecursionError
])
def test_hostile_print_requests_are_refused_in_french(client, fields, status, words):
    response = _print(client, **fields)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert words in response.get_json()["message"]


@pytest.mark.parametrize("bearing", ["1e308", "-1e308", "370", "-45.5"])
def test_any_finite_bearing_prints(client, bearing):
    response = _print(client, bearing=bearing)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/pdf"


def test_bearing_is_taken_modulo_360():
    from notes.map_print import north_angle

    assert north_angle(370) == pytest.approx(10)
    assert north_angle(-90) == pytest.approx(270)
    assert 0 <= north_angle(1e308) < 360
    with pytest.raises(ValueError):
        north_angle(float("nan"))


def test_a_good_jpeg_prints(client):
    buffer = io.BytesIO()
    _noise(400, 300).save(buffer, "JPEG", quality=80)
    response = _print(client, image=buffer.getvalue())
    assert response.status_code == 200, response.get_data(as_text=True)[:300]


def _zone_codes(ogc_url: str) -> list[str]:
    from gis.measure import view_polygon
    from layers.map_print import zone_codes_in_view

    with psycopg.connect(ogc_url) as conn:
        return zone_codes_in_view(conn, view_polygon(*lonlat_box(*VIEW)))


def test_the_legend_prints_only_our_words(client, ogc_url, tmp_path):
    from api.i18n import translate
    from instruction.vocabulary import PRESCRIPTIONS

    codes = _zone_codes(ogc_url)
    assert codes
    legend = _legend({"source": "zones", "colour": "#c9a227", "kind": "fill", "label": "Texte du client"},
                     {"source": "foo_bar", "colour": "#123456", "kind": "fill", "label": "foo_bar"},
                     {"source": "planner-result/zones", "code": codes[0], "colour": "#f6d38b", "kind": "fill",
                      "label": "Zone piratée"},
                     {"source": "planner-result/zones", "code": "ZZ-INCONNUE", "colour": "#f6d38b"},
                     {"source": "planner-result/green_space", "colour": "#1b7837", "label": "Mon jardin"},
                     {"source": "planner-result/Zone inventée", "colour": "#1b7837"})
    response = _print(client, legend=legend)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    text = _flat(_pdf_text(response.data, tmp_path))
    assert translate("planner.layer.zones", "fr") in text
    assert f"{translate('planner.zone', 'fr')} {codes[0]}" in text
    kind = PRESCRIPTIONS["green_space"]["fr"]
    assert kind[:1].upper() + kind[1:] in text  # a legend entry starts with a capital
    for client_text in ("Texte du client", "foo_bar", "piratée", "ZZ-INCONNUE", "Mon jardin", "inventée"):
        assert client_text not in text


def test_the_draft_plan_is_one_legend_entry(client, tmp_path):
    from api.i18n import translate

    legend = _legend({"source": "draft-zones", "colour": "#7b3294"}, {"source": "draft-prescriptions", "colour": "#7b3294"})
    text = _flat(_pdf_text(_print(client, legend=legend).data, tmp_path))
    assert text.count(translate("map.layer.draft", "fr")) == 1


def test_a_legend_of_unknown_layers_only_prints_an_empty_legend(client, tmp_path):
    response = _print(client, legend=_legend({"source": "foo_bar", "colour": "#123"}))
    assert response.status_code == 200
    assert "foo_bar" not in _pdf_text(response.data, tmp_path)


def _shown_plans(ogc_url: str) -> list[dict]:
    from gis.measure import view_polygon
    from layers.map_print import plans_in_view

    with psycopg.connect(ogc_url) as conn:
        return plans_in_view(conn, view_polygon(*lonlat_box(*VIEW)), date(2026, 6, 1))


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_the_print_cites_plans_as_the_note_does(ogc_url, lang):
    from notes.map_print import PrintedMap, facts, print_citation

    plans = _shown_plans(ogc_url)
    assert any(p.get("approval_act") for p in plans)
    lines = facts(PrintedMap(image=b"", ground_width_m=600, plans=plans, lang=lang))
    assert len(lines) == len(plans)
    for plan, line in zip(plans, lines, strict=True):
        assert line.startswith(print_citation(plan, lang))
    if lang == "ar":  # every French name, code and act held in its own run: the brackets stay with it
        for plan, line in zip(plans, lines, strict=True):
            assert f"\u200f\u200e{plan['code']}\u200e\u200f" in line
            if plan.get("approval_act"):
                assert f"\u200e{plan['approval_act']}\u200e" in line


def test_print_citation_is_the_notes_citation(ogc_url):
    from instruction.summary import plan_citation
    from instruction.vocabulary import STATUSES
    from notes.map_print import print_citation

    for plan in _shown_plans(ogc_url):
        as_in_note = {**plan, "status": plan["status_on"], "status_label": STATUSES[plan["status_on"]]["fr"]}
        for lang in ("fr", "ar"):
            assert print_citation(plan, lang) == plan_citation(as_in_note, lang)


def test_the_arabic_print_keeps_each_plan_code_in_its_brackets(client, ogc_url, tmp_path):
    response = _print(client, lang="ar")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    text = _flat(_pdf_text(response.data, tmp_path, "ar.pdf"))
    for plan in _shown_plans(ogc_url):
        assert f"({plan['code']})" in text, plan["code"]  # not « )PA-…( » nor a bracket at the far end
        if plan.get("approval_act"):
            assert plan["approval_act"] in text
