"""OGC API Features handlers: parse the request, call layers/features.py, build the response.

Handlers take plain arguments (query parameters as a dict) and return (headers, status, body), so they
are tested without HTTP.
"""

from __future__ import annotations

import base64
import json
from datetime import date, datetime
from urllib.parse import urlencode

import psycopg

from api.ogc.cql2_text import parse_text
from gis.errors import InputError, NotFound
from layers import cql
from layers.features import COLLECTIONS, Collection, ItemsQuery, run_item, run_items

DEFAULT_LIMIT = 10
MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000  # deeper pages are reached with the keyset cursor of the next links
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CRS = {  # URI -> (srid, flip to lat/lon, decimals)
    CRS84: (4326, False, 7),
    "http://www.opengis.net/def/crs/EPSG/0/4326": (4326, True, 7),
    "http://www.opengis.net/def/crs/EPSG/0/3857": (3857, False, 2),
    "http://www.opengis.net/def/crs/EPSG/0/26191": (26191, False, 3),
}
ALIASES = {"CRS84": CRS84, "OGC:CRS84": CRS84, "EPSG:4326": "http://www.opengis.net/def/crs/EPSG/0/4326",
           "EPSG:3857": "http://www.opengis.net/def/crs/EPSG/0/3857",
           "EPSG:26191": "http://www.opengis.net/def/crs/EPSG/0/26191",
           "[EPSG:4326]": "http://www.opengis.net/def/crs/EPSG/0/4326"}
ITEM_PARAMS = {"f", "limit", "bbox", "bbox-crs", "crs", "filter", "filter-lang", "filter-crs", "datetime", "sortby",
               "properties", "cursor", "offset", "skipGeometry", "api_key"}
GEOJSON = "application/geo+json"


class OgcError(InputError):
    """A bad OGC API request parameter."""

    code = "InvalidParameterValue"


def collection_or_404(collection_id: str, partner: bool) -> Collection:
    """The collection, hidden (404) when restricted and the caller is not a partner."""
    c = COLLECTIONS.get(collection_id)
    if c is None or (c.restricted and not partner):
        raise NotFound(f"collection inconnue : « {collection_id} »")
    return c


def crs_of(value: str | None, what: str) -> tuple[str, int, bool, int]:
    """(URI, srid, flip, decimals) of a supported CRS, 400 otherwise."""
    if value is None or value == "":
        return (CRS84, *CRS[CRS84])
    uri = ALIASES.get(value.strip("<>"), value.strip("<>"))
    if uri not in CRS:
        raise OgcError(f"{what} non pris en charge : « {value} » (SCR : {', '.join(CRS)})")
    return (uri, *CRS[uri])


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


RANGES = {4326: (-180, -90, 180, 90), 3857: (-20037508.35, -20048966.11, 20037508.35, 20048966.11),
          26191: (-1e7, -1e7, 1e7, 1e7)}


