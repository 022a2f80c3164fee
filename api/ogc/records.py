"""OGC API Records (Part 1): the open-data catalogue as the collection `catalogue`, one record per dataset.

The records are built from layers/datasets.py (the list the catalogue pages, the downloads and DCAT read), for
the viewer of the request: the public, or a partner organisation whose key also shows its partner datasets. The
catalogue is small (tens of datasets), so the query parameters — `q` (words of the titles, descriptions and
keywords, accents and case ignored; terms separated by commas are alternatives), `bbox`, `datetime` (a plan
version's validity), `type`, `ids`, `limit`/`offset` — are applied to the list in Python. Handlers return
(headers, status, body) as the other OGC handlers do.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import date, datetime
from urllib.parse import urlencode

import psycopg

from api.dataset_links import (
    FORMATS,
    ISO_MEDIA_TYPE,
    JSONLD,
    dcat_url,
    downloads,
    extent_polygon,
    iso_text,
    iso_url,
    page_url,
    validity,
)
from api.ogc.features import DEFAULT_LIMIT, GEOJSON, MAX_LIMIT, MAX_OFFSET, OgcError, _bbox, _int, parse_datetime
from gis.crs import CRS84_URI
from gis.errors import NotFound
from layers.datasets import Dataset, DatasetNotFound, Viewer, get_dataset, list_datasets

CATALOGUE_ID = "catalogue"
RECORD_PARAMS = {"f", "q", "bbox", "datetime", "type", "ids", "limit", "offset", "api_key"}
RECORD_TYPES = ("dataset",)
RECORD_CORE = "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/record-core"
TOPIC_SCHEME = "https://standards.iso.org/iso/19139/resources/gmxCodelists.xml#MD_TopicCategoryCode"
LANGUAGES = [{"code": "fr", "name": "français"}, {"code": "ar", "name": "العربية"}]
TITLE = "Catalogue des données ouvertes"
DESCRIPTION = ("Les jeux de données publiés par l'Agence urbaine de Casablanca (couches, versions des plans) et par "
               "ses partenaires : titre, description, emprise, licence, producteur, téléchargements.")


def _fold(text: str) -> str:
    """Lower case without accents (Arabic letters stay as they are, their short vowels dropped)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _searchable(dataset: Dataset) -> str:
    return _fold(" ".join([dataset.id, *dataset.title.values(), *dataset.description.values(), *dataset.keywords]))


def _matches_q(dataset: Dataset, terms: list[list[str]]) -> bool:
    """Any term matches (commas separate alternatives); a term of several words needs each of them."""
    text = _searchable(dataset)
    return any(all(word in text for word in term) for term in terms)


def _intersects(extent: list[float] | None, box: tuple[float, float, float, float]) -> bool:
    return bool(extent) and not (extent[2] < box[0] or extent[0] > box[2] or extent[3] < box[1] or extent[1] > box[3])


def _in_time(dataset: Dataset, wanted: object) -> bool:
    """Whether a plan version's validity meets the day or interval asked for (a dataset without one never does)."""
    span = validity(dataset)
    if span is None:
        return False
    start, end = span
    if isinstance(wanted, tuple):
        lo, hi = wanted
    else:
        lo = hi = wanted
    return (hi is None or start is None or start <= hi) and (lo is None or end is None or end >= lo)


def _terms(value: str) -> list[list[str]]:
    if len(value) > 500 or "\x00" in value:
        raise OgcError("q : 500 caractères au plus, sans caractère nul")
    terms = [_fold(t).split() for t in value.split(",")]
    terms = [t for t in terms if t]
    if not terms:
        raise OgcError("q : au moins un mot attendu (ex. q=zonage,voirie)")
    return terms


def _filters(args: dict[str, str]) -> list:
    """The tests each record must pass, from the query parameters (400 in French for a bad one)."""
    unknown = set(args) - RECORD_PARAMS
    if unknown:
        raise OgcError(f"paramètre(s) inconnu(s) : {', '.join(sorted(unknown))} (paramètres : "
                       f"{', '.join(sorted(RECORD_PARAMS - {'api_key'}))})")
    tests = []
    if args.get("q"):
        terms = _terms(args["q"])
        tests.append(lambda d: _matches_q(d, terms))
    if args.get("bbox"):
        box = _bbox(args["bbox"])
        if not (-180 <= box[0] <= 180 and -180 <= box[2] <= 180 and -90 <= box[1] <= 90 and -90 <= box[3] <= 90):
            raise OgcError("bbox hors du domaine de CRS84 (longitudes −180…180, latitudes −90…90, dans cet ordre)")
        tests.append(lambda d: _intersects(d.extent, box))
    if args.get("datetime"):
        wanted = parse_datetime(args["datetime"])
        if wanted != (None, None):
            tests.append(lambda d: _in_time(d, wanted))
    if args.get("type"):
        types = {t.strip() for t in args["type"].split(",") if t.strip()}
        tests.append(lambda d: "dataset" in types)
    if args.get("ids"):
        ids = {i.strip() for i in args["ids"].split(",") if i.strip()}
        tests.append(lambda d: d.id in ids)
    return tests


