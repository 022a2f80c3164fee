"""A GeoJSON file read in Python, never by GDAL: its geometries and its CRS, or a French refusal.

GDAL's GeoJSON driver follows a `"crs": {"type": "link", "properties": {"href": "http://…"}}` member (the
server fetches whatever URL the file names) and reads an unknown CRS name as WGS 84. Here the text goes
through the strict JSON reader (gis/jsontext.py: bounded depth, finite numbers), the `crs` member is taken
only as `{"type": "name"}` with an authority code read by gis/crs.py (no member: CRS84, as RFC 7946 says),
and each geometry is built by shapely. Pure: no I/O, no network, no globals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import CRS
from shapely.geometry import shape

from gis.crs import CRS84, parse_crs
from gis.errors import CRSError, FileFormatError, PayloadTooLarge
from gis.jsontext import parse_json

GEOMETRY_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
                  "GeometryCollection")
# The names a `crs` member may give: an authority code (EPSG:26191), an OGC URN or URI, CRS84; never WKT, a
# PROJ string (which can name grid files) or a URL to fetch.
_CRS_NAME = re.compile(r"(?:urn:ogc:def:crs:[A-Z]+:[\d.]*:\w+|https?://www\.opengis\.net/def/crs/[A-Z]+/[\d.]+/\w+"
                       r"|[A-Z]+:\w+|CRS84)", re.IGNORECASE)
_HOW = "déposez un GeoJSON (FeatureCollection de polygones) ou un Shapefile zippé"


@dataclass(frozen=True)
class GeoJSONLayer:
    """The geometries of a GeoJSON file (None where a feature has none) and the CRS of their coordinates."""

    geoms: np.ndarray
    crs: CRS
    declared_crs: bool


def read_geojson(data: bytes, max_features: int, max_depth: int = 64) -> GeoJSONLayer:
    """Read a FeatureCollection, a Feature or a bare geometry; refuse anything else in French."""
    doc = parse_json(data.removeprefix(b"\xef\xbb\xbf"), max_depth, "fichier GeoJSON", FileFormatError)
    if not isinstance(doc, dict):
        raise FileFormatError(f"fichier GeoJSON illisible : un objet JSON est attendu ; {_HOW}")
    kind = doc.get("type")
    if kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise FileFormatError("fichier GeoJSON illisible : « features » doit être une liste d'entités")
    elif kind == "Feature":
        features = [doc]
    elif kind in GEOMETRY_TYPES:
        features = [{"type": "Feature", "geometry": doc}]
    elif kind == "Topology":
        raise FileFormatError("fichier TopoJSON : ce format n'est pas pris en charge ; convertissez-le en GeoJSON "
                              "(QGIS, mapshaper) ou déposez un Shapefile zippé")
    else:
        raise FileFormatError(f"fichier GeoJSON illisible : type « {str(kind)[:40]} » inconnu ; {_HOW}")
    if len(features) > max_features:
        raise PayloadTooLarge(f"{len(features)} entités : au plus {max_features} polygones par fichier")
    crs, declared = file_crs(doc.get("crs"))
    geoms = np.array([_geometry(f, i + 1) for i, f in enumerate(features)] or [], dtype=object)
    return GeoJSONLayer(geoms, crs, declared)


def file_crs(member: object) -> tuple[CRS, bool]:
    """The CRS a GeoJSON `crs` member names (CRS84 without one) and whether one was given; a refusal otherwise."""
    if member is None:
        return parse_crs(CRS84), False
    if not isinstance(member, dict):
        raise CRSError("membre « crs » illisible : {\"type\": \"name\", \"properties\": {\"name\": \"EPSG:26191\"}} "
                       "attendu")
    if member.get("type") == "link":
        raise CRSError("membre « crs » de type « link » refusé : le serveur ne va pas chercher un système de "
                       "coordonnées à une adresse ; nommez-le ({\"type\": \"name\", \"properties\": {\"name\": "
                       "\"EPSG:26191\"}}) ou retirez ce membre si les coordonnées sont en longitude/latitude")
    props = member.get("properties")
    name = props.get("name") if isinstance(props, dict) else None
    if member.get("type") != "name" or not isinstance(name, str):
        raise CRSError("membre « crs » illisible : {\"type\": \"name\", \"properties\": {\"name\": \"EPSG:26191\"}} "
                       "attendu")
    if not _CRS_NAME.fullmatch(name.strip()):
        raise CRSError(f"système de coordonnées inconnu : « {name[:80]} » ; nommez-le par son code "
                       "(EPSG:26191 pour Merchich / Nord Maroc, urn:ogc:def:crs:OGC:1.3:CRS84 en longitude/latitude)")
    return parse_crs(name.strip()), True


def _geometry(feature: object, number: int) -> shapely.Geometry | None:
    """The shapely geometry of one feature (None when it has none), or a refusal naming the feature."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise FileFormatError(f"fichier GeoJSON illisible : l'entité {number} n'est pas un objet « Feature »")
    geometry = feature.get("geometry")
    if geometry is None:
        return None
    if not isinstance(geometry, dict) or geometry.get("type") not in GEOMETRY_TYPES:
        raise FileFormatError(f"fichier GeoJSON illisible : la géométrie de l'entité {number} n'a pas de type "
                              f"GeoJSON connu ({', '.join(GEOMETRY_TYPES[:6])})")
    try:
        return shape(geometry)
    except Exception:  # shapely raises several kinds for malformed coordinates; its text is not for users
        raise FileFormatError(f"fichier GeoJSON illisible : coordonnées de l'entité {number} mal formées (chaque "
                              "anneau d'un polygone est une liste d'au moins 4 paires [x, y], le premier point "
                              "répété à la fin)") from None
