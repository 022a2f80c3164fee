"""instruction/findings.build_result and summary.summary_text on overlay rows made by hand (no database).

The land is 40 m × 50 m (2,000 m²): zone V (x < 16 m, 800 m², 40 %) and zone D (1,200 m², 60 %) of PA-1, a
5 m road widening along its south side (200 m²), one commune, a 30 m road in front.
"""

from __future__ import annotations

from datetime import date

import pytest
import shapely

from instruction.findings import build_result
from instruction.land import Land
from instruction.summary import summary_text

X0, Y0 = 295_000.0, 332_000.0
LAND = shapely.box(X0, Y0, X0 + 40, Y0 + 50)
THRESHOLDS = ("t-1", {"coverage_full_pct": 99.5, "marginal_share_pct": 3.0, "marginal_area_m2": 50.0})
PLAN = {"id": 1, "code": "PA-1", "kind": "PA", "name": "PA d'Anfa", "in_force": True, "status_on": "homologue",
        "status_since": date(2006, 3, 1), "approval_act": "Décret 2-06-1", "replaces": None, "covered_m2": 2000.0}
ZONE_V = {"code": "V", "sector": "V-1", "label": "Villas", "storeys_max": 2, "height_max_m": 11.5,
          "uses_allowed": ["habitation"], "conditional_rules": [
              {"parameter": "storeys_max", "value": 3, "when": {"road_width_min_m": 25}, "article": "4"}]}
ZONE_D = {"code": "D", "sector": None, "label": "Immeubles", "storeys_max": 4, "continuous_frontage": True}
WIDENING = {"kind": "road_widening", "code": "EV-1", "label": "Élargissement du bd Anfa", "road_name": "bd Anfa",
            "width_m": 40, "facility_code": None, "facility_label": None}
COMMUNE = {"code": "ANFA", "name": "Anfa", "kind": "arrondissement", "prefecture": "Casablanca-Anfa"}


def _row(layer, rid, plan_id, attrs, geom, whole=False):
    clipped = shapely.intersection(geom, LAND)
    return {"layer": layer, "id": rid, "plan_id": plan_id, "attrs": {"id": rid, **attrs}, "area": clipped.area,
            "length": 0.0, "wkb": None if whole else shapely.to_wkb(clipped)}


def _result(rows=None, plans=(PLAN,), roads=({"name": "bd Anfa", "width_m": 30.0},), legal_area_m2=2000.0, **kw):
    rows = rows if rows is not None else [
        _row("zones", 10, 1, ZONE_V, shapely.box(X0 - 100, Y0 - 100, X0 + 16, Y0 + 100)),
        _row("zones", 11, 1, ZONE_D, shapely.box(X0 + 16, Y0 - 100, X0 + 100, Y0 + 100)),
        _row("prescriptions", 20, 1, WIDENING, shapely.box(X0 - 100, Y0, X0 + 100, Y0 + 5)),
        _row("communes", 0, None, COMMUNE, LAND.buffer(100), whole=True),
    ]
    options = {"apply_inquiry": False, "with_geometry": False, **kw}
    return build_result(request={"refs": ["TF 1/C"]}, land=Land(LAND, refs=["TF 1/C"], legal_area_m2=legal_area_m2),
                        day=date(2026, 6, 1), plans=list(plans), rows=rows, roads=list(roads), thresholds=THRESHOLDS,
                        data_timestamp="2026-06-01T00:00:00Z", code_version="test", **options)


def test_zone_shares_and_coverage():
    result = _result()
    zones = result["layers"][0]
    assert zones["coverage"] == "covered" and zones["plans"] == ["PA-1"]
    assert [(f["code"], f["area_m2"], f["share_pct"], f["marginal"]) for f in zones["features"]] == [
        ("D", 1200.0, 60.0, False), ("V", 800.0, 40.0, False)]
    sdau = next(layer for layer in result["layers"] if layer["layer"] == "sdau")
    assert sdau["coverage"] == "not_covered"  # no data is not the same as no constraint
    assert result["land"]["communes"] == [{"code": "ANFA", "name": "Anfa", "kind": "arrondissement",
                                           "prefecture": "Casablanca-Anfa", "share_pct": 100.0}]
    lon, lat = result["land"]["centroid_lonlat"]
    assert -8 < lon < -7 and 33 < lat < 34


def test_rules_follow_the_fronting_road():
    rules = {r["zone"]["code"]: r for r in _result()["rules"]}
    assert rules["V"]["parameters"]["storeys_max"]["value"] == 3  # 30 m road ≥ 25 m: the conditional rule applies
    assert rules["D"]["parameters"]["storeys_max"]["value"] == 4
    narrow = {r["zone"]["code"]: r for r in _result(roads=({"name": "rue", "width_m": 10.0},))["rules"]}
    assert narrow["V"]["parameters"]["storeys_max"]["value"] == 2


