"""A pygeoapi feature provider that serves one urbasig collection through urbasig's own SQL builders.

pygeoapi parses the request and calls ``query`` or ``get``; this provider turns the arguments into the same
``layers.features.ItemsQuery`` that urbasig's ``/ogc`` handlers build, and runs it with ``run_items`` /
``run_item``: the same SQL (GeoJSON built by PostGIS, CRS transformed by PostGIS, bound values), so an agency's
pygeoapi and urbasig answer alike. Nothing here writes SQL.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import date

import psycopg
from pygeoapi.provider.base import (
    BaseProvider,
    ProviderConnectionError,
    ProviderInvalidQueryError,
    ProviderItemNotFoundError,
    ProviderQueryError,
)

from gis.crs import parse_crs, srid_of
from gis.errors import CRSError, DatabaseUnavailable, InputError
from layers import cql
from layers.db import make_pool, pooled
from layers.features import COLLECTIONS, Collection, ItemsQuery, Prop, run_item, run_items

LOGGER = logging.getLogger(__name__)
CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
JSON_TYPES = {"string": {"type": "string"}, "number": {"type": "number"}, "integer": {"type": "integer"},
              "boolean": {"type": "boolean"}, "date": {"type": "string", "format": "date"},
              "array": {"type": "array"}}

# pygeoapi builds a provider per request: the pools live here, one per database URL and process.
_POOLS: dict[tuple[str, int], object] = {}
_POOLS_LOCK = threading.Lock()


def _pool(url: str, size: int):
    with _POOLS_LOCK:
        pool = _POOLS.get((url, size))
        if pool is None:
            pool = _POOLS[(url, size)] = make_pool(url, 1, size)
        return pool


def crs_params(uri: str) -> tuple[int, bool, int]:
    """(SRID, whether the axes are lat/lon, decimals) of a CRS URI as pygeoapi passes it."""
    try:
        crs = parse_crs(uri)
    except CRSError as exc:
        raise ProviderInvalidQueryError(user_msg=exc.message) from None
    srid = srid_of(crs)
    if srid is None:
        raise ProviderInvalidQueryError(user_msg=f"système de coordonnées sans code EPSG : « {uri} »")
    flip = crs.axis_info[0].direction.lower() in ("north", "south")
    return srid, flip, 7 if crs.is_geographic else 3


def parse_datetime(value: str | None) -> date | tuple[date | None, date | None] | None:
    """pygeoapi's datetime string as urbasig's day: an instant or a (start, end) interval, open ends None."""
    if not value:
        return None

    def day(text: str) -> date | None:
        if text in ("", ".."):
            return None
        try:
            return cql.iso_date(text)
        except ValueError:
            raise ProviderInvalidQueryError(user_msg=f"datetime : date ISO 8601 attendue (reçu « {text} »)") from None

    if "/" in value:
        start, _, end = value.partition("/")
        return day(start), day(end)
    return day(value)


def _typed(prop: Prop, text: str) -> object:
    """A query-string value as the property's type, so that the CQL2 translator binds it as such."""
    try:
        if prop.type == "integer":
            return int(text)
        if prop.type == "number":
            return float(text)
        if prop.type == "date":
            return cql.iso_date(text)
    except ValueError:
        raise ProviderInvalidQueryError(user_msg=f"{prop.name} : valeur de type {prop.type} attendue "
                                                 f"(reçu « {text} »)") from None
    if prop.type == "boolean":
        if text.lower() not in ("true", "false"):
            raise ProviderInvalidQueryError(user_msg=f"{prop.name} : true ou false attendu (reçu « {text} »)")
        return text.lower() == "true"
    return text


