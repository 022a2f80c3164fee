"""The buildable envelope of a land, per zone part: what can be built here and which rule binds.

Pure geometry and rules (`compute_envelope`) fed by an instruction result with its geometries
(`envelope_of`), or from a land request (`envelope`). Per zone part:

1. the part, minus the planned roads (widening strips, new roads), reservations, green spaces and
   no-build areas crossing it (each deduction named with its m²);
2. minus the setback bands, each the ground within the setback's distance of what it is measured from:
   - road: the land's limits on a road, the existing road polygons and the planned roads (so where a widening
     applies, the setback runs from the alignment, the strip's inner edge; a corner land gets it along both
     roads);
   - side: the side limits (`instruction.permit.classify_limits`), none in continuous-frontage zones, which
     build on them;
   - rear: the rear limits;
   - limits neither clearly side nor rear (not meeting a road limit, at 30°–60° to every one), or every limit
     when none is on a road: the larger of the side and rear setbacks (conservative; said in `reasons`);
3. the buildable footprint polygon (possibly empty or in several pieces: each piece kept, and why said);
4. max footprint = min(buildable area, footprint % × area, COS/CUS « emprise » × area); height and storeys as
   the zone's rules give them with their conditions applied (H ≤ L + R among them, rules.FORMULAS); levels =
   min(R+n + 1, height ÷ storey height); max floor area = min(COS/CUS « plancher » × area, max footprint ×
   levels); each value with the rule that binds it; minimum plot area and frontage checked.

"area" is the zone part's area (gross) or its area net of the deductions, as `Assumptions.ratio_area` says.
The land's verdict and totals come from the parts that govern it (not marginal slivers): the land is buildable
when one of them is, and only the buildable ones count in its totals (a part under its zone's minimum plot area
adds nothing; `partie_non_constructible` names it).

Bounded work: a land over `Limits` (area, vertices: settings URBASIG_ENVELOPE_MAX_*) is refused before any
geometry is computed (`LandTooLarge`, a 400 in French); within them the cost is near-linear in the vertices (the
limits are buffered as merged runs, the side limits meeting a road are found with a spatial index).
Output schema: `urbasig/envelope/1` (instruction/schema/envelope.schema.json).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from gis.crs import STORAGE_SRID, crs_label, parse_crs, reproject
from gis.errors import CRSError, LandTooLarge
from gis.l10n import number
from instruction.findings import geometry_json, r2
from instruction.permit import _angle, _near_any_angle, classify_limits
from instruction.rules import FORMULAS, Context, zone_rules

if TYPE_CHECKING:
    from datetime import date

    import psycopg
    from pyproj import CRS

    from instruction.engine import Instructed, Options
    from instruction.land import LandRequest

ENVELOPE_SCHEMA = "urbasig/envelope/1"
DEDUCTED_KINDS = {"road_widening": "élargissement de voie", "new_road": "voie projetée",
                  "facility_reservation": "réserve pour équipement public", "green_space": "espace vert",
                  "non_aedificandi": "zone non aedificandi"}
PLANNED_ROAD_KINDS = ("road_widening", "new_road")
NOISE_M2 = 0.01  # pieces smaller than this are digitising noise, not buildable ground
AMBIGUOUS_DEG = (30.0, 60.0)  # a limit off every road limit at this angle to them is neither side nor rear
CRS_KINDS = {"Geocentric CRS": "géocentrique", "Geographic 3D CRS": "géographique à trois dimensions",
             "Vertical CRS": "vertical", "Compound CRS": "composé (avec une altitude)",
             "Engineering CRS": "local (ingénierie)"}  # pyproj's type names of the CRSs output_crs refuses
SAME_ROAD_DEG = 30.0  # road features that touch and front limits this close in direction are one road
RATIO_AREAS = ("gross", "net")
PART_BLOCKING = ("sous_surface_minimale", "sous_facade_minimale", "emprise_vide", "aucun_niveau")
FOOTPRINT_LABELS = {"buildable_area": "surface constructible (après déductions et reculs)",
                    "footprint_max_pct": "emprise au sol maximale (%)", "cos": "COS (emprise)", "cus": "CUS (emprise)"}
HEIGHT_LABELS = {"height_max_m": "hauteur maximale de la zone", "storeys_max": "nombre de niveaux (R+n)",
                 **{name: label for name, (_, label) in FORMULAS.items()}}
FLOOR_LABELS = {"cos": "COS (surface de plancher)", "cus": "CUS (surface de plancher)",
                "footprint_x_levels": "emprise maximale × nombre de niveaux", "none": "aucune règle de densité"}


@dataclass(frozen=True)
class Road:
    """A road the land fronts (existing, from the roads layer) or a planned one (a prescription)."""

    geom: BaseGeometry
    width_m: float | None = None
    name: str | None = None
    planned: bool = False


@dataclass(frozen=True)
class Part:
    """A zone's effective rules (an entry of the instruction result's `rules`) and its part of the land."""

    rule: dict
    geom: BaseGeometry


@dataclass(frozen=True)
class Assumptions:
    """Choices the regulations leave open (settings URBASIG_ENVELOPE_*), recorded with every envelope."""

    storey_height_m: float = 3.0  # floor to floor: converts a height in metres into a number of levels
    ratio_area: str = "gross"  # what footprint %, COS and CUS multiply: the zone part's gross area, or net

    def describe(self) -> dict:
        """The assumptions as the result records them."""
        return {"storey_height_m": self.storey_height_m, "ratio_area": self.ratio_area,
                "ambiguous_limits": "max(side_m, rear_m)", "road_width": "planned width where a widening applies"}


@dataclass(frozen=True)
class Limits:
    """The envelope's own bound of work (settings URBASIG_ENVELOPE_MAX_AREA_M2, _MAX_VERTICES): a land past them
    gets no envelope. An envelope is a building land's: a large lotissement is a few hectares."""

    max_area_m2: float = 200_000.0
    max_vertices: int = 2_000

    def describe(self) -> dict:
        """The limits as a result records them."""
        return {"max_area_m2": self.max_area_m2, "max_vertices": self.max_vertices}