def test_road_widening_takes_its_strip():
    roads = _result()["roads"]
    assert (roads["lost_area_m2"], roads["remaining_area_m2"], roads["road_width_used_m"]) == (200.0, 1800.0, 30.0)
    (widening,) = roads["widenings"]
    assert (widening["depth_m"], widening["share_pct"], widening["plan"]) == (5.0, 10.0, "PA-1")


def test_warnings_name_what_the_reader_must_know():
    codes = [w["code"] for w in _result(legal_area_m2=2500.0)["warnings"]]
    assert codes == ["plusieurs_zones", "contenance_ecart"]
    assert [w["code"] for w in _result(roads=())["warnings"]] == ["plusieurs_zones", "conditions_indeterminees"]
    assert [w["code"] for w in _result(rows=[], plans=())["warnings"]] == ["aucun_document"]


def test_a_sliver_is_marginal_not_ignored():
    rows = [_row("zones", 10, 1, ZONE_V, shapely.box(X0 - 100, Y0 - 100, X0 + 39.5, Y0 + 100)),
            _row("zones", 11, 1, ZONE_D, shapely.box(X0 + 39.5, Y0 - 100, X0 + 100, Y0 + 100))]
    result = _result(rows=rows)
    assert [(f["code"], f["area_m2"], f["marginal"]) for f in result["layers"][0]["features"]] == [
        ("V", 1975.0, False), ("D", 25.0, True)]
    assert [w["code"] for w in result["warnings"]] == ["zones_marginales"]


def test_the_result_is_deterministic_and_records_its_provenance():
    a, b = _result(), _result()
    assert a == b
    assert a["provenance"] == {"code_version": "test", "data_timestamp": "2026-06-01T00:00:00Z",
                               "thresholds": {"version": "t-1", **THRESHOLDS[1]}, "apply_plans_in_inquiry": False,
                               "plans_used": ["PA-1"]}


def test_geometries_only_on_request():
    assert "geometry" not in _result()["land"]
    with_geometry = _result(with_geometry=True)
    assert with_geometry["land"]["geometry"]["type"] == "Polygon"
    assert with_geometry["layers"][0]["features"][0]["geometry"]["type"] == "Polygon"


def _plain(text: str) -> str:
    """The text with its no-break spaces (gis/l10n.py puts them in numbers and before units) as spaces."""
    return text.replace("\u00a0", " ")


def test_summary_text_of_the_result():
    text = _plain(summary_text(_result()))
    lines = text.splitlines()
    assert lines[0] == "Terrain : TF 1/C — Anfa — superficie calculée 2 000 m² (contenance du titre 2 000 m²)."
    assert "Document applicable : PA d'Anfa (PA-1), homologué, Décret 2-06-1." in lines
    assert "  - zone V, secteur V-1 (Villas) : 800 m² (40 %)" in lines
    assert "    Hauteur : 11,50 m, soit R+3 (règle pour voie d'au moins 25 m)." in lines
    assert lines.count("    Front bâti continu.") == 1  # zone D only
    assert "  Surface touchée par la voirie : 200 m² ; surface restante : 1 800 m²." in lines
    assert lines[-1].startswith("  - Le terrain est partagé entre 2 zones")


@pytest.mark.parametrize("apply_inquiry", [False, True])
def test_a_plan_in_inquiry_is_reported_or_applied(apply_inquiry):
    inquiry = {**PLAN, "id": 2, "code": "PA-2", "name": "PA d'Anfa révisé", "in_force": False,
               "status_on": "enquete_publique", "status_since": date(2026, 1, 15), "replaces": "PA-1"}
    rows = [_row("zones", 10, 1, ZONE_V, LAND.buffer(10), whole=True),
            _row("zones", 30, 2, ZONE_D, LAND.buffer(10), whole=True)]
    result = _result(rows=rows, plans=(PLAN, inquiry), apply_inquiry=apply_inquiry)
    codes = [f["code"] for f in result["layers"][0]["features"]]
    if apply_inquiry:
        assert codes == ["D"] and "plan_en_enquete_applique" in [w["code"] for w in result["warnings"]]
    else:
        assert codes == ["V"]
        (change,) = result["inquiry"]
        assert change["zoning_changed"] and [z["code"] for z in change["zones"]] == ["D"]
        assert "classerait ce terrain en zone D (100.0 %) au lieu de V (100.0 %)" in result["warnings"][0]["message"]


def test_a_plan_covering_part_of_the_land_is_partial_coverage():
    rows = [_row("zones", 10, 1, ZONE_V, shapely.box(X0 - 100, Y0 - 100, X0 + 36, Y0 + 100))]  # 90 % of the land
    result = _result(rows=rows, plans=({**PLAN, "covered_m2": 1800.0},))
    assert (result["layers"][0]["coverage"], result["layers"][0]["covered_pct"]) == ("partial", 90.0)
    assert [w["code"] for w in result["warnings"]] == ["couverture_partielle"]
    assert "Le zonage ne couvre que 90 % du terrain." in _plain(summary_text(result))
