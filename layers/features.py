"""OGC API Features in SQL: the collections (derived from the layer catalogue) and small pure functions that
build one query each.

GeoJSON is built by PostGIS (`json_build_object`, `ST_AsGeoJSON`) and returned as text, one feature per
row; only `run_items` and `run_item` touch the connection. Identifiers come from the registry below, never
from the request; values are always bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import psycopg
from psycopg import sql

from gis.errors import InputError
from layers.catalog import CATALOGUE, Column, Layer

COUNT_CAP = 10_000  # numberMatched is exact up to this many features, left out beyond


@dataclass(frozen=True)
class Prop:
    """A property of a collection: its SQL expression (on alias t, plans as p) and JSON type."""

    name: str
    expr: str
    type: str = "string"  # string, number, integer, boolean, date, array
    restricted: bool = False  # only for partner keys
    title: str = ""
    format: str = ""  # "landref": a land reference, matched in any accepted spelling


@dataclass(frozen=True)
class Collection:
    """A collection: table, id, geometry, properties, temporal semantics, access."""

    id: str
    title: str
    description: str
    table: str
    id_expr: str
    id_type: str  # integer or string
    geom: str
    geometry_type: str
    props: tuple[Prop, ...]
    join_plan: bool = False
    temporal: str | None = None  # "plan": in force through its plan version
    restricted: bool = False
    extra_where: str = ""
    layer_versions: tuple[str, ...] = field(default_factory=tuple)
    audience: str = "public"  # a partner layer's (layers/partner_features.py): not public, its answers are private
    undated: bool = False  # datetime refused: no time dimension (a partner layer publishes its version in force)

    def prop(self, name: str) -> Prop | None:
        """The property called name."""
        return next((p for p in self.props if p.name == name), None)

    def visible(self, partner: bool) -> tuple[Prop, ...]:
        """Properties a caller may see."""
        return tuple(p for p in self.props if partner or not p.restricted)


JSON_TYPES = {"text": "string", "landref": "string", "int": "integer", "rplus": "integer", "float": "number",
              "bool": "boolean", "date": "date", "datetime": "string", "text[]": "array"}
GEOMETRY_TYPES = {"polygon": "MultiPolygon", "line": "MultiLineString", "point": "Point", "any": "Geometry"}


def prop_of(column: Column) -> Prop:
    """The OGC property of a catalogue column."""
    return Prop(column.name, column.expr or f"t.{column.name}", JSON_TYPES[column.type], column.ogc == "partner",
                column.label, "landref" if column.type == "landref" else "")


def collection_of(layer: Layer) -> Collection:
    """The OGC collection of a catalogue layer (its published columns, in declaration order)."""
    props = tuple(prop_of(c) for c in layer.fields if c.ogc and c.type in JSON_TYPES)
    return Collection(layer.name, layer.label, layer.description, layer.table, f"t.{layer.id_column}",
                      "integer" if layer.id_column == "id" else "string", f"t.{layer.geom_column}",
                      GEOMETRY_TYPES[layer.geometry], props, join_plan=layer.plan_bound, temporal=layer.temporal,
                      restricted=layer.restricted, extra_where=layer.where, layer_versions=layer.versions)


COLLECTIONS: dict[str, Collection] = {name: collection_of(layer) for name, layer in CATALOGUE.items()}


@dataclass
class ItemsQuery:
    """A parsed items request: everything is validated before it reaches SQL."""

    collection: Collection
    limit: int
    srid: int = 4326  # output SRID
    flip: bool = False  # EPSG:4326 axis order (lat, lon)
    precision: int = 7
    bbox: tuple[float, float, float, float] | None = None
    bbox_srid: int = 4326
    bbox_flip: bool = False
    where: list[sql.Composable] = field(default_factory=list)  # e.g. from CQL2
    params: list[object] = field(default_factory=list)
    day: object | None = None  # instant or (start, end) for temporal collections
    after: object | None = None  # keyset: last id of the previous page
    offset: int = 0
    sort: list[tuple[Prop, bool]] = field(default_factory=list)  # (property, descending)
    properties: tuple[Prop, ...] | None = None
    partner: bool = False
    skip_geometry: bool = False


def geometry_sql(q: ItemsQuery) -> sql.Composable:
    """ST_AsGeoJSON of the geometry in the output CRS (integer SRID, axis order handled)."""
    geom = sql.SQL(q.collection.geom)
    if q.srid != 26191:
        geom = sql.SQL("ST_Transform({}, {})").format(geom, sql.Literal(q.srid))
    if q.flip:
        geom = sql.SQL("ST_FlipCoordinates({})").format(geom)
    return sql.SQL("ST_AsGeoJSON({}, {}, 0)::json").format(geom, sql.Literal(q.precision))  # 0: no crs member


def properties_sql(q: ItemsQuery) -> sql.Composable:
    """json_build_object of the selected properties."""
    props = q.properties if q.properties is not None else q.collection.visible(q.partner)
    if not props:
        return sql.SQL("'{}'::json")
    parts = [sql.SQL("{}, {}").format(sql.Literal(p.name), sql.SQL(p.expr)) for p in props]
    return sql.SQL("json_build_object({})").format(sql.SQL(", ").join(parts))


def from_sql(c: Collection) -> sql.Composable:
    """FROM clause (with the plan joined where features belong to a plan version)."""
    table = sql.Identifier(c.table)
    if c.join_plan:
        return sql.SQL("{} t JOIN plans p ON p.id = t.plan_id").format(table)
    return sql.SQL("{} t").format(table)


def equals_sql(prop: Prop, value: object) -> tuple[sql.Composable, list[object]]:
    """A property equal to a bound value (IS NULL for None)."""
    if value is None:
        return sql.SQL("({} IS NULL)").format(sql.SQL(prop.expr)), []
    return sql.SQL("({} = %s)").format(sql.SQL(prop.expr)), [value]


def temporal_sql(c: Collection, day: object) -> tuple[sql.Composable, list[object]]:
    """Features of the plan versions in force on a day, or on some day of an interval (start, end).

    Being in force is plan_in_force(plan, day), the one definition. It only becomes true on the interval's
    first day, a version's valid_from or one of its status dates, so testing those days within the interval
    is enough; the set of versions is computed once, not per feature.
    """
    plan_id = sql.SQL("t.id" if c.temporal == "self" else "t.plan_id")
    if not isinstance(day, tuple):
        return sql.SQL("plan_in_force({}, %s)").format(plan_id), [day]
    start, end = day[0] or date.min, day[1] or date.max
    return sql.SQL(
        "{} IN (SELECT pv.id FROM plans pv WHERE EXISTS (SELECT 1 FROM (SELECT %s::date AS d UNION ALL "
        "SELECT pv.valid_from UNION ALL SELECT s.effective_date FROM plan_statuses s WHERE s.plan_id = pv.id) c "
        "WHERE c.d BETWEEN %s AND %s AND plan_in_force(pv.id, c.d)))").format(plan_id), [start, start, end]


def bbox_sql(q: ItemsQuery) -> tuple[sql.Composable, list[object]]:
    """Features intersecting the bbox (index-friendly: && first), the box transformed to the storage CRS."""
    x0, y0, x1, y1 = q.bbox
    if q.bbox_flip:
        x0, y0, x1, y1 = y0, x0, y1, x1
    env = sql.SQL("ST_MakeEnvelope(%s, %s, %s, %s, {})").format(sql.Literal(q.bbox_srid))
    if q.bbox_srid != 26191:
        env = sql.SQL("ST_Transform(ST_Segmentize({}, %s), 26191)").format(env)
    clause = sql.SQL("{g} && {e} AND ST_Intersects({g}, {e})").format(g=sql.SQL(q.collection.geom), e=env)
    seg = [] if q.bbox_srid == 26191 else [abs(x1 - x0) / 16 or 1.0]
    return clause, [x0, y0, x1, y1, *seg, x0, y0, x1, y1, *seg]


def where_sql(q: ItemsQuery, with_keyset: bool = True) -> tuple[sql.Composable, list[object]]:
    """WHERE clause and its parameters: bbox, filter, datetime, keyset."""
    c = q.collection
    clauses: list[sql.Composable] = []
    params: list[object] = []
    if c.extra_where:
        clauses.append(sql.SQL(c.extra_where))
    if q.bbox is not None:
        clause, bbox_params = bbox_sql(q)
        clauses.append(clause)
        params += bbox_params
    clauses += q.where
    params += q.params
    if q.day is not None and c.temporal:
        clause, day_params = temporal_sql(c, q.day)
        clauses.append(clause)
        params += day_params
    if with_keyset and q.after is not None and not q.sort:
        clauses.append(sql.SQL("{} > %s").format(sql.SQL(c.id_expr)))
        params.append(q.after)
    if not clauses:
        return sql.SQL(""), params
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses), params


def order_sql(q: ItemsQuery) -> sql.Composable:
    """ORDER BY: the requested properties, then the id (stable pages)."""
    keys = [sql.SQL("{} {}").format(sql.SQL(p.expr), sql.SQL("DESC NULLS LAST" if desc else "ASC NULLS FIRST"))
            for p, desc in q.sort]
    keys.append(sql.SQL(q.collection.id_expr))
    return sql.SQL(" ORDER BY ") + sql.SQL(", ").join(keys)


def items_sql(q: ItemsQuery) -> tuple[sql.Composable, list[object]]:
    """The query returning (id, feature JSON text) rows, one more than the limit to know if a page follows."""
    c = q.collection
    geometry = sql.SQL("NULL::json") if q.skip_geometry else geometry_sql(q)
    where, params = where_sql(q)
    parts = {"id": sql.SQL(c.id_expr), "geom": geometry, "props": properties_sql(q), "frm": from_sql(c),
             "where": where, "order": order_sql(q)}
    feature = ("SELECT {id}, json_build_object('type', 'Feature', 'id', {id}, 'geometry', {geom}, "
               "'properties', {props})::text")
    if not q.offset:
        query = sql.SQL(feature + " FROM {frm}{where}{order} LIMIT %s OFFSET %s").format(**parts)
    else:
        # A deep page: PostgreSQL computes the select list of every row OFFSET skips (reprojection and JSON of
        # 10,000 features to return 100). Pick the page's ids first (from the index, nothing built), then build
        # only those features, in the same order.
        query = sql.SQL(feature + " FROM {frm} WHERE {id} IN (SELECT {id} FROM {frm}{where}{order} LIMIT %s OFFSET %s)"
                        "{order}").format(**parts)
    return query, [*params, q.limit + 1, q.offset]


def count_sql(q: ItemsQuery) -> tuple[sql.Composable, list[object]]:
    """A capped count: exact up to COUNT_CAP (cheap), more means "not given"."""
    where, params = where_sql(q, with_keyset=False)
    query = sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {frm}{where} LIMIT %s) s").format(
        frm=from_sql(q.collection), where=where)
    return query, [*params, COUNT_CAP + 1]


def run_items(conn: psycopg.Connection, q: ItemsQuery, count: bool) -> tuple[list[tuple[object, str]], int | None]:
    """Rows (id, feature JSON) and numberMatched (None when above the cap)."""
    query, params = items_sql(q)
    try:
        rows = conn.execute(query, params, prepare=True).fetchall()
        matched = None
        if count:
            cq, cparams = count_sql(q)
            n = conn.execute(cq, cparams, prepare=True).fetchone()[0]
            matched = n if n <= COUNT_CAP else None
    except (psycopg.errors.DataException, psycopg.errors.InternalError) as exc:
        # a value out of range for its column, coordinates PROJ cannot transform: the request's fault
        raise InputError("requête inapplicable : une valeur du filtre sort du domaine de sa propriété, ou des "
                         "coordonnées ne peuvent être transformées dans le SCR demandé") from exc
    return rows, matched


@lru_cache(maxsize=256)
def _item_sql(c: Collection, srid: int, flip: bool, precision: int, partner: bool) -> str:
    q = ItemsQuery(collection=c, limit=1, srid=srid, flip=flip, precision=precision, partner=partner)
    query = sql.SQL("SELECT json_build_object('type', 'Feature', 'id', {id}, 'geometry', {geom}, 'properties', "
                    "{props})::text FROM {frm} WHERE {id} = %s{extra}").format(
        id=sql.SQL(c.id_expr), geom=geometry_sql(q), props=properties_sql(q), frm=from_sql(c),
        extra=sql.SQL(f" AND {c.extra_where}" if c.extra_where else ""))
    return query.as_string()


def run_item(conn: psycopg.Connection, q: ItemsQuery, item_id: object) -> str | None:
    """One feature's JSON, or None (the statement text is built once per variant, then prepared)."""
    text = _item_sql(q.collection, q.srid, q.flip, q.precision, q.partner)
    row = conn.execute(text.encode(), [item_id], prepare=True).fetchone()
    return row[0] if row else None


def extent(conn: psycopg.Connection, c: Collection) -> list[float] | None:
    """The collection's bounding box in CRS84."""
    query = sql.SQL("SELECT ST_Extent(ST_Transform({g}, 4326)) FROM {t} t{w}").format(
        g=sql.SQL(c.geom), t=sql.Identifier(c.table), w=sql.SQL(f" WHERE {c.extra_where}" if c.extra_where else ""))
    box = conn.execute(query).fetchone()[0]
    if not box:
        return None
    nums = box.replace("BOX(", "").replace(")", "").replace(",", " ").split()
    return [round(float(v), 6) for v in nums]
