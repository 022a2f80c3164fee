"""The OpenAPI 3.0 document of /ogc, generated once at start-up from the collection registry."""

from __future__ import annotations

import json

from api.ogc.features import CRS, DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET
from layers.features import COLLECTIONS

_ERROR = {"description": "Requête invalide", "content": {"application/json": {"schema": {
    "type": "object", "required": ["code", "description"],
    "properties": {"code": {"type": "string"}, "description": {"type": "string"}}}}}}


def _param(name: str, schema: dict, description: str, explode: bool = False, style: str = "form") -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description,
            "style": style, "explode": explode}


ITEM_PARAMS = [
    _param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
           f"nombre d'entités (au plus {MAX_LIMIT})"),
    _param("bbox", {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}},
           "minx,miny,maxx,maxy dans bbox-crs (CRS84 par défaut)"),
    _param("bbox-crs", {"type": "string", "enum": list(CRS)}, "SCR de bbox"),
    _param("crs", {"type": "string", "enum": list(CRS)}, "SCR de la réponse"),
    _param("filter", {"type": "string"}, "filtre CQL2"),
    _param("filter-lang", {"type": "string", "enum": ["cql2-text", "cql2-json"]}, "langage du filtre"),
    _param("filter-crs", {"type": "string", "enum": list(CRS)}, "SCR des géométries du filtre"),
    _param("datetime", {"type": "string"}, "instant ou intervalle : versions de plan en vigueur"),
    _param("sortby", {"type": "string"}, "propriétés de tri (+nom, -nom)"),
    _param("properties", {"type": "string"}, "propriétés à renvoyer, séparées par des virgules"),
    _param("cursor", {"type": "string"}, "jeton de page (liens next/prev)"),
    _param("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
           "décalage (tri sur d'autres propriétés que l'identifiant)"),
    _param("skipGeometry", {"type": "boolean"}, "sans géométrie"),
    _param("f", {"type": "string", "enum": ["json", "html"]}, "format"),
]


def build_openapi() -> str:
    """The document as JSON text."""
    paths: dict[str, dict] = {
        "/ogc/": {"get": {"summary": "Page d'accueil", "operationId": "landing",
                          "parameters": [ITEM_PARAMS[-1]], "responses": {"200": {"description": "accueil"}}}},
        "/ogc/conformance": {"get": {"summary": "Classes de conformité", "operationId": "conformance",
                                     "parameters": [ITEM_PARAMS[-1]],
                                     "responses": {"200": {"description": "conformité"}}}},
        "/ogc/collections": {"get": {"summary": "Collections", "operationId": "collections",
                                     "parameters": [ITEM_PARAMS[-1]],
                                     "responses": {"200": {"description": "collections"}}}},
    }
    for c in COLLECTIONS.values():
        if c.restricted:
            continue
        base = f"/ogc/collections/{c.id}"
        paths[base] = {"get": {"summary": c.title, "operationId": f"describe_{c.id}", "parameters": [ITEM_PARAMS[-1]],
                               "responses": {"200": {"description": c.description}, "404": _ERROR}}}
        paths[f"{base}/queryables"] = {"get": {"summary": f"{c.title} : propriétés filtrables",
                                               "operationId": f"queryables_{c.id}",
                                               "responses": {"200": {"description": "JSON Schema"}}}}
        paths[f"{base}/items"] = {"get": {"summary": f"{c.title} : entités", "operationId": f"items_{c.id}",
                                          "parameters": ITEM_PARAMS,
                                          "responses": {"200": {"description": "FeatureCollection GeoJSON",
                                                                "content": {"application/geo+json": {}}},
                                                        "400": _ERROR, "404": _ERROR}}}
        id_schema = {"type": "integer"} if c.id_type == "integer" else {"type": "string"}
        paths[f"{base}/items/{{featureId}}"] = {"get": {
            "summary": f"{c.title} : une entité", "operationId": f"item_{c.id}",
            "parameters": [{"name": "featureId", "in": "path", "required": True, "schema": id_schema},
                           ITEM_PARAMS[3], ITEM_PARAMS[-1]],
            "responses": {"200": {"description": "Feature GeoJSON", "content": {"application/geo+json": {}}},
                          "400": _ERROR, "404": _ERROR}}}
    from api.ogc.processes import PROCESSES, REQUIRED
    from layers.tiles import MAX_ZOOM, MIN_ZOOM, TILE_LAYERS

    for layer in TILE_LAYERS:
        base = f"/ogc/collections/{layer}/tiles"
        paths[base] = {"get": {"summary": f"{layer} : jeux de tuiles", "operationId": f"tilesets_{layer}",
                               "responses": {"200": {"description": "jeux de tuiles"}}}}
        paths[f"{base}/WebMercatorQuad"] = {"get": {"summary": f"{layer} : tuiles WebMercatorQuad",
                                                    "operationId": f"tileset_{layer}",
                                                    "responses": {"200": {"description": "métadonnées"}}}}
        paths[f"{base}/WebMercatorQuad/tilejson"] = {"get": {"summary": f"{layer} : TileJSON",
                                                             "operationId": f"tilejson_{layer}",
                                                             "responses": {"200": {"description": "TileJSON 3.0.0"}}}}
        tile_params = [{"name": n, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
                       for n in ("tileMatrix", "tileRow", "tileCol")]
        tile_params[0]["schema"] = {"type": "integer", "minimum": MIN_ZOOM, "maximum": MAX_ZOOM}
        tile_params.append(_param("datetime", {"type": "string", "format": "date"}, "plans en vigueur à cette date"))
        paths[f"{base}/WebMercatorQuad/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"] = {"get": {
            "summary": f"{layer} : une tuile vectorielle", "operationId": f"tile_{layer}", "parameters": tile_params,
            "responses": {"200": {"description": "tuile MVT", "content": {"application/vnd.mapbox-vector-tile": {}}},
                          "204": {"description": "tuile vide"}, "304": {"description": "inchangée"},
                          "400": _ERROR, "404": _ERROR}}}
    paths["/ogc/processes"] = {"get": {"summary": "Processus", "operationId": "processes",
                                       "responses": {"200": {"description": "liste"}}}}
    for pid, spec in PROCESSES.items():
        paths[f"/ogc/processes/{pid}"] = {"get": {"summary": spec["title"], "operationId": f"process_{pid}",
                                                  "responses": {"200": {"description": "description"}}}}
        inputs = {name: item["schema"] for name, item in spec["inputs"].items()}
        body = {"type": "object", "required": ["inputs"], "properties": {"inputs": {
            "type": "object", "required": sorted(REQUIRED[pid]), "properties": inputs, "additionalProperties": False}}}
        paths[f"/ogc/processes/{pid}/execution"] = {"post": {
            "summary": f"Exécuter : {spec['title']}", "operationId": f"execute_{pid}",
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {"200": {"description": "résultat", "content": {"application/json": {}}}, "400": _ERROR,
                          "404": _ERROR, "413": {"description": "corps trop grand"}}}}
    doc = {"openapi": "3.0.3",
           "info": {"title": "urbasig — API OGC", "version": "1.0",
                    "description": "OGC API Features des couches d'urbanisme de Casablanca-Settat"},
           "paths": paths}
    return json.dumps(doc, ensure_ascii=False)