# ---------------------------------------------------------------------------------------------------- records

def _part_links(base: str, dataset: Dataset) -> list[dict]:
    links = []
    for part in dataset.parts:
        href = f"{base}/collections/{part.collection}"
        query = {k: v for k, v in (("filter", part.cql), ("datetime", part.datetime)) if v}
        title = part.title["fr"]
        links.append({"href": href, "rel": "data", "type": "application/json", "title": f"collection OGC : {title}"})
        links.append({"href": f"{href}/items" + (f"?{urlencode(query)}" if query else ""), "rel": "items",
                      "type": GEOJSON, "title": f"entités (OGC API Features) : {title}"})
    return links


def record_links(base: str, site: str, dataset: Dataset) -> list[dict]:
    """The links of a record: itself, the dataset's page, its OGC collections, its downloads, its metadata."""
    href = f"{base}/collections/{CATALOGUE_ID}/items/{dataset.id}"
    links = [{"href": href, "rel": "self", "type": GEOJSON, "title": "cette fiche"},
             {"href": f"{href}?f=html", "rel": "alternate", "type": "text/html", "title": "cette fiche (HTML)"},
             {"href": f"{base}/collections/{CATALOGUE_ID}", "rel": "collection", "type": "application/json",
              "title": TITLE},
             {"href": page_url(site, dataset.id), "rel": "describedby", "type": "text/html",
              "title": "page du jeu de données", "hreflang": "fr"},
             {"href": iso_url(site, dataset.id), "rel": "describedby", "type": ISO_MEDIA_TYPE,
              "title": "métadonnées ISO 19115 (XML ISO 19139)"},
             {"href": dcat_url(site), "rel": "describedby", "type": JSONLD, "title": "catalogue DCAT (JSON-LD)"}]
    if dataset.licence["url"]:  # « usage réservé » has no public text to link
        links.append({"href": dataset.licence["url"], "rel": "license", "type": "text/html",
                      "title": dataset.licence["title"]})
    links += _part_links(base, dataset)
    links += [{"href": url, "rel": "enclosure", "type": f.media_type, "title": f"télécharger : {f.name}, {crs_label}"}
              for f, _code, crs_label, url in downloads(site, dataset)]
    return links


def _time(dataset: Dataset) -> dict | None:
    span = validity(dataset)
    if span is None:
        return None
    return {"interval": [iso_text(span[0]) or "..", iso_text(span[1]) or ".."]}


def _created(dataset: Dataset) -> date | datetime | None:
    plan = dataset.plan or {}
    return plan.get("approval_date") or plan.get("valid_from")


def record(base: str, site: str, dataset: Dataset) -> dict:
    """The record of a dataset (a GeoJSON feature, OGC API Records Part 1 record-core)."""
    props: dict[str, object] = {
        "type": "dataset", "title": dataset.title["fr"], "description": dataset.description["fr"],
        "keywords": list(dataset.keywords),
        "themes": [{"concepts": [{"id": dataset.theme}], "scheme": TOPIC_SCHEME}],
        "language": LANGUAGES[0], "languages": LANGUAGES,
        "formats": [{"name": f.name, "mediaType": f.media_type} for f in FORMATS],
        "rights": f"Licence {dataset.licence['title']} ({dataset.licence['id']})",
        "license": dataset.licence["id"],
        "contacts": [{"organization": dataset.producer["fr"], "roles": ["producer", "publisher"]}],
        "created": iso_text(_created(dataset)), "updated": iso_text(dataset.updated),
        "translations": {"ar": {"title": dataset.title.get("ar"), "description": dataset.description.get("ar"),
                                "producer": dataset.producer.get("ar")}},
        "featureCount": dataset.feature_count, "storageCrs": dataset.crs,
        "datasetKind": dataset.kind, "audience": dataset.audience,
    }
    if dataset.plan:
        plan = dataset.plan
        props["plan"] = {"code": plan["code"], "kind": plan["kind"], "status": plan["status"]["code"],
                         "approvalAct": plan.get("approval_act")}
    return {"id": dataset.id, "type": "Feature", "conformsTo": [RECORD_CORE],
            "geometry": extent_polygon(dataset.extent), "time": _time(dataset), "properties": props,
            "links": record_links(base, site, dataset)}


# ---------------------------------------------------------------------------------------------------- handlers

def _union(datasets: list[Dataset]) -> list[float]:
    boxes = [d.extent for d in datasets if d.extent]
    if not boxes:
        return [-180, -90, 180, 90]
    return [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]