class UrbasigProvider(BaseProvider):
    """pygeoapi provider of one urbasig collection (``collection:`` in the provider definition).

    Definition keys: ``data`` (the database URL), ``collection`` (an urbasig collection id: parcels, zones,
    prescriptions, sdau, communes, plans, roads), ``storage_crs`` (optional; CRS84 by default, so that bbox and
    output transforms are done by PostGIS), ``properties`` (optional: publish only these), ``options.partner``
    (true to publish restricted properties and collections), ``options.pool_max`` (connections per process,
    default 4).
    """

    def __init__(self, provider_def: dict) -> None:
        """Check the definition; connect lazily on the first query."""
        super().__init__(provider_def)
        options = provider_def.get("options") or {}
        self.partner = bool(options.get("partner", False))
        self.pool_max = int(options.get("pool_max", 4))
        name = provider_def.get("collection")
        collection = COLLECTIONS.get(name) if isinstance(name, str) else None
        if collection is None or (collection.restricted and not self.partner):
            known = ", ".join(c.id for c in COLLECTIONS.values() if self.partner or not c.restricted)
            raise ProviderConnectionError(f"urbasig provider: unknown collection {name!r} (one of {known})")
        if not isinstance(self.data, str) or not self.data.startswith(("postgresql://", "postgres://")):
            raise ProviderConnectionError("urbasig provider: data must be a postgresql:// URL")
        self.collection: Collection = collection
        self.storage_crs = provider_def.get("storage_crs", CRS84_URI)
        self.storage = crs_params(self.storage_crs)
        # `properties:` in the definition narrows what is published (pygeoapi's meaning of the key)
        visible = collection.visible(self.partner)
        unknown = [field for field in self.properties if collection.prop(field) not in visible]
        if unknown:
            raise ProviderConnectionError(f"urbasig provider: unknown properties {unknown} in {name!r}")
        self.published = tuple(collection.prop(field) for field in self.properties) or visible
        self._fields = self.get_fields()

    def get_fields(self) -> dict[str, dict]:
        """The published properties, as JSON Schema types."""
        return {p.name: dict(JSON_TYPES[p.type]) for p in self.published}

    def _output_crs(self, crs_transform_spec: object | None) -> tuple[int, bool, int]:
        # pygeoapi asks for features in the storage CRS, or hands a spec for another CRS: PostGIS transforms.
        if crs_transform_spec is None:
            return self.storage
        return crs_params(crs_transform_spec.target_crs_uri)

    def _prop(self, name: str, what: str) -> Prop:
        prop = self.collection.prop(name)
        if prop is None or prop not in self.published:
            raise ProviderInvalidQueryError(user_msg=f"{what} : propriété inconnue « {name} »")
        return prop

    def _query(self, offset: int, limit: int, bbox: list | None, datetime_: str | None, properties: list | None,
               sortby: list | None, select_properties: list | None, skip_geometry: bool,
               crs_transform_spec: object | None) -> ItemsQuery:
        srid, flip, decimals = self._output_crs(crs_transform_spec)
        q = ItemsQuery(collection=self.collection, limit=int(limit), offset=int(offset or 0), srid=srid, flip=flip,
                       precision=decimals, partner=self.partner, skip_geometry=bool(skip_geometry))
        if bbox:
            if len(bbox) != 4:
                raise ProviderInvalidQueryError(user_msg="bbox : quatre nombres attendus (la 3D n'est pas prise en charge)")
            q.bbox = tuple(float(v) for v in bbox)
            q.bbox_srid, q.bbox_flip, _ = self.storage
        if properties:
            conditions = tuple(cql.Op("=", (cql.Prop(name), _typed(self._prop(name, "filtre"), str(value))))
                               for name, value in properties)
            ast = conditions[0] if len(conditions) == 1 else cql.Op("and", conditions)
            condition, params = cql.to_sql(ast, self.collection, partner=self.partner)
            q.where.append(condition)
            q.params += params
        for item in sortby or []:
            prop = self._prop(item["property"], "sortby")
            if prop.type == "array":
                raise ProviderInvalidQueryError(user_msg=f"sortby : propriété non triable « {prop.name} »")
            q.sort.append((prop, item.get("order") == "-"))
        if select_properties:
            q.properties = tuple(self._prop(name, "properties") for name in select_properties)
        elif self.properties:
            q.properties = self.published
        day = parse_datetime(datetime_)  # zoning layers: the versions in force today unless asked (as /ogc does)
        q.day = date.today() if day is None and self.collection.temporal == "plan" else (
            None if day == (None, None) else day)
        return q

    def query(self, offset: int = 0, limit: int = 10, resulttype: str = "results", bbox: list | None = None,
              datetime_: str | None = None, properties: list | None = None, sortby: list | None = None,
              select_properties: list | None = None, skip_geometry: bool = False, q: str | None = None,
              filterq: object | None = None, crs_transform_spec: object | None = None, **kwargs: object) -> dict:
        """A page of features as a GeoJSON FeatureCollection (numberMatched exact up to urbasig's count cap)."""
        if q or filterq is not None:
            # pygeoapi's CQL stack is not urbasig's: filters go to urbasig's own /ogc (CQL2 text and JSON)
            raise ProviderInvalidQueryError(user_msg="filtres q et filter non pris en charge par ce fournisseur : "
                                                     "utilisez l'API OGC d'urbasig (/ogc) pour CQL2")
        try:
            query = self._query(offset, limit, bbox, datetime_, properties, sortby, select_properties,
                                skip_geometry, crs_transform_spec)
            with pooled(_pool(self.data, self.pool_max)) as conn:
                if resulttype == "hits":
                    query.limit = 0  # the count only (and one row, unused)
                rows, matched = run_items(conn, query, count=True)
        except InputError as exc:  # a filter value refused by urbasig's CQL2 translator
            raise ProviderInvalidQueryError(user_msg=exc.message) from None
        except DatabaseUnavailable as exc:
            raise ProviderConnectionError(str(exc.detail or exc.message), user_msg="base de données injoignable") from exc
        except psycopg.errors.DataException as exc:
            raise ProviderInvalidQueryError(str(exc), user_msg="requête inapplicable (valeur hors domaine)") from exc
        except psycopg.Error as exc:
            raise ProviderQueryError(str(exc)) from exc
        features = [json.loads(text) for _, text in rows[: query.limit]]
        out = {"type": "FeatureCollection", "features": features, "numberReturned": len(features)}
        if matched is not None:
            out["numberMatched"] = matched
        return out

    def get(self, identifier: object, crs_transform_spec: object | None = None, **kwargs: object) -> dict:
        """One feature by id, or ProviderItemNotFoundError."""
        key: object = identifier
        if self.collection.id_type == "integer":
            try:
                key = int(identifier)
            except (TypeError, ValueError):
                raise ProviderItemNotFoundError(user_msg=f"entité inconnue : « {identifier} »") from None
            if not -(2**63) <= key < 2**63:
                raise ProviderItemNotFoundError(user_msg=f"entité inconnue : « {identifier} »")
        srid, flip, decimals = self._output_crs(crs_transform_spec)
        query = ItemsQuery(collection=self.collection, limit=1, srid=srid, flip=flip, precision=decimals,
                           partner=self.partner)
        try:
            with pooled(_pool(self.data, self.pool_max)) as conn:
                feature = run_item(conn, query, key)
        except DatabaseUnavailable as exc:
            raise ProviderConnectionError(str(exc.detail or exc.message), user_msg="base de données injoignable") from exc
        except psycopg.Error as exc:
            raise ProviderQueryError(str(exc)) from exc
        if feature is None:
            raise ProviderItemNotFoundError(user_msg=f"entité inconnue : « {identifier} » dans {self.collection.id}")
        out = json.loads(feature)
        if self.properties:  # the item statement is prepared once per collection: narrow here
            out["properties"] = {p.name: out["properties"].get(p.name) for p in self.published}
        return out

    def __repr__(self) -> str:
        """Name the collection served."""
        return f"<UrbasigProvider> {self.collection.id}"

