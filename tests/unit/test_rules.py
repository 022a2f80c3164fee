"""instruction/rules.py: a zone's parameters, conditional rules applied to the land's context, uses."""

from __future__ import annotations

from decimal import Decimal

import pytest

from instruction.rules import Context, condition_holds, use_status, zone_rules

ZONE = {"code": "C", "height_max_m": Decimal("23.50"), "storeys_max": 6, "cos_value": 2.5, "cos_meaning": "plancher",
        "min_plot_area_m2": 300, "uses_allowed": ["habitation", "commerce de proximité"],
        "uses_forbidden": ["établissement classé"], "uses_conditional": ["hôtel"], "dominant_use": "habitat collectif",
        "regulation_article": "art. 12",
        "conditional_rules": [
            {"parameter": "storeys_max", "value": 5, "when": {"road_width_lt_m": 20}, "article": "12.2"},
            {"parameter": "height_max_m", "value": 30, "when": {"road_width_min_m": 30, "plot_area_min_m2": 1000},
             "article": "12.3"},
            {"parameter": "not_a_parameter", "value": 1, "when": {}},
        ]}


@pytest.mark.parametrize(("when", "context", "verdict"), [
    ({"road_width_min_m": 12}, Context(12.0, 500.0), True),  # at least: the limit itself passes
    ({"road_width_min_m": 12}, Context(11.99, 500.0), False),
    ({"road_width_lt_m": 20}, Context(20.0, 500.0), False),  # strictly less
    ({"road_width_max_m": 20}, Context(20.0, 500.0), True),
    ({"plot_area_min_m2": 500, "road_width_min_m": 10}, Context(10.0, 499.0), False),
    ({"road_width_min_m": 10}, Context(None, 500.0), None),  # road width unknown: cannot tell
    ({"road_width_min_m": 10, "plot_area_min_m2": 1000}, Context(None, 500.0), False),  # one false condition decides
])
def test_condition_holds(when, context, verdict):
    assert condition_holds(when, context)[0] is verdict


def test_condition_labels_are_french_and_sorted_by_key():
    _, labels = condition_holds({"road_width_min_m": 12.0, "plot_area_lt_m2": 250.5}, Context(None, 1.0))
    assert labels == ["terrain de moins de 250.5 m²", "voie d'au moins 12 m"]


def test_an_unknown_condition_cannot_be_evaluated():
    assert condition_holds({"slope_max_pct": 10}, Context(20.0, 500.0)) == (None, ["condition inconnue « slope_max_pct »"])


def test_base_values_apply_when_no_condition_holds():
    rules = zone_rules(ZONE, Context(road_width_m=25.0, plot_area_m2=500.0))
    p = rules["parameters"]
    assert p["storeys_max"] == {"value": 6, "label": "niveaux au-dessus du rez-de-chaussée (R+n)", "unit": "n",
                                "base_value": 6}
    assert p["height_max_m"]["value"] == 23.5 and isinstance(p["height_max_m"]["value"], float)  # Decimal read
    assert p["cos_value"]["meaning"] == "plancher"
    assert "footprint_max_pct" not in p  # absent from the regulation: not invented
    assert rules["undecided_conditions"] == []


def test_a_narrow_road_lowers_the_storeys_and_says_why():
    p = zone_rules(ZONE, Context(road_width_m=12.0, plot_area_m2=500.0))["parameters"]
    assert p["storeys_max"]["value"] == 5 and p["storeys_max"]["base_value"] == 6
    assert p["storeys_max"]["condition"] == "voie de moins de 20 m" and p["storeys_max"]["article"] == "12.2"


def test_both_conditions_needed_for_the_height_bonus():
    assert zone_rules(ZONE, Context(30.0, 999.0))["parameters"]["height_max_m"]["value"] == 23.5
    bonus = zone_rules(ZONE, Context(30.0, 1000.0))["parameters"]["height_max_m"]
    assert bonus["value"] == 30 and bonus["base_value"] == 23.5
    assert bonus["condition"] == "terrain d'au moins 1000 m² et voie d'au moins 30 m"


def test_unknown_road_width_leaves_the_base_value_and_flags_the_rule():
    rules = zone_rules(ZONE, Context(road_width_m=None, plot_area_m2=500.0))
    assert rules["parameters"]["storeys_max"]["value"] == 6
    assert rules["undecided_conditions"] == [
        {"parameter": "storeys_max", "value": 5, "condition": "voie de moins de 20 m", "article": "12.2"}]
    # the height bonus is decided (plot too small) even without the road width
    assert [u["parameter"] for u in rules["undecided_conditions"]] == ["storeys_max"]


