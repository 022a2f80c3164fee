"""A CQL2-text reader (the subset the server supports) into the AST of layers/cql.py.

Written here rather than taken from pygeofilter 0.4, whose text grammar rejects DATE(), TIMESTAMP() and
INTERVAL() inside temporal functions and swaps the corners of BBOX() in CQL2-JSON.
"""

from __future__ import annotations

import re

import shapely

from gis.jsontext import clean_text
from layers.cql import MAX_DEPTH, FilterError, Geom, Interval, Op, Prop, _date, _finite

TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
    | (?P<op><>|<=|>=|=|<|>|\(|\)|,)
    | (?P<quoted>"(?:[^"]|"")+")
    | (?P<word>[A-Za-z_][A-Za-z0-9_:.]*)
    )""", re.VERBOSE)
WKT_TYPES = {"POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON", "GEOMETRYCOLLECTION"}
SPATIAL = {"S_INTERSECTS", "S_WITHIN", "S_CONTAINS", "S_DISJOINT"}
TEMPORAL = {"T_BEFORE", "T_AFTER", "T_INTERSECTS", "T_DURING", "T_EQUALS", "ANYINTERACTS"}


class Parser:
    """Recursive descent over the token list."""

    def __init__(self, text: str, max_depth: int = MAX_DEPTH):
        self.text = text
        self.max_depth = max_depth
        self.depth = 0  # open parentheses and NOT prefixes around the current predicate
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            while pos < len(text) and text[pos].isspace():  # an error points at the token, not the blank before it
                pos += 1
            if pos == len(text):
                break
            m = TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise FilterError(f"filtre CQL2 illisible à la position {pos + 1} : « {text[pos:pos + 20]} »")
            kind = m.lastgroup
            self.tokens.append((kind, m.group(kind), m.start(kind)))
            pos = m.end()
        self.i = 0

    def peek(self, upper: bool = True) -> str | None:
        """Return the next token's text without taking it (keywords upper-cased), or None at the end."""
        if self.i >= len(self.tokens):
            return None
        kind, value, _ = self.tokens[self.i]
        return value.upper() if upper and kind == "word" else value

    def take(self) -> tuple[str, str, int]:
        """Take the next token (kind, text, position); the end of the filter is an error."""
        if self.i >= len(self.tokens):
            raise FilterError("filtre CQL2 incomplet : fin inattendue")
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        """Take the next token, which must be `value`."""
        kind, got, pos = self.take()
        if (got.upper() if kind == "word" else got) != value:
            raise FilterError(f"filtre CQL2 : « {value} » attendu à la position {pos + 1}, trouvé « {got} »")

    # boolean structure
    def parse(self) -> object:
        """Parse the whole filter into the AST."""
        node = self.or_()
        if self.i != len(self.tokens):
            _, got, pos = self.tokens[self.i]
            raise FilterError(f"filtre CQL2 : « {got} » inattendu à la position {pos + 1}")
        return node

    def or_(self) -> object:
        """Parse conditions joined by OR."""
        parts = [self.and_()]
        while self.peek() == "OR":
            self.take()
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else Op("or", tuple(parts))

    def and_(self) -> object:
        """Parse conditions joined by AND (which binds tighter than OR)."""
        parts = [self.not_()]
        while self.peek() == "AND":
            self.take()
            parts.append(self.not_())
        return parts[0] if len(parts) == 1 else Op("and", tuple(parts))

    def not_(self) -> object:
        """Parse a condition with its NOT prefixes."""
        if self.peek() == "NOT":
            self.take()
            self._deeper()
            node = Op("not", (self.not_(),))
            self.depth -= 1
            return node
        return self.predicate()

    def _deeper(self) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            raise FilterError(f"filtre CQL2 trop imbriqué : {self.max_depth} niveaux de parenthèses ou de NOT au plus "
                              "(URBASIG_MAX_FILTER_DEPTH)")

    def _group(self) -> object:
        """Parse a parenthesised condition."""
        self.take()
        self._deeper()
        node = self.or_()
        self.expect(")")
        self.depth -= 1
        return node

    def predicate(self) -> object:
        """Parse one predicate: parenthesised, spatial, temporal, comparison, LIKE, IN, BETWEEN, IS NULL."""
        head = self.peek()
        if head == "(":
            return self._group()
        if head in SPATIAL or head in TEMPORAL:
            self.take()
            self.expect("(")
            left = self.scalar()
            self.expect(",")
            right = self.geometry() if head in SPATIAL else self.temporal()
            self.expect(")")
            return Op(head.lower(), (left, right))
        left = self.scalar()
        word = self.peek()
        negate = False
        if word == "NOT":
            self.take()
            negate = True
            word = self.peek()
        if word in ("=", "<>", "<", "<=", ">", ">="):
            self.take()
            return Op(word, (left, self.scalar()))
        if word == "LIKE":
            self.take()
            node = Op("like", (left, self.scalar()))
        elif word == "IN":
            self.take()
            self.expect("(")
            values = [self.scalar()]
            while self.peek() == ",":
                self.take()
                values.append(self.scalar())
            self.expect(")")
            node = Op("in", (left, tuple(values)))
        elif word == "BETWEEN":
            self.take()
            low = self.scalar()
            self.expect("AND")
            node = Op("between", (left, low, self.scalar()))
        elif word == "IS":
            self.take()
            is_not = self.peek() == "NOT"
            if is_not:
                self.take()
            self.expect("NULL")
            node = Op("isNull", (left,))
            negate = negate or is_not
        else:
            raise FilterError(f"filtre CQL2 : opérateur attendu après « {left.name if isinstance(left, Prop) else left} »")
        return Op("not", (node,)) if negate else node

    # values
    def scalar(self) -> object:
        """Parse a literal (text, number, boolean, DATE, TIMESTAMP) or a property name."""
        kind, value, pos = self.take()
        if kind == "string":
            return value[1:-1].replace("''", "'")
        if kind == "number":
            return float(value) if any(c in value for c in ".eE") else int(value)
        if kind == "quoted":
            return Prop(value[1:-1].replace('""', '"'))
        if kind == "word":
            upper = value.upper()
            if upper in ("TRUE", "FALSE"):
                return upper == "TRUE"
            if upper in ("DATE", "TIMESTAMP"):
                self.expect("(")
                _, text, _ = self.take()
                self.expect(")")
                return _date(text.strip("'"))
            if self.peek() == "(":
                raise FilterError(f"fonction CQL2 non prise en charge : « {value} »")
            return Prop(value)
        raise FilterError(f"filtre CQL2 : valeur attendue à la position {pos + 1}, trouvé « {value} »")

    def temporal(self) -> object:
        """Parse the right side of a temporal predicate: INTERVAL(a, b) or a date."""
        if self.peek() == "INTERVAL":
            self.take()
            self.expect("(")
            _, a, _ = self.take()
            self.expect(",")
            _, b, _ = self.take()
            self.expect(")")
            ends = [None if e.strip("'") == ".." else _date(e.strip("'")) for e in (a, b)]
            return Interval(*ends)
        return self.scalar()

    def geometry(self) -> Geom:
        """Parse a geometry literal: WKT or BBOX(x min, y min, x max, y max)."""
        kind, value, pos = self.take()
        upper = value.upper() if kind == "word" else value
        if upper == "BBOX":
            self.expect("(")
            nums = [self.scalar()]
            while self.peek() == ",":
                self.take()
                nums.append(self.scalar())
            self.expect(")")
            if len(nums) != 4 or not all(_finite(n) for n in nums):
                raise FilterError("BBOX attend quatre nombres finis")
            return Geom(shapely.box(*nums))
        if upper in WKT_TYPES:
            depth, start, end = 0, pos, None
            while self.i < len(self.tokens):
                _, tok, tpos = self.take()
                depth += tok == "("
                depth -= tok == ")"
                if depth > self.max_depth:
                    raise FilterError("géométrie WKT trop imbriquée dans le filtre")
                if depth == 0 and tok == ")":
                    end = tpos + 1
                    break
            if end is None:
                raise FilterError("géométrie WKT incomplète dans le filtre")
            try:
                return Geom(shapely.from_wkt(self.text[start:end]))
            except shapely.errors.GEOSException:
                raise FilterError("géométrie WKT illisible dans le filtre : vérifiez le type, les parenthèses et "
                                  "les paires de coordonnées, ex. POLYGON((x y, x y, x y, x y))") from None
        raise FilterError(f"géométrie attendue (WKT ou BBOX) à la position {pos + 1}")


def parse_text(text: str, max_depth: int = MAX_DEPTH) -> object:
    """Parse a CQL2-text filter, at most `max_depth` parentheses or NOT deep."""
    if not text or not text.strip():
        raise FilterError("filtre vide")
    if len(text) > 20_000:
        raise FilterError("filtre trop long (20 000 caractères au plus ; envoyez les grandes géométries en POST)")
    clean_text(text, "filtre CQL2", FilterError)  # its literals and names, and the excerpts quoted by its errors
    return Parser(text, max_depth).parse()
