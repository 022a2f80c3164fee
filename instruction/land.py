"""Pure reading of a land request: titles, a GeoJSON geometry with its CRS, or a point."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from gis.crs import CRS84, STORAGE_SRID, check_extent, crs_extent, crs_label, parse_crs, reproject
from gis.errors import CRSError, GeometryError, InputError, PayloadTooLarge
from gis.geometry import invalidity_reason
from gis.landref import LandRef, parse_land_ref

STORAGE = parse_crs(STORAGE_SRID)
ONE_WAY = "désignez le terrain d'une seule façon : référence(s) foncière(s), géométrie GeoJSON, ou point (lon, lat)"
NO_POINT = "point attendu : deux nombres (longitude, latitude)"
G = TypeVar("G", bound=BaseGeometry)


@dataclass(frozen=True)
class LandRequest:
    """What land to instruct: one or several titles, or a geometry, or a point (CRS84 unless `crs`)."""

    refs: tuple[str, ...] = ()
    geometry: dict | None = None
    point: tuple[float, float] | None = None
    crs: str | None = None

    def describe(self) -> dict:
        """The request as it is recorded with the result."""
        if self.refs:
            return {"refs": [parse_land_ref(r).normalized or r for r in self.refs]}
        if self.geometry is not None:
            return {"geometry": core_geojson(self.geometry), "crs": self.crs or CRS84}
        if self.point is None:  # check_request refuses such a request before anything is recorded
            raise InputError(ONE_WAY)
        return {"point": list(self.point), "crs": self.crs or CRS84}


@dataclass
class Land:
    """The resolved land in EPSG:26191."""

    geom: BaseGeometry
    refs: list[str] = field(default_factory=list)
    parcel_ids: list[int] = field(default_factory=list)
    legal_area_m2: float | None = None
    parts: int = 1

    @property
    def ewkb(self) -> bytes:
        """EWKB with SRID, as the queries take it."""
        return shapely.to_wkb(shapely.set_srid(self.geom, STORAGE_SRID), include_srid=True)

    @property
    def area_m2(self) -> float:
        """Computed area."""
        return float(self.geom.area)


def check_request(request: LandRequest) -> None:
    """Exactly one way of designating land."""
    given = [bool(request.refs), request.geometry is not None, request.point is not None]
    if sum(given) != 1:
        raise InputError(ONE_WAY)


def parse_refs(texts: tuple[str, ...]) -> list[LandRef]:
    """Parse titles; untitled land cannot be looked up by reference."""
    refs = [parse_land_ref(t) for t in texts]
    if any(r.kind == "NI" for r in refs):
        raise InputError("un terrain non immatriculé se désigne par sa géométrie ou par un point, pas par référence")
    return list(dict.fromkeys(refs))


def _in_territory(geom: BaseGeometry, label: str) -> None:
    extent = crs_extent(STORAGE, 0.0)
    if extent is None:  # EPSG:26191 has an area of use: only a PROJ database without it gets here
        return
    xmin, ymin, xmax, ymax = extent
    bx = shapely.bounds(geom)
    if bx[0] < xmin or bx[1] < ymin or bx[2] > xmax or bx[3] > ymax:
        raise CRSError(f"{label} hors du Maroc (zone Nord, EPSG:26191 : au nord de 31°30'N) : vérifiez l'ordre "
                       "longitude, latitude et le SCR indiqué")


def to_storage(geom: G, crs_text: str | None) -> G:
    """Reproject a geometry given in `crs_text` (CRS84 by default) to EPSG:26191, checking its extent."""
    crs = parse_crs(crs_text or CRS84)
    check_extent(tuple(shapely.total_bounds(geom)), crs)
    out = reproject(np.array([geom], dtype=object), crs, STORAGE)[0] if crs != STORAGE else geom
    _in_territory(out, "coordonnées" if crs == STORAGE else f"coordonnées ({crs_label(crs)})")
    return out


def too_many_vertices(what: str, count: int, limit: int, setting: str) -> PayloadTooLarge:
    """The 413 of a geometry (or a request) past its vertex limit, saying the limit and how to get it raised."""
    return PayloadTooLarge(f"{what} : {count} sommets, au-delà de la limite de {limit} ({setting}) ; simplifiez "
                           "le contour (une précision de 10 cm suffit) ou demandez à l'administrateur du service de "
                           "relever la limite")


def core_geojson(geojson: object) -> object:
    """The geometry of a GeoJSON object as it is recorded: `type` and `coordinates` only (no Feature wrapper,
    properties or other members, which a caller could fill with anything)."""
    if isinstance(geojson, dict) and geojson.get("type") == "Feature":
        geojson = geojson.get("geometry")
    if not isinstance(geojson, dict):
        return geojson
    return {k: geojson[k] for k in ("type", "coordinates") if k in geojson}


def parse_geometry(geojson: dict, crs_text: str | None, max_area_m2: float,
                   max_vertices: int = 10_000) -> BaseGeometry:
    """A polygonal GeoJSON geometry → a valid geometry in EPSG:26191, or a clear 400 (413 past `max_vertices`)."""
    if not isinstance(geojson, dict) or "type" not in geojson:
        raise GeometryError("géométrie GeoJSON attendue : un objet {\"type\": \"Polygon\", \"coordinates\": …}")
    if geojson.get("type") == "Feature":
        geojson = geojson.get("geometry") or {}
    try:
        geom = shape(geojson)
    except Exception:  # shapely raises several kinds for malformed coordinates; its text is not for users
        raise GeometryError("géométrie GeoJSON illisible : « coordinates » doit être une liste d'anneaux, chacun une "
                            "liste de paires [x, y] fermée (premier point = dernier)") from None
    vertices = int(shapely.get_num_coordinates(geom))
    if vertices > max_vertices:  # before validity and reprojection, whose cost grows with it
        raise too_many_vertices("géométrie", vertices, max_vertices, "URBASIG_MAX_VERTICES")
    if geom.is_empty:
        raise GeometryError("géométrie vide : donnez le contour du terrain")
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise GeometryError(f"un terrain est un polygone (reçu {geom.geom_type})")
    geom = shapely.force_2d(geom)
    if not geom.is_valid:
        raise GeometryError(f"géométrie invalide : {invalidity_reason(geom)} ; corrigez le contour (sommets dans "
                            "l'ordre, sans croisement)")
    out = to_storage(geom, crs_text)
    if out.area > max_area_m2:
        raise InputError(f"terrain de {out.area / 1e6:.2f} km² : au-delà de la limite de {max_area_m2 / 1e6:g} km² "
                         "(URBASIG_MAX_LAND_AREA_M2)")
    if out.area < 1.0:
        raise GeometryError("terrain de moins de 1 m² : vérifiez le SCR (des degrés donnés en mètres ?)")
    return out


def parse_point(point: Sequence[float] | None, crs_text: str | None) -> shapely.Point:
    """A point (lon, lat in CRS84 by default) in EPSG:26191."""
    if point is None:
        raise GeometryError(NO_POINT)
    try:
        x, y = float(point[0]), float(point[1])
    except (TypeError, ValueError, IndexError):
        raise GeometryError(NO_POINT) from None
    if not (np.isfinite(x) and np.isfinite(y)):
        raise GeometryError("point attendu : coordonnées finies")
    return to_storage(shapely.Point(x, y), crs_text)