def size_of(land: BaseGeometry) -> dict:
    """What the limits are checked against: the land's area (m²) and its vertices."""
    return {"area_m2": r2(land.area), "vertices": int(shapely.get_num_coordinates(land))}


def too_large(land: BaseGeometry, limits: Limits) -> str | None:
    """Why the land is too large for an envelope (in French), or None when it is within the limits."""
    size = size_of(land)
    over = []
    if size["area_m2"] > limits.max_area_m2:
        over.append(f"{_m(r2(size['area_m2'] / 1e4))} ha, au-delà de {_m(limits.max_area_m2 / 1e4)} ha "
                    "(URBASIG_ENVELOPE_MAX_AREA_M2)")
    if size["vertices"] > limits.max_vertices:
        over.append(f"{_m(size['vertices'])} sommets, au-delà de {_m(limits.max_vertices)} "
                    "(URBASIG_ENVELOPE_MAX_VERTICES)")
    if not over:
        return None
    return (f"terrain trop grand pour une enveloppe : {' ; '.join(over)} — l'enveloppe se calcule pour un terrain à "
            "bâtir : désignez-en une partie (moins de titres, ou un contour plus petit ou simplifié)")


def check_size(land: BaseGeometry, limits: Limits) -> None:
    """Refuse (400) a land past the envelope's limits, before any of its geometry is computed."""
    message = too_large(land, limits)
    if message:
        raise LandTooLarge(message, detail={**size_of(land), **limits.describe()})


def _reason(code: str, message: str) -> dict:
    return {"code": code, "message": message}


def _param(rule: dict, key: str) -> float | None:
    value = rule["parameters"].get(key, {}).get("value")
    return None if value is None else float(value)


def _lines(segments: list) -> BaseGeometry:
    """The limits as lines, contiguous ones merged into runs: buffering thousands of separate segments and uniting
    their bands grew quadratically (20 s for one band of a 10,000-vertex land), one run is near-linear."""
    return shapely.line_merge(shapely.multilinestrings(segments))


def _union(geoms: list[BaseGeometry]) -> BaseGeometry:
    """The union of valid geometries (one needs none: most lands have one zone, one band, one piece)."""
    return geoms[0] if len(geoms) == 1 else shapely.union_all(geoms)


def _pieces(geom: BaseGeometry) -> list[BaseGeometry]:
    polys = [g for g in shapely.get_parts(geom) if g.geom_type == "Polygon" and g.area > NOISE_M2]
    return sorted(polys, key=lambda g: (-g.area, g.bounds))


def _m(value: float | None) -> str:
    """A number as a French message writes it (600, 1 234,5): never « 600.0 »."""
    return "—" if value is None else number(value, "fr", trim=True)


# ------------------------------------------------------------------------------------ limits of the land
def envelope_limits(land: BaseGeometry, roads: list[BaseGeometry], tolerance_m: float) -> dict[str, list]:
    """`classify_limits`, with the limits it cannot tell apart set aside as `ambiguous`.

    A side limit that meets a road limit is clearly a side limit; a rear limit is roughly parallel (< 30°) to a
    road limit. The others are side limits for `classify_limits`; those at 30°–60° to every road limit are
    ambiguous here, and so is every limit of a land with no limit on a road.
    """
    limits = classify_limits(land, roads, tolerance_m)
    if not limits["road"]:
        return {"road": [], "side": [], "rear": [], "ambiguous": limits["side"] + limits["rear"]}
    if not limits["side"]:
        return {**limits, "ambiguous": []}
    sides = np.array(limits["side"], dtype=object)
    near = np.zeros(len(sides), dtype=bool)  # meets a road limit: a spatial index, not every pair of limits
    near[shapely.STRtree(limits["road"]).query(sides, predicate="dwithin", distance=tolerance_m)[0]] = True
    road_angles = [_angle(r) for r in limits["road"]]
    angles = [_angle(s) for s in limits["side"]]
    low = _near_any_angle(angles, road_angles, AMBIGUOUS_DEG[0])
    high = _near_any_angle(angles, road_angles, AMBIGUOUS_DEG[1])
    side: list[shapely.LineString] = []
    ambiguous: list[shapely.LineString] = []
    for seg, meets, under_low, under_high in zip(limits["side"], near, low, high, strict=True):
        (ambiguous if not meets and under_high and not under_low else side).append(seg)
    return {**limits, "side": side, "ambiguous": ambiguous}


