"""CQL2 filters: a small AST, the CQL2-JSON reader, and the translation to SQL against a collection.

Every property is checked against the collection's registry and every value is bound: an unknown property,
a wrong type or an unsupported operator raises FilterError (400), never a database error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import shapely
from psycopg import sql

from gis.errors import InputError
from gis.jsontext import check_tree, clean_text, parse_json
from layers.features import Collection


class FilterError(InputError):
    """A CQL2 filter that cannot be applied."""

    code = "filtre-invalide"


# ------------------------------------------------------------------------------------------------ AST
@dataclass(frozen=True)
class Prop:
    """A property reference."""

    name: str


@dataclass(frozen=True)
class Geom:
    """A geometry literal (shapely) in the filter CRS."""

    geom: shapely.Geometry


@dataclass(frozen=True)
class Interval:
    """A temporal interval (open ends are None)."""

    start: date | None
    end: date | None


@dataclass(frozen=True)
class Op:
    """An operator with its arguments: and, or, not, =, <>, <, <=, >, >=, like, in, between, isNull,
    s_intersects, s_within, s_contains, s_disjoint, t_before, t_after, t_intersects, t_during, t_equals."""

    op: str
    args: tuple


COMPARISONS = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
SPATIAL = {"s_intersects": "ST_Intersects", "s_within": "ST_Within", "s_contains": "ST_Contains",
           "s_disjoint": "ST_Disjoint"}
TEMPORAL = ("t_before", "t_after", "t_intersects", "t_during", "t_equals", "anyinteracts")


# ---------------------------------------------------------------------------------------- CQL2-JSON
def iso_date(text: str) -> date:
    """The day of an ISO 8601 date or date-time ("2026-11-23", "2026-11-23T10:00:00Z"); ValueError otherwise."""
    if "T" in text:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    return date.fromisoformat(text)


MAX_DEPTH = 32  # nesting of a filter (parentheses, NOT, CQL2-JSON levels): URBASIG_MAX_FILTER_DEPTH


def _date(text: object) -> date:
    if not isinstance(text, str):
        raise FilterError(f"date du filtre : texte ISO 8601 attendu (« AAAA-MM-JJ »), reçu {text!r}"[:200])
    try:
        return iso_date(text)
    except ValueError:
        raise FilterError(f"date invalide dans le filtre : « {text} »") from None


def _interval(ends: object) -> Interval:
    if not isinstance(ends, list) or len(ends) != 2:
        raise FilterError("intervalle CQL2-JSON : deux bornes attendues")
    return Interval(*(None if e in ("..", None) else _date(e) for e in ends))


def _bbox(box: object) -> Geom:
    if not isinstance(box, list) or len(box) != 4 or not all(_finite(v) for v in box):
        raise FilterError("bbox CQL2-JSON : quatre nombres attendus")
    return Geom(shapely.box(*box))


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _geojson(node: dict) -> Geom:
    try:
        return Geom(shapely.geometry.shape(node))
    except Exception:
        raise FilterError("géométrie GeoJSON invalide dans le filtre") from None


def _op(node: dict, depth: int, max_depth: int) -> Op:
    op = node["op"]
    if not isinstance(op, str):
        raise FilterError(f"filtre CQL2-JSON : « op » doit être un texte, reçu {op!r}"[:200])
    args = node.get("args", [])
    if not isinstance(args, list):
        raise FilterError(f"opérateur « {op} » : « args » doit être une liste")
    op = "isNull" if op.lower() == "isnull" else op.lower()
    if op == "in" and len(args) == 2 and isinstance(args[1], list):
        return Op("in", (_read(args[0], depth + 1, max_depth), tuple(_read(a, depth + 2, max_depth) for a in args[1])))
    return Op(op, tuple(_read(a, depth + 1, max_depth) for a in args))


def _property(node: dict) -> Prop:
    if not isinstance(node["property"], str):
        raise FilterError(f"filtre CQL2-JSON : « property » doit être un nom (texte), reçu {node['property']!r}"[:200])
    return Prop(node["property"])


# the first key of an object that says what it is, and how to read it
_OBJECTS: tuple[tuple[str, Callable[[dict], object]], ...] = (
    ("property", _property),
    ("date", lambda node: _date(node["date"])),
    ("timestamp", lambda node: _date(node["timestamp"])),
    ("interval", lambda node: _interval(node["interval"])),
    ("bbox", lambda node: _bbox(node["bbox"])),
    ("coordinates", lambda node: _geojson(node) if "type" in node else None),
)


def json_depth(max_depth: int) -> int:
    """The JSON nesting allowed for a filter of `max_depth` levels."""
    return 2 * max_depth + 6  # an operator is an object and its args list; MultiPolygon coordinates add four


def from_json(node: object, max_depth: int = MAX_DEPTH) -> object:
    """Read a CQL2-JSON expression (JSON text or parsed) into the AST, at most `max_depth` levels deep."""
    if isinstance(node, str):
        node = parse_json(node, json_depth(max_depth), "filtre CQL2-JSON", FilterError)
    else:
        check_tree(node, json_depth(max_depth), "filtre CQL2-JSON", FilterError)
    return _read(node, 1, max_depth)


def _read(node: object, depth: int, max_depth: int = MAX_DEPTH) -> object:
    if depth > max_depth:
        raise FilterError(f"filtre CQL2-JSON trop imbriqué : {max_depth} niveaux au plus")
    if isinstance(node, float) and not math.isfinite(node):
        raise FilterError("filtre CQL2-JSON : nombre non fini")
    if isinstance(node, bool | int | float | str) or node is None:
        return node
    if isinstance(node, list):
        return tuple(_read(n, depth + 1, max_depth) for n in node)
    if not isinstance(node, dict):
        raise FilterError("filtre CQL2-JSON : expression inattendue")
    for key, read in _OBJECTS:
        if key in node and (out := read(node)) is not None:
            return out
    if "op" in node:
        return _op(node, depth, max_depth)
    raise FilterError("filtre CQL2-JSON : objet inconnu (attendu op, property, date, interval, bbox ou géométrie)")


# ----------------------------------------------------------------------------------------- to SQL
class Translator:
    """Turn an AST into SQL for one collection, binding values."""

    def __init__(self, collection: Collection, filter_srid: int, flip: bool, partner: bool):
        self.c = collection
        self.srid = filter_srid
        self.flip = flip
        self.partner = partner
        self.params: list[object] = []

    def prop(self, p: Prop) -> tuple[sql.Composable, str]:
        """The SQL expression of a property of the collection and its type; unknown or restricted ones refused."""
        if p.name in ("geometry", "geom"):
            return sql.SQL(self.c.geom), "geometry"
        prop = self.c.prop(p.name)
        if prop is None or (prop.restricted and not self.partner):
            clean_text(p.name, "propriété du filtre", FilterError)  # the message below repeats the name
            known = ", ".join(q.name for q in self.c.visible(self.partner))
            raise FilterError(f"propriété inconnue dans le filtre : « {p.name} » (propriétés : {known}, geometry)")
        return sql.SQL(prop.expr), prop.type

    def value(self, v: object, kind: str) -> sql.Composable:
        """Bind a literal checked against the property's type (a placeholder in the SQL, the value in params)."""
        if isinstance(v, Prop):
            return self.prop(v)[0]
        if isinstance(v, Op | Geom | Interval | tuple):
            raise FilterError("valeur simple attendue (texte, nombre, date)")
        if kind in ("number", "integer") and not _finite(v):
            raise FilterError(f"nombre attendu, reçu {v!r}"[:200])
        if isinstance(v, str) and len(clean_text(v, "texte du filtre", FilterError)) > 1000:
            raise FilterError("texte du filtre trop long (1000 caractères au plus)")
        if kind == "string" and not isinstance(v, str):
            raise FilterError(f"texte attendu, reçu {v!r}")
        if kind == "boolean" and not isinstance(v, bool):
            raise FilterError(f"vrai/faux attendu, reçu {v!r}")
        if kind == "date" and not isinstance(v, date):
            if isinstance(v, str):
                v = _date(v)
            else:
                raise FilterError(f"date attendue, reçu {v!r}")
        self.params.append(v)
        return sql.SQL("%s")

    def geometry(self, g: object) -> sql.Composable:
        """Bind a geometry literal as WKT, transformed to the storage CRS."""
        if not isinstance(g, Geom):
            raise FilterError("géométrie attendue (WKT, GeoJSON ou BBOX)")
        geom = g.geom
        if self.flip:
            geom = shapely.transform(geom, lambda c: c[:, ::-1])
        if geom.is_empty or not geom.is_valid:
            raise FilterError("géométrie du filtre vide ou invalide")
        self.params.append(geom.wkt)
        if self.srid == 26191:
            return sql.SQL("ST_GeomFromText(%s, 26191)")
        return sql.SQL("ST_Transform(ST_GeomFromText(%s, {}), 26191)").format(sql.Literal(self.srid))

    def __call__(self, node: object) -> sql.Composable:
        """Translate one condition (and what it contains) to SQL."""
        if not isinstance(node, Op):
            raise FilterError("le filtre doit être une condition (comparaison, LIKE, IN, S_INTERSECTS…)")
        op, args = node.op, node.args
        if op in ("and", "or"):
            if len(args) < 2:
                raise FilterError(f"« {op.upper()} » relie au moins deux conditions")
            return sql.SQL("({})").format(sql.SQL(f" {op.upper()} ").join(self(a) for a in args))
        if op == "not":
            _arity(op, args, 1)
            return sql.SQL("NOT ({})").format(self(args[0]))
        if op in COMPARISONS:
            return self._comparison(op, args)
        if op in _SCALAR_OPS:
            return _SCALAR_OPS[op](self, args)
        if op in SPATIAL:
            _arity(op, args, 2)
            left, kind = self._side(args[0])
            if kind != "geometry":
                raise FilterError(f"{op.upper()} s'applique à la géométrie")
            return sql.SQL("{}({}, {})").format(sql.SQL(SPATIAL[op]), left, self.geometry(args[1]))
        if op in TEMPORAL:
            _arity(op, args, 2)
            return self._temporal(op, args)
        raise FilterError(f"opérateur CQL2 non pris en charge : « {op} »")

    def _comparison(self, op: str, args: tuple) -> sql.Composable:
        _arity(op, args, 2)
        left, kind = self._side(args[0])
        right = self.value(args[1], kind)
        if kind in ("geometry", "array"):
            raise FilterError(f"comparaison « {op} » impossible sur {kind}")
        return sql.SQL("({} {} {})").format(left, sql.SQL(COMPARISONS[op]), right)

    def _like(self, args: tuple) -> sql.Composable:
        _arity("like", args, 2)
        left, kind = self._side(args[0])
        if kind != "string":
            raise FilterError("LIKE s'applique à une propriété texte")
        pattern = args[1]
        if isinstance(pattern, str) and (len(pattern) - len(pattern.rstrip("\\"))) % 2:
            raise FilterError("motif LIKE terminé par une barre oblique inverse seule : doublez-la (\\\\) pour "
                              "chercher le caractère « \\ » lui-même")
        return sql.SQL("({} LIKE {})").format(left, self.value(pattern, "string"))

    def _in(self, args: tuple) -> sql.Composable:
        _arity("in", args, 2)
        left, kind = self._side(args[0])
        values = args[1] if isinstance(args[1], tuple) else (args[1],)
        if not values:
            raise FilterError("IN attend au moins une valeur")
        return sql.SQL("({} IN ({}))").format(left, sql.SQL(", ").join(self.value(v, kind) for v in values))

    def _between(self, args: tuple) -> sql.Composable:
        _arity("between", args, 3)
        left, kind = self._side(args[0])
        return sql.SQL("({} BETWEEN {} AND {})").format(left, self.value(args[1], kind), self.value(args[2], kind))

    def _is_null(self, args: tuple) -> sql.Composable:
        _arity("isNull", args, 1)
        return sql.SQL("({} IS NULL)").format(self._side(args[0])[0])

    def _side(self, v: object) -> tuple[sql.Composable, str]:
        if not isinstance(v, Prop):
            raise FilterError("le premier argument d'une comparaison doit être une propriété")
        return self.prop(v)

    def _temporal(self, op: str, args: tuple) -> sql.Composable:
        prop = args[0]
        if isinstance(prop, Prop) and prop.name in ("validity", "valid"):
            if not self.c.temporal:
                raise FilterError(f"la collection {self.c.id} n'a pas de validité temporelle")
            plan = "t.id" if self.c.temporal == "self" else "t.plan_id"
            left = sql.SQL("(SELECT daterange(pv.valid_from, pv.valid_to) FROM plans pv WHERE pv.id = {})").format(
                sql.SQL(plan))
        else:
            expr, kind = self._side(prop)
            if kind != "date":
                raise FilterError(f"{op.upper()} s'applique à une date ou à « validity »")
            left = sql.SQL("daterange({e}, {e}, '[]')").format(e=expr)
        other = args[1]
        if isinstance(other, Interval):
            self.params += [other.start, other.end]
            right = sql.SQL("daterange(%s, %s, '[]')")
        elif isinstance(other, date):
            self.params += [other, other]
            right = sql.SQL("daterange(%s, %s, '[]')")
        else:
            raise FilterError(f"{op.upper()} attend une date ou un intervalle")
        template = {"t_before": "(upper({l}) <= lower({r}))", "t_after": "(lower({l}) >= upper({r}))",
                    "t_intersects": "({l} && {r})", "anyinteracts": "({l} && {r})",
                    "t_during": "({r} @> {l})", "t_equals": "({l} = {r})"}[op]
        return sql.SQL(template).format(l=left, r=right)


def _arity(op: str, args: tuple, n: int) -> None:
    if len(args) != n:
        raise FilterError(f"opérateur « {op} » : {n} argument(s) attendu(s)")


_SCALAR_OPS: dict[str, Callable[[Translator, tuple], sql.Composable]] = {
    "like": Translator._like, "in": Translator._in, "between": Translator._between, "isNull": Translator._is_null}


def to_sql(ast: object, collection: Collection, filter_srid: int = 4326, flip: bool = False,
           partner: bool = False) -> tuple[sql.Composable, list[object]]:
    """The SQL condition and its parameters."""
    translator = Translator(collection, filter_srid, flip, partner)
    return translator(ast), translator.params
