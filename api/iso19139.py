"""A dataset's ISO 19115 metadata record, encoded in ISO 19139 XML (what CSW catalogues and GeoNetwork read).

Written by hand with ElementTree from the facts of layers/datasets.py — pygeometa would do it from an MCF, but it
brings OWSLib, jsonschema, PyYAML and lxml into the server for one template. French is the record's language and
Arabic its second locale (PT_FreeText); the extent is the CRS84 box, the validity of a plan version its temporal
extent, the licence a legal constraint with its address, every download an online resource.
"""

from __future__ import annotations

import re
from datetime import datetime
from xml.etree import ElementTree as ET

from api.dataset_links import FORMATS, downloads, iso_text, page_url, validity
from layers.datasets import Dataset

NS = {"gmd": "http://www.isotc211.org/2005/gmd", "gco": "http://www.isotc211.org/2005/gco",
      "gml": "http://www.opengis.net/gml/3.2", "gmx": "http://www.isotc211.org/2005/gmx",
      "xlink": "http://www.w3.org/1999/xlink"}
CODELISTS = "http://standards.iso.org/iso/19139/resources/gmxCodelists.xml"
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)


def _q(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{NS[prefix]}}}{local}"


XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _el(parent: ET.Element, path: str, text: str | None = None, **attrs: str) -> ET.Element:
    """Append the chain of elements `path` (« gmd:a/gmd:b ») under parent; text and attributes go on the last."""
    node = parent
    for name in path.split("/"):
        node = ET.SubElement(node, _q(name))
    for key, value in attrs.items():
        node.set(_q(key.replace("__", ":")) if "__" in key else key, value)
    if text is not None:
        node.text = XML_ILLEGAL.sub("", text)  # older partner texts may hold what XML 1.0 cannot carry
    return node


def _string(parent: ET.Element, path: str, text: str) -> None:
    _el(parent, f"{path}/gco:CharacterString", text)


def _localised(parent: ET.Element, path: str, texts: dict[str, str]) -> None:
    """French text with its Arabic translation (PT_FreeText, locale #AR)."""
    holder = _el(parent, path)
    holder.set("{http://www.w3.org/2001/XMLSchema-instance}type", "gmd:PT_FreeText_PropertyType")
    _el(holder, "gco:CharacterString", texts["fr"])
    if texts.get("ar"):
        _el(holder, "gmd:PT_FreeText/gmd:textGroup/gmd:LocalisedCharacterString", texts["ar"], locale="#AR")


def _code(parent: ET.Element, path: str, codelist: str, value: str) -> None:
    _el(parent, path, value, codeList=f"{CODELISTS}#{codelist}", codeListValue=value)


def _party(parent: ET.Element, path: str, names: dict[str, str], role: str) -> None:
    party = _el(parent, f"{path}/gmd:CI_ResponsibleParty")
    _localised(party, "gmd:organisationName", names)
    _code(party, "gmd:role/gmd:CI_RoleCode", "CI_RoleCode", role)


def _date(parent: ET.Element, value: object, kind: str) -> None:
    ci_date = _el(parent, "gmd:date/gmd:CI_Date")
    tag = "gco:DateTime" if isinstance(value, datetime) else "gco:Date"
    text = iso_text(value)  # type: ignore[arg-type]
    _el(ci_date, f"gmd:date/{tag}", (text or "").removesuffix("Z"))
    _code(ci_date, "gmd:dateType/gmd:CI_DateTypeCode", "CI_DateTypeCode", kind)


def _extent(ident: ET.Element, dataset: Dataset) -> None:
    extent = _el(ident, "gmd:extent/gmd:EX_Extent")
    if dataset.extent:
        box = _el(extent, "gmd:geographicElement/gmd:EX_GeographicBoundingBox")
        west, south, east, north = dataset.extent
        for name, value in (("westBoundLongitude", west), ("eastBoundLongitude", east),
                            ("southBoundLatitude", south), ("northBoundLatitude", north)):
            _el(box, f"gmd:{name}/gco:Decimal", repr(value))
    span = validity(dataset)
    if span:
        period = _el(extent, "gmd:temporalElement/gmd:EX_TemporalExtent/gmd:extent/gml:TimePeriod")
        period.set(_q("gml:id"), f"validite-{dataset.id}")
        for name, value in (("gml:beginPosition", span[0]), ("gml:endPosition", span[1])):
            node = _el(period, name, iso_text(value) if value else None)
            if value is None:
                node.set("indeterminatePosition", "unknown" if name == "gml:beginPosition" else "now")


