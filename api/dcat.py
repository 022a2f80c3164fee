"""The open-data catalogue in DCAT (JSON-LD), DCAT-AP where it maps: what a national portal harvests.

One dcat:Catalog, one dcat:Dataset per dataset the viewer may see (layers/datasets.py), each with its French and
Arabic titles and descriptions (language-tagged), publisher (foaf:Organization), licence, dates, extent (dcat:bbox
as a GeoSPARQL WKT literal), validity of a plan version (dct:temporal), ISO topic category (INSPIRE code list),
keywords, landing page, and one dcat:Distribution per download (format × CRS, EU file-type authority and IANA
media type) plus one for its OGC API collection. The @context is inline: no reader has to fetch one.
"""

from __future__ import annotations

from api.dataset_links import (
    EU_FILE_TYPE,
    downloads,
    extent_wkt,
    iso_text,
    iso_url,
    page_url,
    validity,
)
from layers.datasets import PRODUCER, Dataset

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/", "foaf": "http://xmlns.com/foaf/0.1/",
    "xsd": "http://www.w3.org/2001/XMLSchema#", "gsp": "http://www.opengis.net/ont/geosparql#",
    "vcard": "http://www.w3.org/2006/vcard/ns#", "adms": "http://www.w3.org/ns/adms#",
}
LANGUAGES = ("FRA", "ARA")  # EU language authority codes of the titles and descriptions
LANGUAGE_AUTHORITY = "http://publications.europa.eu/resource/authority/language/"
TOPIC_CATEGORY = "http://inspire.ec.europa.eu/metadata-codelist/TopicCategory/"
IANA = "http://www.iana.org/assignments/media-types/"  # as DCAT-AP writes them
OGC_API_FEATURES = "http://www.opengis.net/spec/ogcapi-features-1/1.0"
CRS_URI = "http://www.opengis.net/def/crs/EPSG/0/"
CATALOGUE_TITLE = {"fr": "Catalogue des données ouvertes de l'Agence urbaine de Casablanca",
                   "ar": "فهرس البيانات المفتوحة للوكالة الحضرية للدار البيضاء"}
CATALOGUE_DESCRIPTION = {"fr": "Couches d'urbanisme, versions des plans d'aménagement et du SDAU, limites "
                               "administratives et couches des partenaires, téléchargeables et servies en OGC API.",
                         "ar": "طبقات التعمير وصيغ تصاميم التهيئة والمخطط المديري والحدود الإدارية وطبقات الشركاء، "
                               "قابلة للتحميل ومتاحة عبر OGC API."}


def _texts(values: dict[str, str]) -> list[dict]:
    return [{"@value": text, "@language": lang} for lang, text in values.items() if text]


def _date(value: object) -> dict | None:
    text = iso_text(value)  # type: ignore[arg-type]
    if text is None:
        return None
    return {"@value": text, "@type": "xsd:dateTime" if "T" in text else "xsd:date"}


def _organisation(site: str, names: dict[str, str]) -> dict:
    slug = "agence" if names == PRODUCER else "".join(ch if ch.isalnum() else "-" for ch in names["fr"].lower())
    return {"@id": f"{site}/donnees/#organisation-{slug}", "@type": ["foaf:Organization", "foaf:Agent"],
            "foaf:name": _texts(names)}


def _licence(dataset: Dataset) -> dict:
    """The licence as a node: its address, or a blank node when it has none (« usage réservé »): an empty @id
    would make the catalogue document itself the licence."""
    return {"@id": dataset.licence["url"]} if dataset.licence["url"] else {"dct:title": dataset.licence["title"]}