def _band(geom: BaseGeometry | None, width_m: float | None) -> BaseGeometry | None:
    """Every point within `width_m` of `geom` (round ends: the distance the permit check measures)."""
    if geom is None or geom.is_empty or not width_m or width_m <= 0:
        return None
    return geom.buffer(width_m, quad_segs=16)  # a quarter circle in 16 chords: within 0.03 m² of a 6 m arc


# ------------------------------------------------------------------------------------ rules of one part
def _footprint(rule: dict, buildable_area: float, area: float) -> tuple[float, str, dict]:
    """Max footprint: min(buildable area, footprint % × area, COS/CUS « emprise » × area)."""
    candidates = [(buildable_area, "buildable_area")]
    pct = _param(rule, "footprint_max_pct")
    if pct is not None:
        candidates.append((pct / 100 * area, "footprint_max_pct"))
    for key in ("cos_value", "cus_value"):
        entry = rule["parameters"].get(key)
        if entry and entry.get("meaning") == "emprise":
            candidates.append((float(entry["value"]) * area, key[:3]))
    value, binding = min(candidates, key=lambda c: c[0])
    return value, binding, {b: r2(v) for v, b in candidates}


def _height(rule: dict, storey_height_m: float) -> dict:
    """Height, storeys and levels (R+n is n + 1 levels; a height gives floor(height ÷ storey height) levels)."""
    entry = rule["parameters"].get("height_max_m", {})
    height = _param(rule, "height_max_m")
    storeys = rule["parameters"].get("storeys_max", {}).get("value")
    by_storeys = int(storeys) + 1 if storeys is not None else None
    by_height = int(math.floor(height / storey_height_m + 1e-9)) if height is not None else None
    options = [(v, k) for v, k in ((by_storeys, "storeys_max"), (by_height, "height_max_m")) if v is not None]
    levels, levels_binding = min(options, key=lambda o: o[0]) if options else (None, None)  # a tie: R+n
    binding = None if height is None else (entry.get("formula") or "height_max_m")
    return {"max_m": height, "base_m": entry.get("base_value"), "binding": binding,
            "binding_label": HEIGHT_LABELS.get(binding) if binding else None, "storeys_max": storeys,
            "levels": levels, "levels_binding": levels_binding, "levels_by_height": by_height,
            "rule": entry.get("condition"), "article": entry.get("article")}


def _floor_area(rule: dict, area: float, footprint: float, levels: int | None) -> tuple[float | None, str, dict]:
    """Max floor area: min(COS/CUS « plancher » × area, footprint × levels), with the binding rule."""
    candidates: list[tuple[float, str, str]] = []
    for key, name in (("cos_value", "COS"), ("cus_value", "CUS")):
        entry = rule["parameters"].get(key)
        if entry and entry.get("meaning") == "plancher":
            candidates.append((float(entry["value"]) * area, key[:3], f"{name} {_m(entry['value'])} × {_m(r2(area))} m²"))
    if levels is not None:
        candidates.append((footprint * levels, "footprint_x_levels", f"emprise {_m(r2(footprint))} m² × {levels} niveaux"))
    if not candidates:
        return None, "none", {"how": "ni COS/CUS de plancher ni nombre de niveaux dans le règlement", "candidates": {}}
    value, binding, how = min(candidates, key=lambda c: c[0])
    return value, binding, {"how": how, "candidates": {b: r2(v) for v, b, _ in candidates}}


