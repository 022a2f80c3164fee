"""instruction/permit.py and instruction/lots.py: the rule evaluation of the permit and subdivision checks.

A 20 m × 30 m plot (600 m²) fronts a road along its south side (y = 0); zone V: R+2, 11.5 m, 40 % footprint,
COS 0.8 of floor area, plot of 300 m² at least, setbacks road 4, side 3, rear 4 m.
"""

from __future__ import annotations

import pytest
import shapely

from instruction.lots import Lot, check_lots
from instruction.permit import FAIL, NA, PASS, UNKNOWN, Project, ZonePart, check_permit, classify_limits, outcome
from instruction.rules import Context, zone_rules

LAND = shapely.box(0, 0, 20, 30)
ROAD = shapely.box(-50, -12, 70, 0)
V = {"code": "V", "sector": "V-1", "height_max_m": 11.5, "storeys_max": 2, "footprint_max_pct": 40, "cos_value": 0.8,
     "cos_meaning": "plancher", "min_plot_area_m2": 300, "min_frontage_m": 15, "setback_road_m": 4,
     "setback_side_m": 3, "setback_rear_m": 4, "uses_allowed": ["habitation"], "uses_forbidden": ["industrie"],
     "regulation_article": "7"}
D = {"code": "D", "sector": None, "storeys_max": 4, "footprint_max_pct": 70, "min_plot_area_m2": 200,
     "uses_allowed": ["habitation", "commerce"]}


def _part(zone: dict, geom: shapely.Geometry, marginal: bool = False) -> ZonePart:
    rule = {"zone": {"id": 1, "plan": "PA-1", "code": zone["code"], "sector": zone["sector"], "label": None},
            "marginal": marginal, **zone_rules(zone, Context(road_width_m=12.0, plot_area_m2=LAND.area))}
    return ZonePart(rule, geom)


def _check(project: Project, parts: list[ZonePart] | None = None, constraints=()) -> dict[str, dict]:
    rules = check_permit(land=LAND, parts=parts if parts is not None else [_part(V, LAND)], project=project,
                         roads=[ROAD], constraints=list(constraints), tolerance_m=0.05, road_tolerance_m=0.5)
    return {r["rule"]: r for r in rules}


def test_outcome_fail_beats_cannot_tell_beats_pass():
    assert outcome([{"status": PASS}, {"status": UNKNOWN}, {"status": FAIL}]) == FAIL
    assert outcome([{"status": PASS}, {"status": UNKNOWN}, {"status": NA}]) == UNKNOWN
    assert outcome([{"status": PASS}, {"status": NA}]) == PASS


def test_limits_are_split_into_road_side_and_rear():
    limits = classify_limits(LAND, [ROAD], tolerance_m=0.5)
    assert [s.bounds for s in limits["road"]] == [(0.0, 0.0, 20.0, 0.0)]
    assert sorted(s.bounds for s in limits["side"]) == [(0.0, 0.0, 0.0, 30.0), (20.0, 0.0, 20.0, 30.0)]
    assert [s.bounds for s in limits["rear"]] == [(0.0, 30.0, 20.0, 30.0)]


def test_a_compliant_villa_passes_every_rule():
    fp = shapely.box(3, 4, 17, 20)  # 14 × 16 = 224 m² ≤ 240; setbacks 4 / 3 / 10
    rules = _check(Project(use="habitation", storeys=2, height_m=10, floor_area_m2=448, footprint=fp))
    assert {r: v["status"] for r, v in rules.items()} == {
        "footprint_inside_land": PASS, "use": PASS, "storeys": PASS, "height": PASS, "footprint": PASS, "cos": PASS,
        "plot_area": PASS, "setback_road": PASS, "setback_side": PASS, "setback_rear": PASS}
    assert (rules["footprint"]["measured"], rules["footprint"]["limit"]) == (224.0, 240.0)
    assert (rules["cos"]["measured"], rules["cos"]["limit"]) == (448.0, 480.0)
    assert rules["setback_rear"]["measured"] == 10.0
    assert rules["height"]["source"] == {"plan": "PA-1", "zone": "V", "sector": "V-1", "article": "7"}


def test_a_footprint_too_close_to_the_road_fails_with_the_offending_strip():
    fp = shapely.box(3, 2, 17, 18)
    rule = _check(Project(footprint=fp))["setback_road"]
    assert (rule["status"], rule["measured"], rule["limit"]) == (FAIL, 2.0, 4)
    strip = shapely.geometry.shape(rule["geometry"])
    assert strip.area == pytest.approx(14 * 2)  # the 2 m of building inside the 4 m strip
    assert "il manque 2.0 m" in rule["message"]


def test_too_many_storeys_and_a_forbidden_use_fail():
    rules = _check(Project(use="industrie", storeys=3, height_m=11.5))
    assert (rules["use"]["status"], rules["storeys"]["status"], rules["height"]["status"]) == (FAIL, FAIL, PASS)
    assert (rules["storeys"]["measured"], rules["storeys"]["limit"]) == (3, 2)


def test_without_a_footprint_polygon_setbacks_cannot_be_told():
    rules = _check(Project(storeys=1, footprint_area_m2=100.0))
    assert rules["setbacks"]["status"] == UNKNOWN and "polygone" in rules["setbacks"]["message"]
    assert rules["footprint"]["status"] == PASS
    assert rules["height"]["status"] == UNKNOWN  # not given by the applicant
    assert "footprint_inside_land" not in rules


