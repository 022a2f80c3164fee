"""Hostile inputs of the checks: a land with thousands of vertices, a subdivision with a thousand lots.

Usage: .venv/bin/python bench/hostile.py [--vertices 100 1000 2400 10000] [--lots 10 100 1000] [--max-s 60]

Times the pure rule evaluation (`instruction.permit.check_permit`, `instruction.lots.check_lots`), which is
where the time went (the database part of a check does not depend on the vertex or lot count the same way):
- permit: a 40 m × 60 m land whose outline is digitised with N vertices (small jitter), fronting a road on
  its south side, and a footprint polygon inside it;
- subdivision: N lots of 12 m × 20 m in rows facing internal roads, on a land surveyed with a vertex a metre.
A size whose previous size took more than --max-s seconds is skipped (the growth is printed instead).
Run it before and after a change of the geometry code: same figures, same machine.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from instruction.lots import Lot, check_lots  # noqa: E402
from instruction.permit import Project, ZonePart, check_permit  # noqa: E402
from instruction.rules import Context, zone_rules  # noqa: E402

ZONE = {"code": "V", "sector": "V-1", "height_max_m": 11.5, "storeys_max": 2, "footprint_max_pct": 40,
        "cos_value": 0.8, "cos_meaning": "plancher", "min_plot_area_m2": 200, "min_frontage_m": 10,
        "setback_road_m": 4, "setback_side_m": 3, "setback_rear_m": 4, "uses_allowed": ["habitation"],
        "regulation_article": "7"}
THRESHOLDS = {"geometry_tolerance_m": 0.05, "subdivision_requirements_above_m2": 25_000,
              "subdivision_green_space_min_pct": 10, "subdivision_facilities_min_pct": 0}


def digitised_land(vertices: int, width_m: float = 40.0, height_m: float = 60.0, seed: int = 1) -> shapely.Polygon:
    """A rectangle whose outline has `vertices` evenly spaced vertices, each moved across the outline by up to
    a tenth of the spacing (a valid, noisy digitised outline)."""
    rng = np.random.default_rng(seed)
    per_side = max(1, vertices // 4)
    step_x, step_y = width_m / per_side, height_m / per_side
    t = np.arange(per_side) / per_side
    jx, jy = rng.uniform(-0.1, 0.1, (2, 4, per_side)) * np.array([[step_y], [step_x], [step_y], [step_x]])
    jitter = np.where(t == 0, 0.0, 1.0)
    south = np.column_stack([t * width_m, jx[0] * jitter])
    east = np.column_stack([width_m + jy[1] * jitter, t * height_m])
    north = np.column_stack([width_m * (1 - t), height_m + jx[2] * jitter])
    west = np.column_stack([jy[3] * jitter, height_m * (1 - t)])
    poly = shapely.Polygon(np.concatenate([south, east, north, west]))
    assert poly.is_valid, "the bench land must be valid (a check refuses invalid ones)"
    return poly


def _part(geom: shapely.Geometry) -> ZonePart:
    rule = {"zone": {"id": 1, "plan": "PA-1", "code": "V", "sector": "V-1", "label": None}, "marginal": False,
            **zone_rules(ZONE, Context(road_width_m=12.0, plot_area_m2=geom.area))}
    return ZonePart(rule, geom)


def permit_case(vertices: int) -> dict:
    """Arguments of check_permit for a digitised land of `vertices` vertices."""
    land = digitised_land(vertices)
    road = shapely.box(-50, -12, 90, 0)
    footprint = shapely.box(2, 3, 38, 40)  # too close to the road (3 < 4) and to the sides (2 < 3)
    return {"land": land, "parts": [_part(land)], "roads": [road], "constraints": [],
            "project": Project(use="habitation", storeys=2, height_m=10, floor_area_m2=900, footprint=footprint),
            "tolerance_m": 0.05, "road_tolerance_m": 0.5}


def lots_case(count: int) -> dict:
    """Arguments of check_lots for `count` lots in rows back to back, each row pair along an internal road."""
    cols = max(1, min(25, count))
    rows = math.ceil(count / cols)
    lots, roads = [], []
    y = 0.0
    for r in range(rows):
        if r % 2 == 0:  # a road under every pair of rows
            roads.append(shapely.box(0, y, cols * 12, y + 8))
            y += 8
        for c in range(cols):
            if len(lots) < count:
                lots.append(Lot(f"L{len(lots) + 1}", shapely.box(c * 12, y, c * 12 + 12, y + 20)))
        y += 20
    land = shapely.segmentize(shapely.box(0, 0, cols * 12, y), 1.0)  # a surveyed outline: a vertex a metre
    return {"land": land, "lots": lots, "internal_roads": roads, "existing_roads": [shapely.box(-20, -10, 400, 0)],
            "green_spaces": [], "facilities": [], "parts": [_part(land)], "thresholds": THRESHOLDS}


def _time(fn, kwargs: dict) -> float:
    start = time.perf_counter()
    fn(**kwargs)
    return time.perf_counter() - start


def main() -> None:
    """Print the time of each size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vertices", type=int, nargs="*", default=[100, 1000, 2400, 10000])
    parser.add_argument("--lots", type=int, nargs="*", default=[10, 100, 1000])
    parser.add_argument("--max-s", type=float, default=60.0)
    args = parser.parse_args()
    print("permit check (check_permit): land vertices → seconds")
    last = 0.0
    for n in args.vertices:
        if last > args.max_s:
            print(f"  {n:>6} vertices: skipped (the previous size took {last:.1f} s)")
            continue
        last = _time(check_permit, permit_case(n))
        print(f"  {n:>6} vertices: {last:8.3f} s", flush=True)
    print("subdivision check (check_lots): lots → seconds")
    last = 0.0
    for n in args.lots:
        if last > args.max_s:
            print(f"  {n:>6} lots: skipped (the previous size took {last:.1f} s)")
            continue
        last = _time(check_lots, lots_case(n))
        print(f"  {n:>6} lots: {last:8.3f} s", flush=True)


if __name__ == "__main__":
    main()
