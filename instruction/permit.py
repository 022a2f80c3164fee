"""Building permit check (pure): a project against the rules of the zones it stands in.

Each rule gives pass / fail / not_applicable / cannot_tell, the measured value, the limit and its source;
with a footprint polygon, setbacks are measured geometrically and offending parts are returned.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from instruction.findings import geometry_json, r2
from instruction.rules import use_status

PASS, FAIL, NA, UNKNOWN = "pass", "fail", "not_applicable", "cannot_tell"
BLOCKING_KINDS = {"road_widening": "élargissement de voie", "new_road": "voie projetée",
                  "facility_reservation": "réserve pour équipement public", "green_space": "espace vert",
                  "non_aedificandi": "zone non aedificandi"}


@dataclass(frozen=True)
class Project:
    """What the applicant wants to build."""

    use: str | None = None
    storeys: int | None = None
    height_m: float | None = None
    floor_area_m2: float | None = None
    footprint_area_m2: float | None = None
    footprint: BaseGeometry | None = None  # EPSG:26191
    basement: bool | None = None


@dataclass
class ZonePart:
    """A zone's rules and the part of the land it governs."""

    rule: dict  # an entry of result["rules"]
    geom: BaseGeometry


def outcome(rules: list[dict]) -> str:
    """Overall verdict: fail if any rule fails, cannot_tell if any is undecided, else pass."""
    statuses = {r["status"] for r in rules}
    if FAIL in statuses:
        return FAIL
    return UNKNOWN if UNKNOWN in statuses else PASS


def _rule(rule: str, label: str, status: str, measured: object = None, limit: float | None = None, unit: str = "",
          source: dict | None = None, geometry: BaseGeometry | None = None, message: str | None = None) -> dict:
    out = {"rule": rule, "label": label, "status": status, "measured": measured, "limit": limit, "unit": unit,
           "source": source}
    if message:
        out["message"] = message
    if geometry is not None and not geometry.is_empty:
        out["geometry"] = geometry_json(geometry)
    return out


def _source(part: ZonePart) -> dict:
    zone = part.rule["zone"]
    return {"plan": zone["plan"], "zone": zone["code"], "sector": zone["sector"], "article": part.rule.get("article")}


def _compare(rule: str, label: str, measured: float | None, limit: float | None, unit: str, source: dict,
             at_least: bool = False) -> dict:
    if limit is None:
        return _rule(rule, label, NA, measured, None, unit, source, message="pas de limite dans le règlement")
    if measured is None:
        return _rule(rule, label, UNKNOWN, None, limit, unit, source, message="valeur du projet non fournie")
    ok = measured >= limit - 1e-9 if at_least else measured <= limit + 1e-9
    return _rule(rule, label, PASS if ok else FAIL, r2(measured), limit, unit, source)


# ------------------------------------------------------------------------------------ limits of the land
def _segments(geom: BaseGeometry) -> list[shapely.LineString]:
    """The edges of the exterior rings, in order, without the zero-length ones."""
    rings = shapely.get_exterior_ring(shapely.get_parts(geom))
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    same_ring = ring_of[:-1] == ring_of[1:]
    starts, ends = coords[:-1][same_ring], coords[1:][same_ring]
    keep = np.hypot(*(ends - starts).T) > 1e-6
    lines: np.ndarray = np.asarray(shapely.linestrings(np.stack([starts[keep], ends[keep]], axis=1)), dtype=object)
    return list(lines.reshape(-1))


def _angle(seg: shapely.LineString) -> float:
    (x0, y0), (x1, y1) = seg.coords
    return math.degrees(math.atan2(y1 - y0, x1 - x0)) % 180


