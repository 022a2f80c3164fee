"""instruction/envelope.py without a database: compute_envelope on hand-made lands, roads and rules (x, y are metres
from X0, Y0; each answer worked out in the comments), and envelope_output."""

from __future__ import annotations

import pytest
import shapely
from shapely.geometry import shape

from gis.errors import CRSError
from instruction.envelope import Assumptions, Part, Road, compute_envelope, envelope_limits, envelope_output
from instruction.rules import Context, zone_rules
from tests.helpers import X0, Y0, box

SOUTH = Road(box(-100, -20, 300, 20), 20.0, "Rue sud")
VILLA = {"code": "V", "height_max_m": 11.5, "storeys_max": 2, "footprint_max_pct": 60, "cos_value": 1.2,
         "cos_meaning": "plancher", "setback_road_m": 4, "setback_side_m": 3, "setback_rear_m": 3}


def _part(spec: dict, geom: shapely.Geometry, land_area: float, road_m: float | None = 20.0, marginal: bool = False,
          zone_id: int = 1) -> Part:
    rule = {"zone": {"id": zone_id, "plan": "PA", "code": spec["code"], "sector": None, "label": None},
            "area_m2": geom.area, "share_pct": 100.0 * geom.area / land_area, "marginal": marginal,
            **zone_rules(spec, Context(road_m, land_area))}
    return Part(rule, geom)


def _envelope(land, parts, roads=(SOUTH,), constraints=(), **assumed) -> dict:
    return compute_envelope(land=land, parts=list(parts), roads=list(roads), constraints=list(constraints),
                            road_tolerance_m=1.0, assumptions=Assumptions(**assumed))


def _same(geojson: dict, expected: shapely.Geometry) -> bool:
    return shapely.normalize(shape(geojson)).equals_exact(shapely.normalize(expected), 1e-3)


def test_the_20_by_30_land_is_14_by_23():
    # road 4, side 3 and rear 3: x 3–17, y 4–27 → 14 × 23 = 322 m²
    land = box(0, 0, 20, 30)
    out = _envelope(land, [_part(VILLA, land, 600)])
    assert _same(out["parts"][0]["geometry"], box(3, 4, 14, 23)) and out["totals"]["buildable_area_m2"] == 322.0


def test_a_land_with_no_limit_on_a_road_gets_the_larger_setback_everywhere():
    # no road: every limit is unclassified and gets max(side 3, rear 5) = 5 → (20 − 10) × (30 − 10) = 200 m²
    land = box(0, 0, 20, 30)
    spec = {**VILLA, "setback_rear_m": 5}
    out = _envelope(land, [_part(spec, land, 600, road_m=None)], roads=())
    (part,) = out["parts"]
    assert _same(part["geometry"], box(5, 5, 10, 20))
    assert "sans_limite_sur_voie" in {r["code"] for r in part["reasons"]} and out["limits"]["ambiguous_m"] == 100.0
    # with a minimum frontage, a land on no road is not buildable at all (frontage 0 m)
    out = _envelope(land, [_part({**spec, "min_frontage_m": 10}, land, 600, road_m=None)], roads=())
    assert not out["buildable"] and "sous_facade_minimale" in {r["code"] for r in out["reasons"]}


def test_a_green_space_across_the_land_leaves_two_pieces_both_kept():
    # green space y 14–16 (40 m²): pieces x 3–17 × y 4–14 (140 m²) and y 16–27 (154 m²)
    land = box(0, 0, 20, 30)
    green = ("green_space", "Espace vert EV 3", box(0, 14, 20, 2))
    out = _envelope(land, [_part(VILLA, land, 600)], constraints=[green])
    (part,) = out["parts"]
    assert (part["pieces"], part["pieces_m2"], part["buildable_area_m2"]) == (2, [154.0, 140.0], 294.0)
    assert part["deductions"][0]["area_m2"] == 40.0 and part["net_area_m2"] == 560.0
    why = next(r for r in part["reasons"] if r["code"] == "plusieurs_morceaux")
    assert "Espace vert EV 3" in why["message"]
    assert _same(part["geometry"], shapely.union(box(3, 4, 14, 10), box(3, 16, 14, 11)))


