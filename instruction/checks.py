"""The permit, subdivision and licence checks: instruct the land, then run the pure rule modules.

Every check result embeds the instruction it was built on (plan versions, thresholds, rule sets, data
timestamp, code version) and is stored in `check_results`, so it can be reproduced later.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import psycopg
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from gis.errors import InputError, PayloadTooLarge
from gis.jsontext import clean_text
from instruction.engine import DEFAULT_OPTIONS, Options, instruct
from instruction.land import LandRequest, core_geojson, parse_geometry, parse_point, too_many_vertices
from instruction.licence import activity_of, distance_rule, public_domain_rule, zone_compatibility
from instruction.lots import Lot, check_lots
from instruction.permit import Project, ZonePart, check_permit, outcome
from layers import checks as q
from layers.overlay import roads_near
from layers.provenance import code_version
from layers.rule_sets import rule_set

CHECK_SCHEMA = "urbasig/check/{kind}/1"
MAX_TEXT = 200  # characters of any text a caller makes us record with a check (lot ids, use, CRS)


def _text(value: object, what: str) -> str:
    """A short text to record: refuse anything longer than MAX_TEXT characters (nothing is stored then)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_TEXT:
        raise InputError(f"{what} : {len(text)} caractères, {MAX_TEXT} au plus")
    return clean_text(text, what)  # no NUL character, no lone surrogate (the database could not store them)


