"""Permit, subdivision and licence checks on the hand-built territory (answers worked out by hand)."""

from __future__ import annotations

import json
from datetime import date

import pytest
import shapely
from shapely.geometry import shape

from gis.errors import GeometryError, InputError
from instruction.checks import licence_check, lot_check, permit_check
from instruction.land import LandRequest
from tests import instruction_world as world
from tests.helpers import X0, Y0, box

D2015 = date(2015, 1, 1)
CRS = "EPSG:26191"


@pytest.fixture
def wconn(conn):
    world.build(conn)
    return conn


def _gj(geom):
    return json.loads(shapely.to_geojson(geom))


def _rule(check, name, zone=None):
    found = [r for r in check["rules"] if r["rule"] == name and (zone is None or zone in r["label"])]
    assert found, f"{name} absent: {[r['rule'] for r in check['rules']]}"
    return found[0]


VILLA = {"use": "habitation individuelle", "storeys": 2, "height_m": 10.0, "floor_area_m2": 900.0}


def test_footprint_short_of_the_side_setback_fails_with_measure_and_geometry(wconn):
    # TF 10: 5–35 × 200–240, road on its north limit; V2 setbacks: road 4, side 3, rear 4
    footprint = box(6.5, 205, 23.5, 30)
    check = permit_check(wconn, LandRequest(refs=("TF 10/T",)), {**VILLA, "footprint": _gj(footprint)}, D2015, crs=CRS)
    side = _rule(check, "setback_side")
    assert (side["status"], side["measured"], side["limit"]) == ("fail", 1.5, 3)
    offending = shape(side["geometry"])
    assert offending.area == pytest.approx(45.0)  # 1.5 m × 30 m inside the 3 m strip
    assert offending.bounds[0] == pytest.approx(X0 + 6.5) and offending.bounds[2] == pytest.approx(X0 + 8)
    assert (_rule(check, "setback_road")["status"], _rule(check, "setback_road")["measured"]) == ("pass", 5.0)
    assert (_rule(check, "setback_rear")["status"], _rule(check, "setback_rear")["measured"]) == ("pass", 5.0)
    assert _rule(check, "use")["status"] == "pass"
    assert _rule(check, "storeys")["status"] == "pass" and _rule(check, "height")["status"] == "pass"
    assert _rule(check, "footprint")["status"] == "fail"  # 705 m² against 40 % of 1,200 m²
    assert _rule(check, "footprint")["limit"] == 480.0
    assert check["outcome"] == "fail" and check["check_id"]
    source = _rule(check, "setback_side")["source"]
    assert (source["plan"], source["zone"]) == ("PA-T-2006", "V2")


def test_compliant_villa_passes_every_rule(wconn):
    footprint = box(9, 205, 20, 22)  # 440 m²: side 4 / 6 m, road 13 m, rear 5 m
    check = permit_check(wconn, LandRequest(refs=("TF 10/T",)), {**VILLA, "footprint": _gj(footprint)}, D2015, crs=CRS)
    assert check["outcome"] == "pass", [r for r in check["rules"] if r["status"] != "pass"]
    stored = wconn.execute("SELECT kind, outcome, result->'instruction'->'provenance'->>'data_timestamp' "
                           "FROM check_results WHERE id = %s", (check["check_id"],)).fetchone()
    assert stored[:2] == ("permit", "pass") and stored[2]


def test_too_tall_and_forbidden_use_fail_without_footprint(wconn):
    check = permit_check(wconn, LandRequest(refs=("TF 10/T",)), {"use": "industrie", "storeys": 4, "height_m": 14},
                         D2015)
    assert _rule(check, "use")["status"] == "fail"
    assert (_rule(check, "storeys")["measured"], _rule(check, "storeys")["limit"]) == (4, 2)
    assert _rule(check, "storeys")["status"] == "fail" and _rule(check, "height")["status"] == "fail"
    assert _rule(check, "setbacks")["status"] == "cannot_tell"


def test_footprint_on_a_widening_strip_fails_with_the_offending_part(wconn):
    footprint = box(105, 2, 20, 28)  # TF 2: the strip is y 0–5
    check = permit_check(wconn, LandRequest(refs=("TF 2/T",)), {"use": "habitation", "footprint": _gj(footprint)},
                         D2015, crs=CRS)
    rule = _rule(check, "no_build_road_widening")
    assert rule["status"] == "fail" and shape(rule["geometry"]).area == pytest.approx(60.0)


def test_footprint_outside_the_land_fails(wconn):
    check = permit_check(wconn, LandRequest(refs=("TF 2/T",)), {"footprint": _gj(box(120, 20, 20, 10))}, D2015, crs=CRS)
    rule = _rule(check, "footprint_inside_land")
    assert rule["status"] == "fail" and rule["measured"] == pytest.approx(100.0)


def test_bad_projects_are_refused(wconn):
    land = LandRequest(refs=("TF 10/T",))
    with pytest.raises(InputError, match="storeys"):
        permit_check(wconn, land, {"storeys": "quatre"}, D2015)
    with pytest.raises(InputError, match="inconnu"):
        permit_check(wconn, land, {"etages": 2}, D2015)
    with pytest.raises(GeometryError):
        permit_check(wconn, land, {"footprint": {"type": "Polygon", "coordinates": []}}, D2015, crs=CRS)


def _lots():
    # TF 11: 100–160 × 200–240 (2,400 m², zone D: lots ≥ 200 m², frontage ≥ 10 m), road on its north limit
    lots = [("L1", box(100, 220, 25, 20)), ("L2", box(125, 220, 25, 20)), ("L3", box(142, 200, 8, 20)),
            ("L4", box(100, 200, 42, 20))]
    road = box(150, 200, 10, 40)
    return [{"id": i, "geometry": _gj(g)} for i, g in lots], [_gj(road)]