def test_uses_are_sorted_and_the_regulation_cited():
    rules = zone_rules(ZONE, Context(25.0, 500.0))
    assert rules["uses_allowed"] == ["commerce de proximité", "habitation"]
    assert (rules["article"], rules["dominant_use"]) == ("art. 12", "habitat collectif")


@pytest.mark.parametrize(("use", "status"), [
    ("habitation", "allowed"),
    ("Habitation individuelle", "allowed"),  # a more precise use of an allowed one
    ("établissement classé 2e catégorie", "forbidden"),
    ("hôtel", "conditional"),
    ("industrie", "unknown"),
])
def test_use_status(use, status):
    assert use_status(use, zone_rules(ZONE, Context(25.0, 500.0))) == status


def test_forbidden_wins_over_allowed():
    rules = {"uses_allowed": ["commerce"], "uses_forbidden": ["commerce de gros"], "uses_conditional": []}
    assert use_status("commerce de gros", rules) == "forbidden"


# ------------------------------------------------------------------------- formula rules: H ≤ L + R
TIED = {"code": "H", "height_max_m": 20, "storeys_max": 5, "setback_road_m": 4,
        "conditional_rules": [{"parameter": "height_max_m", "formula": "road_width_plus_setback", "article": "H 7"},
                              {"parameter": "setback_road_m", "value": 6, "when": {"plot_area_min_m2": 1000}}]}


def test_height_tied_to_the_road_width_caps_the_base_height():
    # L = 10 m, R = 4 m: H = min(20, 10 + 4) = 14, the formula named
    h = zone_rules(TIED, Context(road_width_m=10.0, plot_area_m2=500.0))["parameters"]["height_max_m"]
    assert (h["value"], h["base_value"], h["formula"], h["article"]) == (14, 20, "road_width_plus_setback", "H 7")
    assert h["condition"].endswith("voie de 10 m + recul de 4 m")


def test_the_formula_reads_the_setback_its_own_conditions_set():
    # a plot of 1,000 m² or more has R = 6 m (a plain conditional rule, applied first): H = 10 + 6 = 16
    h = zone_rules(TIED, Context(road_width_m=10.0, plot_area_m2=1200.0))["parameters"]["height_max_m"]
    assert h["value"] == 16


def test_a_wide_road_leaves_the_base_height():
    # 30 + 4 = 34 > 20: the formula does not raise a height, only caps it
    h = zone_rules(TIED, Context(road_width_m=30.0, plot_area_m2=500.0))["parameters"]["height_max_m"]
    assert h == {"value": 20, "label": "hauteur maximale", "unit": "m", "base_value": 20}


def test_unknown_road_width_or_formula_is_undecided_not_applied():
    rules = zone_rules(TIED, Context(road_width_m=None, plot_area_m2=500.0))
    assert rules["parameters"]["height_max_m"]["value"] == 20
    assert [(u["parameter"], u["formula"]) for u in rules["undecided_conditions"]] == [
        ("height_max_m", "road_width_plus_setback")]
    odd = {**TIED, "conditional_rules": [{"parameter": "height_max_m", "formula": "golden_ratio"},
                                         {"parameter": "storeys_max", "formula": "road_width_plus_setback"}]}
    rules = zone_rules(odd, Context(road_width_m=10.0, plot_area_m2=500.0))
    assert rules["parameters"]["height_max_m"]["value"] == 20 and rules["parameters"]["storeys_max"]["value"] == 5
    assert [u["condition"] for u in rules["undecided_conditions"]] == [
        "formule inconnue « golden_ratio » pour height_max_m", "formule inconnue « road_width_plus_setback » pour "
        "storeys_max"]


def test_a_formula_with_a_false_condition_does_not_apply_and_plain_rules_are_untouched():
    zone = {**TIED, "conditional_rules": [{"parameter": "height_max_m", "formula": "road_width_plus_setback",
                                           "when": {"plot_area_min_m2": 1000}},
                                          {"parameter": "storeys_max", "value": 3, "when": {"road_width_lt_m": 12}}]}
    p = zone_rules(zone, Context(road_width_m=10.0, plot_area_m2=500.0))["parameters"]
    assert p["height_max_m"]["value"] == 20 and "formula" not in p["height_max_m"]
    assert p["storeys_max"]["value"] == 3
