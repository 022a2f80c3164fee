"""The near-linear limit classification and lot measures against obviously correct slow references.

The references are the former all-against-all loops, kept here: on random small lands and subdivisions the
new code must give the same limits, façades and zone for every lot.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from instruction.lots import Lot, _best_parts, _frontage, _RoadsNear
from instruction.permit import ZonePart, classify_limits, setback_strip


def _reference_segments(geom):
    out = []
    for poly in shapely.get_parts(geom):
        coords = np.asarray(poly.exterior.coords)
        out += [shapely.LineString(coords[i:i + 2]) for i in range(len(coords) - 1)
                if np.hypot(*(coords[i + 1] - coords[i])) > 1e-6]
    return out


def _angle(seg):
    (x0, y0), (x1, y1) = seg.coords
    return math.degrees(math.atan2(y1 - y0, x1 - x0)) % 180


def reference_classify(land, roads, tolerance_m):
    segs = _reference_segments(land)
    road_union = shapely.union_all(roads) if roads else None
    road = [s for s in segs if road_union is not None and
            road_union.distance(s.interpolate(0.5, normalized=True)) <= tolerance_m]
    others = [s for s in segs if s not in road]
    ends = [shapely.Point(c) for s in road for c in s.coords]
    side, rear = [], []
    for s in others:
        touches = any(shapely.Point(c).distance(e) <= tolerance_m for c in s.coords for e in ends)
        parallel = any(min(abs(_angle(s) - _angle(r)), 180 - abs(_angle(s) - _angle(r))) < 30 for r in road)
        (side if touches or not parallel else rear).append(s)
    return {"road": road, "side": side, "rear": rear}


def _random_land(rng, n):
    """A star-shaped polygon of n vertices around (50, 50), its south part near y = 0."""
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = rng.uniform(20, 50, n)
    return shapely.Polygon(np.column_stack([50 + radii * np.cos(angles), 50 + radii * np.sin(angles)]))


@pytest.mark.parametrize("seed", range(40))
def test_limits_are_classified_as_the_reference_does(seed):
    rng = np.random.default_rng(seed)
    land = _random_land(rng, int(rng.integers(4, 40)))
    roads = [shapely.box(-100, -20, 200, float(rng.uniform(-5, 15))),
             shapely.box(float(rng.uniform(80, 100)), -100, 200, 200)][: int(rng.integers(0, 3))]
    tol = float(rng.choice([0.5, 2.0, 5.0]))
    new, ref = classify_limits(land, roads, tol), reference_classify(land, roads, tol)
    for kind in ("road", "side", "rear"):
        assert [s.wkb for s in new[kind]] == [s.wkb for s in ref[kind]], kind


def test_a_setback_strip_is_every_point_within_the_width_of_a_run_of_limits():
    # an L-shaped run with a reflex corner: the corner's disc is part of the band, as the distance says
    run = shapely.MultiLineString([[(0, 0), (10, 0)], [(10, 0), (10, 10)]])
    strip = setback_strip(run, 3)
    assert strip.contains(shapely.Point(12, -2))  # 2.8 m from the corner
    assert not strip.contains(shapely.Point(-1, 1))  # beyond the run's end: cut square
    per_segment = shapely.union_all([shapely.LineString(s.coords).buffer(3, cap_style="flat") for s in run.geoms])
    assert strip.contains(per_segment.buffer(-1e-6))  # the former per-segment band is inside it


def _reference_frontage(lot, roads, tol):
    return _frontage(lot, shapely.union_all(roads) if roads else None, tol)


@pytest.mark.parametrize("seed", range(30))
def test_lots_get_the_reference_facade_and_zone(seed):
    rng = np.random.default_rng(100 + seed)
    lots = []
    for i in range(int(rng.integers(1, 30))):
        x, y = rng.uniform(0, 200, 2)
        lots.append(Lot(str(i), shapely.box(x, y, x + rng.uniform(5, 30), y + rng.uniform(5, 30))))
    roads = [shapely.box(x, y, x + rng.uniform(5, 120), y + rng.uniform(5, 120))
             for x, y in rng.uniform(0, 200, (int(rng.integers(0, 6)), 2))]
    roads += [shapely.box(0, y, 250, y + 8) for y in rng.uniform(0, 230, int(rng.integers(0, 4)))]
    tol = 0.05
    near = _RoadsNear(roads, tol) if roads else None
    for lot in lots:
        local, band = near.around(lot.geom) if near else (None, None)
        assert _frontage(lot.geom, local, tol, band) == pytest.approx(_reference_frontage(lot.geom, roads, tol),
                                                                      abs=1e-6)
    parts = [ZonePart({"zone": {"code": str(k)}}, shapely.box(*rng.uniform(0, 120, 2), *rng.uniform(120, 240, 2)))
             for k in range(int(rng.integers(0, 4)))]
    best = _best_parts(lots, parts)
    reference = [max(parts, key=lambda p, lot=lot: shapely.intersection(lot.geom, p.geom).area, default=None)
                 for lot in lots]
    assert [id(b) for b in best] == [id(r) for r in reference]