class _Budget:
    """The vertices of all the geometries a caller sent in one request, against URBASIG_MAX_REQUEST_VERTICES."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.used = 0

    def parse(self, geojson: object, crs: str | None) -> BaseGeometry:
        geom = parse_geometry(geojson, crs, self.options.max_land_area_m2, self.options.max_vertices)  # type: ignore[arg-type]
        self.used += int(shapely.get_num_coordinates(geom))
        if self.used > self.options.max_request_vertices:
            raise too_many_vertices("ensemble des géométries de la demande", self.used,
                                    self.options.max_request_vertices, "URBASIG_MAX_REQUEST_VERTICES")
        return geom

    def count(self, items: object, what: str) -> None:
        if isinstance(items, list) and len(items) > self.options.max_lots:
            raise PayloadTooLarge(f"{what} : {len(items)} éléments, au plus {self.options.max_lots} par demande "
                                  "(URBASIG_MAX_LOTS) ; découpez le plan en tranches ou demandez à l'administrateur "
                                  "du service de relever la limite")


def _strip_geometry(value: object) -> object:
    if isinstance(value, dict):
        return {k: _strip_geometry(v) for k, v in value.items() if k != "geometry"}
    if isinstance(value, list):
        return [_strip_geometry(v) for v in value]
    return value


def _zone_parts(result: dict, land: BaseGeometry) -> list[ZonePart]:
    geoms = {f["id"]: f.get("geometry") for f in result["layers"][0]["features"]}
    parts = []
    for rule in result["rules"]:
        g = geoms.get(rule["zone"]["id"])
        parts.append(ZonePart(rule, shape(g) if g else land))
    return parts


def _constraints(result: dict) -> list[tuple[str, str, BaseGeometry]]:
    out = []
    for layer in result["layers"]:
        if not layer["layer"].startswith("prescriptions/"):
            continue
        kind = layer["layer"].split("/", 1)[1]
        out += [(kind, f.get("label") or kind, shape(f["geometry"])) for f in layer["features"] if f.get("geometry")]
    return out


def _land_geom(result: dict) -> BaseGeometry:
    return shape(result["land"]["geometry"])


def _roads_along(conn: psycopg.Connection, land: BaseGeometry, tolerance_m: float) -> list[BaseGeometry]:
    """Geometries of the existing roads the land fronts."""
    ewkb = shapely.to_wkb(shapely.set_srid(land, 26191), include_srid=True)
    return [shapely.from_wkb(r["wkb"]) for r in roads_near(conn, ewkb, tolerance_m)]


def _number(project: dict, key: str) -> float | None:
    value = project.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"projet : « {key} » doit être un nombre (reçu {value!r})")
    if value < 0:
        raise InputError(f"projet : « {key} » ne peut être négatif")
    return float(value)


def _whole_number(project: dict, key: str) -> int | None:
    value = _number(project, key)
    if value is not None and not value.is_integer():
        raise InputError(f"projet : « {key} » doit être un entier")
    return None if value is None else int(value)


def _finish(conn: psycopg.Connection, kind: str, request: dict, result: dict, rules_outcome: str, body: dict) -> dict:
    out = {"schema": CHECK_SCHEMA.format(kind=kind), "date": result["date"], "outcome": rules_outcome,
           "land": _strip_geometry(result["land"]), **body,
           "instruction": _strip_geometry(result), "provenance": result["provenance"]}
    out["check_id"] = q.store_check(conn, kind, request, out, rules_outcome, code_version())  # the caller commits
    return out


def permit_check(conn: psycopg.Connection, land: LandRequest, project: dict, day: date | None = None,
                 options: Options = DEFAULT_OPTIONS, crs: str | None = None) -> dict:
    """Check a building project on a land: per rule pass / fail / not applicable / cannot tell."""
    if not isinstance(project, dict):
        raise InputError("projet attendu : un objet {use, storeys, height_m, floor_area_m2, footprint…}")
    unknown = set(project) - {"use", "storeys", "height_m", "floor_area_m2", "footprint_area_m2", "footprint",
                              "basement"}
    if unknown:
        raise InputError(f"projet : champ(s) inconnu(s) {sorted(unknown)}")
    budget = _Budget(options)
    if land.geometry is not None:
        budget.used += _land_vertices(land, options)
    footprint = budget.parse(project["footprint"], crs or land.crs) if project.get("footprint") is not None else None
    if project.get("use") is not None and not isinstance(project["use"], str):
        raise InputError("projet : « use » doit être un texte (ex. « habitation »)")
    if project.get("basement") is not None and not isinstance(project["basement"], bool):
        raise InputError("projet : « basement » doit valoir true ou false")
    if project.get("use") is not None:
        _text(project["use"], "projet : « use »")
    if crs is not None:
        _text(crs, "crs")
    project = {**project, "footprint": core_geojson(project["footprint"])} if project.get("footprint") else project
    spec = Project(use=project.get("use"), storeys=_whole_number(project, "storeys"),
                   height_m=_number(project, "height_m"), floor_area_m2=_number(project, "floor_area_m2"),
                   footprint_area_m2=_number(project, "footprint_area_m2"), footprint=footprint,
                   basement=project.get("basement"))
    result = instruct(conn, land, day, replace(options, with_geometry=True))
    t = result["provenance"]["thresholds"]
    geom = _land_geom(result)
    roads = _roads_along(conn, geom, t["road_limit_tolerance_m"])
    rules = check_permit(land=geom, parts=_zone_parts(result, geom), project=spec, roads=roads,
                         constraints=_constraints(result), tolerance_m=t["geometry_tolerance_m"],
                         road_tolerance_m=t["road_limit_tolerance_m"])
    request = {"land": land.describe(), "date": result["date"], "project": project, "crs": crs}
    return _finish(conn, "permit", request, result, outcome(rules), {"rules": rules})


def _land_vertices(land: LandRequest, options: Options) -> int:
    """Vertices of a land given as a geometry (checked against the per-geometry limit before anything else)."""
    return int(shapely.get_num_coordinates(parse_geometry(land.geometry, land.crs, options.max_land_area_m2,  # type: ignore[arg-type]
                                                          options.max_vertices)))


def _geoms(items: object, what: str, crs: str | None, budget: _Budget) -> list[BaseGeometry]:
    if not isinstance(items, list):
        raise InputError(f"{what} : une liste de géométries GeoJSON est attendue")
    budget.count(items, what)
    return [budget.parse(g, crs) for g in items]


def lot_check(conn: psycopg.Connection, land: LandRequest, lots: list[dict], internal_roads: list | None = None,
              green_spaces: list | None = None, facilities: list | None = None, day: date | None = None,
              options: Options = DEFAULT_OPTIONS, crs: str | None = None) -> dict:
    """Check a subdivision plan: lots inside, no overlap, all assigned, lot sizes, frontage and access."""
    if not isinstance(lots, list) or not lots:
        raise InputError("lots : une liste non vide de {id, geometry} est attendue")
    budget = _Budget(options)
    budget.count(lots, "lots")
    if crs is not None:
        _text(crs, "crs")
    if land.geometry is not None:
        budget.used += _land_vertices(land, options)
    parsed, recorded = [], []
    for i, item in enumerate(lots):
        if not isinstance(item, dict) or "geometry" not in item:
            raise InputError(f"lot n° {i + 1} : {{id, geometry}} attendu")
        if set(item) - {"id", "geometry"}:
            raise InputError(f"lot n° {i + 1} : champ(s) inconnu(s) {sorted(set(item) - {'id', 'geometry'})} "
                             "(un lot est {id, geometry})")
        lot_id = item.get("id", i + 1)
        if isinstance(lot_id, bool) or not isinstance(lot_id, str | int):
            raise InputError(f"lot n° {i + 1} : « id » doit être un texte ou un nombre entier")
        lot_id = _text(lot_id, f"lot n° {i + 1} : « id »")
        parsed.append(Lot(lot_id, budget.parse(item["geometry"], crs or land.crs)))
        recorded.append({"id": item["id"], "geometry": core_geojson(item["geometry"])} if "id" in item
                        else {"geometry": core_geojson(item["geometry"])})
    crs = crs or land.crs
    roads_in = _geoms(internal_roads or [], "voies internes", crs, budget)
    greens = _geoms(green_spaces or [], "espaces verts", crs, budget)
    equip = _geoms(facilities or [], "équipements", crs, budget)
    result = instruct(conn, land, day, replace(options, with_geometry=True))
    t = result["provenance"]["thresholds"]
    geom = _land_geom(result)
    existing = _roads_along(conn, geom, t["road_limit_tolerance_m"])
    body = check_lots(land=geom, lots=parsed, internal_roads=roads_in, existing_roads=existing, green_spaces=greens,
                      facilities=equip, parts=_zone_parts(result, geom), thresholds=t)
    all_rules = body["rules"] + [r for lot in body["lots"] for r in lot["rules"]]
    def core(items: list | None) -> list | None:
        return None if items is None else [core_geojson(g) for g in items]

    request = {"land": land.describe(), "date": result["date"], "lots": recorded, "internal_roads": core(internal_roads),
               "green_spaces": core(green_spaces), "facilities": core(facilities), "crs": crs}
    return _finish(conn, "subdivision", request, result, outcome(all_rules), body)


def licence_check(conn: psycopg.Connection, location: LandRequest, activity: str, filed_at: str | None = None,
                  day: date | None = None, options: Options = DEFAULT_OPTIONS) -> dict:
    """Check an activity at a location: zone compatibility, distances to others, public domain."""
    day_ = day or date.today()
    version, catalogue = rule_set(conn, "activities", day_)
    spec = activity_of(catalogue, activity)
    result = instruct(conn, location, day_, replace(options, with_geometry=True, point_buffer_m=1.0))
    t = result["provenance"]["thresholds"]
    geom = _land_geom(result)
    # distances are measured from the point itself when a point was given, else from the land
    here = parse_point(location.point, location.crs) if location.point is not None else geom
    ewkb = shapely.to_wkb(shapely.set_srid(here, 26191), include_srid=True)
    zones = [r for r in result["rules"] if not r["marginal"]]
    rules = zone_compatibility(spec, zones, catalogue)
    for rule in spec.get("distance_rules", []):
        radius = max(3.0 * rule["min_m"], 1000.0)
        nearby = q.establishments_near(conn, ewkb, rule["kind"], radius, 50)
        rules.append(distance_rule(rule, nearby, t["distance_method"], filed_at, int(t["nearest_listed"])))
    if spec.get("public_domain_only"):
        rules.append(public_domain_rule(q.on_public_domain(conn, ewkb, t["geometry_tolerance_m"])))
    if filed_at is not None:
        _text(filed_at, "filed_at")
    request = {"location": location.describe(), "activity": activity, "filed_at": filed_at, "date": day_.isoformat()}
    body = {"activity": {"code": activity, **{k: v for k, v in spec.items() if k != "distance_rules"}},
            "catalogue_version": version, "rules": rules}
    return _finish(conn, "licence", request, result, outcome(rules), body)
