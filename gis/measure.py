"""Lengths and areas of lon/lat shapes measured in Merchich / Nord Maroc metres (EPSG:26191), not Web Mercator.

The reference the planner's live measures (api/static/js/planner-merchich.js) are checked against.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis.crs import CRS84, STORAGE_SRID, parse_crs, transformer
from gis.errors import GeometryError


def to_storage_xy(lonlat: list[tuple[float, float]] | np.ndarray) -> np.ndarray:
    """Lon/lat pairs (WGS 84) → x/y pairs in EPSG:26191."""
    points = np.asarray(lonlat, dtype=float).reshape(-1, 2)
    x, y = transformer(parse_crs(CRS84), parse_crs(STORAGE_SRID)).transform(points[:, 0], points[:, 1])
    return np.column_stack([x, y])


def length_m(lonlat: list[tuple[float, float]]) -> float:
    """The length of a polyline given in lon/lat, in EPSG:26191 metres."""
    xy = to_storage_xy(lonlat)
    return float(np.hypot(*np.diff(xy, axis=0).T).sum()) if len(xy) > 1 else 0.0


def area_m2(lonlat: list[tuple[float, float]]) -> float:
    """The area of a ring given in lon/lat (closed or not), in EPSG:26191 square metres."""
    xy = to_storage_xy(lonlat)
    if len(xy) < 3:
        return 0.0
    return float(shapely.Polygon(xy).area)


def view_width_m(west: float, south: float, east: float, north: float) -> float:
    """The ground width of a map view, along its middle latitude, in EPSG:26191 metres."""
    values = (west, south, east, north)
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in values) or west >= east or south >= north:
        raise GeometryError("emprise de la vue invalide : [ouest, sud, est, nord] en degrés attendu")
    middle = (south + north) / 2
    return length_m([(west, middle), (east, middle)])


def view_polygon(west: float, south: float, east: float, north: float) -> BaseGeometry:
    """The view's box in EPSG:26191."""
    ring = [(west, south), (east, south), (east, north), (west, north), (west, south)]
    edge = []
    for (x0, y0), (x1, y1) in zip(ring, ring[1:], strict=False):  # densified: a lon/lat box is curved in Lambert
        edge += [(x0 + (x1 - x0) * k / 8, y0 + (y1 - y0) * k / 8) for k in range(8)]
    return shapely.Polygon(to_storage_xy(edge))
