"""What the OGC API's HTML pages show: readable labels and values for the JSON documents (which stay as they are).

A property's label is its column's label in the layer catalogue (layers/catalog.py), without the parenthesis
that lists its internal codes; a value is written for a person: booleans as oui / non, lists joined, dates in
long form, numbers with the language's separators, storeys as R+n, and internal codes (`road_widening`,
`enquete_publique`, `plancher`) by their label from instruction/vocabulary.py. The raw value stays on the page
(`Cell.raw`, shown in a title attribute and a <code>) so a GIS user can still filter on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from api.i18n import translate
from gis import l10n
from instruction.vocabulary import label as vocabulary_label
from layers.catalog import CATALOGUE, Column

# (collection, property) → the vocabulary table that names its codes; "*" for any collection
CODED: dict[tuple[str, str], str] = {("*", "plan_status"): "status", ("prescriptions", "kind"): "prescription",
                                     ("plans", "status"): "status", ("plans", "kind"): "plan_kind",
                                     ("zones", "cos_meaning"): "coef", ("zones", "cus_meaning"): "coef"}
DECIMALS = {"float": 2}
_PARENTHESIS = re.compile(r"\s*\([^)]*\)\s*$")


@dataclass(frozen=True)
class Cell:
    """A value as shown: its text, and the raw value when the text is not the value itself (a code, a boolean)."""

    text: str
    raw: str | None = None


def _column(collection_id: str, name: str) -> Column | None:
    layer = CATALOGUE.get(collection_id)
    return next((c for c in layer.fields if c.name == name), None) if layer else None


def prop_label(collection_id: str, name: str) -> str:
    """The catalogue's label of a property, without the parenthesis of codes or examples (its name when none)."""
    column = _column(collection_id, name)
    if column is None or not column.label:
        return name
    text = _PARENTHESIS.sub("", column.label)
    return text[:1].upper() + text[1:]


def _scalar(column: Column | None, value: object, lang: str) -> str:
    kind = column.type if column else ""
    if isinstance(value, bool):
        return translate("ogc.yes" if value else "ogc.no", lang)
    if kind == "rplus" and isinstance(value, int):
        return f"R+{value}"
    if isinstance(value, float) or (kind == "float" and isinstance(value, int)):
        return l10n.number(value, lang, DECIMALS["float"]).rstrip("0").removesuffix(",")  # 19,50 → 19,5; 19,00 → 19
    if kind == "date" and isinstance(value, str):
        try:
            return l10n.long_date(date.fromisoformat(value), lang)
        except ValueError:
            return value
    if kind == "datetime" and isinstance(value, str):
        try:
            return l10n.long_datetime(datetime.fromisoformat(value), lang)
        except ValueError:
            return value
    return str(value)


def cell(collection_id: str, name: str, value: object, lang: str = "fr") -> Cell:
    """The value of property `name` of a feature of `collection_id`, written for a person."""
    if value is None:
        return Cell("—")
    table = CODED.get((collection_id, name)) or CODED.get(("*", name))
    if table and isinstance(value, str):
        return Cell(vocabulary_label(table, value, lang), value)
    column = _column(collection_id, name)
    if isinstance(value, list):
        return Cell(", ".join(_scalar(column, v, lang) for v in value) or "—")
    if isinstance(value, dict):
        return Cell(", ".join(f"{k} : {_scalar(None, v, lang)}" for k, v in value.items()) or "—")
    text = _scalar(column, value, lang)
    return Cell(text, str(value).lower() if isinstance(value, bool) else None)


def schema_type(schema: dict, lang: str = "fr") -> str:
    """A JSON Schema's type as a person reads it (« texte », « nombre », « liste de texte », « date »…)."""
    kind = schema.get("type")
    if schema.get("format") == "date":
        return translate("ogc.type.date", lang)
    if schema.get("format") == "date-time":
        return translate("ogc.type.datetime", lang)
    if schema.get("format", "").startswith("geometry"):
        return translate("ogc.type.geometry", lang)
    if kind == "array":
        items = schema.get("items") or {}
        inner = schema_type(items, lang) if isinstance(items, dict) and items.get("type") else ""
        return translate("ogc.type.array", lang) + (f" ({inner})" if inner else "")
    if isinstance(kind, str) and f"ogc.type.{kind}" in _known(lang):
        return translate(f"ogc.type.{kind}", lang)
    return kind if isinstance(kind, str) else "—"


def _known(lang: str) -> dict[str, str]:
    from api.i18n import catalogue

    return catalogue()[lang]


