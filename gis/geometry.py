"""Validation with reasons, repair, and coercion of geometries to a layer's kind."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely import GeometryType
from shapely.geometry.base import BaseGeometry

POLYGONAL = (GeometryType.POLYGON, GeometryType.MULTIPOLYGON)
LINEAR = (GeometryType.LINESTRING, GeometryType.MULTILINESTRING, GeometryType.LINEARRING)
PUNCTUAL = (GeometryType.POINT, GeometryType.MULTIPOINT)
KIND_TYPES = {"polygon": POLYGONAL, "line": LINEAR, "point": PUNCTUAL}
KIND_LABELS = {"polygon": "polygone", "line": "ligne", "point": "point", "any": "géométrie"}


@dataclass
class CheckReport:
    """What happened to each feature: problems stop an import, repairs are reported."""

    problems: list[tuple[int, str]] = field(default_factory=list)
    repaired: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether no feature has a blocking problem."""
        return not self.problems


_GEOS_REASONS = {
    "Self-intersection": "auto-intersection",
    "Ring Self-intersection": "anneau auto-sécant",
    "Too few points": "trop peu de points",
    "Hole lies outside shell": "trou hors du contour extérieur",
    "Holes are nested": "trous imbriqués",
    "Interior is disconnected": "intérieur déconnecté",
    "Nested shells": "contours imbriqués",
    "Duplicate Rings": "anneaux en double",
    "Invalid Coordinate": "coordonnée invalide",
    "Ring is not closed": "anneau non fermé",
}


def invalidity_reason(geom: BaseGeometry) -> str:
    """Why a geometry is invalid, in French, with the location GEOS gives ("auto-intersection en (x, y)")."""
    reason = shapely.is_valid_reason(geom)
    label, _, where = reason.partition("[")
    text = _GEOS_REASONS.get(label.strip(), label.strip())
    if where:
        coords = where.rstrip("]").split()
        text += " en (" + ", ".join(coords) + ")"
    return text


def closed_lines_to_polygons(geoms: np.ndarray) -> np.ndarray:
    """Turn closed (multi)linestrings into polygons: CAD drawings give zones as closed polylines."""
    out = geoms.copy()
    types = shapely.get_type_id(geoms)
    for i in np.flatnonzero(np.isin(types, [t.value for t in LINEAR])):
        parts = shapely.get_parts(geoms[i])
        if all(shapely.is_closed(p) and shapely.get_num_coordinates(p) >= 4 for p in parts):
            polys = [shapely.Polygon(p.coords) for p in parts]
            out[i] = polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)
    return out


def _polygonal_part(geom: BaseGeometry) -> BaseGeometry:
    """Keep the polygons of a (possibly mixed) geometry, as one MultiPolygon."""
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in (3, 6)]
    polys = [q for p in parts for q in shapely.get_parts(p)]
    return shapely.MultiPolygon(polys) if polys else shapely.MultiPolygon()


def promote_to_multi(geoms: np.ndarray, kind: str) -> np.ndarray:
    """Make every polygon a MultiPolygon (and lines/points multi) so a layer has one type."""
    if kind != "polygon":
        return geoms
    out = geoms.copy()
    single = shapely.get_type_id(geoms) == GeometryType.POLYGON.value
    out[single] = [shapely.MultiPolygon([g]) for g in geoms[single]]
    return out


def check_geometries(geoms: np.ndarray, kind: str, repair: bool = False) -> tuple[np.ndarray, CheckReport]:
    """Validate an array of geometries for a layer of `kind` ("polygon", "line", "point", "any").

    Returns the geometries (2D, repaired when asked, polygons promoted to MultiPolygon) and a report
    whose problems carry the 1-based feature number and the reason in French.
    """
    report = CheckReport()
    geoms = np.asarray(geoms, dtype=object)
    missing = shapely.is_missing(geoms)
    for i in np.flatnonzero(missing):
        report.problems.append((int(i) + 1, "géométrie absente"))
    present = ~missing
    geoms = geoms.copy()
    geoms[present] = shapely.force_2d(geoms[present])
    if kind == "polygon":
        geoms[present] = closed_lines_to_polygons(geoms[present])
    empty = present & shapely.is_empty(geoms)
    for i in np.flatnonzero(empty):
        report.problems.append((int(i) + 1, "géométrie vide"))
    usable = present & ~empty
    if kind in KIND_TYPES:
        allowed = [t.value for t in KIND_TYPES[kind]]
        wrong = usable & ~np.isin(shapely.get_type_id(geoms), allowed)
        for i in np.flatnonzero(wrong):
            got = shapely.get_type_id(geoms[i])
            report.problems.append((int(i) + 1, f"type {GeometryType(got).name.lower()} au lieu de {KIND_LABELS[kind]}"))
        usable &= ~wrong
    invalid = usable & ~shapely.is_valid(geoms)
    for i in np.flatnonzero(invalid):
        reason = invalidity_reason(geoms[i])
        if not repair:
            report.problems.append((int(i) + 1, f"géométrie invalide : {reason}"))
            continue
        fixed = shapely.make_valid(geoms[i])
        if kind == "polygon":
            fixed = _polygonal_part(fixed)
        if fixed.is_empty or not fixed.is_valid:
            report.problems.append((int(i) + 1, f"géométrie invalide et irréparable : {reason}"))
            continue
        geoms[i] = fixed
        report.repaired.append((int(i) + 1, f"réparée ({reason})"))
    report.problems.sort()
    return promote_to_multi(geoms, kind), report


def describe_problems(problems: list[tuple[int, str]], limit: int = 10) -> str:
    """A readable list such as "entité 3 : géométrie vide ; entité 7 : …" (first `limit`)."""
    shown = "; ".join(f"entité {n} : {reason}" for n, reason in problems[:limit])
    more = len(problems) - limit
    return shown + (f" ; et {more} autre(s)" if more > 0 else "")


def to_ewkb_hex(geoms: np.ndarray, srid: int) -> list[str | None]:
    """Hex EWKB with the SRID, the text form PostGIS reads in COPY (bytes.hex is 4× faster than shapely's hex)."""
    return [None if w is None else w.hex() for w in shapely.to_wkb(shapely.set_srid(geoms, srid), include_srid=True)]