def describe(conn: psycopg.Connection, base: str, site: str, viewer: Viewer) -> dict:
    """The description of the collection `catalogue` (itemType record)."""
    href = f"{base}/collections/{CATALOGUE_ID}"
    return {"id": CATALOGUE_ID, "title": TITLE, "description": DESCRIPTION, "itemType": "record", "type": "Catalog",
            "conformsTo": [RECORD_CORE], "crs": [CRS84_URI], "language": LANGUAGES[0], "languages": LANGUAGES,
            "extent": {"spatial": {"bbox": [_union(list_datasets(conn, viewer))], "crs": CRS84_URI}},
            "links": [{"href": href, "rel": "self", "type": "application/json", "title": TITLE},
                      {"href": f"{href}?f=html", "rel": "alternate", "type": "text/html", "title": f"{TITLE} (HTML)"},
                      {"href": f"{href}/items", "rel": "items", "type": GEOJSON, "title": "fiches"},
                      {"href": f"{href}/items?f=html", "rel": "items", "type": "text/html", "title": "fiches (HTML)"},
                      {"href": dcat_url(site), "rel": "alternate", "type": JSONLD, "title": "catalogue DCAT (JSON-LD)"},
                      {"href": f"{site}/donnees/", "rel": "alternate", "type": "text/html",
                       "title": "catalogue des données (pages)"}]}


def _headers(viewer: Viewer) -> dict[str, str]:
    scope = "public" if viewer.kind == "public" else "private"
    return {"Content-Type": GEOJSON, "Cache-Control": f"{scope}, max-age=60", "Vary": "Accept, X-API-Key, Cookie"}


def _page_link(href: str, args: dict[str, str], rel: str, title: str, offset: int | None) -> dict:
    params = {k: v for k, v in args.items() if k not in ("offset", "api_key")}
    if offset:
        params["offset"] = str(offset)
    return {"href": f"{href}?{urlencode(params)}" if params else href, "rel": rel, "type": GEOJSON, "title": title}


def items(conn: psycopg.Connection, base: str, site: str, args: dict[str, str],
          viewer: Viewer) -> tuple[dict, int, str]:
    """GET /collections/catalogue/items: the records the viewer may see that pass the query, a page of them."""
    tests = _filters(args)
    limit = _int(args.get("limit"), "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _int(args.get("offset"), "offset", 0, 0)
    if offset > MAX_OFFSET:
        raise OgcError(f"offset au plus {MAX_OFFSET}")
    found = [d for d in list_datasets(conn, viewer) if all(test(d) for test in tests)]
    page = found[offset: offset + limit]
    href = f"{base}/collections/{CATALOGUE_ID}/items"
    links = [_page_link(href, args, "self", "cette page", offset)]
    if offset + limit < len(found):
        links.append(_page_link(href, args, "next", "page suivante", offset + limit))
    if offset:
        links.append(_page_link(href, args, "prev", "page précédente", max(0, offset - limit)))
    links.append({"href": f"{base}/collections/{CATALOGUE_ID}", "rel": "collection", "type": "application/json",
                  "title": TITLE})
    doc = {"type": "FeatureCollection", "numberMatched": len(found), "numberReturned": len(page),
           "timeStamp": datetime.utcnow().replace(microsecond=0).isoformat() + "Z", "links": links,
           "features": [record(base, site, d) for d in page]}
    return _headers(viewer), 200, json.dumps(doc, ensure_ascii=False)


def item(conn: psycopg.Connection, base: str, site: str, record_id: str, args: dict[str, str],
         viewer: Viewer) -> tuple[dict, int, str]:
    """GET /collections/catalogue/items/{recordId} (404 for a dataset the viewer may not see)."""
    unknown = set(args) - {"f", "api_key"}
    if unknown:
        raise OgcError(f"paramètre(s) inconnu(s) : {', '.join(sorted(unknown))}")
    try:
        dataset = get_dataset(conn, record_id, viewer)
    except DatasetNotFound:
        raise NotFound(f"fiche inconnue : « {record_id[:80]} » dans le catalogue") from None
    return _headers(viewer), 200, json.dumps(record(base, site, dataset), ensure_ascii=False)


def queryables(base: str) -> dict:
    """What a record is searched by (JSON Schema): its type, its words (`q`), its extent (`bbox`), its time."""
    text = {"type": "string"}
    props = {"id": {**text, "title": "identifiant (ids)"}, "type": {**text, "title": "type de ressource", "enum":
             list(RECORD_TYPES)}, "title": {**text, "title": "titre (q)"}, "description": {**text, "title": "résumé (q)"},
             "keywords": {"type": "array", "items": text, "title": "mots-clés (q)"},
             "geometry": {"format": "geometry-polygon", "title": "emprise (bbox)"},
             "time": {**text, "format": "date", "title": "validité d'une version de plan (datetime)"}}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{base}/collections/{CATALOGUE_ID}/queryables", "type": "object", "title": TITLE,
            "properties": props, "additionalProperties": False}


def html_rows(doc: dict, lang: str = "fr") -> list[dict]:
    """The records of an items document as rows a page shows (title and summary in the page's language, keywords,
    licence, update)."""
    out = []
    for feature in doc.get("features") or [doc]:
        props = feature.get("properties") or {}
        texts = {**props, **{k: v for k, v in ((props.get("translations") or {}).get(lang) or {}).items() if v}}
        out.append({"id": feature.get("id"), "title": texts.get("title"), "description": texts.get("description"),
                    "keywords": ", ".join(props.get("keywords") or []), "license": props.get("license"),
                    "updated": props.get("updated"), "links": feature.get("links") or []})
    return out