@dataclass(frozen=True)
class _Bands:
    """What the setbacks are measured from, the same for every part of the land, and the bands already drawn."""

    road: list[BaseGeometry]  # road limits, road polygons near the land and planned roads
    limits: dict[str, list]
    lines: dict[str, BaseGeometry | None]  # side, rear, ambiguous: the limits merged into runs
    drawn: dict[tuple, BaseGeometry | None]  # (what, width, near): parts of the same setbacks share a band

    @classmethod
    def of(cls, road: list[BaseGeometry], limits: dict[str, list]) -> _Bands:
        """The bands of a land's limits (merged once, drawn when a part needs them)."""
        lines = {kind: _lines(limits[kind]) if limits[kind] else None for kind in ("side", "rear", "ambiguous")}
        return cls(road, limits, lines, {})

    def band(self, what: str, width_m: float | None,
             near: tuple[float, float, float, float] | None = None) -> BaseGeometry | None:
        """The ground within `width_m` of the road (`what` = "road") or of the side, rear or ambiguous limits; with
        `near` (a zone part's box), only what is drawn from within `width_m` of it: a land split into many zone parts
        buffered every limit and united every band for each part (13 s for 39 parts of a 10,000-vertex land)."""
        key = (what, float(width_m or 0.0), near)
        if key not in self.drawn:
            sources = self.road if what == "road" else [g for g in (self.lines[what],) if g is not None]
            if near is not None and width_m:
                sources = [g for g in (_near(g, near, width_m + 1.0) for g in sources) if not g.is_empty]
            self.drawn[key] = _band(_union(sources) if sources else None, width_m)
        return self.drawn[key]


def _near(geom: BaseGeometry, bounds: tuple[float, float, float, float], pad_m: float) -> BaseGeometry:
    """What of `geom` lies in the box `bounds` widened by `pad_m` (lines cut by the fast rectangle clip, polygons by
    an overlay, whose output is valid)."""
    x0, y0, x1, y1 = bounds
    box = (x0 - pad_m, y0 - pad_m, x1 + pad_m, y1 + pad_m)
    if shapely.get_dimensions(geom) == 1:
        return shapely.clip_by_rect(geom, *box)
    return shapely.intersection(geom, shapely.box(*box))


def _setback_bands(rule: dict, bands: _Bands, near: tuple[float, float, float, float] | None = None
                   ) -> tuple[dict, list[BaseGeometry], list[dict]]:
    """The setbacks of a zone, the bands they take (near the box `near` when given), and what was assumed."""
    continuous = bool(rule.get("continuous_frontage"))
    road_m, side_m, rear_m = (_param(rule, k) for k in ("setback_road_m", "setback_side_m", "setback_rear_m"))
    side_eff = 0.0 if continuous else (side_m or 0.0)
    ambiguous_m = max(side_eff, rear_m or 0.0)
    limits = bands.limits
    out = [bands.band("road", road_m, near), bands.band("side", side_eff, near), bands.band("rear", rear_m, near),
           bands.band("ambiguous", ambiguous_m, near)]
    reasons = []
    if continuous and limits["side"]:
        reasons.append(_reason("front_bati_continu", "zone en front bâti continu : construction sur les limites "
                                                     "latérales, sans recul latéral"))
    if limits["ambiguous"] and limits["road"]:
        reasons.append(_reason("limites_ambigues", f"{len(limits['ambiguous'])} limite(s) ni clairement latérale(s) "
                               f"ni de fond (entre {AMBIGUOUS_DEG[0]:g}° et {AMBIGUOUS_DEG[1]:g}° de toute limite sur "
                               f"voie) : le plus grand des reculs latéral et de fond ({_m(ambiguous_m)} m) y est "
                               "appliqué"))
    elif limits["ambiguous"]:
        reasons.append(_reason("sans_limite_sur_voie", "aucune limite du terrain ne longe une voie : le plus grand "
                               f"des reculs latéral et de fond ({_m(ambiguous_m)} m) est appliqué à toutes ses limites"))
    setbacks = {"road_m": road_m, "side_m": side_m, "rear_m": rear_m, "continuous_frontage": continuous,
                "ambiguous_m": ambiguous_m if limits["ambiguous"] else None}
    return setbacks, [b for b in out if b is not None], reasons


def _why_empty(net: BaseGeometry, labels: list[str], setbacks: dict) -> dict:
    if net.area <= NOISE_M2:
        return _reason("emprise_vide", f"les prescriptions ({', '.join(sorted(set(labels)))}) couvrent toute cette "
                                       "partie : aucune surface constructible")
    return _reason("emprise_vide", f"les reculs (sur voie {_m(setbacks['road_m'])} m, latéral {_m(setbacks['side_m'])}"
                                   f" m, de fond {_m(setbacks['rear_m'])} m) couvrent toute cette partie de "
                                   f"{_m(r2(net.area))} m² : aucune surface constructible")


def _why_pieces(count: int, net: BaseGeometry, labels: list[str]) -> dict:
    cut = (f"coupée par une prescription ({', '.join(sorted(set(labels)))})" if len(_pieces(net)) > 1
           else "coupée par les bandes de recul")
    return _reason("plusieurs_morceaux", f"la surface constructible est en {count} morceaux ({cut}) : chacun est "
                                         "gardé")


