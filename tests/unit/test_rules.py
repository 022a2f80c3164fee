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
