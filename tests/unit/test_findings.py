"""instruction/findings.py, precedence.py, land.py, licence.py, summary.py: the pure helpers of the result."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import shapely

from gis.errors import Conflict, CRSError, GeometryError, InputError
from instruction import precedence
from instruction.findings import canonical_json, classify_plans, geometry_json, may_conflict, plan_summary, r2
from instruction.land import LandRequest, check_request, parse_geometry, parse_point, parse_refs
from instruction.licence import distance_rule, public_domain_rule
from instruction.permit import FAIL, PASS, UNKNOWN

X0, Y0 = 295_000.0, 332_000.0  # Casablanca in EPSG:26191


def _plan(pid, code, kind="PA", in_force=True, status="homologue", **extra):
    return {"id": pid, "code": code, "kind": kind, "name": f"Plan {code}", "in_force": in_force, "status_on": status,
            "replaces": None, **extra}


# ------------------------------------------------------------------------------------------ numbers, JSON
@pytest.mark.parametrize(("value", "out"), [(1.005, 1.0), (Decimal("2.345"), 2.35), (-0.001, 0.0), (None, None),
                                            (12, 12.0)])
def test_r2_rounds_to_the_hundredth(value, out):
    result = r2(value)
    assert result == out and (result is None or isinstance(result, float))
    if out == 0.0:
        assert str(result) == "0.0"  # never "-0.0" in a legal document


def test_canonical_json_is_sorted_compact_and_dates_are_iso():
    text = canonical_json({"b": 1, "a": {"d": date(2026, 1, 2), "c": "é"}})
    assert text == '{"a":{"c":"é","d":"2026-01-02"},"b":1}'


def test_geometry_json_rounds_to_the_millimetre_and_skips_empty():
    out = geometry_json(shapely.Point(1.23456, 2.98765))
    assert out == {"type": "Point", "coordinates": [1.235, 2.988]}
    assert geometry_json(shapely.Polygon()) is None and geometry_json(None) is None


# ------------------------------------------------------------------------------------------------ plans
def test_plans_are_split_into_applied_inquiry_and_sdau():
    plans = [_plan(1, "PA-2006"), _plan(2, "PA-2020", in_force=False, status="enquete_publique", replaces="PA-2006"),
             _plan(3, "SDAU", kind="SDAU"), _plan(4, "PA-1990", in_force=False, status="remplace")]
    groups = classify_plans(plans, apply_inquiry=False)
    assert [[p["code"] for p in groups[k]] for k in ("applied", "inquiry", "sdau")] == [["PA-2006"], ["PA-2020"],
                                                                                        ["SDAU"]]
    assert not may_conflict(plans, apply_inquiry=False)


def test_applying_a_plan_in_inquiry_sets_aside_the_one_it_replaces():
    plans = [_plan(1, "PA-2006"), _plan(2, "PA-2020", in_force=False, status="enquete_publique", replaces="PA-2006")]
    groups = classify_plans(plans, apply_inquiry=True)
    assert [p["code"] for p in groups["applied"]] == ["PA-2020"] and groups["inquiry"] == []


def test_plan_summary_labels_the_status_in_french():
    summary = plan_summary(_plan(1, "PA-2006", status_since=date(2006, 3, 1), valid_from=date(2006, 4, 1)))
    assert summary["status_label"] == "homologué"
    assert (summary["status_since"], summary["valid_from"]) == ("2006-03-01", "2006-04-01")


def test_the_later_act_wins_on_the_overlap():
    old = _plan(1, "PA-A", valid_from=date(2010, 1, 1))
    new = _plan(2, "PA-B", valid_from=date(2022, 3, 1))
    covers = {1: shapely.box(0, 0, 100, 100), 2: shapely.box(60, 0, 160, 100)}
    conflicts, yielded = precedence.resolve([old, new], covers)
    (conflict,) = conflicts
    assert (conflict.applied["code"], conflict.set_aside["code"]) == ("PA-B", "PA-A")
    assert conflict.overlap_m2 == pytest.approx(4000.0)
    assert list(yielded) == [1] and yielded[1].equals(shapely.box(60, 0, 100, 100))


def test_plans_in_force_the_same_day_on_the_same_ground_are_refused():
    a, b = _plan(1, "PA-A", valid_from=date(2020, 1, 1)), _plan(2, "PA-B", valid_from=date(2020, 1, 1))
    with pytest.raises(Conflict, match="PA-A et PA-B"):
        precedence.resolve([a, b], {1: shapely.box(0, 0, 10, 10), 2: shapely.box(5, 0, 15, 10)})


def test_plans_that_only_touch_do_not_conflict():
    a, b = _plan(1, "PA-A", valid_from=date(2020, 1, 1)), _plan(2, "PA-B", valid_from=date(2020, 1, 1))
    assert precedence.resolve([a, b], {1: shapely.box(0, 0, 10, 10), 2: shapely.box(10, 0, 20, 10)}) == ([], {})


# ------------------------------------------------------------------------------------------------- land
def _gj(geom):
    return json.loads(shapely.to_geojson(geom))


def test_one_way_of_designating_land():
    check_request(LandRequest(refs=("TF 1/C",)))
    for request in (LandRequest(), LandRequest(refs=("TF 1/C",), point=(-7.6, 33.6))):
        with pytest.raises(InputError, match="une seule façon"):
            check_request(request)


def test_untitled_land_cannot_be_looked_up_and_duplicates_merge():
    assert [str(r) for r in parse_refs(("TF 12/C", "T.F. 12-C", "R 5"))] == ["TF 12/C", "R 5"]
    with pytest.raises(InputError, match="non immatriculé"):
        parse_refs(("TF 12/C", "NI"))


def test_a_crs84_polygon_is_stored_in_26191():
    lonlat = shapely.box(-7.62, 33.59, -7.619, 33.591)  # about 93 m × 111 m
    geom = parse_geometry(_gj(lonlat), None, max_area_m2=1e6)
    assert 280_000 < geom.bounds[0] < 310_000
    assert geom.area == pytest.approx(10_300, rel=0.02)


@pytest.mark.parametrize(("geojson", "error", "message"), [
    ({"type": "Point", "coordinates": [X0, Y0]}, GeometryError, "polygone"),
    ({"type": "Polygon", "coordinates": []}, GeometryError, "vide"),
    (_gj(shapely.Polygon([(X0, Y0), (X0 + 10, Y0 + 10), (X0 + 10, Y0), (X0, Y0 + 10)])), GeometryError, "auto-intersection"),
    ("POLYGON((0 0, 1 0, 1 1, 0 0))", GeometryError, "GeoJSON attendue"),
    (_gj(shapely.box(X0, Y0, X0 + 2000, Y0 + 2000)), InputError, "au-delà de la limite"),
    (_gj(shapely.box(-7.62, 33.59, -7.619, 33.591)), CRSError, "degrés"),  # degrees declared as EPSG:26191
])
def test_bad_land_geometries_say_what_to_fix(geojson, error, message):
    with pytest.raises(error, match=message):
        parse_geometry(geojson, "EPSG:26191", max_area_m2=1e6)


def test_a_point_is_read_lon_lat_and_checked():
    point = parse_point((-7.6187, 33.5928), None)
    assert 280_000 < point.x < 310_000 and 320_000 < point.y < 350_000
    with pytest.raises(CRSError, match="hors du Maroc|hors du domaine"):
        parse_point((33.5928, -7.6187), None)  # lat, lon swapped
    with pytest.raises(GeometryError, match="deux nombres"):
        parse_point(None, None)
    with pytest.raises(GeometryError, match="deux nombres"):
        parse_point(("a", "b"), None)


# ---------------------------------------------------------------------------------------------- licence
RULE = {"kind": "pharmacy", "min_m": 300, "source": "arrêté 2-05"}


def _near(distance, status="ouvert", filed_at=None):
    return {"id": 1, "name": "Pharmacie", "status": status, "distance_m": distance, "filed_at": filed_at}


def test_an_open_establishment_too_close_fails():
    rule = distance_rule(RULE, [_near(280.0)], "straight", None, 3)
    assert (rule["status"], rule["measured"], rule["limit"]) == (FAIL, 280.0, 300)
    assert rule["nearest"][0]["distance_m"] == 280.0


def test_between_two_pending_requests_the_earlier_filing_wins():
    them = datetime(2026, 2, 1, 9, tzinfo=UTC)
    pending = [_near(100.0, status="demande", filed_at=them)]
    assert distance_rule(RULE, pending, "straight", "2026-01-15T10:00:00+00:00", 3)["status"] == PASS
    assert distance_rule(RULE, pending, "straight", "2026-03-01T10:00:00+00:00", 3)["status"] == FAIL
    assert distance_rule(RULE, pending, "straight", None, 3)["status"] == UNKNOWN
    with pytest.raises(InputError, match="ISO 8601"):
        distance_rule(RULE, pending, "straight", "hier", 3)


def test_walking_distance_is_not_guessed():
    assert distance_rule(RULE, [_near(500.0)], "walking", None, 3)["status"] == UNKNOWN


def test_public_domain_share():
    assert public_domain_rule(1.0)["status"] == PASS
    assert (public_domain_rule(0.5)["status"], public_domain_rule(0.5)["measured"]) == (FAIL, 50.0)
