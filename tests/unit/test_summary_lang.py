"""summary_text in French and Arabic from a hand-made result, and the Arabic PDF text helpers (no database)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from gis import l10n
from instruction.summary import PHRASES, summary_text
from instruction.warning_text import TEXTS as WARNING_TEXTS
from instruction.warning_text import warning_text
from notes.texts import TEXTS as NOTE_TEXTS
from tests.unit.test_result import _result

MARKS = dict.fromkeys(map(ord, "\u200e\u200f"))


def _plain(text: str) -> str:
    """No-break spaces as spaces, direction marks removed (what a reader sees, in logical order)."""
    return text.replace("\u00a0", " ").translate(MARKS)


def _inquiry_result():
    from datetime import date

    from tests.unit.test_result import LAND, PLAN, ZONE_D, ZONE_V, _row

    inquiry = {**PLAN, "id": 2, "code": "PA-2", "name": "PA d'Anfa révisé", "in_force": False,
               "status_on": "enquete_publique", "status_since": date(2026, 1, 15), "replaces": "PA-1"}
    rows = [_row("zones", 10, 1, ZONE_V, LAND.buffer(10), whole=True),
            _row("zones", 30, 2, ZONE_D, LAND.buffer(10), whole=True)]
    return _result(rows=rows, plans=(PLAN, inquiry), legal_area_m2=2500.0)


def test_french_text_formats_numbers_and_dates_for_a_person():
    lines = _plain(summary_text(_result(legal_area_m2=2500.0), "fr")).splitlines()
    assert lines[0] == "Terrain : TF 1/C — Anfa — superficie calculée 2 000 m² (contenance du titre 2 500 m²)."
    assert lines[1] == "Situation au 1er juin 2026."
    assert "  - La contenance du titre (2 500 m²) diffère de plus de 5 % de la surface calculée (2 000 m²)." in lines
    assert summary_text(_result()) == summary_text(_result(), "fr")  # French stays the default


def test_arabic_text_is_built_from_the_same_result():
    result = _result(legal_area_m2=2500.0)
    lines = _plain(summary_text(result, "ar")).splitlines()
    assert lines[0] == "العقار: TF 1/C — Anfa — المساحة المحسوبة 2.000 m² (مساحة الرسم العقاري 2.500 m²)."
    assert lines[1] == "الوضعية بتاريخ 1 يونيو 2026."
    assert "الوثيقة المطبقة: تصميم التهيئة PA d'Anfa (PA-1)، مصادق عليه، Décret 2-06-1." in lines
    assert "  - المنطقة V، القطاع V-1 (Villas): 800 m² (40 %)" in lines
    assert "    العلو: 11,50 m، أي R+3 (قاعدة خاصة بـطريق لا يقل عرضها عن 25 m)." in lines
    assert "    الاستعمالات المسموح بها: سكن." in lines  # the plan's « habitation », from the vocabulary
    assert "  المساحة التي تمسها الطرق: 200 m²؛ المساحة المتبقية: 1.800 m²." in lines
    assert lines[-2:] == ["  - يتوزع العقار على 2 مناطق: يخضع كل جزء لضوابط منطقته.",
                          "  - تختلف مساحة الرسم العقاري (2.500 m²) بأكثر من 5 % عن المساحة المحسوبة (2.000 m²)."]
    # every line but the names the plan writes is Arabic; no French frame word is left
    text = _plain(summary_text(result, "ar"))
    for french in ("Terrain", "Zonage", "Hauteur", "Avertissements", "superficie", "soit"):
        assert french not in text
    assert result == _result(legal_area_m2=2500.0)  # rendering never changes the stored result


def test_a_plan_in_inquiry_is_said_with_its_date_in_both_languages():
    result = _inquiry_result()
    fr, ar = (_plain(warning_text(result["warnings"][0], result, lang)) for lang in ("fr", "ar"))
    assert fr == ("Le PA d'Anfa révisé (PA-2) est en enquête publique depuis le 15 janvier 2026 : il classerait ce "
                  "terrain en zone D (100 %) au lieu de V (100 %).")
    assert ar == ("PA d'Anfa révisé (PA-2) في طور البحث العلني منذ 15 يناير 2026: سيصنف هذا العقار في المنطقة D "
                  "(100 %) بدل V (100 %).")
    assert "2026-01-15" in result["warnings"][0]["message"]  # the stored message is unchanged (API clients)


def test_an_unknown_warning_keeps_its_stored_message():
    assert warning_text({"code": "nouveau", "message": "Message stocké."}, _result(), "ar") == "Message stocké."


def test_arabic_values_are_framed_so_brackets_keep_their_side():
    assert l10n.embed("Décret n° 2 (fictif)", "ar") == "\u200f\u200eDécret n° 2 (fictif)\u200e\u200f"
    assert l10n.embed("800 m²", "ar") == "\u200f800 m²\u200f" and l10n.embed("x", "fr") == "x"


@pytest.mark.parametrize("table", [PHRASES, WARNING_TEXTS, NOTE_TEXTS])
def test_every_phrase_has_both_languages_with_the_same_placeholders(table):
    import re
    import string

    for key, texts in table.items():
        names = [{f for _, f, _, _ in string.Formatter().parse(texts[lang]) if f} for lang in ("fr", "ar")]
        assert names[0] <= names[1], key  # the Arabic may say more (the plan's kind), never less
        french_words = re.sub(r"\{[^}]*\}|COS|CUS|R\+|EPSG:26191", "", texts["fr"])
        if re.search(r"[a-zà-ÿ]{2}", french_words) and key != "other_lang":  # words, not only placeholders
            assert any("\u0600" <= ch <= "\u06ff" for ch in texts["ar"]), key


def test_arabic_lines_are_shaped_and_set_in_display_order():
    from notes.arabic import visual

    line = visual(f"المنطقة {l10n.embed('D', 'ar')} ({l10n.embed('Zone de villas (R+1)', 'ar')}): "
                  f"{l10n.embed(l10n.area(800, 'ar'), 'ar')}")
    assert any("\ufe70" <= ch <= "\ufeff" for ch in line)  # contextual forms: the letters are joined
    assert "\u200e" not in line and "\u200f" not in line  # the marks did their work and are gone
    # drawn left to right: the first logical word (Arabic) ends up rightmost, the French name keeps its brackets
    assert unicodedata.normalize("NFKC", line).endswith("المنطقة"[::-1])
    assert "(Zone de villas (R+1))" in line and line.index("Zone") < line.index(" D ")
    assert line.startswith("m²\u00a0800,00")  # the quantity last in reading order, number before unit


def test_a_missing_arabic_font_is_a_clear_error(tmp_path):
    from notes.arabic import FontFiles, FontMissing, register

    with pytest.raises(FontMissing) as error:
        register(FontFiles(tmp_path / "node_modules"))
    assert "make assets" in error.value.message and "URBASIG_PDF_ARABIC_FONT" in error.value.message
    with pytest.raises(FontMissing, match="URBASIG_PDF_ARABIC_FONT"):
        register(FontFiles(Path("/nowhere"), regular=tmp_path / "absent.ttf"))
    (tmp_path / "bad.ttf").write_bytes(b"not a font")
    with pytest.raises(FontMissing, match="TrueType"):
        register(FontFiles(Path("/nowhere"), regular=tmp_path / "bad.ttf"))


def test_the_merged_font_is_kept_and_reused(tmp_path):
    from notes import arabic

    node_modules = Path(__file__).resolve().parents[2] / "node_modules"
    assert (node_modules / "@fontsource" / "noto-sans-arabic").is_dir(), "make assets (npm ci) installs the fonts"
    first = arabic._cached_merge(node_modules, 400, tmp_path / "fonts")
    (kept,) = (tmp_path / "fonts").glob("noto-sans-arabic-latin-400-*.ttf")
    assert kept.read_bytes() == first and first[:4] == b"\x00\x01\x00\x00"  # TrueType outlines (reportlab embeds them)
    assert arabic._cached_merge(node_modules, 400, tmp_path / "fonts") == first
