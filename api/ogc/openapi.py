"""The OpenAPI 3.0 document of /ogc, generated once at start-up from the collection registry."""

from __future__ import annotations

import json

from api.ogc.features import CRS, DEFAULT_LIMIT, MAX_LIMIT
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
    _param("offset", {"type": "integer", "minimum": 0}, "décalage (tri sur d'autres propriétés que l'identifiant)"),
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
    doc = {"openapi": "3.0.3",
           "info": {"title": "urbasig — API OGC", "version": "1.0",
                    "description": "OGC API Features des couches d'urbanisme de Casablanca-Settat"},
           "paths": paths}
    return json.dumps(doc, ensure_ascii=False)