def _near_any_angle(angles: list[float], road_angles: list[float], limit_deg: float) -> list[bool]:
    """For each angle, whether some road angle is within `limit_deg` of it (directions modulo 180°).

    The closest road direction is the next one below or above in sorted order, or across 0°/180° the first or
    the last: four candidates instead of every road limit.
    """
    if not road_angles:
        return [False] * len(angles)
    ordered = sorted(road_angles)
    out = []
    for a in angles:
        i = bisect.bisect_left(ordered, a)
        candidates = {ordered[0], ordered[-1], ordered[min(i, len(ordered) - 1)], ordered[max(i - 1, 0)]}
        out.append(any(min(abs(a - r), 180 - abs(a - r)) < limit_deg for r in candidates))
    return out


def classify_limits(land: BaseGeometry, roads: list[BaseGeometry], tolerance_m: float) -> dict[str, list]:
    """Split the land's outline into road, side and rear limits.

    A limit is on a road when its middle lies within `tolerance_m` of a road polygon; other limits that
    meet a road limit are side limits; the rest are rear limits when roughly parallel (< 30°) to a road
    limit, side limits otherwise. Near-linear in the number of limits: distances are computed in one
    vectorised call, meetings are looked up in a spatial index of the road limits' ends.
    """
    segs = _segments(land)
    on_road = np.zeros(len(segs), dtype=bool)
    if roads and segs:
        road_union = roads[0] if len(roads) == 1 else shapely.union_all(roads)
        middles = shapely.line_interpolate_point(np.array(segs, dtype=object), 0.5, normalized=True)
        on_road = shapely.distance(road_union, middles) <= tolerance_m
    road = [s for s, hit in zip(segs, on_road, strict=True) if hit]
    others = [s for s, hit in zip(segs, on_road, strict=True) if not hit]
    ends: np.ndarray = np.asarray(shapely.points(np.array([c for s in road for c in s.coords]).reshape(-1, 2)),
                                  dtype=object).reshape(-1) if road else np.array([], dtype=object)
    touching = np.zeros(len(others), dtype=bool)
    if len(ends) and others:
        corners: np.ndarray = np.asarray(shapely.points(np.array([c for s in others for c in s.coords])),
                                         dtype=object).reshape(-1)  # two per limit
        tree = shapely.STRtree(ends)
        pad = tolerance_m * 1.001 + 1e-9  # candidates by box, then the exact distance test
        boxes = shapely.box(*(shapely.get_coordinates(corners) + [[-pad, -pad]]).T,
                            *(shapely.get_coordinates(corners) + [[pad, pad]]).T)
        which, hit = tree.query(boxes)
        close = shapely.distance(corners[which], ends[hit]) <= tolerance_m
        touching[np.unique(which[close] // 2)] = True
    parallel = _near_any_angle([_angle(s) for s in others], [_angle(r) for r in road], 30)
    side: list[shapely.LineString] = []
    rear: list[shapely.LineString] = []
    for s, touches, along in zip(others, touching, parallel, strict=True):
        (side if touches or not along else rear).append(s)
    return {"road": road, "side": side, "rear": rear}


def setback_strip(limit_lines: BaseGeometry, width_m: float) -> BaseGeometry:
    """The band within `width_m` of the limits, cut square at the two ends of each run of limits.

    Contiguous limits are merged first and buffered as one line: buffering thousands of short segments one by
    one and uniting their rectangles grew quadratically (30 s for a 2,400-vertex land). Along a run the band
    is every point within `width_m` of it, corners included, as the measured distance is.
    """
    return shapely.line_merge(limit_lines).buffer(width_m, cap_style="flat")


def _setback(kind: str, label: str, lines: list, required: float | None, footprint: BaseGeometry,
             source: dict) -> dict:
    rule = f"setback_{kind}"
    if required is None:
        return _rule(rule, label, NA, None, None, "m", source, message="pas de recul dans le règlement")
    if not lines:
        return _rule(rule, label, NA, None, required, "m", source, message="le terrain n'a pas de telle limite")
    limit_lines = shapely.MultiLineString([list(s.coords) for s in lines])
    measured = float(footprint.distance(limit_lines))
    if measured + 1e-6 >= required:
        return _rule(rule, label, PASS, r2(measured), required, "m", source)
    offending = shapely.intersection(footprint, setback_strip(limit_lines, required))
    return _rule(rule, label, FAIL, r2(measured), required, "m", source, geometry=offending,
                 message=f"il manque {r2(required - measured)} m ; la partie du bâti dans la bande de recul est jointe")


# -------------------------------------------------------------------------------------------- the check
USE_VERDICTS = {"allowed": PASS, "forbidden": FAIL, "conditional": UNKNOWN, "unknown": UNKNOWN}
USE_MESSAGES = {"conditional": "usage soumis à conditions : avis de l'agence",
                "unknown": "usage non cité par le règlement de la zone"}
SETBACKS = (("road", "recul sur voie"), ("side", "recul latéral"), ("rear", "recul de fond"))


@dataclass(frozen=True)
class _Share:
    """The part of the land and of the project that one zone governs."""

    area_m2: float  # of the land in the zone (the whole land when one zone governs)
    footprint_m2: float | None
    floor_area_m2: float | None
    footprint: BaseGeometry | None  # the footprint polygon's part in the zone, when a polygon was given


def _footprint_rules(fp: BaseGeometry, land: BaseGeometry, constraints: list[tuple[str, str, BaseGeometry]],
                     tolerance_m: float) -> list[dict]:
    """The footprint polygon inside the land, and off every prescription where building is barred."""
    beyond = shapely.difference(fp, land.buffer(tolerance_m)).area > 0.01  # digitising noise is not a fault
    outside = shapely.difference(fp, land)
    rules = [_rule("footprint_inside_land", "emprise du projet à l'intérieur du terrain", FAIL if beyond else PASS,
                   r2(outside.area), 0, "m² hors du terrain", geometry=outside if beyond else None)]
    for kind, label, geom in constraints:
        if kind not in BLOCKING_KINDS:
            continue
        hit = shapely.intersection(fp, geom)
        if hit.area > 0.01:
            rules.append(_rule(f"no_build_{kind}", f"pas de construction sur : {label}", FAIL, r2(hit.area), 0,
                               "m²", geometry=hit, message=f"le bâti empiète sur {BLOCKING_KINDS[kind]}"))
    return rules


def _governing(parts: list[ZonePart], fp: BaseGeometry | None) -> list[ZonePart]:
    """The zones whose rules apply: those the footprint stands in, else every zone not merely marginal."""
    if fp is not None:
        standing = [p for p in parts if shapely.intersection(fp, p.geom).area > 0.01]
        if standing:
            return standing
    return [p for p in parts if not p.rule["marginal"]]


def _share(part: ZonePart, project: Project, land_area: float, weighted: bool) -> _Share:
    """What of the land and the project falls in this zone (all of it when one zone governs)."""
    fp = project.footprint
    footprint_area = fp.area if fp is not None else project.footprint_area_m2
    if not weighted:
        return _Share(land_area, footprint_area, project.floor_area_m2, fp)
    part_area = part.geom.area
    if fp is not None:
        fp_here: float | None = shapely.intersection(fp, part.geom).area
    else:  # no polygon: the declared footprint is spread over the zones in proportion of their area
        fp_here = footprint_area * part_area / land_area if footprint_area is not None else None
    floor = project.floor_area_m2 * part_area / land_area if project.floor_area_m2 is not None else None
    return _Share(part_area, fp_here, floor, shapely.intersection(fp, part.geom) if fp is not None else None)


def _density_rules(params: dict, share: _Share, code: str, src: dict) -> list[dict]:
    """Footprint, COS and CUS of the project's part in a zone against the zone's limits."""
    pct = params.get("footprint_max_pct", {}).get("value")
    rules = [_compare("footprint", f"emprise au sol en zone {code}", share.footprint_m2,
                      r2(pct / 100 * share.area_m2) if pct is not None else None, "m²", src)]
    for key, name in (("cos_value", "COS"), ("cus_value", "CUS")):
        entry = params.get(key)
        if not entry:
            continue
        if entry.get("meaning") == "plancher":
            rules.append(_compare(key[:3], f"{name} (surface de plancher) en zone {code}", share.floor_area_m2,
                                  r2(entry["value"] * share.area_m2), "m²", src))
        else:
            rules.append(_compare(key[:3], f"{name} (emprise) en zone {code}", share.footprint_m2,
                                  r2(entry["value"] * share.area_m2), "m²", src))
    return rules


def _setback_rules(params: dict, share: _Share, limits: dict[str, list] | None, code: str, src: dict) -> list[dict]:
    """Road, side and rear setbacks measured from the footprint polygon, or why they cannot be."""
    if share.footprint is None or limits is None:
        return [_rule("setbacks", f"reculs en zone {code}", UNKNOWN, None, None, "m", src,
                      message="donnez l'emprise du projet (polygone) pour mesurer les reculs")]
    if not limits["road"]:
        return [_rule(f"setback_{kind}", f"{label} en zone {code}", UNKNOWN, None,
                      params.get(f"setback_{kind}_m", {}).get("value"), "m", src,
                      message="aucune voie le long du terrain : limites non classées") for kind, label in SETBACKS]
    return [_setback(kind, f"{label} en zone {code}", limits[kind], params.get(f"setback_{kind}_m", {}).get("value"),
                     share.footprint, src) for kind, label in SETBACKS]


def _zone_rules(part: ZonePart, project: Project, share: _Share, land_area: float,
                limits: dict[str, list] | None) -> list[dict]:
    """Every rule of one governing zone: use, storeys, height, density, plot area, setbacks."""
    params = part.rule["parameters"]
    src = _source(part)
    code = part.rule["zone"]["code"]

    def limit(key: str) -> float | None:
        return params.get(key, {}).get("value")

    rules = []
    if project.use:
        status = use_status(project.use, part.rule)
        rules.append(_rule("use", f"usage « {project.use} » en zone {code}", USE_VERDICTS[status], project.use, None,
                           "", src, message=USE_MESSAGES.get(status)))
    rules.append(_compare("storeys", f"niveaux (R+n) en zone {code}", project.storeys, limit("storeys_max"), "n", src))
    rules.append(_compare("height", f"hauteur en zone {code}", project.height_m, limit("height_max_m"), "m", src))
    rules += _density_rules(params, share, code, src)
    rules.append(_compare("plot_area", f"superficie minimale du terrain en zone {code}", land_area,
                          limit("min_plot_area_m2"), "m²", src, at_least=True))
    return rules + _setback_rules(params, share, limits, code, src)


def check_permit(*, land: BaseGeometry, parts: list[ZonePart], project: Project, roads: list[BaseGeometry],
                 constraints: list[tuple[str, str, BaseGeometry]], tolerance_m: float,
                 road_tolerance_m: float) -> list[dict]:
    """Evaluate every rule; `constraints` are (kind, label, geometry) of prescriptions crossing the land."""
    fp = project.footprint
    rules = _footprint_rules(fp, land, constraints, tolerance_m) if fp is not None else []
    governing = _governing(parts, fp)
    limits = classify_limits(land, roads, road_tolerance_m) if fp is not None and governing else None
    weighted = len(governing) > 1
    for part in governing:
        rules += _zone_rules(part, project, _share(part, project, land.area, weighted), land.area, limits)
    if project.basement is not None:
        rules.append(_rule("basement", "sous-sol", NA, project.basement, None, "",
                           message="le règlement ne fixe pas de règle de sous-sol dans ces données"))
    if not governing:
        rules.append(_rule("zoning", "zonage applicable", UNKNOWN, message="aucune zone de plan d'aménagement ici"))
    return rules
