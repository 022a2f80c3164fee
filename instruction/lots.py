"""Subdivision (lotissement) check, pure: lots and internal roads against the land and the zone rules."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from instruction.findings import geometry_json, r2
from instruction.permit import FAIL, NA, PASS, ZonePart, _rule


@dataclass(frozen=True)
class Lot:
    """A lot of the subdivision plan (EPSG:26191)."""

    id: str
    geom: BaseGeometry


def _frontage(lot: BaseGeometry, roads: BaseGeometry | None, tolerance_m: float,
              band: BaseGeometry | None = None) -> float:
    """Length of the lot's limit that runs along a road (within the tolerance).

    Only the pieces of limit that run along the road count: a side limit meeting the road enters the
    tolerance band too, for `tolerance_m` at each end of the façade, and must not lengthen it (a piece counts
    when its distance to the road changes by less than half its length: within 30° of the road's direction).
    `band` is `roads` buffered by the tolerance, when the caller has it already.
    """
    if roads is None or roads.is_empty:
        return 0.0
    ring = shapely.get_coordinates(lot.boundary)
    edges = shapely.linestrings(list(zip(ring[:-1], ring[1:], strict=True)))
    pieces = shapely.get_parts(shapely.intersection(edges, band if band is not None else roads.buffer(tolerance_m)))
    pieces = pieces[shapely.get_type_id(pieces) == 1]  # LineStrings (points where an edge only touches the band)
    if not len(pieces):
        return 0.0
    starts = shapely.distance(shapely.get_point(pieces, 0), roads)
    ends = shapely.distance(shapely.get_point(pieces, -1), roads)
    lengths = shapely.length(pieces)
    along = abs(ends - starts) < 0.5 * lengths
    return float(lengths[along].sum())


class _RoadsNear:
    """The roads around each lot, from a spatial index: each lot is measured against the few roads near it,
    not the union of every road of the subdivision (which made the check quadratic in the number of lots)."""

    def __init__(self, roads: list[BaseGeometry], tolerance_m: float) -> None:
        self.roads: np.ndarray = np.asarray(roads, dtype=object)
        self.tree = shapely.STRtree(roads)
        self.tolerance_m = tolerance_m

    def around(self, lot: BaseGeometry) -> tuple[BaseGeometry | None, BaseGeometry | None]:
        """(roads, band): the roads within reach of the lot, clipped to its surroundings, and their band."""
        margin = 2 * self.tolerance_m + 1.0  # every point of the lot within the tolerance of a road sees it whole
        x0, y0, x1, y1 = lot.bounds
        window = shapely.box(x0 - margin, y0 - margin, x1 + margin, y1 + margin)
        near = self.tree.query(window)
        if not len(near):
            return None, None
        local = shapely.union_all(shapely.intersection(self.roads[near], window))
        return local, local.buffer(self.tolerance_m)


def _best_parts(lots: list[Lot], parts: list[ZonePart]) -> list[ZonePart | None]:
    """The zone part holding the largest share of each lot (the first one on a tie, as `max` picks)."""
    if not parts:
        return [None] * len(lots)
    tree = shapely.STRtree([p.geom for p in parts])
    out: list[ZonePart | None] = []
    for lot in lots:
        areas = dict.fromkeys(range(len(parts)), 0.0)
        for k in tree.query(lot.geom):
            areas[int(k)] = shapely.intersection(lot.geom, parts[k].geom).area
        out.append(parts[max(areas, key=lambda k: (areas[k], -k))])
    return out


def check_lots(*, land: BaseGeometry, lots: list[Lot], internal_roads: list[BaseGeometry],
               existing_roads: list[BaseGeometry], green_spaces: list[BaseGeometry],
               facilities: list[BaseGeometry], parts: list[ZonePart], thresholds: dict) -> dict:
    """Global rules (inside, overlaps, unassigned, green share) and per-lot rules (area, frontage, access)."""
    tol = thresholds["geometry_tolerance_m"]
    area = land.area
    pieces = [(f"lot {lot.id}", lot.geom) for lot in lots] + [(f"voie {i + 1}", g) for i, g in enumerate(internal_roads)] \
        + [(f"espace vert {i + 1}", g) for i, g in enumerate(green_spaces)] \
        + [(f"équipement {i + 1}", g) for i, g in enumerate(facilities)]
    global_rules = []
    land_band = land.buffer(tol)
    outside = shapely.union_all([shapely.difference(g, land_band) for _, g in pieces]) if pieces else None
    bad_outside = outside is not None and outside.area > 0.01
    global_rules.append(_rule("inside_land", "lots et voies à l'intérieur du terrain", FAIL if bad_outside else PASS,
                              r2(outside.area if outside is not None else 0), 0, "m² hors du terrain",
                              geometry=outside if bad_outside else None))
    overlaps = []
    tree = shapely.STRtree([g for _, g in pieces])
    for i, j in zip(*tree.query([g for _, g in pieces], predicate="intersects"), strict=True):
        if i < j:
            hit = shapely.intersection(pieces[i][1], pieces[j][1])
            if hit.area > 0.01:
                overlaps.append((pieces[i][0], pieces[j][0], hit))
    union_overlaps = shapely.union_all([h for *_, h in overlaps]) if overlaps else None
    global_rules.append(_rule("no_overlap", "aucun chevauchement entre lots et voies", FAIL if overlaps else PASS,
                              r2(union_overlaps.area if union_overlaps is not None else 0), 0, "m²",
                              geometry=union_overlaps,
                              message="; ".join(f"{a} et {b} : {r2(h.area)} m²" for a, b, h in overlaps) or None))
    assigned = shapely.union_all([g for _, g in pieces]) if pieces else shapely.Polygon()
    left = shapely.difference(land, assigned.buffer(tol))
    global_rules.append(_rule("all_assigned", "tout le terrain est affecté (lots, voies, espaces verts, équipements)",
                              FAIL if left.area > 1.0 else PASS, r2(left.area), 1.0, "m² non affectés",
                              geometry=left if left.area > 1.0 else None))
    applies = area >= thresholds["subdivision_requirements_above_m2"]
    for key, label, geoms in (("green_space", "espaces verts", green_spaces), ("facilities", "équipements", facilities)):
        required = thresholds[f"subdivision_{key}_min_pct"]
        share = 100 * sum(g.area for g in geoms) / area if area else 0
        if not applies or not required:
            global_rules.append(_rule(f"{key}_share", f"part de {label}", NA, r2(share), required, "%",
                                      message=f"exigée au-delà de {thresholds['subdivision_requirements_above_m2']} m²"
                                      if not applies else "aucune part exigée"))
        else:
            global_rules.append(_rule(f"{key}_share", f"part de {label}", PASS if share >= required else FAIL,
                                      r2(share), required, "%"))
    all_roads = [g for g in internal_roads + existing_roads if g is not None]
    near = _RoadsNear(all_roads, tol) if all_roads else None
    lot_results = []
    for lot, best in zip(lots, _best_parts(lots, parts), strict=True):
        road_union, band = near.around(lot.geom) if near is not None else (None, None)
        params = best.rule["parameters"] if best else {}
        src = ({"plan": best.rule["zone"]["plan"], "zone": best.rule["zone"]["code"],
                "sector": best.rule["zone"]["sector"], "article": best.rule.get("article")} if best else None)
        rules = []
        min_area = params.get("min_plot_area_m2", {}).get("value")
        rules.append(_rule("area", "superficie minimale", NA if min_area is None else
                           (PASS if lot.geom.area + 1e-6 >= min_area else FAIL), r2(lot.geom.area), min_area, "m²", src))
        frontage = _frontage(lot.geom, road_union, tol, band)
        min_front = params.get("min_frontage_m", {}).get("value")
        rules.append(_rule("road_access", "accès à une voie", PASS if frontage > 0.5 else FAIL, r2(frontage), 0.5, "m",
                           src, message=None if frontage > 0.5 else "lot enclavé : aucune limite sur une voie"))
        rules.append(_rule("frontage", "façade minimale sur voie", NA if min_front is None else
                           (PASS if frontage + 1e-6 >= min_front else FAIL), r2(frontage), min_front, "m", src))
        statuses = {r["status"] for r in rules}
        lot_results.append({"id": lot.id, "area_m2": r2(lot.geom.area), "zone": src,
                            "status": FAIL if FAIL in statuses else PASS, "rules": rules,
                            "geometry": geometry_json(lot.geom)})
    return {"rules": global_rules, "lots": lot_results}
