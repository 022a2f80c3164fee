"""api/panel_view.py on results built by hand (tests/unit/test_result.py's land): labels, numbers, the draft."""

from __future__ import annotations

from datetime import date

import pytest

from api.panel_view import land_view, lonlat_bbox, short
from gis import l10n
from instruction import vocabulary
from instruction.warning_text import warning_text
from notes.indicative import DISCLAIMER
from notes.texts import text as note_text
from tests.unit.test_result import LAND, PLAN, ZONE_D, ZONE_V, _result, _row


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_the_disclaimer_is_the_notes(lang):
    view = land_view(_result(), None, lang)
    assert view["disclaimer"] == note_text("disclaimer", lang) and note_text("disclaimer", "fr") == DISCLAIMER


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_warnings_have_the_notes_words(lang):
    """The panel says each warning as the note does (one text per warning and language), the upcoming plan's code
    and date included."""
    upcoming = {**PLAN, "id": 3, "code": "PA-3", "name": "PA d'Anfa 2030", "in_force": False,
                "status_since": date(2026, 5, 1), "valid_from": date(2026, 9, 1), "approval_act": "Décret 2-26-3"}
    result = _result(plans=(PLAN, upcoming), legal_area_m2=3000.0)
    codes = {w["code"] for w in result["warnings"]}
    assert {"plan_homologue_a_venir", "plusieurs_zones", "contenance_ecart"} <= codes
    view = land_view(result, None, lang)
    assert view["warnings"] == [warning_text(w, result, lang) for w in result["warnings"]]
    said = next(w for w in view["warnings"] if "PA-3" in w)
    assert l10n.long_date(date(2026, 9, 1), lang) in said


def test_short_numbers_per_language():
    assert short(11.5, "fr") == "11,5" and short(4.0, "fr") == "4" and short(0.75, "ar") == "0,75"
    assert short(1234.0, "ar") == "1.234"


def test_lonlat_box_holds_the_centroid():
    w, s, e, n = lonlat_bbox(list(LAND.bounds))
    assert -8 < w < e < -7 and 33 < s < n < 34


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_zones_rules_roads_in_the_pages_language(lang):
    view = land_view(_result(), None, lang)
    assert [(z["code"], z["share_pct"], z["marginal"]) for z in view["zones"]] == [("D", 60.0, False),
                                                                                      ("V", 40.0, False)]
    v = next(z for z in view["zones"] if z["code"] == "V")
    assert v["area"].strip("\u2066\u2069") == "800,00\u00a0m²"
    assert v["rules"]["height"]["value"].lstrip("\u2066").startswith("11,5\u00a0m")
    assert view["roads"]["widenings"] and ("200,00\u00a0m²" in view["roads"]["widenings"][0])
    assert view["plans"][0]["status"].startswith(vocabulary.label("status", "homologue", lang))
    assert view["servitudes"] == [] and view["covered"]


@pytest.mark.parametrize("apply_inquiry", [False, True])
def test_the_draft_in_inquiry_and_its_rule_changes(apply_inquiry):
    inquiry = {**PLAN, "id": 2, "code": "PA-2", "name": "PA d'Anfa révisé", "in_force": False,
               "status_on": "enquete_publique", "status_since": date(2026, 1, 15), "replaces": "PA-1",
               "approval_act": None}
    rows = [_row("zones", 10, 1, ZONE_V, LAND.buffer(10), whole=True),
            _row("zones", 30, 2, ZONE_D, LAND.buffer(10), whole=True)]
    result = _result(rows=rows, plans=(PLAN, inquiry), apply_inquiry=apply_inquiry)
    other = _result(rows=rows, plans=(PLAN, inquiry), apply_inquiry=not apply_inquiry)
    box = land_view(result, other, "fr")["alternative"]
    assert box["applied"] is apply_inquiry and "PA-2" in box["intro"] and "15 janvier 2026" in box["intro"]
    shown = [z["code"] for z in box["zones"]]
    assert shown == (["V"] if apply_inquiry else ["D"])
    # always in force → draft (the zone V's R+3 is its conditional rule on a road of 25 m or more)
    assert "niveaux (R+n) : R+3 → R+4" in box["zones"][0]["changes"]


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_uses_are_said_in_the_pages_language(lang):
    """A use the vocabulary knows is said in the page's language; one it does not know stays as the plan wrote it."""
    assert "habitation" in vocabulary.USES
    v = next(z for z in land_view(_result(), None, lang)["zones"] if z["code"] == "V")
    (use,) = v["rules"]["allowed"]
    assert use == {"text": vocabulary.USES["habitation"][lang], "fr": False}
    from api.panel_view import _uses

    assert _uses(["élevage de vers à soie"], lang) == [{"text": "élevage de vers à soie", "fr": lang == "ar"}]