def _part_envelope(part: Part, land: BaseGeometry, bands: _Bands, constraints: list[tuple[str, str, BaseGeometry]],
                   assumptions: Assumptions) -> tuple[dict, BaseGeometry]:
    rule = part.rule
    zone_geom = land if part.geom is land else shapely.intersection(part.geom, land)  # a land in one zone
    part_area = float(zone_geom.area)
    deductions, blocked, labels = [], [], []
    for kind, label, geom in constraints:
        if kind not in DEDUCTED_KINDS:
            continue
        hit = shapely.intersection(zone_geom, geom)
        if hit.area > NOISE_M2:
            deductions.append({"kind": kind, "kind_label": DEDUCTED_KINDS[kind], "label": label, "area_m2": r2(hit.area)})
            blocked.append(geom)
            labels.append(label)
    net = shapely.difference(zone_geom, _union(blocked)) if blocked else zone_geom
    setbacks, taken, reasons = _setback_bands(rule, bands, None if zone_geom is land else zone_geom.bounds)
    buildable = shapely.difference(net, _union(taken)) if taken else net
    pieces = _pieces(buildable)
    buildable_area = float(sum(p.area for p in pieces))
    if not pieces:
        reasons.append(_why_empty(net, labels, setbacks))
    elif len(pieces) > 1:
        reasons.append(_why_pieces(len(pieces), net, labels))
    area = part_area if assumptions.ratio_area == "gross" else float(net.area)
    max_fp, fp_binding, fp_candidates = _footprint(rule, buildable_area, area)
    height = _height(rule, assumptions.storey_height_m)
    if height["levels"] == 0:
        reasons.append(_reason("aucun_niveau", "la zone n'admet aucun niveau (hauteur ou R+n nuls) : rien n'y est "
                                               "constructible"))
    floor, floor_binding, floor_how = _floor_area(rule, area, max_fp, height["levels"])
    out = {
        "zone": rule["zone"], "area_m2": r2(part_area), "share_pct": rule.get("share_pct"),
        "marginal": rule.get("marginal", False), "deductions": deductions, "net_area_m2": r2(net.area),
        "ratio_area_m2": r2(area), "setbacks": setbacks, "buildable_area_m2": r2(buildable_area),
        "pieces": len(pieces), "pieces_m2": [r2(p.area) for p in pieces],
        "footprint": {"max_m2": r2(max_fp), "binding": fp_binding, "binding_label": FOOTPRINT_LABELS[fp_binding],
                      "pct": _param(rule, "footprint_max_pct"), "candidates": fp_candidates},
        "height": height,
        "floor_area": {"max_m2": r2(floor), "binding": floor_binding, "binding_label": FLOOR_LABELS[floor_binding],
                       **floor_how},
        "reasons": reasons,
    }
    return out, _union(pieces) if pieces else shapely.Polygon()


def _plot(part: Part, entry: dict, land_area: float, frontage: float) -> None:
    """Minimum plot area and frontage of the part's zone, against the whole land's."""
    min_area = _param(part.rule, "min_plot_area_m2")
    min_front = _param(part.rule, "min_frontage_m")
    entry["plot"] = {"min_area_m2": min_area, "area_ok": None if min_area is None else land_area + 1e-6 >= min_area,
                     "min_frontage_m": min_front, "frontage_m": r2(frontage),
                     "frontage_ok": None if min_front is None else frontage + 1e-6 >= min_front}
    code = part.rule["zone"]["code"]
    if entry["plot"]["area_ok"] is False:
        entry["reasons"].append(_reason("sous_surface_minimale", f"terrain de {_m(land_area)} m², sous la superficie "
                                        f"minimale de {_m(min_area)} m² de la zone {code} : pas constructible en l'état"))
    if entry["plot"]["frontage_ok"] is False:
        entry["reasons"].append(_reason("sous_facade_minimale", f"façade sur voie de {_m(frontage)} m, sous la façade "
                                        f"minimale de {_m(min_front)} m de la zone {code} : pas constructible en l'état"))
    floor = entry["floor_area"]["max_m2"]
    entry["buildable"] = (entry["plot"]["area_ok"] is not False and entry["plot"]["frontage_ok"] is not False
                          and (entry["footprint"]["max_m2"] or 0) > NOISE_M2 and (floor is None or floor > NOISE_M2))


def _road_reach(roads: list[Road], land: BaseGeometry, limits: dict[str, list], widest_m: float) -> list[BaseGeometry]:
    """What the road setback is measured from, clipped near the land (a road polygon may run for kilometres)."""
    x0, y0, x1, y1 = land.bounds
    pad = widest_m + 1.0
    near = shapely.box(x0 - pad, y0 - pad, x1 + pad, y1 + pad)
    geoms = [shapely.intersection(r.geom, near) for r in roads]
    if limits["road"]:
        geoms.append(_lines(limits["road"]))
    return [g for g in geoms if not g.is_empty]


def _direction(angles: np.ndarray, lengths: np.ndarray) -> float:
    """The mean direction (degrees, modulo 180°) of limits, weighted by their length (doubled-angle mean)."""
    doubled = np.radians(2 * angles)
    return float(np.degrees(np.arctan2((lengths * np.sin(doubled)).sum(), (lengths * np.cos(doubled)).sum())) / 2 % 180)


