"""OGC API Tiles handlers: tile matrix sets, tilesets, TileJSON and the tiles themselves.

Two standard tile matrix sets: WebMercatorQuad (web maps, TileJSON) and WorldCRS84Quad, the one GDAL's OGCAPI
driver prefers and the only one whose layer extents it computes right (it reads the collection's lon/lat
bbox as coordinates of the tile matrix set).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import psycopg

from api.ogc.features import OgcError, etag_matches, parse_datetime
from gis.errors import NotFound
from gis.tms import TILE_MATRIX_SETS, WEB_MERCATOR_QUAD, TileMatrixSet
from layers.datasets import PUBLIC, Viewer
from layers.partner_features import find_tile_layer
from layers.partner_layers import COLLECTION_PREFIX
from layers.tiles import DEFAULT_CAP, DRAFT, EXTENT, TILE_LAYERS, CacheCap, TileLayer, TileMemory, cached_tile, tile_limits

TMS = WEB_MERCATOR_QUAD.id
TMS_URI = WEB_MERCATOR_QUAD.uri
MVT = "application/vnd.mapbox-vector-tile"
JSON = "application/json"


def check_tms(tms: str) -> TileMatrixSet:
    """The tile matrix set called tms, 404 when it is not served."""
    found = TILE_MATRIX_SETS.get(tms)
    if found is None:
        raise NotFound(f"jeu de matrices de tuiles inconnu : « {tms} » ({', '.join(TILE_MATRIX_SETS)})")
    return found


def tile_layer(conn: psycopg.Connection | None, collection_id: str, viewer: Viewer = PUBLIC) -> TileLayer:
    """The tile layer of a collection, 404 otherwise (a partner layer hidden from `viewer` too).

    `conn` is only needed for a partner layer (None: the static layers alone)."""
    layer = find_tile_layer(conn, collection_id, viewer) if conn is not None else TILE_LAYERS.get(collection_id)
    if layer is None:
        raise NotFound(f"pas de tuiles pour la collection « {collection_id} » (tuiles : {', '.join(TILE_LAYERS)})")
    return layer


def tile_matrix_sets(base: str) -> dict:
    """The list of tile matrix sets."""
    return {"tileMatrixSets": [{"id": t.id, "title": t.title, "uri": t.uri, "crs": t.crs, "links": [
        {"href": f"{base}/tileMatrixSets/{t.id}", "rel": "self", "type": JSON}]} for t in TILE_MATRIX_SETS.values()]}


def tile_matrix_set(tms: str) -> dict:
    """The standard definition of a tile matrix set (every level; tilesets give the levels served)."""
    return check_tms(tms).definition()


def _props_schema(layer: TileLayer) -> dict:
    return {"type": "object", "properties": {name: {"type": "string"} for name, _ in layer.props}}


def tileset(conn: psycopg.Connection, base: str, collection_id: str, tms: str, viewer: Viewer = PUBLIC) -> dict:
    """Tileset metadata with the limits of each level served and the templated tile link."""
    layer, matrix_set = tile_layer(conn, collection_id, viewer), check_tms(tms)
    bounds = tile_limits(conn, layer)
    href = f"{base}/collections/{layer.id}/tiles/{matrix_set.id}"
    low, high = matrix_set.served
    links = [{"href": href, "rel": "self", "type": JSON},
             {"href": f"{base}/tileMatrixSets/{matrix_set.id}",
              "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", "type": JSON},
             {"href": f"{href}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}", "rel": "item", "type": MVT, "templated": True}]
    if matrix_set is WEB_MERCATOR_QUAD:
        links.append({"href": f"{href}/tilejson", "rel": "describedby", "type": JSON, "title": "TileJSON"})
    return {"title": f"{layer.id} — tuiles vectorielles ({matrix_set.id})", "dataType": "vector",
            "crs": matrix_set.crs, "tileMatrixSetURI": matrix_set.uri,
            "tileMatrixSetLimits": matrix_set.limits(bounds) if bounds else [],
            "layers": [{"id": layer.id, "dataType": "vector", "minTileMatrix": str(low), "maxTileMatrix": str(high),
                        "propertiesSchema": _props_schema(layer)}],
            "links": links}


def tilesets(conn: psycopg.Connection, base: str, collection_id: str, viewer: Viewer = PUBLIC) -> dict:
    """The tilesets of a collection: one per tile matrix set."""
    layer = tile_layer(conn, collection_id, viewer)
    return {"tilesets": [{"title": f"{layer.id} ({t.id})", "dataType": "vector", "tileMatrixSetURI": t.uri,
                          "crs": t.crs, "links": [
                              {"href": f"{base}/collections/{layer.id}/tiles/{t.id}", "rel": "self", "type": JSON},
                              {"href": f"{base}/tileMatrixSets/{t.id}",
                               "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", "type": JSON}]}
                         for t in TILE_MATRIX_SETS.values()]}


def tilejson(conn: psycopg.Connection, base: str, collection_id: str, tms: str, viewer: Viewer = PUBLIC) -> dict:
    """TileJSON 3.0.0 for web maps (MapLibre, QGIS): WebMercatorQuad only, as TileJSON is XYZ Web Mercator."""
    layer = tile_layer(conn, collection_id, viewer)
    if check_tms(tms) is not WEB_MERCATOR_QUAD:
        raise NotFound(f"TileJSON n'existe qu'en {TMS}")
    bounds = tile_limits(conn, layer)
    low, high = WEB_MERCATOR_QUAD.served
    return {"tilejson": "3.0.0", "name": layer.id, "scheme": "xyz",
            "tiles": [f"{base}/collections/{layer.id}/tiles/{TMS}/{{z}}/{{y}}/{{x}}"],
            "minzoom": low, "maxzoom": high, "bounds": list(bounds) if bounds else [-180, -85, 180, 85],
            "vector_layers": [{"id": layer.id, "fields": {name: "String" for name, _ in layer.props},
                               "minzoom": low, "maxzoom": high}]}


def _tile_day(layer: TileLayer, args: dict[str, str]) -> date | None:
    unknown = set(args) - {"datetime", "f", "api_key", "versions"}
    if unknown:
        raise OgcError(f"paramètre(s) inconnu(s) : {', '.join(sorted(unknown))} "
                       "(paramètres : datetime, versions, f)")
    day = parse_datetime(args.get("datetime"))
    if isinstance(day, tuple):
        raise OgcError("datetime : un instant est attendu pour les tuiles")
    if day is None and layer.join_plan:
        return date.today()  # zoning and prescriptions of the plans in force today by default
    return day


def _tile_status(layer: TileLayer, args: dict[str, str], matrix_set: TileMatrixSet) -> str | None:
    """versions=enquete_publique: the versions in public inquiry that day (zones: what they would change)."""
    status = args.get("versions")
    if status is None:
        return None
    if status != DRAFT:
        raise OgcError(f"versions : « {status} » non servi (valeur possible : {DRAFT} ; sans ce paramètre, "
                       "les versions en vigueur)")
    if not layer.join_plan:
        raise OgcError(f"versions : la collection « {layer.id} » n'appartient à aucune version de plan")
    if matrix_set is not WEB_MERCATOR_QUAD:
        raise OgcError(f"versions : servi en {TMS} seulement")
    return status


def tile(connect: Callable[[], psycopg.Connection], collection_id: str, z: str, y: str, x: str,
         args: dict[str, str], if_none_match: str | None, use_cache: bool = True, tms: str = TMS,
         cap: CacheCap = DEFAULT_CAP, memory: TileMemory | None = None,
         viewer: Viewer = PUBLIC) -> tuple[dict, int, bytes]:
    """One MVT tile with ETag and Cache-Control; 304 when the client's copy is current.

    `connect` gives the request's connection, asked for only when the tile is not in this process's `memory` or
    is a partner layer's (whether `viewer` may see it is asked each time); X-Urbasig-Cache says where the tile
    came from (memory, database, built). A partner layer that is not public has private tiles.
    """
    partner_layer = collection_id.startswith(COLLECTION_PREFIX)
    layer, matrix_set = tile_layer(connect() if partner_layer else None, collection_id, viewer), check_tms(tms)
    try:
        zi, yi, xi = int(z), int(y), int(x)
    except ValueError:
        raise OgcError("tuile : z, y et x doivent être des entiers") from None
    if not matrix_set.served_tile(zi, yi, xi):
        low, high = matrix_set.served
        raise NotFound(f"tuile hors de la pyramide servie ({matrix_set.id}, niveaux {low} à {high}) : {z}/{y}/{x}")
    day = _tile_day(layer, args)
    status = _tile_status(layer, args, matrix_set)
    # a partner layer's tile: the database is asked anyway (who may see it), so its version is read fresh too
    data, etag, source = cached_tile(connect, layer, zi, xi, yi, day, use_cache, matrix_set, cap, status,
                                     None if partner_layer else memory)
    headers = {"ETag": f'"{etag}"', "Cache-Control": "public, max-age=300", "Content-Type": MVT,
               "X-Urbasig-Cache": source}
    if layer.audience != "public":
        headers |= {"Cache-Control": "private, max-age=300", "Vary": "X-API-Key, Cookie"}
    if etag_matches(if_none_match, headers["ETag"]):
        return headers, 304, b""
    return headers, (200 if data else 204), data


__all__ = ["EXTENT", "tile", "tile_matrix_set", "tile_matrix_sets", "tilejson", "tileset", "tilesets"]
