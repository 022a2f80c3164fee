"""instruction/envelope.py without a database: compute_envelope on hand-made lands, roads and rules (x, y are metres
from X0, Y0; each answer worked out in the comments), and envelope_output."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from gis.errors import CRSError, LandTooLarge
from instruction.envelope import (
    Assumptions,
    Limits,
    Part,
    Road,
    check_size,
    compute_envelope,
    envelope_limits,
    envelope_output,
    output_crs,
    too_large,
)
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


# ------------------------------------------------------------------------------------ found in review (issue 15)
def test_a_land_past_the_envelope_limits_is_refused_with_its_figures():
    # S2: 20 × 30 = 600 m² and 5 coordinates (the ring closes on its first vertex)
    land = box(0, 0, 20, 30)
    assert too_large(land, Limits()) is None and too_large(land, Limits(600.0, 5)) is None
    with pytest.raises(LandTooLarge, match="terrain trop grand pour une enveloppe : 0,06 ha, au-delà de 0,05 ha "
                                           r"\(URBASIG_ENVELOPE_MAX_AREA_M2\)") as caught:
        check_size(land, Limits(max_area_m2=500.0))
    assert caught.value.status == 400
    assert caught.value.detail == {"area_m2": 600.0, "vertices": 5, "max_area_m2": 500.0, "max_vertices": 2000}
    assert "5 sommets, au-delà de 4 (URBASIG_ENVELOPE_MAX_VERTICES)" in too_large(land, Limits(max_vertices=4))


def test_the_bands_of_a_many_vertex_land_are_those_of_its_limits():
    # S2: the limits are buffered as merged runs (one ring here), not segment by segment: the ground left is the
    # ground 3 m or more from every limit. A 400-gon of radius 50 on no road: every limit gets max(side 3, rear 3)
    ring = [(X0 + 50 * math.cos(a), Y0 + 50 * math.sin(a)) for a in np.linspace(0, 2 * math.pi, 400, endpoint=False)]
    land = shapely.Polygon(ring)
    out = _envelope(land, [_part(VILLA, land, land.area, road_m=None)], roads=())
    (part,) = out["parts"]
    inner = land.buffer(-3.0, quad_segs=16)  # the points of the land 3 m or more from its outline
    assert part["pieces"] == 1 and part["buildable_area_m2"] == pytest.approx(inner.area, rel=1e-4)
    assert shape(part["geometry"]).distance(land.exterior) == pytest.approx(3.0, abs=0.01)


@pytest.mark.parametrize(("crs", "kind"), [("EPSG:4978", "géocentrique"), ("EPSG:4979", "géographique à trois"),
                                           ("EPSG:5773", "vertical"), ("EPSG:26191+5773", "composé")])
def test_output_crs_refuses_what_is_not_a_2d_projected_or_geographic_crs(crs, kind):
    # S6: a geocentric CRS was accepted (its polygons written as X, Y of the Earth's centre)
    with pytest.raises(CRSError, match=f"output_crs : .* est un SCR {kind}"):
        output_crs(crs)


@pytest.mark.parametrize("crs", ["EPSG:26191", "EPSG:4326", "OGC:CRS84", "EPSG:3857", "EPSG:4261", "EPSG:32629"])
def test_output_crs_accepts_2d_projected_and_geographic_crss(crs):
    assert output_crs(crs) is not None


def test_a_road_in_two_features_along_one_limit_is_one_road_not_a_corner():
    # C6: Rue sud digitised in two features meeting at x = 8, under the land's south limit (which has a vertex at
    # x = 10, so each feature fronts one of its two segments): one road, the land is no corner; the envelope is
    # the 20 × 30 land's, x 3–17 × y 4–27
    land = shapely.Polygon([(X0, Y0), (X0 + 10, Y0), (X0 + 20, Y0), (X0 + 20, Y0 + 30), (X0, Y0 + 30)])
    west, east = Road(box(-100, -20, 108, 20), 20.0, "Rue sud"), Road(box(8, -20, 292, 20), 20.0, "Rue sud")
    out = _envelope(land, [_part(VILLA, land, 600)], roads=(west, east))
    assert not out["limits"]["corner"] and "terrain_d_angle" not in {r["code"] for r in out["reasons"]}
    assert _same(out["parts"][0]["geometry"], box(3, 4, 14, 23))
    # a road polygon split lengthwise in two touching halves (two carriageways) is one road as well
    halves = (Road(box(-100, -20, 400, 10), 20.0), Road(box(-100, -10, 400, 10), 20.0))
    assert not _envelope(land, [_part(VILLA, land, 600)], roads=halves)["limits"]["corner"]
    # a second road on the east limit (touching Rue sud at the corner, at right angles): a corner land
    avenue = Road(box(20, -20, 12, 200), 12.0, "Avenue")
    corner = _envelope(land, [_part(VILLA, land, 600)], roads=(west, east, avenue))
    assert corner["limits"]["corner"] and "terrain d'angle sur 2 voies" in corner["reasons"][0]["message"]


def test_a_split_land_is_buildable_by_its_buildable_part_alone_and_says_which():
    # C1: the 20 × 30 land (600 m²) in zone V on x 0–10 and zone G on x 10–20, G asking 1 000 m² a plot (same
    # setbacks as V). V's part: x 3–10 × y 4–27 = 7 × 23 = 161 m²; footprint min(161, 60 % × 300 = 180) = 161;
    # floor area min(COS 1.2 × 300 = 360, 161 × 3 levels = 483) = 360. G's part has x 10–17 × y 4–27 = 161 m² of
    # ground but the land is under its minimum plot area: it adds nothing. Totals: V's alone, 161 m² of buildable
    # ground (the area of the land's polygon), not 322.
    land = box(0, 0, 20, 30)
    v = _part(VILLA, box(0, 0, 10, 30), 600)
    g = _part({**VILLA, "code": "G", "min_plot_area_m2": 1000}, box(10, 0, 10, 30), 600, zone_id=2)
    out = _envelope(land, [v, g])
    pv, pg = out["parts"]
    assert pv["governs"] and pg["governs"] and pv["buildable"] and not pg["buildable"]
    assert (pv["buildable_area_m2"], pg["buildable_area_m2"]) == (161.0, 161.0)
    assert out["buildable"] and out["totals"] == {"land_area_m2": 600.0, "buildable_area_m2": 161.0,
                                                  "max_footprint_m2": 161.0, "max_floor_area_m2": 360.0}
    assert shape(out["geometry"]).area == pytest.approx(161.0)
    (why,) = [r for r in out["reasons"] if r["code"] == "partie_non_constructible"]
    assert why["message"].startswith("terrain constructible par sa partie en zone V (300 m²) ; sa partie en zone G "
                                     "(300 m²) : terrain de 600 m², sous la superficie minimale de 1\u00a0000 m²")
