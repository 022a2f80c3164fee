"""Landing page, conformance and collection documents of the OGC API."""

from __future__ import annotations

import psycopg

from api.ogc.features import collection_or_404
from gis.crs import API_CRS, CRS84_URI
from layers.datasets import PUBLIC, Viewer
from layers.features import Collection
from layers.metadata import collection_extent
from layers.partner_features import collections_for, has_tiles

# Only what the tests prove. Not declared: cql2 spatial-functions and temporal-functions (we implement
# S_INTERSECTS/WITHIN/CONTAINS/DISJOINT and T_BEFORE/AFTER/INTERSECTS/DURING/EQUALS, not the full sets).
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/ogc-process-description",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/job-list",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/dismiss",
    # the collection `catalogue` (api/ogc/records.py)
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/record-core",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/html",
]


def landing_doc(base: str) -> dict:
    """The landing page."""
    return {"title": "urbasig — API OGC", "description": "Parcelles, plans d'aménagement et leurs versions, SDAU, "
            "prescriptions de la région Casablanca-Settat (OGC API Features)",
            "links": [{"href": f"{base}/", "rel": "self", "type": "application/json", "title": "cette page"},
                      {"href": f"{base}/?f=html", "rel": "alternate", "type": "text/html", "title": "en HTML"},
                      {"href": f"{base}/openapi", "rel": "service-desc",
                       "type": "application/vnd.oai.openapi+json;version=3.0", "title": "OpenAPI"},
                      {"href": f"{base}/conformance", "rel": "conformance", "type": "application/json",
                       "title": "classes de conformité"},
                      {"href": f"{base}/collections", "rel": "data", "type": "application/json",
                       "title": "collections"},
                      {"href": f"{base}/processes", "rel": "http://www.opengis.net/def/rel/ogc/1.0/processes",
                       "type": "application/json", "title": "processus"},
                      {"href": f"{base}/jobs", "rel": "http://www.opengis.net/def/rel/ogc/1.0/job-list",
                       "type": "application/json", "title": "vos travaux"},
                      {"href": f"{base}/tileMatrixSets", "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
                       "type": "application/json", "title": "jeux de tuiles"}]}


def conformance_doc() -> dict:
    """Only the conformance classes that the tests prove."""
    return {"conformsTo": CONFORMANCE}


def describe(conn: psycopg.Connection, base: str, c: Collection) -> dict:
    """One collection's description."""
    href = f"{base}/collections/{c.id}"
    doc = {"id": c.id, "title": c.title, "description": c.description, "itemType": "feature",
           "crs": list(API_CRS), "storageCrs": "http://www.opengis.net/def/crs/EPSG/0/26191",
           "extent": {"spatial": {"bbox": [collection_extent(conn, c) or [-180, -90, 180, 90]], "crs": CRS84_URI}},
           "links": [{"href": href, "rel": "self", "type": "application/json", "title": c.title},
                     {"href": f"{href}/items", "rel": "items", "type": "application/geo+json", "title": "entités"},
                     {"href": f"{href}/items?f=html", "rel": "items", "type": "text/html", "title": "entités (HTML)"},
                     {"href": f"{href}/queryables", "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                      "type": "application/schema+json", "title": "propriétés filtrables"}]}
    if has_tiles(c.id):
        doc["links"].append({"href": f"{href}/tiles", "rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
                             "type": "application/json", "title": "tuiles vectorielles"})
    if c.temporal:
        doc["extent"]["temporal"] = {"interval": [[None, None]],
                                     "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    return doc


def collections_doc(conn: psycopg.Connection, base: str, partner: bool, viewer: Viewer = PUBLIC) -> dict:
    """Every collection the caller may see: the restricted ones with a partner key, the partner layers of its
    audience."""
    visible = [c for c in collections_for(conn, viewer) if partner or not c.restricted]
    return {"links": [{"href": f"{base}/collections", "rel": "self", "type": "application/json"}],
            "collections": [describe(conn, base, c) for c in visible]}


def collection_doc(conn: psycopg.Connection, base: str, collection_id: str, partner: bool,
                   viewer: Viewer = PUBLIC) -> dict:
    """One collection (404 when unknown, restricted or a partner layer hidden from the caller)."""
    return describe(conn, base, collection_or_404(conn, collection_id, partner, viewer))