def test_a_cos_meaning_footprint_caps_the_footprint_not_the_floor_area():
    # COS 0.3 « emprise » on 600 m²: footprint min(322, 60 % = 360, 0.3 × 600 = 180) = 180; no floor-area ratio:
    # floor area = 180 × 3 levels = 540
    land = box(0, 0, 20, 30)
    spec = {**VILLA, "cos_value": 0.3, "cos_meaning": "emprise"}
    (part,) = _envelope(land, [_part(spec, land, 600)])["parts"]
    assert (part["footprint"]["max_m2"], part["footprint"]["binding"]) == (180.0, "cos")
    assert (part["floor_area"]["max_m2"], part["floor_area"]["binding"]) == (540.0, "footprint_x_levels")


def test_no_density_rule_leaves_the_floor_area_unknown_not_zero():
    land = box(0, 0, 20, 30)
    spec = {"code": "X", "footprint_max_pct": 50}
    out = _envelope(land, [_part(spec, land, 600)])
    assert out["parts"][0]["floor_area"]["binding"] == "none" and out["totals"]["max_floor_area_m2"] is None
    assert out["buildable"] and out["totals"]["max_footprint_m2"] == 300.0


def test_a_zone_with_no_level_is_not_buildable():
    land = box(0, 0, 20, 30)
    out = _envelope(land, [_part({"code": "ZV", "height_max_m": 0, "storeys_max": 0}, land, 600)])
    assert not out["buildable"] and "aucun_niveau" in {r["code"] for r in out["reasons"]}


def test_a_marginal_zone_part_is_reported_not_counted():
    # zone V on x 0–19.5, a 0.5 m sliver of zone D on x 19.5–20 (15 m²): totals are V's alone
    land = box(0, 0, 20, 30)
    v = _part(VILLA, box(0, 0, 19.5, 30), 600)
    d = _part({**VILLA, "code": "D", "setback_side_m": 0}, box(19.5, 0, 0.5, 30), 600, marginal=True, zone_id=2)
    out = _envelope(land, [v, d])
    # D has no side setback: its sliver keeps x 19.5–20 × y 4–27 = 11.5 m², its own rules; V keeps x 3–17 (322 m²)
    assert out["parts"][1]["marginal"] and out["parts"][1]["buildable_area_m2"] == 11.5
    assert out["totals"]["buildable_area_m2"] == out["parts"][0]["buildable_area_m2"] == 322.0


def test_limits_at_45_degrees_off_the_road_limits_are_ambiguous():
    land = shapely.Polygon([(X0 + x, Y0 + y) for x, y in ((0, 0), (20, 0), (20, 10), (10, 20), (0, 20))])
    limits = envelope_limits(land, [SOUTH.geom], 1.0)
    assert [len(limits[k]) for k in ("road", "side", "rear", "ambiguous")] == [1, 2, 1, 1]
    (odd,) = limits["ambiguous"]
    assert sorted(odd.coords) == [(X0 + 10, Y0 + 20), (X0 + 20, Y0 + 10)]


def test_output_in_another_crs_keeps_the_areas_measured_in_merchich():
    land = box(0, 0, 20, 30)
    out = _envelope(land, [_part(VILLA, land, 600)])
    moved = envelope_output(out, "EPSG:4326")
    assert moved["crs"] == "EPSG:4326" and moved["totals"] == out["totals"]
    lon, lat = shape(moved["geometry"]).exterior.coords[0]
    assert -8 < lon < -7 and 33 < lat < 34
    assert envelope_output(out, "EPSG:26191") is out and envelope_output(out, None) is out
    with pytest.raises(CRSError, match="système de coordonnées inconnu"):
        envelope_output(out, "EPSG:999999")
    with pytest.raises(CRSError, match="output_crs"):
        envelope_output(out, " ")
