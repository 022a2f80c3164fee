"""Partner layers (issue 16) in the OGC API and the map: each partner layer as a collection and a tile layer.

A partner layer's collection (« partenaire-<slug> », layers/partner_layers.py) reads `partner_features` of its
version in force only (`version = current_version`); its properties are the declared attributes, read from the
`properties` JSON and cast to their declared type, so filters, sorting and the queryables work as on the agency's
own collections (layers/features.py, layers/cql.py). Its tiles follow the same machinery (layers/tiles.py, the
stored `geom_3857`). Which collections a caller sees is `collections_for` / `find_collection`: the static ones of
the catalogue and the partner layers its Viewer may see; a hidden layer is unknown (404), never forbidden.

The layer's id and version go into the SQL as integers read from the database (`int()`), never from a request;
the attribute names go in as quoted literals.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from layers.datasets import Viewer
from layers.features import COLLECTIONS, GEOMETRY_TYPES, Collection, Prop
from layers.partner_layers import COLLECTION_PREFIX, Attribute, PartnerLayer, find_layer, visible_layers
from layers.tiles import TILE_LAYERS, TileLayer

TABLE = "partner_features"
# a declared attribute type → (OGC JSON type, SQL cast of the JSON text, the MVT cast: MVT has no date)
TYPES = {"text": ("string", "", ""), "int": ("integer", "::bigint", "::bigint"),
         "float": ("number", "::float8", "::float8"), "bool": ("boolean", "::boolean", "::boolean"),
         "date": ("date", "::date", "")}
TILE_CAPS = ((0, 5000), (13, 20000))
STAFF_KINDS = ("instructor", "signatory", "partner")  # accounts that see the « partners » audience


def _value(attribute: Attribute, cast: str) -> str:
    """The attribute's value on t; « % » doubled, as every statement using it has parameters."""
    name = sql.Literal(attribute.name).as_string(None).replace("%", "%%")
    return f"(t.properties->>{name}){cast}"


def _where(layer: PartnerLayer) -> str:
    return f"t.layer_id = {int(layer.id)} AND t.version = {int(layer.current_version or 0)}"


def collection_of(layer: PartnerLayer) -> Collection:
    """The OGC collection of a partner layer: its declared attributes, its version in force."""
    props = tuple(Prop(a.name, _value(a, TYPES[a.type][1]), TYPES[a.type][0], title=a.label)
                  for a in layer.attributes if a.type in TYPES)
    description = layer.description_fr or layer.title_fr
    return Collection(layer.collection_id, layer.title_fr, f"{description} — source : {layer.organisation}",
                      TABLE, "t.id", "integer", "t.geom", GEOMETRY_TYPES[layer.geometry_kind], props,
                      extra_where=_where(layer), layer_versions=(layer.versions_key,), audience=layer.audience,
                      undated=True)


def tile_layer_of(layer: PartnerLayer) -> TileLayer:
    """The vector tile layer of a partner layer (its declared attributes; « id » is the feature id)."""
    props = (("id", "t.id"), *((a.name, _value(a, TYPES[a.type][2])) for a in layer.attributes
                               if a.type in TYPES and a.name != "id"))
    return TileLayer(layer.collection_id, TABLE, props, "t.id", TILE_CAPS, layer_versions=(layer.versions_key,),
                     geom_3857="t.geom_3857", where=_where(layer), audience=layer.audience)


def _slug(collection_id: str) -> str | None:
    return collection_id.removeprefix(COLLECTION_PREFIX) if collection_id.startswith(COLLECTION_PREFIX) else None


def find_collection(conn: psycopg.Connection, collection_id: str, viewer: Viewer) -> Collection | None:
    """The collection `collection_id` as `viewer` may see it (None: unknown or hidden, the same to the caller).

    Restricted static collections are not decided here (the caller's partner key is: api/ogc/features.py).
    """
    slug = _slug(collection_id)
    if slug is None:
        return COLLECTIONS.get(collection_id)
    layer = find_layer(conn, slug, viewer)
    return collection_of(layer) if layer else None


def collections_for(conn: psycopg.Connection, viewer: Viewer) -> list[Collection]:
    """The static collections, then the partner layers `viewer` may see (by title)."""
    return [*COLLECTIONS.values(), *(collection_of(layer) for layer in visible_layers(conn, viewer))]


def find_tile_layer(conn: psycopg.Connection, collection_id: str, viewer: Viewer) -> TileLayer | None:
    """The tile layer of `collection_id` if `viewer` may see it (None: no tiles, unknown or hidden)."""
    slug = _slug(collection_id)
    if slug is None:
        return TILE_LAYERS.get(collection_id)
    layer = find_layer(conn, slug, viewer)
    return tile_layer_of(layer) if layer else None


def has_tiles(collection_id: str) -> bool:
    """Whether a collection (known to exist) has vector tiles: every partner layer has."""
    return collection_id in TILE_LAYERS or _slug(collection_id) is not None


def viewer_of(account: dict | None, key_organisation: str | None = None, key: bool = False) -> Viewer:
    """Who reads: a valid partner key (its organisation), else the signed-in account, else the public.

    An administrator sees every layer; a partner account its organisation's own and the « partners » ones, as
    instructors and signatories do (without an organisation); an applicant is the public.
    """
    if key:
        return Viewer("partner", organisation=key_organisation)
    if not account:
        return Viewer()
    if account["role"] == "admin":
        return Viewer("admin", account_id=account["id"], organisation=account.get("organisation"))
    if account["role"] in STAFF_KINDS:
        organisation = account.get("organisation") if account["role"] == "partner" else None
        return Viewer("partner", account_id=account["id"], organisation=organisation)
    return Viewer()


def map_layers(conn: psycopg.Connection, viewer: Viewer) -> list[dict[str, object]]:
    """What the public map's switcher and popups need of each partner layer `viewer` sees (none personal)."""
    return [{"id": layer.collection_id, "title": {"fr": layer.title_fr, "ar": layer.title_ar or layer.title_fr},
             "organisation": layer.organisation, "kind": layer.geometry_kind, "audience": layer.audience,
             "attributes": [{"name": a.name, "label": a.label} for a in layer.attributes]}
            for layer in visible_layers(conn, viewer)]
