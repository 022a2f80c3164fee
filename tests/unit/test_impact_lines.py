"""The land panel's plan impact lines (api/panel_view.impact_lines) on rows written by hand, French and Arabic."""

from __future__ import annotations

from api.panel_view import LRI, PDI, impact_lines

NB = "\u00a0"
ROW = {"land_ref": "TF 2451/C", "to_plan": "PA-ANFA-2026", "change": "gain", "zone_before": "V1", "zone_after": "B",
       "floor_before_m2": 240.0, "floor_after_m2": 6000.0, "floor_delta_m2": 5760.0, "uses_gained": [],
       "uses_lost": [], "reserved_new_m2": 0.0, "widening_new_m2": 0.0, "buildable_before": True,
       "buildable_after": True}


def test_a_gain_in_french():
    (line,) = impact_lines([ROW], "fr")
    assert line == {"change": "gain", "text": f"Avec le projet PA-ANFA-2026 : zone V1 → B, surface de plancher max "
                                              f"240{NB}m² → 6{NB}000{NB}m² (+5{NB}760{NB}m²)"}


def test_a_loss_newly_reserved_and_no_longer_buildable():
    row = {**ROW, "change": "reserved", "zone_after": "V1", "floor_after_m2": 0.0, "floor_delta_m2": -240.0,
           "reserved_new_m2": 1200.0, "widening_new_m2": 12.4, "uses_lost": ["habitation individuelle"],
           "buildable_after": False}
    (line,) = impact_lines([row], "fr")
    assert line["text"] == (f"Avec le projet PA-ANFA-2026 : zone V1 inchangée, surface de plancher max 240{NB}m² → "
                            f"0{NB}m² (\u2212240{NB}m²), 1{NB}200{NB}m² nouvellement réservés, 12{NB}m² nouvellement "
                            "dans une voie ou un élargissement, usages retirés : habitation individuelle, le terrain "
                            "ne serait plus constructible")


def test_unchanged_floor_and_unknown_values():
    same = {**ROW, "change": "unchanged", "zone_after": "V1", "floor_after_m2": 240.0, "floor_delta_m2": 0.0}
    assert impact_lines([same], "fr")[0]["text"] == ("Avec le projet PA-ANFA-2026 : zone V1 inchangée, surface de "
                                                     f"plancher max inchangée (240{NB}m²)")
    unknown = {**ROW, "floor_before_m2": None, "floor_delta_m2": None}
    assert "surface de plancher max non fixée → 6" in impact_lines([unknown], "fr")[0]["text"]


def test_several_titles_are_named():
    lines = impact_lines([ROW, {**ROW, "land_ref": "TF 2452/C", "change": "loss"}], "fr")
    assert [line["text"].split(" — ")[0] for line in lines] == ["TF 2451/C", "TF 2452/C"]
    assert [line["change"] for line in lines] == ["gain", "loss"]


def test_arabic_keeps_codes_and_quantities_left_to_right():
    (line,) = impact_lines([ROW], "ar")
    assert line["text"].startswith(f"مع المشروع {LRI}PA-ANFA-2026{PDI} : المنطقة {LRI}V1{PDI} ← {LRI}B{PDI}")
    assert f"({LRI}+5.760{NB}m²{PDI})" in line["text"]  # Western digits, Moroccan separators