def test_a_value_without_a_limit_is_not_applicable():
    rules = _check(Project(height_m=50.0), parts=[_part(D, LAND)])
    assert rules["height"]["status"] == NA and rules["height"]["message"] == "pas de limite dans le règlement"


def test_a_footprint_outside_the_land_or_on_a_reservation_fails():
    fp = shapely.box(3, 4, 25, 20)  # 5 m beyond the east limit
    reservation = shapely.box(15, 0, 20, 10)  # the footprint covers 5 × 6 m of it
    rules = _check(Project(footprint=fp), constraints=[("green_space", "espace vert EV1", reservation),
                                                       ("flood_zone", "zone inondable", reservation)])
    assert (rules["footprint_inside_land"]["status"], rules["footprint_inside_land"]["measured"]) == (FAIL, 80.0)
    assert rules["no_build_green_space"]["measured"] == 30.0 and rules["no_build_green_space"]["status"] == FAIL
    assert "no_build_flood_zone" not in rules  # a flood zone does not bar building by itself


def test_two_zones_each_judge_their_own_part():
    parts = [_part(V, shapely.box(0, 0, 10, 30)), _part(D, shapely.box(10, 0, 20, 30))]
    rules = check_permit(land=LAND, parts=parts, project=Project(storeys=3, footprint_area_m2=300.0), roads=[ROAD],
                         constraints=[], tolerance_m=0.05, road_tolerance_m=0.5)
    storeys = {r["label"]: r["status"] for r in rules if r["rule"] == "storeys"}
    assert storeys == {"niveaux (R+n) en zone V": FAIL, "niveaux (R+n) en zone D": PASS}
    footprint = [r for r in rules if r["rule"] == "footprint"]
    assert [(r["measured"], r["limit"]) for r in footprint] == [(150.0, 120.0), (150.0, 210.0)]  # spread by area


def test_no_zone_means_zoning_cannot_be_told():
    rules = _check(Project(storeys=1, basement=True), parts=[])
    assert rules["zoning"]["status"] == UNKNOWN and rules["basement"]["status"] == NA


# ----------------------------------------------------------------------------------- subdivision check
THRESHOLDS = {"geometry_tolerance_m": 0.05, "subdivision_requirements_above_m2": 10_000,
              "subdivision_green_space_min_pct": 10, "subdivision_facilities_min_pct": 0}


def _lots(lots, internal_roads=(), land=LAND, thresholds=THRESHOLDS):
    return check_lots(land=land, lots=lots, internal_roads=list(internal_roads), existing_roads=[ROAD],
                      green_spaces=[], facilities=[], parts=[_part(V, land)], thresholds=thresholds)


def test_two_lots_filling_the_land_pass_the_global_rules_and_are_judged_each():
    out = _lots([Lot("1", shapely.box(0, 0, 10, 30)), Lot("2", shapely.box(10, 0, 20, 30))])
    assert {r["rule"]: r["status"] for r in out["rules"]} == {
        "inside_land": PASS, "no_overlap": PASS, "all_assigned": PASS, "green_space_share": NA,
        "facilities_share": NA}
    lot1 = out["lots"][0]
    assert lot1["status"] == FAIL and lot1["area_m2"] == 300.0  # its façade is short
    # 10 m of façade < 15 m; the side limits entering the 0.05 m tolerance band do not lengthen it
    assert {r["rule"]: (r["status"], r["measured"]) for r in lot1["rules"]} == {
        "area": (PASS, 300.0), "road_access": (PASS, 10.0), "frontage": (FAIL, 10.0)}


def test_a_facade_just_under_the_minimum_fails():
    out = _lots([Lot("1", shapely.box(0, 0, 14.95, 30)), Lot("2", shapely.box(14.95, 0, 30, 30))],
                land=shapely.box(0, 0, 30, 30))
    lot1 = {r["rule"]: (r["status"], r["measured"]) for r in out["lots"][0]["rules"]}
    assert lot1["frontage"] == (FAIL, 14.95)
    lot2 = {r["rule"]: (r["status"], r["measured"]) for r in out["lots"][1]["rules"]}
    assert lot2["frontage"] == (PASS, 15.05)


def test_overlapping_lots_and_a_landlocked_lot_fail():
    out = _lots([Lot("1", shapely.box(0, 0, 20, 16)), Lot("2", shapely.box(0, 15, 20, 30))])
    rules = {r["rule"]: r for r in out["rules"]}
    assert rules["no_overlap"]["status"] == FAIL and rules["no_overlap"]["measured"] == 20.0
    assert rules["no_overlap"]["message"] == "lot 1 et lot 2 : 20.0 m²"
    lot2 = {r["rule"]: r for r in out["lots"][1]["rules"]}
    assert lot2["road_access"]["status"] == FAIL and "enclavé" in lot2["road_access"]["message"]
    assert out["lots"][1]["status"] == FAIL


def test_unassigned_ground_is_reported_and_green_share_required_on_large_land():
    big = shapely.box(0, 0, 200, 100)
    out = _lots([Lot("1", shapely.box(0, 0, 100, 100))], land=big)
    rules = {r["rule"]: r for r in out["rules"]}
    assert rules["all_assigned"]["status"] == FAIL and rules["all_assigned"]["measured"] == pytest.approx(10_000, abs=10)
    assert (rules["green_space_share"]["status"], rules["green_space_share"]["limit"]) == (FAIL, 10)
