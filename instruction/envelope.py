"""The buildable envelope of a land, per zone part: what can be built here and which rule binds.

Pure geometry and rules (`compute_envelope`) fed by an instruction result with its geometries
(`envelope_of`), or from a land request (`envelope`). Per zone part:

1. the part, minus the planned roads (widening strips, new roads), reservations, green spaces and
   no-build areas crossing it (each deduction named with its m²);
2. minus the setback bands: from the road (the existing roads' and the planned roads' edges, so a widening's
   alignment is where the road setback starts, and a corner land gets a band along both roads), from the side
   limits (not in continuous-frontage zones, which build on them) and from the rear limits;
3. the buildable footprint polygon (possibly empty or in several pieces, each kept, and why said);
4. max footprint = min(buildable area, footprint % × part area); height and storeys as the zone's rules give
   them with their conditions applied; max floor area = min(COS/CUS « plancher » × part area,
   max footprint × levels); each value with the rule that binds it; minimum plot area and frontage checked.

Output schema: `urbasig/envelope/1` (instruction/schema/envelope.schema.json).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from gis.crs import STORAGE_SRID, parse_crs, reproject
from instruction.findings import geometry_json, r2
from instruction.permit import classify_limits, setback_strip

if TYPE_CHECKING:
    from datetime import date

    import psycopg

    from instruction.engine import Options
    from instruction.land import LandRequest

ENVELOPE_SCHEMA = "urbasig/envelope/1"
DEDUCTED_KINDS = {"road_widening": "élargissement de voie", "new_road": "voie projetée",
                  "facility_reservation": "réserve pour équipement public", "green_space": "espace vert",
                  "non_aedificandi": "zone non aedificandi"}
PLANNED_ROAD_KINDS = ("road_widening", "new_road")
NOISE_M2 = 0.01  # pieces smaller than this are digitising noise, not buildable ground


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


def _reason(code: str, message: str) -> dict:
    return {"code": code, "message": message}


def _param(rule: dict, key: str) -> float | None:
    value = rule["parameters"].get(key, {}).get("value")
    return None if value is None else float(value)


def _lines(segments: list) -> BaseGeometry:
    return shapely.MultiLineString([list(s.coords) for s in segments])


def _pieces(geom: BaseGeometry) -> list[BaseGeometry]:
    polys = [g for g in shapely.get_parts(geom) if g.geom_type == "Polygon" and g.area > NOISE_M2]
    return sorted(polys, key=lambda g: -g.area)


def _floor_area(rule: dict, part_area: float, footprint: float, levels: int | None) -> tuple[float | None, str, dict]:
    """Max floor area: min(COS/CUS « plancher » × part area, footprint × levels), with the binding rule."""
    candidates: list[tuple[float, str, str]] = []
    for key, name in (("cos_value", "COS"), ("cus_value", "CUS")):
        entry = rule["parameters"].get(key)
        if entry and entry.get("meaning") == "plancher":
            candidates.append((float(entry["value"]) * part_area, key[:3], f"{name} {entry['value']} × {r2(part_area)} m²"))
    if levels is not None:
        candidates.append((footprint * levels, "footprint_x_levels", f"emprise {r2(footprint)} m² × {levels} niveaux"))
    if not candidates:
        return None, "none", {"message": "ni COS/CUS de plancher ni nombre de niveaux dans le règlement"}
    value, binding, how = min(candidates, key=lambda c: c[0])
    return value, binding, {"how": how, "candidates": {b: r2(v) for v, b, _ in candidates}}


def _part_envelope(part: Part, land: BaseGeometry, roads: list[Road], limits: dict[str, list],
                   constraints: list[tuple[str, str, BaseGeometry]], land_area: float) -> tuple[dict, BaseGeometry]:
    rule = part.rule
    zone_geom = shapely.intersection(part.geom, land)
    part_area = float(zone_geom.area)
    reasons: list[dict] = []
    deductions = []
    blocked = []
    for kind, label, geom in constraints:
        if kind not in DEDUCTED_KINDS:
            continue
        hit = shapely.intersection(zone_geom, geom)
        if hit.area > NOISE_M2:
            deductions.append({"kind": kind, "kind_label": DEDUCTED_KINDS[kind], "label": label, "area_m2": r2(hit.area)})
            blocked.append(geom)
    net = shapely.difference(zone_geom, shapely.union_all(blocked)) if blocked else zone_geom
    continuous = bool(rule.get("continuous_frontage"))
    setbacks = {"road_m": _param(rule, "setback_road_m"), "side_m": _param(rule, "setback_side_m"),
                "rear_m": _param(rule, "setback_rear_m"), "continuous_frontage": continuous}
    bands: list[BaseGeometry] = []
    road_area = shapely.union_all([r.geom for r in roads]) if roads else None
    if setbacks["road_m"] and road_area is not None:
        bands.append(road_area.buffer(setbacks["road_m"], quad_segs=8))
    if setbacks["side_m"] and not continuous and limits["side"]:
        bands.append(setback_strip(_lines(limits["side"]), setbacks["side_m"]))
    if setbacks["rear_m"] and limits["rear"]:
        bands.append(setback_strip(_lines(limits["rear"]), setbacks["rear_m"]))
    buildable = shapely.difference(net, shapely.union_all(bands)) if bands else net
    if roads and not limits["road"]:
        reasons.append(_reason("sans_limite_sur_voie", "aucune limite du terrain ne longe une voie : reculs latéraux "
                                                       "et de fond non classés"))
    pieces = _pieces(buildable)
    buildable_area = float(sum(p.area for p in pieces))
    if not pieces:
        reasons.append(_reason("emprise_vide", "les reculs et les prescriptions ne laissent aucune surface "
                                               "constructible sur cette partie"))
    elif len(pieces) > 1:
        reasons.append(_reason("plusieurs_morceaux", f"la surface constructible est en {len(pieces)} morceaux "
                                                     "(coupée par une prescription ou par les reculs)"))
    pct = _param(rule, "footprint_max_pct")
    by_pct = pct / 100 * part_area if pct is not None else None
    if by_pct is not None and by_pct < buildable_area:
        max_fp, fp_binding = by_pct, "footprint_max_pct"
    else:
        max_fp, fp_binding = buildable_area, "buildable_area"
    storeys = _param(rule, "storeys_max")
    levels = int(storeys) + 1 if storeys is not None else None
    floor, floor_binding, floor_how = _floor_area(rule, part_area, max_fp, levels)
    out = {
        "zone": rule["zone"], "area_m2": r2(part_area), "share_pct": rule.get("share_pct"),
        "marginal": rule.get("marginal", False), "deductions": deductions, "net_area_m2": r2(net.area),
        "setbacks": setbacks, "buildable_area_m2": r2(buildable_area), "pieces": len(pieces),
        "footprint": {"max_m2": r2(max_fp), "binding": fp_binding, "pct": pct},
        "height": {"max_m": _param(rule, "height_max_m"), "storeys_max": storeys, "levels": levels,
                   "rule": rule["parameters"].get("height_max_m", {}).get("condition")},
        "floor_area": {"max_m2": r2(floor), "binding": floor_binding, **floor_how},
        "reasons": reasons,
    }
    return out, shapely.union_all(pieces) if pieces else shapely.Polygon()


def compute_envelope(*, land: BaseGeometry, parts: list[Part], roads: list[Road],
                     constraints: list[tuple[str, str, BaseGeometry]], road_tolerance_m: float) -> dict:
    """The envelope of a land (EPSG:26191): per zone part and in total, with the polygons (key `geometry`)."""
    existing = [r.geom for r in roads if not r.planned]
    limits = classify_limits(land, existing, road_tolerance_m)
    land_area = float(land.area)
    out_parts, geoms = [], []
    for part in parts:
        entry, geom = _part_envelope(part, land, roads, limits, constraints, land_area)
        entry["geometry"] = geometry_json(geom)
        out_parts.append(entry)
        geoms.append(geom)
    reasons: list[dict] = []
    frontage = float(sum(s.length for s in limits["road"]))
    for p, part in zip(out_parts, parts, strict=True):
        min_area = _param(part.rule, "min_plot_area_m2")
        min_front = _param(part.rule, "min_frontage_m")
        p["plot"] = {"min_area_m2": min_area, "area_ok": None if min_area is None else land_area + 1e-6 >= min_area,
                     "min_frontage_m": min_front, "frontage_m": r2(frontage),
                     "frontage_ok": None if min_front is None else frontage + 1e-6 >= min_front}
        if p["plot"]["area_ok"] is False:
            p["reasons"].append(_reason("sous_surface_minimale", f"terrain de {r2(land_area)} m², sous la superficie "
                                                                 f"minimale de {min_area:g} m² de la zone "
                                                                 f"{part.rule['zone']['code']}"))
    governing = [p for p in out_parts if not p["marginal"]] or out_parts
    too_small = any(p["plot"]["area_ok"] is False for p in governing)
    total_fp = sum(p["footprint"]["max_m2"] or 0 for p in governing)
    floors = [p["floor_area"]["max_m2"] for p in governing]
    if too_small:
        reasons.append(_reason("sous_surface_minimale", "terrain sous la superficie minimale : il n'est pas "
                                                        "constructible en l'état"))
    if not parts:
        reasons.append(_reason("sans_zonage", "aucune zone de plan d'aménagement ici : enveloppe non déterminée"))
    buildable = bool(parts) and not too_small and total_fp > NOISE_M2
    union = shapely.union_all([g for g, p in zip(geoms, out_parts, strict=True) if p in governing]) if geoms else None
    return {
        "schema": ENVELOPE_SCHEMA, "crs": "EPSG:26191", "buildable": buildable, "reasons": reasons,
        "limits": {"road_m": r2(frontage), "side_m": r2(sum(s.length for s in limits["side"])),
                   "rear_m": r2(sum(s.length for s in limits["rear"])), "roads": sorted({r.name for r in roads if r.name})},
        "totals": {"land_area_m2": r2(land_area), "buildable_area_m2": r2(sum(p["buildable_area_m2"] for p in governing)),
                   "max_footprint_m2": r2(total_fp) if buildable else 0.0,
                   "max_floor_area_m2": (r2(sum(f for f in floors if f is not None)) if buildable
                                         and all(f is not None for f in floors) else (0.0 if not buildable else None))},
        "parts": out_parts,
        "geometry": geometry_json(union) if union is not None else None,
    }


# ------------------------------------------------------------------------------------ from the database
def envelope_of(conn: psycopg.Connection, result: dict) -> dict:
    """The envelope of an instruction result computed with its geometries (`with_geometry=True`)."""
    from instruction.checks import _constraints, _land_geom, _zone_parts
    from layers.overlay import roads_near

    t = result["provenance"]["thresholds"]
    land = _land_geom(result)
    ewkb = shapely.to_wkb(shapely.set_srid(land, 26191), include_srid=True)
    roads = [Road(shapely.from_wkb(r["wkb"]), r["width_m"], r["name"])
             for r in roads_near(conn, ewkb, t["road_limit_tolerance_m"])]
    constraints = _constraints(result)
    planned = [Road(g, None, label, planned=True) for kind, label, g in constraints if kind in PLANNED_ROAD_KINDS]
    parts = [Part(p.rule, p.geom) for p in _zone_parts(result, land)]
    out = compute_envelope(land=land, parts=parts, roads=roads + planned, constraints=constraints,
                           road_tolerance_m=t["road_limit_tolerance_m"])
    return {**out, "date": result["date"], "provenance": result["provenance"]}


def envelope(conn: psycopg.Connection, land: LandRequest, day: date | None = None,
             options: Options | None = None) -> dict:
    """Instruct the land (with geometries) and compute its envelope."""
    from dataclasses import replace

    from instruction.engine import DEFAULT_OPTIONS, instruct

    result = instruct(conn, land, day, replace(options or DEFAULT_OPTIONS, with_geometry=True))
    return envelope_of(conn, result)


def envelope_output(result: dict, crs_text: str | None) -> dict:
    """The envelope with its polygons in `crs_text` (EPSG:26191 when None): areas stay those measured in 26191."""
    if crs_text is None:
        return result
    crs = parse_crs(crs_text)
    storage = parse_crs(STORAGE_SRID)
    if crs == storage:
        return result

    def move(geojson: dict | None) -> dict | None:
        if geojson is None:
            return None
        out = reproject(np.array([shape(geojson)], dtype=object), storage, crs)[0]
        return json.loads(shapely.to_geojson(shapely.transform(out, lambda c: np.round(c, 8))))

    return {**result, "crs": crs_text, "geometry": move(result.get("geometry")),
            "parts": [{**p, "geometry": move(p.get("geometry"))} for p in result["parts"]]}