def _corner(roads: list[Road], limits: dict[str, list], tolerance_m: float) -> int:
    """How many existing roads the land has a limit on (two or more: a corner land).

    A road digitised in several features (segments along the same limit, a polygon split in two) is one road:
    features that touch and front the land's limits in the same direction (within SAME_ROAD_DEG) are counted
    once. Two roads crossing at the land's corner touch too, but front limits at right angles.
    """
    existing = [r for r in roads if not r.planned]
    if not limits["road"] or not existing:
        return 0
    segments = np.array(limits["road"], dtype=object)
    middles = shapely.line_interpolate_point(segments, 0.5, normalized=True)
    angles = np.array([_angle(s) for s in limits["road"]])
    lengths = shapely.length(segments)
    fronting: list[tuple[Road, float]] = []
    for road in existing:
        hit = shapely.distance(road.geom, middles) <= tolerance_m
        if hit.any():
            fronting.append((road, _direction(angles[hit], lengths[hit])))
    group = list(range(len(fronting)))  # union-find over the few features fronting the land

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    for i, (a, dir_a) in enumerate(fronting):
        for j in range(i + 1, len(fronting)):
            b, dir_b = fronting[j]
            turn = abs(dir_a - dir_b)
            if min(turn, 180 - turn) < SAME_ROAD_DEG and shapely.distance(a.geom, b.geom) <= tolerance_m:
                group[root(j)] = root(i)
    return len({root(i) for i in range(len(fronting))})


def _part_not_buildable(governing: list[dict]) -> dict:
    """Which governing parts carry the land (buildable) and which add nothing to it, and why."""
    def name(p: dict) -> str:
        return f"zone {p['zone']['code']} ({_m(p['area_m2'])} m²)"

    yes = [name(p) for p in governing if p["buildable"]]
    no = []
    for p in governing:
        if not p["buildable"]:
            why = next((r["message"] for r in p["reasons"] if r["code"] in PART_BLOCKING),
                       "aucune emprise au sol admise")
            no.append(f"{name(p)} : {why}")
    return _reason("partie_non_constructible", f"terrain constructible par sa partie en {', '.join(yes)} ; sa partie "
                   f"en {' ; en '.join(no)} — elle ne compte pas dans les totaux")


def compute_envelope(*, land: BaseGeometry, parts: list[Part], roads: list[Road],
                     constraints: list[tuple[str, str, BaseGeometry]], road_tolerance_m: float,
                     assumptions: Assumptions | None = None) -> dict:
    """The envelope of a land (EPSG:26191): per zone part and in total, with the polygons (key `geometry`)."""
    assumptions = assumptions or Assumptions()
    limits = envelope_limits(land, [r.geom for r in roads if not r.planned], road_tolerance_m)
    widest_setback = max((_param(p.rule, "setback_road_m") or 0.0 for p in parts), default=0.0)
    bands = _Bands.of(_road_reach(roads, land, limits, widest_setback), limits)
    land_area = float(land.area)
    frontage = float(sum(s.length for s in limits["road"]))
    out_parts, geoms = [], []
    for part in parts:
        entry, geom = _part_envelope(part, land, bands, constraints, assumptions)
        _plot(part, entry, land_area, frontage)
        entry["geometry"] = geometry_json(geom)
        out_parts.append(entry)
        geoms.append(geom)
    governing = [i for i, p in enumerate(out_parts) if not p["marginal"]] or list(range(len(out_parts)))
    built = [i for i in governing if out_parts[i]["buildable"]]
    for i, entry in enumerate(out_parts):
        entry["governs"] = i in governing
    reasons: list[dict] = []
    if not parts:
        reasons.append(_reason("sans_zonage", "aucune zone de plan d'aménagement ici : enveloppe non déterminée"))
    if built and len(built) < len(governing):
        reasons.append(_part_not_buildable([out_parts[i] for i in governing]))
    fronted = _corner(roads, limits, road_tolerance_m)
    if fronted >= 2:
        reasons.append(_reason("terrain_d_angle", f"terrain d'angle sur {fronted} voies : le recul sur voie est "
                                                  "appliqué le long de chacune"))
    for code in PART_BLOCKING:
        if governing and all(any(r["code"] == code for r in out_parts[i]["reasons"]) for i in governing):
            reasons.append(next(r for r in out_parts[governing[0]]["reasons"] if r["code"] == code))
    floors = [out_parts[i]["floor_area"]["max_m2"] for i in built]
    union = _union([geoms[i] for i in built]) if built else None
    # one buildable part: the land's polygon is that part's (the same GeoJSON, written and reprojected once)
    geometry = out_parts[built[0]]["geometry"] if len(built) == 1 else geometry_json(union)
    return {
        "schema": ENVELOPE_SCHEMA, "crs": "EPSG:26191", "buildable": bool(built), "reasons": reasons,
        "limits": {"road_m": r2(frontage), "side_m": r2(sum(s.length for s in limits["side"])),
                   "rear_m": r2(sum(s.length for s in limits["rear"])),
                   "ambiguous_m": r2(sum(s.length for s in limits["ambiguous"])), "corner": fronted >= 2,
                   "roads": sorted({r.name for r in roads if r.name})},
        "totals": {"land_area_m2": r2(land_area),
                   "buildable_area_m2": r2(sum(out_parts[i]["buildable_area_m2"] for i in built)),
                   "max_footprint_m2": r2(sum(out_parts[i]["footprint"]["max_m2"] for i in built)),
                   "max_floor_area_m2": (None if any(f is None for f in floors) else r2(sum(floors)))},
        "parts": out_parts,
        "geometry": geometry,
        "assumptions": assumptions.describe(),
    }


