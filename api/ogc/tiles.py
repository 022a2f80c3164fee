"""OGC API Tiles handlers: tile matrix set, tilesets, TileJSON and the tiles themselves."""

from __future__ import annotations

import math

import psycopg

from api.ogc.features import OgcError, parse_datetime
from gis.errors import NotFound
from layers.tiles import EXTENT, MAX_ZOOM, MIN_ZOOM, TILE_LAYERS, TileLayer, get_tile, tile_bounds_ok, tile_limits

TMS = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
MVT = "application/vnd.mapbox-vector-tile"
HALF = 20037508.342789244


def check_tms(tms: str) -> None:
    """Only WebMercatorQuad is served."""
    if tms != TMS:
        raise NotFound(f"jeu de tuiles inconnu : « {tms} » ({TMS})")


def tile_layer(collection_id: str) -> TileLayer:
    """The tile layer of a collection, 404 otherwise."""
    layer = TILE_LAYERS.get(collection_id)
    if layer is None:
        raise NotFound(f"pas de tuiles pour la collection « {collection_id} » (tuiles : {', '.join(TILE_LAYERS)})")
    return layer


def tile_matrix_set() -> dict:
    """The WebMercatorQuad definition (zoom levels served by this server)."""
    matrices = []
    for z in range(MIN_ZOOM, MAX_ZOOM + 1):
        size = 2**z
        cell = 2 * HALF / size / 256
        matrices.append({"id": str(z), "scaleDenominator": cell / 0.00028, "cellSize": cell,
                         "cornerOfOrigin": "topLeft", "pointOfOrigin": [-HALF, HALF], "tileWidth": 256,
                         "tileHeight": 256, "matrixWidth": size, "matrixHeight": size})
    return {"id": TMS, "title": "Google Maps Compatible for the World", "uri": TMS_URI,
            "crs": "http://www.opengis.net/def/crs/EPSG/0/3857", "orderedAxes": ["X", "Y"], "tileMatrices": matrices}


def _row_col(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def tileset(conn: psycopg.Connection, base: str, collection_id: str) -> dict:
    """Tileset metadata with limits per zoom and the templated tile link."""
    layer = tile_layer(collection_id)
    bounds = tile_limits(conn, layer)
    limits = []
    if bounds:
        for z in range(MIN_ZOOM, MAX_ZOOM + 1):
            x0, y1 = _row_col(bounds[0], bounds[1], z)
            x1, y0 = _row_col(bounds[2], bounds[3], z)
            limits.append({"tileMatrix": str(z), "minTileRow": y0, "maxTileRow": y1, "minTileCol": x0,
                           "maxTileCol": x1})
    href = f"{base}/collections/{layer.id}/tiles/{TMS}"
    return {"title": f"{layer.id} — tuiles vectorielles", "dataType": "vector",
            "crs": "http://www.opengis.net/def/crs/EPSG/0/3857", "tileMatrixSetURI": TMS_URI,
            "tileMatrixSetLimits": limits,
            "layers": [{"id": layer.id, "dataType": "vector", "minTileMatrix": str(MIN_ZOOM),
                        "maxTileMatrix": str(MAX_ZOOM), "propertiesSchema": {"type": "object", "properties": {
                            name: {"type": "string"} for name, _ in layer.props}}}],
            "links": [{"href": href, "rel": "self", "type": "application/json"},
                      {"href": f"{base}/tileMatrixSets/{TMS}", "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                       "type": "application/json"},
                      {"href": f"{href}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}", "rel": "item", "type": MVT,
                       "templated": True},
                      {"href": f"{href}/tilejson", "rel": "describedby", "type": "application/json",
                       "title": "TileJSON"}]}


def tilesets(base: str, collection_id: str) -> dict:
    """The tilesets of a collection (one: WebMercatorQuad)."""
    layer = tile_layer(collection_id)
    href = f"{base}/collections/{layer.id}/tiles/{TMS}"
    return {"tilesets": [{"title": f"{layer.id}", "dataType": "vector", "tileMatrixSetURI": TMS_URI,
                          "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
                          "links": [{"href": href, "rel": "self", "type": "application/json"}]}]}


def tilejson(conn: psycopg.Connection, base: str, collection_id: str) -> dict:
    """TileJSON 3.0.0 for web maps (MapLibre)."""
    layer = tile_layer(collection_id)
    bounds = tile_limits(conn, layer)
    return {"tilejson": "3.0.0", "name": layer.id, "scheme": "xyz",
            "tiles": [f"{base}/collections/{layer.id}/tiles/{TMS}/{{z}}/{{y}}/{{x}}"],
            "minzoom": MIN_ZOOM, "maxzoom": MAX_ZOOM, "bounds": list(bounds) if bounds else [-180, -85, 180, 85],
            "vector_layers": [{"id": layer.id, "fields": {name: "String" for name, _ in layer.props},
                               "minzoom": MIN_ZOOM, "maxzoom": MAX_ZOOM}]}


def tile(conn: psycopg.Connection, collection_id: str, z: str, y: str, x: str, args: dict[str, str],
         if_none_match: str | None, use_cache: bool = True) -> tuple[dict, int, bytes]:
    """One MVT tile with ETag and Cache-Control; 304 when the client's copy is current."""
    layer = tile_layer(collection_id)
    try:
        zi, yi, xi = int(z), int(y), int(x)
    except ValueError:
        raise OgcError("tuile : z, y et x doivent être des entiers") from None
    if not tile_bounds_ok(zi, xi, yi):
        raise NotFound(f"tuile hors de la pyramide servie (niveaux {MIN_ZOOM} à {MAX_ZOOM}) : {z}/{y}/{x}")
    unknown = set(args) - {"datetime", "f", "api_key"}
    if unknown:
        raise OgcError(f"paramètre(s) inconnu(s) : {', '.join(sorted(unknown))}")
    day = parse_datetime(args.get("datetime"))
    if isinstance(day, tuple):
        raise OgcError("datetime : un instant est attendu pour les tuiles")
    if day is None and layer.id != "parcels":
        from datetime import date

        day = date.today()  # zoning and prescriptions of the plans in force today by default
    data, etag, _cached = get_tile(conn, layer, zi, xi, yi, day, use_cache)
    headers = {"ETag": f'"{etag}"', "Cache-Control": "public, max-age=300", "Content-Type": MVT}
    if if_none_match and etag in if_none_match:
        return headers, 304, b""
    return headers, (200 if data else 204), data


__all__ = ["EXTENT", "tile", "tile_matrix_set", "tilejson", "tileset", "tilesets"]
