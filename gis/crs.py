"""CRS parsing, cached transformers (always x/y) and the check that coordinates fit their CRS."""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as ProjCRSError

from gis.errors import ConfigError, CRSError

STORAGE_SRID = 26191  # Merchich / Nord Maroc: every cadastre and plan geometry is stored in it.
CRS84 = "OGC:CRS84"

# The CRSs the OGC API serves: URI -> (SRID, coordinates in lat/lon order, decimals kept in responses).
CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
API_CRS: dict[str, tuple[int, bool, int]] = {
    CRS84_URI: (4326, False, 7),
    "http://www.opengis.net/def/crs/EPSG/0/4326": (4326, True, 7),  # EPSG:4326 is lat/lon, as the standard says
    "http://www.opengis.net/def/crs/EPSG/0/3857": (3857, False, 2),
    "http://www.opengis.net/def/crs/EPSG/0/26191": (26191, False, 3),  # the storage CRS, to the millimetre
}
_API_CRS_ALIASES = {"CRS84": CRS84_URI, "OGC:CRS84": CRS84_URI, "EPSG:4326": "http://www.opengis.net/def/crs/EPSG/0/4326",
                    "[EPSG:4326]": "http://www.opengis.net/def/crs/EPSG/0/4326",
                    "EPSG:3857": "http://www.opengis.net/def/crs/EPSG/0/3857",
                    "EPSG:26191": "http://www.opengis.net/def/crs/EPSG/0/26191"}
# Coordinates outside these ranges (x0, y0, x1, y1, in x/y order) cannot be in the CRS of that SRID.
SRID_DOMAINS: dict[int, tuple[float, float, float, float]] = {
    4326: (-180, -90, 180, 90), 3857: (-20037508.35, -20048966.11, 20037508.35, 20048966.11),
    26191: (-1e7, -1e7, 1e7, 1e7)}


def api_crs_uri(value: str) -> str | None:
    """The URI of a CRS the OGC API serves, given its URI or a short name (EPSG:4326, CRS84), else None."""
    text = value.strip("<>")
    uri = _API_CRS_ALIASES.get(text, text)
    return uri if uri in API_CRS else None

_URI = re.compile(r"(?:https?://www\.opengis\.net/def/crs/|urn:ogc:def:crs:)(?P<auth>[A-Z]+)[/:](?:[\d.]*)[/:]+(?P<code>\w+)",
                  re.IGNORECASE)


@lru_cache(maxsize=64)
def parse_crs(text: str | int) -> CRS:
    """Read a CRS from an EPSG code, "EPSG:n", an OGC URI, "CRS84" or WKT."""
    if isinstance(text, int) or (isinstance(text, str) and text.strip().isdigit()):
        text = f"EPSG:{int(text)}"
    raw = str(text).strip()
    match = _URI.fullmatch(raw)
    if match:
        raw = f"{match['auth'].upper()}:{match['code']}"
    if raw.upper() in ("CRS84", "OGC:CRS84"):
        raw = CRS84
    try:
        return CRS.from_user_input(raw)
    except ProjCRSError:
        raise CRSError(f"système de coordonnées inconnu : « {text} » (ex. EPSG:26191, EPSG:4326, CRS84)") from None


def crs_label(crs: CRS) -> str:
    """A short name such as "EPSG:26191 (Merchich / Nord Maroc)"."""
    auth = crs.to_authority()
    code = f"{auth[0]}:{auth[1]}" if auth else "CRS sans code"
    return f"{code} ({crs.name})"


def srid_of(crs: CRS) -> int | None:
    """The EPSG code of a CRS, or None when it has none."""
    auth = crs.to_authority(min_confidence=90)
    if auth and auth[0] == "EPSG":
        return int(auth[1])
    if auth and auth == ("OGC", "CRS84"):
        return 4326
    return None


def transformer(src: CRS, dst: CRS) -> Transformer:
    """A cached transformer from src to dst with x/y (lon/lat) axis order."""
    return _transformer(src.srs, dst.srs)  # keyed by the CRS text: hashing a CRS object writes its WKT


@lru_cache(maxsize=64)
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=True)


def reproject(geoms: np.ndarray, src: CRS, dst: CRS) -> np.ndarray:
    """Reproject an array of shapely geometries; a no-op when the CRSs are equal."""
    if src.srs == dst.srs or src == dst:
        return geoms
    tr = transformer(src, dst)

    def _apply(coords: np.ndarray) -> np.ndarray:
        x, y = tr.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    out = shapely.transform(geoms, _apply)
    if np.isinf(shapely.get_coordinates(out)).any():
        raise CRSError(f"la reprojection de {crs_label(src)} vers {crs_label(dst)} a échoué (coordonnées hors domaine)")
    return out


def crs_extent(crs: CRS, margin_m: float = 20_000.0) -> tuple[float, float, float, float] | None:
    """The CRS's area of use in its own coordinates (with a margin for projected CRSs)."""
    return _crs_extent(crs.srs, margin_m)


@lru_cache(maxsize=64)
def _crs_extent(srs: str, margin_m: float) -> tuple[float, float, float, float] | None:
    crs = CRS.from_user_input(srs)
    area = crs.area_of_use
    if area is None:
        return None
    if crs.is_geographic:
        return (area.west - 0.2, area.south - 0.2, area.east + 0.2, area.north + 0.2)
    lonlat = CRS.from_epsg(4326)
    xmin, ymin, xmax, ymax = transformer(lonlat, crs).transform_bounds(area.west, area.south, area.east, area.north)
    return (xmin - margin_m, ymin - margin_m, xmax + margin_m, ymax + margin_m)


def storage_area_lonlat(margin_deg: float = 1.0) -> tuple[float, float, float, float]:
    """The storage CRS's area of use in degrees (west, south, east, north), with a margin: outside it nothing
    is stored and coordinates cannot be transformed to it."""
    area = CRS.from_epsg(STORAGE_SRID).area_of_use
    if area is None:  # only a PROJ database stripped of areas of use gets here
        raise ConfigError(f"la base PROJ ne donne pas l'emprise d'EPSG:{STORAGE_SRID} : réinstallez pyproj")
    return area.west - margin_deg, area.south - margin_deg, area.east + margin_deg, area.north + margin_deg


def check_extent(bounds: tuple[float, float, float, float], crs: CRS) -> None:
    """Refuse coordinates that cannot be in the declared CRS (e.g. degrees labelled EPSG:26191)."""
    extent = crs_extent(crs)
    if extent is None or any(np.isnan(bounds)):
        return
    xmin, ymin, xmax, ymax = bounds
    exmin, eymin, exmax, eymax = extent
    if xmin >= exmin and ymin >= eymin and xmax <= exmax and ymax <= eymax:
        return
    hint = ""
    if not crs.is_geographic and -180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90:
        hint = " Elles ressemblent à des degrés (longitude/latitude) : le fichier est-il en EPSG:4326 ?"
    raise CRSError(
        f"les coordonnées ({xmin:.3f}, {ymin:.3f}) – ({xmax:.3f}, {ymax:.3f}) sont hors du domaine de "
        f"{crs_label(crs)}, dont l'emprise est ({exmin:.0f}, {eymin:.0f}) – ({exmax:.0f}, {eymax:.0f}).{hint} "
        "Corrigez le SCR déclaré (fichier .prj ou option --crs)."
    )
