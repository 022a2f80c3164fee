"""The /ogc blueprint: thin Flask adapters over the handlers (OGC API Features for now)."""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, render_template, request

from api.db import get_db
from api.inputs import json_body
from api.ogc import features, processes, tiles
from api.ogc.meta import collection_doc, collections_doc, conformance_doc, landing_doc
from gis.errors import Unauthorized
from layers.db import interruptible

ogc = Blueprint("ogc", __name__, url_prefix="/ogc")


# The processes whose every call is stored with its result (layers/checks.py store_check).
STORED_CHECKS = frozenset({"permit-check", "lot-check", "licence-check"})


def _base() -> str:
    return current_app.config["URBASIG"].public_base + "/ogc"  # never the request's Host (api/security.py)


def _partner() -> bool:
    """Whether the caller sent a valid partner key; a key that is sent but unknown or revoked is a 401."""
    key = request.headers.get("X-API-Key") or request.args.get("api_key")
    if not key:
        return False
    from layers.apikeys import check_key

    if not check_key(get_db(), key):
        raise Unauthorized("clé d'API (X-API-Key) inconnue ou révoquée : vérifiez la clé reçue de l'agence, "
                           "ou retirez l'en-tête pour un accès public")
    return True


def _wants_html() -> bool:
    f = request.args.get("f")
    if f:
        return f == "html"
    best = request.accept_mimetypes.best_match(["application/json", "application/geo+json", "text/html"])
    return best == "text/html"


def _json(doc: object, status: int = 200, mimetype: str = "application/json") -> Response:
    return Response(json.dumps(doc, ensure_ascii=False), status=status, mimetype=mimetype)


@ogc.get("/")
def landing() -> Response:
    """Landing page."""
    doc = landing_doc(_base())
    return Response(render_template("ogc/landing.html", doc=doc)) if _wants_html() else _json(doc)


@ogc.get("/conformance")
def conformance() -> Response:
    """Conformance classes proven by the tests."""
    doc = conformance_doc()
    return Response(render_template("ogc/conformance.html", doc=doc)) if _wants_html() else _json(doc)


@ogc.get("/openapi")
def openapi() -> Response:
    """The OpenAPI document (built once at start-up)."""
    return Response(current_app.extensions["urbasig.openapi"], mimetype="application/vnd.oai.openapi+json;version=3.0")


@ogc.get("/collections")
def collections() -> Response:
    """The collections."""
    doc = collections_doc(get_db(), _base(), _partner())
    return Response(render_template("ogc/collections.html", doc=doc)) if _wants_html() else _json(doc)


@ogc.get("/collections/<collection_id>")
def collection(collection_id: str) -> Response:
    """One collection."""
    doc = collection_doc(get_db(), _base(), collection_id, _partner())
    return Response(render_template("ogc/collection.html", doc=doc)) if _wants_html() else _json(doc)


@ogc.get("/collections/<collection_id>/queryables")
def queryables(collection_id: str) -> Response:
    """Properties usable in filters."""
    return _json(features.queryables(_base(), collection_id, _partner()), mimetype="application/schema+json")


@ogc.get("/collections/<collection_id>/items")
def items(collection_id: str) -> Response:
    """Features of a collection (GeoJSON built in PostGIS)."""
    args = request.args.to_dict()
    partner = _partner()
    headers, status, body = features.items(get_db(), _base(), collection_id, args, partner,
                                           current_app.config["URBASIG"].max_filter_depth)
    if _wants_html():
        doc = json.loads(body)
        return Response(render_template("ogc/items.html", doc=doc, collection_id=collection_id))
    return Response(body, status=status, headers=headers)


@ogc.get("/collections/<collection_id>/items/<item_id>")
def item(collection_id: str, item_id: str) -> Response:
    """One feature."""
    args = request.args.to_dict()
    partner = _partner()
    headers, status, body = features.item(get_db(), _base(), collection_id, item_id, args, partner)
    if _wants_html():
        return Response(render_template("ogc/item.html", doc=json.loads(body), collection_id=collection_id))
    return Response(body, status=status, headers=headers)


@ogc.get("/tileMatrixSets")
def tile_matrix_sets() -> Response:
    """The tile matrix sets served."""
    return _json(tiles.tile_matrix_sets(_base()))


@ogc.get("/tileMatrixSets/<tms>")
def tile_matrix_set(tms: str) -> Response:
    """The standard definition of WebMercatorQuad or WorldCRS84Quad."""
    return _json(tiles.tile_matrix_set(tms))


@ogc.get("/collections/<collection_id>/tiles")
def collection_tilesets(collection_id: str) -> Response:
    """Tilesets of a collection."""
    return _json(tiles.tilesets(_base(), collection_id))


@ogc.get("/collections/<collection_id>/tiles/<tms>")
def collection_tileset(collection_id: str, tms: str) -> Response:
    """Tileset metadata."""
    return _json(tiles.tileset(get_db(), _base(), collection_id, tms))


@ogc.get("/collections/<collection_id>/tiles/<tms>/tilejson")
def collection_tilejson(collection_id: str, tms: str) -> Response:
    """TileJSON for web maps."""
    return _json(tiles.tilejson(get_db(), _base(), collection_id, tms))


@ogc.get("/collections/<collection_id>/tiles/<tms>/<z>/<y>/<x>")
def collection_tile(collection_id: str, tms: str, z: str, y: str, x: str) -> Response:
    """One vector tile (cached in the database, ETag, Cache-Control)."""
    from layers.tiles import CacheCap

    tiles.check_tms(tms)
    settings = current_app.config["URBASIG"]
    cap = CacheCap(settings.tile_cache_max_rows, settings.tile_cache_max_mb * 1024 * 1024)
    headers, status, body = tiles.tile(get_db(), collection_id, z, y, x, request.args.to_dict(),
                                       request.headers.get("If-None-Match"), settings.tile_cache, tms, cap)
    return Response(body, status=status, headers=headers)


@ogc.get("/processes")
def process_list() -> Response:
    """Processes offered."""
    return _json(processes.process_list(_base()))


@ogc.get("/processes/<pid>")
def process_description(pid: str) -> Response:
    """A process and its inputs."""
    return _json(processes.process_description(_base(), pid))


@ogc.post("/processes/<pid>/execution")
def process_execution(pid: str) -> Response:
    """Execute a process synchronously (JSON in, JSON out)."""
    from instruction.engine import Options

    body = json_body()
    settings = current_app.config["URBASIG"]
    options = Options.from_settings(settings)
    conn = get_db()  # outside the region: the connection is always given back
    if pid in STORED_CHECKS and not _partner():  # each check is kept (check_results): bound the anonymous ones
        from layers.ratelimit import hit

        hit(conn, "verification", request.remote_addr or "inconnu", settings.checks_per_minute)
    with interruptible():  # the checks' geometry and rules (their statements are never interrupted)
        result = processes.execute(conn, pid, body, options)
    from instruction.findings import canonical_json

    return Response(canonical_json(result), mimetype="application/json")


@ogc.after_request
def cors(response: Response) -> Response:
    """CORS headers when origins are configured (URBASIG_CORS_ORIGINS)."""
    origins = current_app.config["URBASIG"].cors_origins
    origin = request.headers.get("Origin")
    if origins and origin and (origins == "*" or origin in origins.split(",")):
        response.headers["Access-Control-Allow-Origin"] = "*" if origins == "*" else origin
        response.headers["Access-Control-Allow-Headers"] = "X-API-Key, Content-Type"
        response.headers["Access-Control-Expose-Headers"] = "Content-Crs, ETag"
        response.headers["Vary"] = "Origin"
    return response