def test_subdivision_with_an_undersized_lot_and_a_landlocked_lot(wconn):
    lots, roads = _lots()
    check = lot_check(wconn, LandRequest(refs=("TF 11/T",)), lots, roads, day=D2015, crs=CRS)
    by_id = {lot["id"]: lot for lot in check["lots"]}
    assert {i: lot["status"] for i, lot in by_id.items()} == {"L1": "pass", "L2": "pass", "L3": "fail", "L4": "fail"}
    area = next(r for r in by_id["L3"]["rules"] if r["rule"] == "area")
    assert (area["status"], area["measured"], area["limit"]) == ("fail", 160.0, 200)
    access = next(r for r in by_id["L4"]["rules"] if r["rule"] == "road_access")
    assert access["status"] == "fail" and access["measured"] == 0.0 and "enclavé" in access["message"]
    assert next(r for r in by_id["L3"]["rules"] if r["rule"] == "road_access")["status"] == "pass"
    assert {r["rule"]: r["status"] for r in check["rules"]} == {
        "inside_land": "pass", "no_overlap": "pass", "all_assigned": "pass", "green_space_share": "not_applicable",
        "facilities_share": "not_applicable"}
    assert shape(by_id["L4"]["geometry"]).area == pytest.approx(840)
    assert check["outcome"] == "fail"


def test_subdivision_overlap_and_unassigned_land(wconn):
    lots, roads = _lots()
    lots[0]["geometry"] = _gj(box(100, 220, 30, 20))  # overlaps L2 by 5 × 20
    del lots[3]  # leaves L4's 840 m² unassigned
    check = lot_check(wconn, LandRequest(refs=("TF 11/T",)), lots, roads, day=D2015, crs=CRS)
    rules = {r["rule"]: r for r in check["rules"]}
    assert rules["no_overlap"]["status"] == "fail" and rules["no_overlap"]["measured"] == 100.0
    assert rules["all_assigned"]["status"] == "fail" and rules["all_assigned"]["measured"] == pytest.approx(840, abs=5)


def test_two_pharmacies_280_m_apart(wconn):
    check = licence_check(wconn, LandRequest(point=(X0 + 780, Y0 + 500), crs=CRS), "pharmacy", day=D2015)
    rule = _rule(check, "distance")
    assert (rule["status"], rule["measured"], rule["limit"]) == ("fail", 280.0, 300)
    assert rule["nearest"][0]["distance_m"] == 280.0 and rule["nearest"][0]["name"] == "Pharmacie du test"
    assert check["outcome"] == "fail"
    far = licence_check(wconn, LandRequest(point=(X0 + 900, Y0 + 500), crs=CRS), "pharmacy", day=D2015)
    assert _rule(far, "distance")["status"] == "pass" and _rule(far, "distance")["measured"] == 400.0


def test_pending_requests_the_earlier_filing_wins(wconn):
    wconn.execute("INSERT INTO establishments (kind, name, status, filed_at, geom) VALUES ('pharmacy', 'Demande B', "
                  "'demande', '2026-03-01T10:00:00+01:00', ST_SetSRID(ST_MakePoint(%s, %s), 26191))",
                  (X0 + 800, Y0 + 600))
    wconn.commit()
    here = LandRequest(point=(X0 + 800, Y0 + 500), crs=CRS)  # 300 m from the open one, 100 m from the pending one
    earlier = licence_check(wconn, here, "pharmacy", filed_at="2026-02-01T09:00:00+01:00", day=D2015)
    assert _rule(earlier, "distance")["status"] == "pass" and "priorité" in _rule(earlier, "distance")["message"]
    later = licence_check(wconn, here, "pharmacy", filed_at="2026-03-01T11:00:00+01:00", day=D2015)
    assert _rule(later, "distance")["status"] == "fail" and _rule(later, "distance")["measured"] == 100.0
    unknown = licence_check(wconn, here, "pharmacy", day=D2015)
    assert _rule(unknown, "distance")["status"] == "cannot_tell"


def test_classified_establishments_are_barred_from_residential_zones(wconn):
    check = licence_check(wconn, LandRequest(refs=("TF 10/T",)), "classified_1", day=D2015)
    rule = _rule(check, "zone_compatibility")
    assert rule["status"] == "fail" and "résidentielle" in rule["message"]
    assert _rule(licence_check(wconn, LandRequest(refs=("TF 10/T",)), "classified_3", day=D2015),
                 "zone_compatibility")["status"] == "fail"  # V2 forbids every classified establishment


def test_terrace_only_on_public_domain(wconn):
    on_road = licence_check(wconn, LandRequest(point=(X0 + 500, Y0 - 10), crs=CRS), "terrace", day=D2015)
    assert _rule(on_road, "public_domain")["status"] == "pass"
    in_parcel = licence_check(wconn, LandRequest(point=(X0 + 20, Y0 + 220), crs=CRS), "terrace", day=D2015)
    assert _rule(in_parcel, "public_domain")["status"] == "fail"


def test_unknown_activity_and_bad_filing_time(wconn):
    with pytest.raises(InputError, match="activité inconnue.*pharmacy"):
        licence_check(wconn, LandRequest(refs=("TF 10/T",)), "casino", day=D2015)
    with pytest.raises(InputError, match="dépôt"):
        licence_check(wconn, LandRequest(refs=("TF 10/T",)), "pharmacy", filed_at="hier", day=D2015)