def with_format(href: str, f: str) -> str:
    """The same address, relative to this site, asking for `f` (html or json) instead of any other `f`.

    Relative, so a page read through another allowed host name still links to itself; `lang` is dropped
    for JSON (the documents have no language), kept for HTML.
    """
    parts = urlsplit(href)
    dropped = {"f"} if f == "html" else {"f", "lang"}
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in dropped] + [("f", f)]
    return urlunsplit(("", "", parts.path, urlencode(query), parts.fragment))


def html_href(href: str) -> str:
    """The HTML page of a link (`f=html`)."""
    return with_format(href, "html")


PAGER = (("first", "ogc.first"), ("prev", "ogc.prev"), ("next", "ogc.next"))


def pager(links: list[dict], lang: str) -> list[dict[str, str]]:
    """The paging links of an items document as HTML links (first, previous, next)."""
    by_rel = {link["rel"]: link["href"] for link in links}
    return [{"rel": rel, "href": html_href(by_rel[rel]), "label": translate(key, lang)}
            for rel, key in PAGER if rel in by_rel]


def preview_json(bbox: list[float] | None = None, tiles: str | None = None, features: dict | None = None,
                 items: list[str] | None = None) -> str:
    """The data of a page's preview map (read by static/js/ogc-preview.js), safe inside a <script> block.

    `items`: addresses of GeoJSON feature collections of this server that the map fetches and draws."""
    import json

    data = {"bbox": bbox, "tiles": tiles, "features": features, "items": items or []}
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")


def tiles_template(collection_id: str) -> str | None:
    """The vector tile address of a collection that has tiles (WebMercatorQuad), else None."""
    from layers.partner_features import has_tiles

    if not has_tiles(collection_id):
        return None
    return f"/ogc/collections/{collection_id}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"


def _labeller(collection_id: str, labels: dict[str, str] | None) -> Callable[[str], str]:
    """The label of a property (of the collection itself for "")."""
    if labels is not None:
        return lambda name: labels.get(name) or name or collection_id
    return lambda name: prop_label(collection_id, name) if name else collection_title(collection_id)


def collection_title(collection_id: str) -> str:
    """The title of a collection (its catalogue label), or its id."""
    layer = CATALOGUE.get(collection_id)
    return layer.label if layer and layer.label else collection_id


def items_view(doc: dict, collection_id: str, lang: str, labels: dict[str, str] | None = None) -> dict[str, object]:
    """The items page: labelled columns, each row's readable cells, paging links, the preview of the page.

    `labels`: the title ("") and property labels of a collection that is not in the catalogue (a partner layer's).
    """
    label = _labeller(collection_id, labels)
    features = doc.get("features") or []
    names: list[str] = []
    for feature in features:
        names += [n for n in (feature.get("properties") or {}) if n not in names]
    rows = [{"id": f.get("id"), "cells": [cell(collection_id, n, (f.get("properties") or {}).get(n), lang)
                                          for n in names]} for f in features]
    drawn = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": f.get("id"), "geometry": f.get("geometry"), "properties": {}}
        for f in features if f.get("geometry")]}
    return {"title": label(""), "columns": [(n, label(n)) for n in names], "rows": rows,
            "pager": pager(doc.get("links") or [], lang),
            "preview_json": preview_json(tiles=tiles_template(collection_id), features=drawn)}


def item_view(doc: dict, collection_id: str, lang: str, labels: dict[str, str] | None = None) -> dict[str, object]:
    """The page of one feature: each property labelled and readable, the feature drawn (`labels`: as items_view)."""
    label = _labeller(collection_id, labels)
    props = doc.get("properties") or {}
    cells = [(n, label(n), cell(collection_id, n, v, lang)) for n, v in props.items()]
    drawn = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": doc.get("id"), "geometry": doc["geometry"], "properties": {}}]} \
        if doc.get("geometry") else None
    return {"title": label(""), "cells": cells,
            "preview_json": preview_json(tiles=tiles_template(collection_id), features=drawn)}


def queryable_rows(doc: dict, collection_id: str, lang: str) -> list[tuple[str, str, str]]:
    """(name, label, type) of each queryable property."""
    return [(name, prop_label(collection_id, name) if _column(collection_id, name) else spec.get("title", name),
             schema_type(spec, lang)) for name, spec in (doc.get("properties") or {}).items()]


def process_inputs(doc: dict, lang: str) -> list[dict[str, object]]:
    """Each input of a process description: title, name, type, whether required, its fields, choices, example."""
    out = []
    for name, spec in (doc.get("inputs") or {}).items():
        schema = spec.get("schema") or {}
        example = (schema.get("examples") or [None])[0]
        fields = list((schema.get("properties") or {}).keys())
        out.append({"name": name, "title": spec.get("title", name), "type": schema_type(schema, lang),
                    "required": spec.get("minOccurs", 0) >= 1, "fields": fields, "choices": schema.get("enum") or [],
                    "example": example if isinstance(example, str) else None})
    return out
