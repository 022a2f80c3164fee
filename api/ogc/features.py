"""OGC API Features handlers: parse the request, call layers/features.py, build the response.

Handlers take plain arguments (query parameters as a dict) and return (headers, status, body), so they
are tested without HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from importlib import metadata
from urllib.parse import urlencode

import psycopg

from api.ogc.cql2_text import parse_text
from gis.crs import API_CRS, CRS84_URI, SRID_DOMAINS, api_crs_uri
from gis.errors import InputError, NotFound
from gis.jsontext import parse_json
from gis.landref import parse_land_ref
from layers import cql
from layers.datasets import PUBLIC, Viewer
from layers.features import Collection, ItemsQuery, Prop, equals_sql, run_item, run_items
from layers.metadata import data_version
from layers.partner_features import find_collection

DEFAULT_LIMIT = 10
MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000  # deeper pages are reached with the keyset cursor of the next links
ITEM_PARAMS = {"f", "limit", "bbox", "bbox-crs", "crs", "filter", "filter-lang", "filter-crs", "datetime", "sortby",
               "properties", "cursor", "offset", "skipGeometry", "api_key"}
GEOJSON = "application/geo+json"
MAX_AGE_S = 60  # how long a client or a CDN may reuse an items answer before asking again (If-None-Match)


class OgcError(InputError):
    """A bad OGC API request parameter."""

    code = "InvalidParameterValue"


def collection_or_404(conn: psycopg.Connection, collection_id: str, partner: bool,
                      viewer: Viewer = PUBLIC) -> Collection:
    """The collection, hidden (404) when restricted and the caller is not a partner, or a partner layer that
    `viewer` may not see (the same 404 as an unknown one: its existence is not revealed)."""
    c = find_collection(conn, collection_id, viewer)
    if c is None or (c.restricted and not partner):
        raise NotFound(f"collection inconnue : « {collection_id} »")
    return c


def crs_of(value: str | None, what: str) -> tuple[str, int, bool, int]:
    """(URI, srid, flip, decimals) of a supported CRS, 400 otherwise."""
    if value is None or value == "":
        return (CRS84_URI, *API_CRS[CRS84_URI])
    uri = api_crs_uri(value)
    if uri is None:
        raise OgcError(f"{what} non pris en charge : « {value} » (SCR : {', '.join(API_CRS)})")
    return (uri, *API_CRS[uri])


def _int(value: str | None, name: str, default: int, low: int, high: int | None = None) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise OgcError(f"{name} doit être un entier (reçu « {value} »)") from None
    if number < low:
        raise OgcError(f"{name} doit valoir au moins {low}")
    return min(number, high) if high else number


def _bbox(value: str) -> tuple[float, float, float, float]:
    try:
        nums = [float(v) for v in value.split(",")]
    except ValueError:
        raise OgcError(f"bbox : quatre nombres séparés par des virgules attendus (reçu « {value} »)") from None
    if len(nums) != 4:
        raise OgcError("bbox : quatre nombres attendus (minx,miny,maxx,maxy) ; la 3D n'est pas prise en charge")
    if nums[0] > nums[2] or nums[1] > nums[3]:
        raise OgcError("bbox : le coin minimal doit précéder le coin maximal")
    return tuple(nums)


def _check_range(box: tuple[float, float, float, float], srid: int, flip: bool) -> None:
    x0, y0, x1, y1 = (box[1], box[0], box[3], box[2]) if flip else box
    lo_x, lo_y, hi_x, hi_y = SRID_DOMAINS[srid]
    if not (lo_x <= x0 <= hi_x and lo_x <= x1 <= hi_x and lo_y <= y0 <= hi_y and lo_y <= y1 <= hi_y):
        raise OgcError(f"bbox hors du domaine du SCR (EPSG:{srid}) : vérifiez l'ordre des axes et bbox-crs")


def _day(text: str) -> date:
    try:
        return cql.iso_date(text)
    except ValueError:
        raise OgcError(f"datetime : date ISO 8601 attendue (reçu « {text} »)") from None


def parse_datetime(value: str | None) -> object | None:
    """An instant (date) or an interval (start, end) with open ends as None."""
    if not value:
        return None
    if "/" in value:
        start, _, end = value.partition("/")
        return (None if start in ("", "..") else _day(start), None if end in ("", "..") else _day(end))
    return _day(value)


def encode_cursor(data: dict) -> str:
    """An opaque page token."""
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(token: str) -> dict:
    """Read a page token: strict JSON (gis/jsontext.py) in URL-safe base64, an object one level deep."""
    try:
        if len(token) > 200:
            raise ValueError
        data = parse_json(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)), 1, "cursor")
        if not isinstance(data, dict):
            raise ValueError
        return data
    except (ValueError, InputError):  # binascii.Error is a ValueError
        raise OgcError("cursor invalide : suivez les liens next/prev de la réponse") from None


SIMPLE_TYPES = ("string", "number", "integer", "boolean", "date")  # queryables usable as query parameters


def simple_queryables(c: Collection, partner: bool) -> dict[str, Prop]:
    """The queryables with a simple value, each usable as a query parameter of the same name (Part 3)."""
    return {p.name: p for p in c.visible(partner) if p.type in SIMPLE_TYPES and p.name not in ITEM_PARAMS}


def _number(prop: Prop, text: str) -> int | float:
    try:
        value = int(text) if prop.type == "integer" else float(text)
    except ValueError:
        kind = "un entier" if prop.type == "integer" else "un nombre"
        raise OgcError(f"{prop.name} : {kind} attendu (reçu « {text} »)") from None
    if not math.isfinite(value) or abs(value) >= 2**63:
        raise OgcError(f"{prop.name} : nombre hors limites (reçu « {text} »)")
    return value


def queryable_value(prop: Prop, text: str) -> object:
    """The typed value of a queryable given as a query parameter; 400 with a French message when it cannot be."""
    if prop.type in ("integer", "number"):
        return _number(prop, text)
    if prop.type == "boolean":
        if text.lower() not in ("true", "false"):
            raise OgcError(f"{prop.name} : true ou false attendu (reçu « {text} »)")
        return text.lower() == "true"
    if prop.type == "date":
        try:
            return cql.iso_date(text)
        except ValueError:
            raise OgcError(f"{prop.name} : date AAAA-MM-JJ attendue (reçu « {text} »)") from None
    if "\x00" in text or len(text) > 1000:
        raise OgcError(f"{prop.name} : texte invalide (caractère nul ou plus de 1000 caractères)")
    if prop.format == "landref":
        return parse_land_ref(text).normalized  # any accepted spelling; None: untitled land
    return text


def _apply_bbox(q: ItemsQuery, args: dict[str, str]) -> None:
    if args.get("bbox"):
        q.bbox = _bbox(args["bbox"])
        _, q.bbox_srid, q.bbox_flip, _ = crs_of(args.get("bbox-crs"), "bbox-crs")
        _check_range(q.bbox, q.bbox_srid, q.bbox_flip)
    elif args.get("bbox-crs"):
        crs_of(args["bbox-crs"], "bbox-crs")


def _visible_prop(c: Collection, name: str, partner: bool) -> Prop | None:
    prop = c.prop(name)
    return None if prop is None or (prop.restricted and not partner) else prop


def _apply_properties(q: ItemsQuery, args: dict[str, str]) -> None:
    if args.get("properties") is None:
        return
    props = []
    for name in (n.strip() for n in args["properties"].split(",")):
        if not name:
            continue
        prop = _visible_prop(q.collection, name, q.partner)
        if prop is None:
            raise OgcError(f"properties : propriété inconnue « {name} »")
        props.append(prop)
    q.properties = tuple(props)


def _apply_sortby(q: ItemsQuery, args: dict[str, str]) -> None:
    for item in (i.strip() for i in args.get("sortby", "").split(",") if i.strip()):
        name = item.lstrip("+-")
        prop = _visible_prop(q.collection, name, q.partner)
        if prop is None or prop.type == "array":
            raise OgcError(f"sortby : propriété inconnue ou non triable « {name} »")
        q.sort.append((prop, item.startswith("-")))


def _apply_filter(q: ItemsQuery, args: dict[str, str], max_depth: int = cql.MAX_DEPTH) -> None:
    if not args.get("filter"):
        return
    lang = args.get("filter-lang", "cql2-text")
    if lang == "cql2-text":
        ast = parse_text(args["filter"], max_depth)
    elif lang == "cql2-json":
        if len(args["filter"]) > 20_000:
            raise OgcError("filtre trop long (20 000 caractères au plus)")
        ast = cql.from_json(args["filter"], max_depth)
    else:
        raise OgcError(f"filter-lang non pris en charge : « {lang} » (cql2-text, cql2-json)")
    _, fsrid, fflip, _ = crs_of(args.get("filter-crs"), "filter-crs")
    condition, params = cql.to_sql(ast, q.collection, fsrid, fflip, q.partner)
    q.where.append(condition)
    q.params += params


def _apply_queryables(q: ItemsQuery, args: dict[str, str], queryables: dict[str, Prop]) -> None:
    for name in sorted(set(args) & set(queryables)):
        condition, params = equals_sql(queryables[name], queryable_value(queryables[name], args[name]))
        q.where.append(condition)
        q.params += params


def _apply_paging(q: ItemsQuery, args: dict[str, str]) -> None:
    if args.get("cursor"):
        token = decode_cursor(args["cursor"])
        q.after, q.offset = token.get("a"), token.get("o", 0)
        key_type = int if q.collection.id_type == "integer" else str
        if (set(token) - {"a", "o"} or isinstance(q.offset, bool) or not isinstance(q.offset, int)
                or not 0 <= q.offset <= MAX_OFFSET or isinstance(q.after, bool)
                or not (q.after is None or isinstance(q.after, key_type))
                or (isinstance(q.after, int) and abs(q.after) >= 2**63)
                or (isinstance(q.after, str) and len(q.after) > 200)):
            raise OgcError("cursor invalide : suivez les liens next/prev de la réponse")
    elif args.get("offset"):
        q.offset = _int(args.get("offset"), "offset", 0, 0)
        if q.offset > MAX_OFFSET:
            raise OgcError(f"offset au plus {MAX_OFFSET} : suivez les liens next (curseur) pour aller plus loin")


def day_of(c: Collection, value: str | None) -> object | None:
    """The datetime asked for; zoning layers default to the plan versions in force today, "../.." means all."""
    day = parse_datetime(value)
    if day is None and c.temporal == "plan":
        return date.today()
    return None if day == (None, None) else day


def build_query(c: Collection, args: dict[str, str], partner: bool,
                filter_depth: int = cql.MAX_DEPTH) -> tuple[ItemsQuery, str]:
    """Validate every parameter into an ItemsQuery; returns it with the response CRS URI."""
    queryables = simple_queryables(c, partner)
    unknown = set(args) - ITEM_PARAMS - set(queryables)
    if unknown:
        raise OgcError(f"paramètre(s) inconnu(s) : {', '.join(sorted(unknown))} (paramètres : "
                       f"{', '.join(sorted(ITEM_PARAMS - {'api_key'}))} et les propriétés filtrables "
                       f"{', '.join(queryables)})")
    crs_uri, srid, flip, decimals = crs_of(args.get("crs"), "crs")
    q = ItemsQuery(collection=c, limit=_int(args.get("limit"), "limit", DEFAULT_LIMIT, 1, MAX_LIMIT), srid=srid,
                   flip=flip, precision=decimals, partner=partner)
    q.skip_geometry = args.get("skipGeometry", "false").lower() == "true"
    _apply_bbox(q, args)
    _apply_properties(q, args)
    _apply_sortby(q, args)
    _apply_filter(q, args, filter_depth)
    _apply_queryables(q, args, queryables)
    if c.undated and args.get("datetime"):
        raise OgcError(f"datetime non pris en charge par « {c.id} » : une couche partenaire n'a pas de dimension "
                       "temporelle, seule sa version en vigueur est publiée")
    q.day = day_of(c, args.get("datetime"))
    _apply_paging(q, args)
    return q, crs_uri


def _link(base: str, args: dict[str, str], rel: str, title: str, **changes: str | None) -> dict:
    params = {k: v for k, v in args.items() if k not in ("cursor", "offset", "api_key")}
    params.update({k: v for k, v in changes.items() if v is not None})
    return {"href": f"{base}?{urlencode(params)}" if params else base, "rel": rel, "type": GEOJSON, "title": title}


@lru_cache(maxsize=1)
def _release() -> str:
    """The installed release (an upgrade may change an answer's form while the data stay the same)."""
    try:
        return metadata.version("urbasig")
    except metadata.PackageNotFoundError:
        return "dev"


def _seconds_to_midnight(now: datetime) -> int:
    return int((datetime.combine(now.date() + timedelta(days=1), time()) - now).total_seconds())


def cache_headers(conn: psycopg.Connection, c: Collection, what: str, args: dict[str, str], partner: bool,
                  representation: str = "json", weak: bool = False, now: datetime | None = None) -> dict[str, str]:
    """ETag, Cache-Control and Vary of an answer about collection c, from one cheap query (layer_versions).

    The ETag changes when a table the collection reads is written (import, plan status change), with the
    request (`what`, its normalised query, the caller's access, JSON or the page's language) and, for a
    collection whose answer depends on today (the plan versions in force today, each feature's status today),
    at midnight. The version is read before the answer is built: an ETag never names data newer than its body.
    A partner's answer (restricted fields), an HTML page (its language follows the cookie) and a partner layer
    that is not public (who may read it follows the key or the session) are private.
    """
    version = int(data_version(conn, list(c.layer_versions)))  # sum() of bigints is a numeric
    now = now or datetime.now()
    day = now.date().isoformat() if c.join_plan else None
    query = sorted((k, v) for k, v in args.items() if k != "api_key")
    key = json.dumps([c.id, what, query, partner, representation, version, day, _release()], ensure_ascii=False)
    digest = hashlib.sha1(key.encode()).hexdigest()[:20]
    max_age = MAX_AGE_S if day is None else min(MAX_AGE_S, _seconds_to_midnight(now))
    scope = "private" if partner or representation != "json" or c.audience != "public" else "public"
    vary = "Accept, X-API-Key" if c.audience == "public" else "Accept, X-API-Key, Cookie"
    return {"ETag": f'{"W/" if weak else ""}"{digest}"', "Cache-Control": f"{scope}, max-age={max_age}",
            "Vary": vary}


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether If-None-Match names this ETag (weak comparison, as for GET) or is *."""
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


def items(conn: psycopg.Connection, base_url: str, collection_id: str, args: dict[str, str],
          partner: bool = False, filter_depth: int = cql.MAX_DEPTH, if_none_match: str | None = None,
          representation: str = "json", viewer: Viewer = PUBLIC) -> tuple[dict, int, str]:
    """GET /collections/{id}/items as GeoJSON; 304 (nothing built) when the client's copy is current.

    The ETag is weak: the same data, but each answer has its own timeStamp.
    """
    c = collection_or_404(conn, collection_id, partner, viewer)
    q, crs_uri = build_query(c, args, partner, filter_depth)  # a bad request is a 400, never a 304
    cache = cache_headers(conn, c, "items", args, partner, representation, weak=True)
    if etag_matches(if_none_match, cache["ETag"]):
        return cache, 304, ""
    first_page = q.after is None and q.offset == 0
    rows, matched = run_items(conn, q, count=True)
    more = len(rows) > q.limit
    rows = rows[: q.limit]
    href = f"{base_url}/collections/{c.id}/items"
    links = [_link(href, args, "self", "cette page")]
    if more:
        if q.sort:  # keyset paging needs the id order; other orders page by offset
            links.append(_link(href, args, "next", "page suivante", cursor=encode_cursor({"o": q.offset + q.limit})))
        else:
            links.append(_link(href, args, "next", "page suivante", cursor=encode_cursor({"a": rows[-1][0]})))
    if not first_page:
        if q.offset:
            links.append(_link(href, args, "prev", "page précédente",
                               cursor=encode_cursor({"o": max(0, q.offset - q.limit)}) if q.offset > q.limit else None))
        else:
            links.append(_link(href, args, "first", "première page"))
    links.append({"href": f"{base_url}/collections/{c.id}", "rel": "collection", "type": "application/json",
                  "title": c.title})
    head = {"type": "FeatureCollection", "numberReturned": len(rows), "links": links,
            "timeStamp": datetime.utcnow().replace(microsecond=0).isoformat() + "Z"}
    if matched is not None:
        head["numberMatched"] = matched
    body = json.dumps(head, ensure_ascii=False)[:-1] + ',"features":[' + ",".join(r[1] for r in rows) + "]}"
    return {"Content-Type": GEOJSON, "Content-Crs": f"<{crs_uri}>", **cache}, 200, body


def item(conn: psycopg.Connection, base_url: str, collection_id: str, item_id: str, args: dict[str, str],
         partner: bool = False, if_none_match: str | None = None,
         representation: str = "json", viewer: Viewer = PUBLIC) -> tuple[dict, int, str]:
    """GET /collections/{id}/items/{featureId}; 304 (nothing read but the versions) when the client's copy is
    current (it was a 200 of the same versions, so the feature still exists)."""
    c = collection_or_404(conn, collection_id, partner, viewer)
    unknown = set(args) - {"f", "crs", "api_key", "properties"}
    if unknown:
        raise OgcError(f"paramètre(s) inconnu(s) : {', '.join(sorted(unknown))}")
    crs_uri, srid, flip, decimals = crs_of(args.get("crs"), "crs")
    if c.id_type == "integer":
        try:
            key: object = int(item_id)
        except ValueError:
            raise NotFound(f"entité inconnue : « {item_id} »") from None
        if not -(2**63) <= key < 2**63:
            raise NotFound(f"entité inconnue : « {item_id} »")
    else:
        key = item_id
    cache = cache_headers(conn, c, f"item/{item_id}", args, partner, representation)
    if etag_matches(if_none_match, cache["ETag"]):
        return cache, 304, ""
    q = ItemsQuery(collection=c, limit=1, srid=srid, flip=flip, precision=decimals, partner=partner)
    feature = run_item(conn, q, key)
    if feature is None:
        raise NotFound(f"entité inconnue : « {item_id} » dans {c.id}")
    links = [{"href": f"{base_url}/collections/{c.id}/items/{item_id}", "rel": "self", "type": GEOJSON},
             {"href": f"{base_url}/collections/{c.id}", "rel": "collection", "type": "application/json"}]
    body = feature[:-1] + ',"links":' + json.dumps(links) + "}"
    return {"Content-Type": GEOJSON, "Content-Crs": f"<{crs_uri}>", **cache}, 200, body


def queryables(conn: psycopg.Connection, base_url: str, collection_id: str, partner: bool = False,
               viewer: Viewer = PUBLIC) -> dict:
    """JSON Schema of the properties a filter may use."""
    c = collection_or_404(conn, collection_id, partner, viewer)
    kinds = {"string": {"type": "string"}, "number": {"type": "number"}, "integer": {"type": "integer"},
             "boolean": {"type": "boolean"}, "date": {"type": "string", "format": "date"},
             "array": {"type": "array", "items": {"type": "string"}}}
    props = {p.name: {**kinds[p.type], "title": p.title or p.name} for p in c.visible(partner)}
    props["geometry"] = {"format": f"geometry-{c.geometry_type.lower()}", "title": "géométrie"}
    if c.temporal:
        props["validity"] = {"type": "string", "format": "date", "title": "validité de la version de plan "
                             "(T_INTERSECTS, T_DURING…)"}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"{base_url}/collections/{c.id}/queryables",
            "type": "object", "title": c.title, "properties": props, "additionalProperties": False}
