"""The Arabic indicative note: PDF with the Arabic font embedded and shaped, right-to-left page, numbers per language."""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from datetime import date

import pytest

from app import create_app
from gis import l10n
from instruction import vocabulary
from instruction.engine import instruct
from instruction.land import LandRequest
from tests import instruction_world as world
from tests.helpers import app_settings

LAND = "TF 1/T"


@pytest.fixture
def client(db_url, conn):
    world.build(conn)
    return create_app(app_settings(db_url, pool_min=1, pool_max=2, indicative_per_minute=20)).test_client()


def _tool(name: str) -> str:
    exe = shutil.which(name)
    assert exe, f"{name} (poppler-utils) is installed by scripts/system-deps.sh"
    return exe


def _plain(text: str) -> str:
    """pdftotext's text with Arabic presentation forms folded back to letters (NFKC), spaces made plain."""
    controls = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"), " ")
    return unicodedata.normalize("NFKC", text).replace("\u00a0", " ").translate(controls)


def _words(text: str) -> set[str]:
    """Every word of the text, read in either direction (pdftotext may give an Arabic run in visual order)."""
    words = set()
    for w in text.split():
        words.update((w, w[::-1]))
    return words


def _arabic_pdf(client, tmp_path, query: str = f"land={LAND}&date=2015-01-01"):
    r = client.get(f"/notes/indicative?{query}&lang=ar")
    assert r.status_code == 200 and r.mimetype == "application/pdf", r.data[:300]
    path = tmp_path / "note-ar.pdf"
    path.write_bytes(r.data)
    return path


def test_arabic_pdf_embeds_the_arabic_font(client, tmp_path):
    path = _arabic_pdf(client, tmp_path)
    fonts = subprocess.run([_tool("pdffonts"), str(path)], capture_output=True, text=True, check=True).stdout
    arabic_rows = [line for line in fonts.splitlines() if "NotoSansArabic" in line]
    assert arabic_rows, fonts
    assert all(" yes " in f" {row} " for row in arabic_rows)  # emb (and subset): the reader needs no font of its own
    assert "TrueType" in arabic_rows[0]


def test_arabic_pdf_text_holds_the_arabic_labels_title_zone_and_numbers(client, conn, tmp_path):
    path = _arabic_pdf(client, tmp_path)
    raw = subprocess.run([_tool("pdftotext"), "-layout", str(path), "-"], capture_output=True, text=True,
                         check=True).stdout
    text = _plain(raw)
    words = _words(text)
    assert any("\ufe70" <= ch <= "\ufeff" for ch in raw)  # shaped: contextual forms, not isolated letters
    for label in ("العقار", "المنطقة", "التنطيق", "مصادق"):  # land, zone, zoning, approved
        assert label in words, label
    assert LAND in text  # the French title keeps its left-to-right order inside the Arabic line
    result = instruct(conn, LandRequest(refs=(LAND,)), date(2015, 1, 1))  # what the note must say, from the database
    assert result["rules"]
    for rule in result["rules"]:
        assert rule["zone"]["code"] in words and rule["zone"]["label"] in text
        assert l10n.number(rule["share_pct"], "ar") in text  # the zone table's share, Moroccan digits grouping
    for plan in result["plans"]["applied"]:
        assert plan["code"] in text
    assert "INDICATIVE" not in text and "aucune valeur" not in text  # no French frame left


def test_arabic_numbers_are_formatted_the_moroccan_way(client, tmp_path):
    r = client.get(f"/notes/indicative?land={LAND}&date=2015-01-01&format=html&lang=ar")
    body = r.get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in body
    assert vocabulary.label("status", "homologue", "ar") in body or "تصميم التهيئة" in body
    path = _arabic_pdf(client, tmp_path)
    text = _plain(subprocess.run([_tool("pdftotext"), "-layout", str(path), "-"], capture_output=True, text=True,
                                 check=True).stdout)
    assert "2.000" in text and "2 000" not in text  # ar-MA: a dot between thousands
