"""Instruct a piece of land: resolve it, overlay every layer as of a date, derive the applicable rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import psycopg
import shapely
from shapely.geometry.base import BaseGeometry

from gis.errors import InputError, NotFound, PayloadTooLarge
from gis.landref import LandRef
from instruction.findings import build_result, may_conflict
from instruction.land import Land, LandRequest, check_request, parse_geometry, parse_point, parse_refs
from layers import overlay as q
from layers import parcels
from layers.provenance import code_version


@dataclass(frozen=True)
class Options:
    """How to instruct (from settings and the request)."""

    max_land_area_m2: float = 5_000_000.0
    apply_plans_in_inquiry: bool = False
    with_geometry: bool = False
    point_buffer_m: float | None = None  # a point off any parcel becomes a small disc (licence checks)
    max_vertices: int = 10_000  # of one geometry sent by the caller
    max_request_vertices: int = 100_000  # of all the geometries of one request
    max_lots: int = 2_000  # lots (and, each, internal roads, green spaces, facilities) of a subdivision
    max_land_refs: int = 50  # titles designating one land
    envelope_storey_height_m: float = 3.0  # the buildable envelope's assumptions (instruction/envelope.py)
    envelope_ratio_area: str = "gross"
    envelope_max_area_m2: float = 200_000.0  # …and its own bound of work (a land past it gets no envelope)
    envelope_max_vertices: int = 2_000

    @classmethod
    def from_settings(cls, settings: object, with_geometry: bool = False) -> Options:
        """The options a request gets from the settings (any object with the settings' attributes)."""
        names = ("max_land_area_m2", "apply_plans_in_inquiry", "max_vertices", "max_request_vertices", "max_lots",
                 "max_land_refs", "envelope_storey_height_m", "envelope_ratio_area", "envelope_max_area_m2",
                 "envelope_max_vertices")
        return cls(with_geometry=with_geometry, **{n: getattr(settings, n) for n in names})


DEFAULT_OPTIONS = Options()


def _land_refs(request: LandRequest, options: Options) -> list[LandRef]:
    """The request's titles, parsed, within URBASIG_MAX_LAND_REFS."""
    if len(request.refs) > options.max_land_refs:
        raise PayloadTooLarge(f"{len(request.refs)} titres pour un terrain : au plus {options.max_land_refs} "
                              "(URBASIG_MAX_LAND_REFS ; pour davantage, demandez à l'administrateur de relever "
                              "la limite)")
    return parse_refs(request.refs)


def check_land(request: LandRequest, options: Options) -> None:
    """Everything that can be checked of a land request without the database: one way of designating the land,
    the titles' spelling and count, the geometry (validity, CRS, area, vertices) or the point. A job's inputs are
    checked so before it is accepted."""
    check_request(request)
    if request.refs:
        _land_refs(request, options)
    elif request.geometry is not None:
        parse_geometry(request.geometry, request.crs, options.max_land_area_m2, options.max_vertices)
    else:
        parse_point(request.point, request.crs)


def resolve_land(conn: psycopg.Connection, request: LandRequest, options: Options, tolerance_m: float) -> Land:
    """Titles (merged when several), a geometry, or the parcel under a point."""
    check_request(request)
    if request.refs:
        refs = _land_refs(request, options)
        found = parcels.find_parcels(conn, refs)
        known = {p["land_ref"] for p in found}
        missing = [str(r) for r in refs if r.normalized not in known]
        if missing:
            raise NotFound(f"titre(s) inconnu(s) : {', '.join(missing)}")
        legal = sum(p["legal_area_m2"] for p in found) if all(p["legal_area_m2"] for p in found) else None
        if len(found) == 1:
            geom = shapely.from_wkb(found[0]["ewkb"])
            parts = 1
        else:
            ewkb, parts = parcels.merge_parcels(conn, [p["ewkb"] for p in found], tolerance_m)
            geom = shapely.from_wkb(ewkb)
        if geom.area > options.max_land_area_m2:
            raise InputError(f"terrain de {geom.area / 1e6:.2f} km² : au-delà de la limite (URBASIG_MAX_LAND_AREA_M2)")
        return Land(shapely.set_srid(geom, 0), refs=[p["land_ref"] for p in found],
                    parcel_ids=[p["id"] for p in found], legal_area_m2=legal, parts=parts)
    if request.geometry is not None:
        geom = parse_geometry(request.geometry, request.crs, options.max_land_area_m2, options.max_vertices)
        parts = len(shapely.get_parts(geom))
        return Land(geom, parts=parts)
    point = parse_point(request.point, request.crs)
    parcel = parcels.parcel_at(conn, point.x, point.y)
    if parcel is None and options.point_buffer_m:
        return Land(point.buffer(options.point_buffer_m, quad_segs=4))
    if parcel is None:
        raise NotFound("aucune parcelle cadastrale en ce point : dessinez le contour du terrain")
    return Land(shapely.set_srid(shapely.from_wkb(parcel["ewkb"]), 0),
                refs=[parcel["land_ref"]] if parcel["land_ref"] else [], parcel_ids=[parcel["id"]],
                legal_area_m2=parcel["legal_area_m2"])


@dataclass(frozen=True)
class Instructed:
    """An instruction result and what it was made from that its JSON leaves out (for the envelope)."""

    result: dict
    roads: list[dict]  # the roads the land fronts (layers.overlay.roads_near rows, with their `wkb`)
    zones: dict[int, dict]  # the attributes of the zones crossing it, by id (conditional rules included)


def instruct(conn: psycopg.Connection, request: LandRequest, day: date | None = None,
             options: Options = DEFAULT_OPTIONS) -> dict:
    """The instruction result for the land as of `day` (today by default): deterministic for the same data."""
    return instruct_with_sources(conn, request, day, options).result


def instruct_with_sources(conn: psycopg.Connection, request: LandRequest, day: date | None = None,
                          options: Options = DEFAULT_OPTIONS,
                          check: Callable[[BaseGeometry], None] | None = None) -> Instructed:
    """`instruct`, with the roads and zones it read; `check` may refuse the land as soon as it is resolved (before
    the overlay)."""
    day = day or date.today()
    earliest, stamp, thresholds = q.instruction_context(conn, day)
    if earliest is None or day < earliest:
        raise InputError(f"date antérieure à tout document d'urbanisme enregistré (le plus ancien date du {earliest})"
                         if earliest else "aucun document d'urbanisme n'est enregistré")
    land = resolve_land(conn, request, options, thresholds[1]["geometry_tolerance_m"])
    if check is not None:
        check(land.geom)
    ewkb = land.ewkb
    plans = q.plans_at(conn, ewkb, day)
    plan_ids = [p["id"] for p in plans]
    pieces_geometry = options.with_geometry or may_conflict(plans, options.apply_plans_in_inquiry)
    rows = q.overlay(conn, ewkb, plan_ids, pieces_geometry)
    roads = q.roads_near(conn, ewkb, thresholds[1]["road_limit_tolerance_m"])
    result = build_result(request=request.describe(), land=land, day=day, plans=plans, rows=rows,
                          roads=[{k: v for k, v in r.items() if k != "wkb"} for r in roads], thresholds=thresholds,
                          apply_inquiry=options.apply_plans_in_inquiry, with_geometry=options.with_geometry,
                          data_timestamp=stamp, code_version=code_version())
    return Instructed(result, roads, {r["id"]: r["attrs"] for r in rows if r["layer"] == "zones"})