def _identification(root: ET.Element, site: str, dataset: Dataset) -> None:
    ident = _el(root, "gmd:identificationInfo/gmd:MD_DataIdentification")
    citation = _el(ident, "gmd:citation/gmd:CI_Citation")
    _localised(citation, "gmd:title", dataset.title)
    approval = (dataset.plan or {}).get("approval_date")
    if approval:
        _date(citation, approval, "publication")
    if dataset.updated or not approval:
        _date(citation, dataset.updated or datetime.now(), "revision")
    _string(citation, "gmd:identifier/gmd:MD_Identifier/gmd:code", page_url(site, dataset.id))
    _localised(ident, "gmd:abstract", dataset.description)
    _party(ident, "gmd:pointOfContact", dataset.producer, "originator")
    keywords = _el(ident, "gmd:descriptiveKeywords/gmd:MD_Keywords")
    for word in dataset.keywords:
        _string(keywords, "gmd:keyword", word)
    constraints = _el(ident, "gmd:resourceConstraints/gmd:MD_LegalConstraints")
    _string(constraints, "gmd:useLimitation", f"Licence {dataset.licence['title']} ({dataset.licence['id']})")
    _code(constraints, "gmd:accessConstraints/gmd:MD_RestrictionCode", "MD_RestrictionCode", "otherRestrictions")
    if dataset.licence["url"]:
        _el(constraints, "gmd:otherConstraints/gmx:Anchor", dataset.licence["title"], xlink__href=dataset.licence["url"])
    else:  # « usage réservé »: no public text to point to
        _string(constraints, "gmd:otherConstraints", dataset.licence["title"])
    _code(ident, "gmd:language/gmd:LanguageCode", "LanguageCode", "fre")
    _el(ident, "gmd:topicCategory/gmd:MD_TopicCategoryCode", dataset.theme)
    _extent(ident, dataset)


def _distribution(root: ET.Element, site: str, base: str, dataset: Dataset) -> None:
    dist = _el(root, "gmd:distributionInfo/gmd:MD_Distribution")
    for f in FORMATS:
        fmt = _el(dist, "gmd:distributionFormat/gmd:MD_Format")
        _string(fmt, "gmd:name", f.name)
        _string(fmt, "gmd:version", "-")
    options = _el(dist, "gmd:transferOptions/gmd:MD_DigitalTransferOptions")
    online = [(url, "WWW:DOWNLOAD-1.0-http--download", f"{f.name}, {crs_label}")
              for f, _crs, crs_label, url in downloads(site, dataset)]
    online += [(f"{base}/collections/{p.collection}", "OGC:API-Features", f"OGC API Features : {p.title['fr']}")
               for p in dataset.parts]
    online.append((page_url(site, dataset.id), "WWW:LINK-1.0-http--link", "page du jeu de données"))
    for url, protocol, name in online:
        resource = _el(options, "gmd:onLine/gmd:CI_OnlineResource")
        _el(resource, "gmd:linkage/gmd:URL", url)
        _string(resource, "gmd:protocol", protocol)
        _string(resource, "gmd:name", name)


def metadata_xml(site: str, base: str, dataset: Dataset) -> bytes:
    """The ISO 19139 document (UTF-8) of a dataset; base is the OGC API's address."""
    root = ET.Element(_q("gmd:MD_Metadata"))
    _string(root, "gmd:fileIdentifier", f"urbasig:{dataset.id}")
    _code(root, "gmd:language/gmd:LanguageCode", "LanguageCode", "fre")
    _code(root, "gmd:characterSet/gmd:MD_CharacterSetCode", "MD_CharacterSetCode", "utf8")
    _code(root, "gmd:hierarchyLevel/gmd:MD_ScopeCode", "MD_ScopeCode", "dataset")
    _party(root, "gmd:contact", dataset.producer, "pointOfContact")
    _el(root, "gmd:dateStamp/gco:DateTime", (iso_text(dataset.updated or datetime.now()) or "").removesuffix("Z"))
    _string(root, "gmd:metadataStandardName", "ISO 19115:2003/19139")
    _string(root, "gmd:metadataStandardVersion", "1.0")
    locale = _el(root, "gmd:locale/gmd:PT_Locale", id="AR")
    _code(locale, "gmd:languageCode/gmd:LanguageCode", "LanguageCode", "ara")
    _code(locale, "gmd:characterEncoding/gmd:MD_CharacterSetCode", "MD_CharacterSetCode", "utf8")
    _string(root, "gmd:referenceSystemInfo/gmd:MD_ReferenceSystem/gmd:referenceSystemIdentifier/gmd:RS_Identifier/"
            "gmd:code", dataset.crs)
    _identification(root, site, dataset)
    _distribution(root, site, base, dataset)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
