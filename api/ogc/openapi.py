"""The OpenAPI 3.0 document of /ogc, generated once at start-up from the collection registry.

Paths are relative to the API's landing page (`servers: [{"url": "/ogc"}]`), as GDAL's OAPIF driver and
QGIS look them up: `/collections/{id}/items`. Standard parameters are components referenced by `$ref`
(GDAL ≥ 3.8 and QGIS read `#/components/parameters/limit` for its maximum and default); each collection's
simple queryables are query parameters of its items path (GDAL then sends `-where` equalities to the server).
"""

from __future__ import annotations

import json

from api.ogc.features import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, simple_queryables
from gis.crs import API_CRS
from gis.tms import TILE_MATRIX_SETS
from layers.features import COLLECTIONS, Collection, Prop

SERVER = "/ogc"
_ERROR = {"description": "Requête invalide", "content": {"application/json": {"schema": {
    "type": "object", "required": ["code", "description"],
    "properties": {"code": {"type": "string"}, "description": {"type": "string"}}}}}}


def _param(name: str, schema: dict, description: str, explode: bool = False, style: str = "form") -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description,
            "style": style, "explode": explode}


PARAMETERS = {p["name"]: p for p in (
    _param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
           f"nombre d'entités par page (au plus {MAX_LIMIT})"),
    _param("bbox", {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}},
           "minx,miny,maxx,maxy dans bbox-crs (CRS84 par défaut)"),
    _param("bbox-crs", {"type": "string", "enum": list(API_CRS)}, "SCR de bbox"),
    _param("crs", {"type": "string", "enum": list(API_CRS)}, "SCR de la réponse"),
    _param("filter", {"type": "string"}, "filtre CQL2"),
    _param("filter-lang", {"type": "string", "enum": ["cql2-text", "cql2-json"]}, "langage du filtre"),
    _param("filter-crs", {"type": "string", "enum": list(API_CRS)}, "SCR des géométries du filtre"),
    _param("datetime", {"type": "string"}, "jour ou intervalle : versions de plan en vigueur (par défaut : "
           "aujourd'hui pour les zones, prescriptions et SDAU ; ../.. : toutes les versions)"),
    _param("sortby", {"type": "string"}, "propriétés de tri (+nom, -nom)"),
    _param("properties", {"type": "string"}, "propriétés à renvoyer, séparées par des virgules"),
    _param("cursor", {"type": "string"}, "jeton de page (liens next/prev)"),
    _param("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
           "décalage (tri sur d'autres propriétés que l'identifiant)"),
    _param("skipGeometry", {"type": "boolean"}, "sans géométrie"),
    _param("f", {"type": "string", "enum": ["json", "html"]}, "format"),
)}
ITEMS_PARAMS = [name for name in PARAMETERS if name != "f"] + ["f"]
SCHEMAS = {"string": {"type": "string"}, "number": {"type": "number"}, "integer": {"type": "integer"},
           "boolean": {"type": "boolean"}, "date": {"type": "string", "format": "date"}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/parameters/{name}"}


def _get(summary: str, operation: str, responses: dict, parameters: list | None = None) -> dict:
    return {"get": {"summary": summary, "operationId": operation, "parameters": parameters or [_ref("f")],
                    "responses": responses}}


def queryable_parameter(prop: Prop) -> dict:
    """A simple queryable as a query parameter of the items path (same name and schema)."""
    return _param(prop.name, SCHEMAS[prop.type], f"{prop.title or prop.name} (égalité)")


def _collection_paths(c: Collection) -> dict:
    base = f"/collections/{c.id}"
    ok = {"description": "FeatureCollection GeoJSON", "content": {"application/geo+json": {}}}
    items_params = [_ref(n) for n in ITEMS_PARAMS] + [queryable_parameter(p)
                                                      for p in simple_queryables(c, partner=False).values()]
    id_schema = {"type": "integer"} if c.id_type == "integer" else {"type": "string"}
    item_params = [{"name": "featureId", "in": "path", "required": True, "schema": id_schema}, _ref("crs"), _ref("f")]
    return {
        base: _get(c.title, f"describe_{c.id}", {"200": {"description": c.description}, "404": _ERROR}),
        f"{base}/queryables": _get(f"{c.title} : propriétés filtrables", f"queryables_{c.id}",
                                   {"200": {"description": "JSON Schema"}}, []),
        f"{base}/items": _get(f"{c.title} : entités", f"items_{c.id}", {"200": ok, "400": _ERROR, "404": _ERROR},
                              items_params),
        f"{base}/items/{{featureId}}": _get(f"{c.title} : une entité", f"item_{c.id}",
                                            {"200": {**ok, "description": "Feature GeoJSON"}, "400": _ERROR,
                                             "404": _ERROR}, item_params),
    }


def _catalogue_paths() -> dict:
    """The collection `catalogue` (OGC API Records): its description, queryables, records and one record."""
    from api.ogc.records import CATALOGUE_ID, RECORD_TYPES

    base = f"/collections/{CATALOGUE_ID}"
    ok = {"description": "fiches (GeoJSON, OGC API Records)", "content": {"application/geo+json": {}}}
    search = [_param("q", {"type": "string", "maxLength": 500}, "mots cherchés dans les titres, résumés et mots-clés "
                     "(des virgules séparent des variantes)"),
              _param("type", {"type": "string", "enum": list(RECORD_TYPES)}, "type de ressource"),
              _param("ids", {"type": "string"}, "identifiants, séparés par des virgules")]
    params = [_ref(n) for n in ("limit", "offset", "bbox", "datetime")] + search + [_ref("f")]
    record_id = {"name": "recordId", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        base: _get("Catalogue des données ouvertes", "describe_catalogue", {"200": {"description": "collection"}}),
        f"{base}/queryables": _get("Catalogue : propriétés de recherche", "queryables_catalogue",
                                   {"200": {"description": "JSON Schema"}}, []),
        f"{base}/items": _get("Catalogue : fiches", "records_catalogue", {"200": ok, "400": _ERROR}, params),
        f"{base}/items/{{recordId}}": _get("Catalogue : une fiche", "record_catalogue",
                                          {"200": {**ok, "description": "fiche"}, "404": _ERROR},
                                          [record_id, _ref("f")]),
    }


def _tile_paths(layer: str) -> dict:
    from layers.tiles import TILE_LAYERS

    if layer not in TILE_LAYERS:
        return {}
    base = f"/collections/{layer}/tiles"
    tms = {"name": "tileMatrixSetId", "in": "path", "required": True,
           "schema": {"type": "string", "enum": list(TILE_MATRIX_SETS)}}
    low = min(t.served[0] for t in TILE_MATRIX_SETS.values())
    high = max(t.served[1] for t in TILE_MATRIX_SETS.values())
    cells = [{"name": n, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
             for n in ("tileRow", "tileCol")]
    level = {"name": "tileMatrix", "in": "path", "required": True,
             "schema": {"type": "integer", "minimum": low, "maximum": high}}
    day = _param("datetime", {"type": "string", "format": "date"}, "plans en vigueur ce jour (par défaut aujourd'hui)")
    draft = [_param("versions", {"type": "string", "enum": ["enquete_publique"]},
                    "les versions en enquête publique ce jour au lieu des versions en vigueur (WebMercatorQuad) ; "
                    "les zones y sont découpées là où le projet changerait le zonage (propriété was : le code en "
                    "vigueur)")] if TILE_LAYERS[layer].join_plan else []
    mvt = {"description": "tuile MVT", "content": {"application/vnd.mapbox-vector-tile": {}}}
    return {
        base: _get(f"{layer} : jeux de tuiles", f"tilesets_{layer}", {"200": {"description": "jeux de tuiles"}}, []),
        f"{base}/{{tileMatrixSetId}}": _get(f"{layer} : métadonnées du jeu de tuiles", f"tileset_{layer}",
                                            {"200": {"description": "métadonnées"}, "404": _ERROR}, [tms]),
        f"{base}/{{tileMatrixSetId}}/tilejson": _get(f"{layer} : TileJSON (WebMercatorQuad)", f"tilejson_{layer}",
                                                     {"200": {"description": "TileJSON 3.0.0"}, "404": _ERROR}, [tms]),
        f"{base}/{{tileMatrixSetId}}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}": _get(
            f"{layer} : une tuile vectorielle", f"tile_{layer}",
            {"200": mvt, "204": {"description": "tuile vide"}, "304": {"description": "inchangée"}, "400": _ERROR,
             "404": _ERROR}, [tms, level, *cells, day, *draft]),
    }


def _process_paths() -> dict:
    from api.ogc.processes import KEY_OR_STAFF, PROCESSES, REQUIRED

    paths = {"/processes": _get("Processus", "processes", {"200": {"description": "liste"}}, [])}
    for pid, spec in PROCESSES.items():
        paths[f"/processes/{pid}"] = _get(spec["title"], f"process_{pid}", {"200": {"description": "description"}}, [])
        inputs = {name: item["schema"] for name, item in spec["inputs"].items()}
        body = {"type": "object", "required": ["inputs"], "properties": {"inputs": {
            "type": "object", "required": sorted(REQUIRED[pid]), "properties": inputs, "additionalProperties": False}}}
        paths[f"/processes/{pid}/execution"] = {"post": {
            "summary": f"Exécuter : {spec['title']}", "operationId": f"execute_{pid}", "parameters": [PREFER],
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": {"200": {"description": "résultat", "content": {"application/json": {}}},
                          "201": {"description": "travail accepté (en-tête Location : son état)"}, "400": _ERROR,
                          "404": _ERROR, "413": {"description": "corps trop grand"}, "429": _ERROR}}}
        if pid in KEY_OR_STAFF:  # partner keys and agency accounts only
            paths[f"/processes/{pid}/execution"]["post"]["responses"].update({"401": _ERROR, "403": _ERROR})
    return paths | _job_paths()


PREFER = {"name": "Prefer", "in": "header", "required": False, "schema": {"type": "string", "enum": ["respond-async"]},
          "description": "respond-async : exécuter en travail différé (201, puis /jobs/{jobId})"}


# An anonymous caller's jobs are listed by the job-owner token it got with its first job (or its cookie).
JOB_OWNER = [{"name": "X-Jobs-Owner", "in": "header", "required": False, "schema": {"type": "string"},
              "description": "jeton de propriétaire des travaux (reçu à la création d'un travail anonyme)"}]


def _job_paths() -> dict:
    job_id = {"name": "jobId", "in": "path", "required": True, "schema": {"type": "string"}}
    status = {"200": {"description": "état du travail (statusInfo)"}, "404": _ERROR}
    return {
        "/jobs": _get("Vos travaux", "jobs", {"200": {"description": "liste des travaux de l'appelant"},
                                              "400": _ERROR}, JOB_OWNER),
        "/jobs/{jobId}": {**_get("État d'un travail", "job", status, [job_id, _ref("f")]),
                          "delete": {"summary": "Annuler un travail", "operationId": "dismiss_job",
                                     "parameters": [job_id], "responses": status}},
        "/jobs/{jobId}/results": _get("Résultats d'un travail", "job_results",
                                      {"200": {"description": "résultat", "content": {"application/json": {}}},
                                       "404": _ERROR}, [job_id]),
        "/jobs/{jobId}/results/parcels": _get(
            "Parcelles d'un calcul d'impact (fichier)", "job_parcels",
            {"200": {"description": "fichier GeoJSON, CSV ou GeoPackage"}, "400": _ERROR, "404": _ERROR},
            [job_id, {"name": "f", "in": "query", "required": False,
                      "schema": {"type": "string", "enum": ["json", "csv", "gpkg"]}},
             {"name": "crs", "in": "query", "required": False, "schema": {"type": "string"}}]),
    }


def build_document() -> dict:
    """The OpenAPI document as a dict."""
    paths: dict[str, dict] = {
        "/": _get("Page d'accueil", "landing", {"200": {"description": "accueil"}}),
        "/conformance": _get("Classes de conformité", "conformance", {"200": {"description": "conformité"}}),
        "/openapi": _get("Ce document OpenAPI", "openapi", {"200": {"description": "OpenAPI 3.0"}}, []),
        "/collections": _get("Collections", "collections", {"200": {"description": "collections"}}),
        "/tileMatrixSets": _get("Jeux de matrices de tuiles", "tile_matrix_sets", {"200": {"description": "liste"}},
                                []),
        "/tileMatrixSets/{tileMatrixSetId}": _get(
            "Définition d'un jeu de matrices de tuiles", "tile_matrix_set",
            {"200": {"description": "OGC 2D TMS"}, "404": _ERROR},
            [{"name": "tileMatrixSetId", "in": "path", "required": True,
              "schema": {"type": "string", "enum": list(TILE_MATRIX_SETS)}}]),
    }
    for c in COLLECTIONS.values():
        if not c.restricted:
            paths |= _collection_paths(c) | _tile_paths(c.id)
    paths |= _catalogue_paths() | _process_paths()
    return {"openapi": "3.0.3",
            "info": {"title": "urbasig — API OGC", "version": "1.0",
                     "description": "OGC API Features, Tiles et Processes des couches d'urbanisme de Casablanca-Settat"},
            "servers": [{"url": SERVER, "description": "cette API (chemins relatifs à sa page d'accueil)"}],
            "paths": paths, "components": {"parameters": PARAMETERS}}


def build_openapi() -> str:
    """The document as JSON text."""
    return json.dumps(build_document(), ensure_ascii=False)