# ------------------------------------------------------------------------------------ from the database
def _road_context(result: dict, roads: list[Road]) -> tuple[float | None, str | None, list[dict]]:
    """The road width the rules are evaluated with: the widest road fronted, its planned width where a widening
    (or a new road) applies on the land; and a reason when it is not the width the instruction used."""
    existing = [r.width_m for r in roads if r.width_m is not None]
    planned = [float(w["planned_width_m"]) for w in result["roads"]["widenings"] if w.get("planned_width_m")]
    widest = max(existing + planned, default=None)
    source = None if widest is None else (
        "planned" if planned and max(planned) > max(existing, default=-1.0) else "existing")
    reasons = []
    used = result["roads"].get("road_width_used_m")
    if widest is not None and used != r2(widest):
        now = f"sa largeur actuelle ({_m(used)} m)" if used is not None else "une largeur actuelle inconnue"
        reasons.append(_reason("largeur_voie_prevue", f"règles évaluées avec la largeur prévue de la voie "
                                                      f"({_m(widest)} m, élargissement du plan) au lieu de {now}"))
    return widest, source, reasons


def envelope_of(conn: psycopg.Connection, result: dict, assumptions: Assumptions | None = None,
                limits: Limits | None = None, *, roads: list[dict] | None = None,
                zones: dict[int, dict] | None = None) -> dict:
    """The envelope of an instruction result computed with its geometries (`with_geometry=True`).

    The zones' rules are evaluated again with the envelope's road width (`_road_context`): the same as the
    instruction's unless a widening sets a larger planned width. `roads` (rows with `wkb`) and `zones` (the zones'
    attributes by id) are what the instruction read (`instruction.engine.Instructed`); a stored result has
    neither, and they are read again. A land past `limits` is refused first (`LandTooLarge`).
    """
    from instruction.checks import _constraints, _land_geom, _zone_parts
    from layers.overlay import roads_near, zones_by_id

    t = result["provenance"]["thresholds"]
    land = _land_geom(result)
    check_size(land, limits or Limits())
    if roads is None:
        ewkb = shapely.to_wkb(shapely.set_srid(land, STORAGE_SRID), include_srid=True)
        roads = roads_near(conn, ewkb, t["road_limit_tolerance_m"])
    fronted = [Road(shapely.from_wkb(r["wkb"]), r["width_m"], r["name"]) for r in roads]
    constraints = _constraints(result)
    planned = [Road(g, None, label, planned=True) for kind, label, g in constraints if kind in PLANNED_ROAD_KINDS]
    width, source, reasons = _road_context(result, fronted)
    context = Context(road_width_m=width, plot_area_m2=float(land.area))
    ids = [r["zone"]["id"] for r in result["rules"]]
    attrs = zones if zones is not None and all(i in zones for i in ids) else (zones_by_id(conn, ids) if ids else {})
    parts = [Part({**p.rule, **zone_rules(attrs[p.rule["zone"]["id"]], context)}
                  if p.rule["zone"]["id"] in attrs else p.rule, p.geom) for p in _zone_parts(result, land)]
    out = compute_envelope(land=land, parts=parts, roads=fronted + planned, constraints=constraints,
                           road_tolerance_m=t["road_limit_tolerance_m"], assumptions=assumptions)
    out["reasons"] = reasons + out["reasons"]
    return {**out, "context": {"road_width_m": r2(width), "road_width_source": source,
                               "plot_area_m2": r2(land.area)},
            "land": {"refs": result["land"]["refs"], "area_m2": result["land"]["area_m2"]},
            "date": result["date"], "provenance": result["provenance"]}


def assumptions_of(options: Options | None) -> Assumptions:
    """The assumptions the options carry (from the settings), or the defaults."""
    if options is None:
        return Assumptions()
    return Assumptions(storey_height_m=options.envelope_storey_height_m, ratio_area=options.envelope_ratio_area)