def _distributions(site: str, base: str, dataset: Dataset) -> list[dict]:
    page = page_url(site, dataset.id)
    licence = _licence(dataset)
    out = [{"@id": f"{page}#distribution-{f.code}-{crs}", "@type": "dcat:Distribution",
            "dct:title": {"@value": f"{f.name}, {crs_label}", "@language": "fr"},
            "dcat:accessURL": {"@id": page}, "dcat:downloadURL": {"@id": url},
            "dct:format": {"@id": EU_FILE_TYPE + f.eu_type}, "dcat:mediaType": {"@id": IANA + f.media_type},
            "dct:conformsTo": {"@id": CRS_URI + crs}, "dct:license": licence}
           for f, crs, crs_label, url in downloads(site, dataset)]
    for part in dataset.parts:
        out.append({"@id": f"{page}#distribution-ogc-{part.collection}", "@type": "dcat:Distribution",
                    "dct:title": {"@value": f"OGC API Features : {part.title['fr']}", "@language": "fr"},
                    "dcat:accessURL": {"@id": f"{base}/collections/{part.collection}"},
                    "dct:conformsTo": {"@id": OGC_API_FEATURES}, "dcat:mediaType": {"@id": IANA + "application/geo+json"},
                    "dct:license": licence})
    return out


def dataset_node(site: str, base: str, dataset: Dataset) -> dict:
    """One dcat:Dataset (base: the OGC API's address)."""
    page = page_url(site, dataset.id)
    node: dict[str, object] = {
        "@id": f"{page}#jeu", "@type": "dcat:Dataset", "dct:identifier": dataset.id,
        "dct:title": _texts(dataset.title), "dct:description": _texts(dataset.description),
        "dct:publisher": _organisation(site, PRODUCER), "dct:creator": _organisation(site, dataset.producer),
        "dcat:contactPoint": {"@type": ["vcard:Organization", "vcard:Kind"], "vcard:fn": dataset.producer["fr"],
                              "vcard:hasURL": {"@id": f"{site}/donnees/"}},
        "dct:license": {**_licence(dataset), "@type": "dct:LicenseDocument", "dct:identifier": dataset.licence["id"],
                        "dct:title": dataset.licence["title"]},
        "dct:accessRights": {"@id": "http://publications.europa.eu/resource/authority/access-right/"
                             + ("PUBLIC" if dataset.public else "RESTRICTED")},
        "dct:language": [{"@id": LANGUAGE_AUTHORITY + code} for code in LANGUAGES],
        "dcat:theme": {"@id": TOPIC_CATEGORY + dataset.theme},
        "dcat:keyword": [{"@value": k, "@language": "fr"} for k in dataset.keywords],
        "dcat:landingPage": {"@id": page}, "foaf:page": {"@id": iso_url(site, dataset.id)},
        "dct:conformsTo": {"@id": CRS_URI + dataset.crs.removeprefix("EPSG:")},
        "dcat:distribution": _distributions(site, base, dataset),
    }
    for key, value in (("dct:issued", _date((dataset.plan or {}).get("approval_date"))),
                       ("dct:modified", _date(dataset.updated))):
        if value:
            node[key] = value
    if dataset.extent:
        node["dct:spatial"] = {"@type": "dct:Location",
                               "dcat:bbox": {"@value": extent_wkt(dataset.extent), "@type": "gsp:wktLiteral"}}
    span = validity(dataset)
    if span:
        period: dict[str, object] = {"@type": "dct:PeriodOfTime"}
        for key, value in (("dcat:startDate", span[0]), ("dcat:endDate", span[1])):
            if value:
                period[key] = _date(value)
        node["dct:temporal"] = period
    return node


def catalogue(site: str, base: str, datasets: list[Dataset]) -> dict:
    """The dcat:Catalog of these datasets, as a JSON-LD document."""
    return {"@context": CONTEXT, "@id": f"{site}/donnees/catalogue.jsonld", "@type": "dcat:Catalog",
            "dct:title": _texts(CATALOGUE_TITLE), "dct:description": _texts(CATALOGUE_DESCRIPTION),
            "dct:publisher": _organisation(site, PRODUCER), "foaf:homepage": {"@id": f"{site}/donnees/"},
            "dct:language": [{"@id": LANGUAGE_AUTHORITY + code} for code in LANGUAGES],
            "dct:license": {"@id": "https://creativecommons.org/licenses/by/4.0/"},
            "dcat:dataset": [dataset_node(site, base, d) for d in datasets]}