def _check_range(box: tuple[float, float, float, float], srid: int, flip: bool) -> None:
    x0, y0, x1, y1 = (box[1], box[0], box[3], box[2]) if flip else box
    lo_x, lo_y, hi_x, hi_y = RANGES[srid]
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
    """Read a page token."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(data, dict):
            raise ValueError
        return data
    except (ValueError, json.JSONDecodeError):
        raise OgcError("cursor invalide : suivez les liens next/prev de la réponse") from None


def build_query(c: Collection, args: dict[str, str], partner: bool) -> tuple[ItemsQuery, str]:
    """Validate every parameter into an ItemsQuery; returns it with the response CRS URI."""
    unknown = set(args) - ITEM_PARAMS
    if unknown:
        raise OgcError(f"paramètre(s) inconnu(s) : {', '.join(sorted(unknown))}")
    crs_uri, srid, flip, decimals = crs_of(args.get("crs"), "crs")
    q = ItemsQuery(collection=c, limit=_int(args.get("limit"), "limit", DEFAULT_LIMIT, 1, MAX_LIMIT), srid=srid,
                   flip=flip, precision=decimals, partner=partner)
    q.skip_geometry = args.get("skipGeometry", "false").lower() == "true"
    if args.get("bbox"):
        q.bbox = _bbox(args["bbox"])
        _, q.bbox_srid, q.bbox_flip, _ = crs_of(args.get("bbox-crs"), "bbox-crs")
        _check_range(q.bbox, q.bbox_srid, q.bbox_flip)
    elif args.get("bbox-crs"):
        crs_of(args["bbox-crs"], "bbox-crs")
    if args.get("properties") is not None:
        names = [n.strip() for n in args["properties"].split(",") if n.strip()]
        props = []
        for name in names:
            prop = c.prop(name)
            if prop is None or (prop.restricted and not partner):
                raise OgcError(f"properties : propriété inconnue « {name} »")
            props.append(prop)
        q.properties = tuple(props)
    if args.get("sortby"):
        for item in args["sortby"].split(","):
            item = item.strip()
            desc = item.startswith("-")
            name = item.lstrip("+-")
            prop = c.prop(name)
            if prop is None or (prop.restricted and not partner) or prop.type == "array":
                raise OgcError(f"sortby : propriété inconnue ou non triable « {name} »")
            q.sort.append((prop, desc))
    if args.get("filter"):
        lang = args.get("filter-lang", "cql2-text")
        if lang == "cql2-text":
            ast = parse_text(args["filter"])
        elif lang == "cql2-json":
            ast = cql.from_json(args["filter"])
        else:
            raise OgcError(f"filter-lang non pris en charge : « {lang} » (cql2-text, cql2-json)")
        _, fsrid, fflip, _ = crs_of(args.get("filter-crs"), "filter-crs")
        condition, params = cql.to_sql(ast, c, fsrid, fflip, partner)
        q.where.append(condition)
        q.params += params
    q.day = parse_datetime(args.get("datetime"))
    if args.get("cursor"):
        token = decode_cursor(args["cursor"])
        q.after, q.offset = token.get("a"), token.get("o", 0)
        if not (isinstance(q.offset, int) and 0 <= q.offset <= MAX_OFFSET) or not (
                q.after is None or isinstance(q.after, str) or (isinstance(q.after, int) and abs(q.after) < 2**63)):
            raise OgcError("cursor invalide : suivez les liens next/prev de la réponse")
    elif args.get("offset"):
        q.offset = _int(args.get("offset"), "offset", 0, 0)
        if q.offset > MAX_OFFSET:
            raise OgcError(f"offset au plus {MAX_OFFSET} : suivez les liens next (curseur) pour aller plus loin")
    return q, crs_uri


def _link(base: str, args: dict[str, str], rel: str, title: str, **changes: str | None) -> dict:
    params = {k: v for k, v in args.items() if k not in ("cursor", "offset", "api_key")}
    params.update({k: v for k, v in changes.items() if v is not None})
    return {"href": f"{base}?{urlencode(params)}" if params else base, "rel": rel, "type": GEOJSON, "title": title}


def items(conn: psycopg.Connection, base_url: str, collection_id: str, args: dict[str, str],
          partner: bool = False) -> tuple[dict, int, str]:
    """GET /collections/{id}/items as GeoJSON."""
    c = collection_or_404(collection_id, partner)
    q, crs_uri = build_query(c, args, partner)
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
    return {"Content-Type": GEOJSON, "Content-Crs": f"<{crs_uri}>"}, 200, body


def item(conn: psycopg.Connection, base_url: str, collection_id: str, item_id: str, args: dict[str, str],
         partner: bool = False) -> tuple[dict, int, str]:
    """GET /collections/{id}/items/{featureId}."""
    c = collection_or_404(collection_id, partner)
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
    q = ItemsQuery(collection=c, limit=1, srid=srid, flip=flip, precision=decimals, partner=partner)
    feature = run_item(conn, q, key)
    if feature is None:
        raise NotFound(f"entité inconnue : « {item_id} » dans {c.id}")
    links = [{"href": f"{base_url}/collections/{c.id}/items/{item_id}", "rel": "self", "type": GEOJSON},
             {"href": f"{base_url}/collections/{c.id}", "rel": "collection", "type": "application/json"}]
    body = feature[:-1] + ',"links":' + json.dumps(links) + "}"
    return {"Content-Type": GEOJSON, "Content-Crs": f"<{crs_uri}>"}, 200, body


def queryables(base_url: str, collection_id: str, partner: bool = False) -> dict:
    """JSON Schema of the properties a filter may use."""
    c = collection_or_404(collection_id, partner)
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