def limits_of(options: Options | None) -> Limits:
    """The envelope's limits the options carry (from the settings), or the defaults."""
    if options is None:
        return Limits()
    return Limits(max_area_m2=options.envelope_max_area_m2, max_vertices=options.envelope_max_vertices)


def envelope_from(conn: psycopg.Connection, instructed: Instructed, options: Options | None = None) -> dict:
    """The envelope of a land just instructed, from what its instruction read (no second query of its roads and
    zones)."""
    return envelope_of(conn, instructed.result, assumptions_of(options), limits_of(options), roads=instructed.roads,
                       zones=instructed.zones)


def envelope(conn: psycopg.Connection, land: LandRequest, day: date | None = None,
             options: Options | None = None) -> dict:
    """Instruct the land (with geometries) and compute its envelope; a land past the envelope's limits is refused
    as soon as it is resolved, before its overlay."""
    from dataclasses import replace

    from instruction.engine import DEFAULT_OPTIONS, instruct_with_sources

    limits = limits_of(options)
    instructed = instruct_with_sources(conn, land, day, replace(options or DEFAULT_OPTIONS, with_geometry=True),
                                       check=lambda geom: check_size(geom, limits))
    return envelope_from(conn, instructed, options)


def output_crs(crs_text: str | None) -> CRS | None:
    """The CRS of the output polygons (None: EPSG:26191), or a 400 with what to write: a projected or geographic
    2D CRS (a geocentric, 3D, vertical or compound one has no plane to draw a polygon in)."""
    if crs_text is None:
        return None
    if not isinstance(crs_text, str) or not crs_text.strip() or len(crs_text) > 200:
        raise CRSError("output_crs : un code de SCR est attendu (ex. EPSG:26191, EPSG:4326, OGC:CRS84)")
    crs = parse_crs(crs_text)
    if crs.is_compound or not (crs.is_projected or crs.is_geographic) or len(crs.axis_info) != 2:
        kind = CRS_KINDS.get(crs.type_name, f"ni projeté ni géographique à deux dimensions ({crs.type_name})")
        raise CRSError(f"output_crs : {crs_label(crs)} est un SCR {kind} ; les polygones s'écrivent dans un SCR "
                       "projeté ou géographique à deux dimensions (ex. EPSG:26191, EPSG:4326, OGC:CRS84, EPSG:3857)")
    return crs


def check_request(land: LandRequest, options: Options, crs_text: str | None) -> None:
    """What of an envelope request is refused without the database (a job's inputs, before it is accepted): its
    output CRS, and a land given by its geometry past the envelope's limits (titles are measured once resolved)."""
    from instruction.land import parse_geometry

    output_crs(crs_text)
    if land.geometry is not None:
        geom = parse_geometry(land.geometry, land.crs, options.max_land_area_m2, options.max_vertices)
        check_size(geom, limits_of(options))


@lru_cache(maxsize=64)
def _crs_name(crs_text: str) -> str:
    """« EPSG:4326 », « OGC:CRS84 »… of a CRS text (looking the authority up costs ~0.3 ms: once per text)."""
    auth = parse_crs(crs_text).to_authority()
    return f"{auth[0]}:{auth[1]}" if auth else crs_text


def envelope_output(result: dict, crs_text: str | None) -> dict:
    """The envelope with its polygons in `crs_text` (EPSG:26191 when None): areas stay those measured in 26191."""
    crs = output_crs(crs_text)
    storage = parse_crs(STORAGE_SRID)
    if crs is None or crs_text is None or crs == storage:
        return result
    name = _crs_name(crs_text)

    moved: dict[int, dict] = {}  # the land's polygon is often its one part's: the same object, moved once

    def move(geojson: dict | None) -> dict | None:
        if geojson is None:
            return None
        if id(geojson) not in moved:
            out = reproject(np.array([shape(geojson)], dtype=object), storage, crs)[0]
            moved[id(geojson)] = json.loads(shapely.to_geojson(shapely.transform(out, lambda c: np.round(c, 8))))
        return moved[id(geojson)]

    return {**result, "crs": name, "geometry": move(result.get("geometry")),
            "parts": [{**p, "geometry": move(p.get("geometry"))} for p in result["parts"]]}


def stored_envelope(conn: psycopg.Connection, land: LandRequest, day: date | None = None,
                    options: Options | None = None, crs_text: str | None = None) -> dict:
    """The envelope as the API serves it: kept in `check_results` (kind 'envelope', its id as `check_id`)."""
    from layers.checks import store_check
    from layers.provenance import code_version

    output_crs(crs_text)  # a bad CRS is refused before anything is computed or written
    result = envelope(conn, land, day, options)
    request = {"land": land.describe(), "date": result["date"], "output_crs": crs_text}
    result["check_id"] = store_check(conn, "envelope", request, result,
                                     "buildable" if result["buildable"] else "not_buildable", code_version())
    return envelope_output(result, crs_text)  # the caller commits
