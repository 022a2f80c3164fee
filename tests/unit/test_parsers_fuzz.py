"""Property tests of every parser of user input: whatever the text or JSON, it parses or raises our InputError
(a 400 with a French message), never another exception (a 500). Each parser gets blind input (any text, any
JSON) and input shaped like its grammar, so the search reaches past the first token."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.ogc.cql2_text import parse_text
from gis.errors import InputError
from gis.jsontext import parse_json
from gis.landref import parse_land_ref
from instruction.land import parse_geometry, parse_point
from layers import cql
from layers.features import COLLECTIONS

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PARCELS = COLLECTIONS["parcels"]

numbers = st.one_of(st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0, -1, 1e308, -1e308, 5e-324]))
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                           st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                           max_leaves=25)


def _accepts_or_input_error(parse, *args) -> object | None:
    try:
        return parse(*args)
    except InputError as exc:
        assert exc.status == 400 and exc.message
        return None


# ------------------------------------------------------------------------------------------------ titles
title_like = st.builds(lambda p, s, n, x: f"{p}{s}{n}{x}",
                       st.sampled_from(["", "TF", "T.F.", "R", "Réq.", "n°", "NI", "titre foncier", "\u00a0", "Ⅻ"]),
                       st.sampled_from(["", " ", "-", ".", "\x00", "\t", "\u200b"]),
                       st.one_of(st.integers(min_value=-5, max_value=10**12).map(str), st.text(max_size=4)),
                       st.one_of(st.just(""), st.text(max_size=6).map(lambda t: "/" + t)))


@FAST
@given(st.one_of(st.text(max_size=40), title_like, st.none()))
def test_any_title_parses_or_is_an_input_error(text):
    ref = _accepts_or_input_error(parse_land_ref, text)
    if ref is not None and ref.kind != "NI":
        assert parse_land_ref(ref.normalized) == ref  # what is accepted reads back the same


# ----------------------------------------------------------------------------------------------- GeoJSON
coords = st.lists(numbers, min_size=0, max_size=3)
ring = st.lists(coords, max_size=6)
geojson = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["Polygon", "MultiPolygon", "Point", "LineString", "Feature",
                                                    "GeometryCollection", "polygon", ""]),
                           "coordinates": st.one_of(st.lists(ring, max_size=3), st.lists(st.lists(ring, max_size=2),
                                                                                         max_size=2), json_values)}),
    st.fixed_dictionaries({"type": st.just("Feature"), "geometry": json_values}),
    json_values)
TRIANGLE = [[[-7.62, 33.59], [-7.61, 33.59], [-7.61, 33.60], [-7.62, 33.59]]]


@FAST
@given(geojson, st.sampled_from([None, "EPSG:26191", "EPSG:4326", "EPSG:3857", "CRS84", "EPSG:999999", "x"]))
def test_any_geojson_land_parses_or_is_an_input_error(value, crs):
    _accepts_or_input_error(parse_geometry, value, crs, 5_000_000.0)


@FAST
@given(st.lists(numbers, max_size=3) | json_values, st.sampled_from([None, "EPSG:26191", "EPSG:4326"]))
def test_any_point_parses_or_is_an_input_error(value, crs):
    _accepts_or_input_error(parse_point, value, crs)


def test_a_good_polygon_still_parses():
    assert parse_geometry({"type": "Polygon", "coordinates": TRIANGLE}, None, 5_000_000.0).area > 1


# -------------------------------------------------------------------------------------------- CQL2 text
WORDS = ["(", ")", "(", ")", "NOT", "AND", "OR", "=", "<>", "<", ">=", "LIKE", "IN", "BETWEEN", "IS", "NULL", ",",
         "land_ref", "area_m2", "commune", "geometry", "validity", "'TF%'", "'\\'", "''", "'a''b'", "1", "-2.5", "1e999",
         "99999999999999999999999", "TRUE", "DATE", "TIMESTAMP", "INTERVAL", "'2020-01-01'", "'0000-01-01'", "'..'",
         "S_INTERSECTS", "T_INTERSECTS", "BBOX", "POINT", "POLYGON", "GEOMETRYCOLLECTION", "1 2", "nan", '"x"',
         "\x00", "é", "Ⅻ"]
cql_like = st.lists(st.sampled_from(WORDS), min_size=1, max_size=25).map(" ".join)


@FAST
@given(st.one_of(st.text(max_size=60), cql_like))
def test_any_cql2_text_parses_or_is_an_input_error(text):
    ast = _accepts_or_input_error(parse_text, text)
    if ast is not None:
        _accepts_or_input_error(cql.to_sql, ast, PARCELS)


@pytest.mark.parametrize("text", ["(" * 500 + "land_ref = 'x'" + ")" * 500, "NOT " * 3000 + "land_ref = 'x'",
                                  "S_INTERSECTS(geometry, " + "GEOMETRYCOLLECTION(" * 500 + ")" * 500 + ")"])
def test_deep_cql2_text_is_an_input_error(text):
    with pytest.raises(InputError, match="imbriqu"):
        parse_text(text)


def test_the_cql2_depth_is_a_parameter():
    text = "(" * 5 + "land_ref = 'x'" + ")" * 5
    assert parse_text(text, 6) == parse_text("land_ref = 'x'")
    with pytest.raises(InputError, match="4 niveaux"):
        parse_text(text, 4)


# -------------------------------------------------------------------------------------------- CQL2 JSON
def _node(inner):
    return st.one_of(
        st.fixed_dictionaries({"op": st.sampled_from(["and", "or", "not", "=", "<", "like", "in", "between",
                                                      "isNull", "s_intersects", "t_intersects", "t_during", 5, None]),
                               "args": st.one_of(st.lists(inner, max_size=3), inner)}),
        st.fixed_dictionaries({"property": st.one_of(st.sampled_from(["land_ref", "area_m2", "geometry", "validity"]),
                                                     json_values)}),
        st.fixed_dictionaries({"date": json_values}), st.fixed_dictionaries({"timestamp": json_values}),
        st.fixed_dictionaries({"interval": st.one_of(st.lists(scalars, max_size=3), json_values)}),
        st.fixed_dictionaries({"bbox": st.one_of(st.lists(numbers, min_size=4, max_size=4), json_values)}),
        st.fixed_dictionaries({"type": st.sampled_from(["Point", "Polygon"]), "coordinates": json_values}))


cql_json = st.recursive(scalars, _node, max_leaves=20)


@FAST
@given(cql_json)
def test_any_cql2_json_parses_or_is_an_input_error(node):
    for given_as in (node, json.dumps(node)):
        ast = _accepts_or_input_error(cql.from_json, given_as)
        if ast is not None:
            _accepts_or_input_error(cql.to_sql, ast, PARCELS)


@pytest.mark.parametrize("text", ["[" * 5000 + "]" * 5000, '{"op":"not","args":[' * 100 + "1" + "]}" * 100,
                                  '{"op":"=","args":[{"property":"area_m2"},NaN]}'])
def test_deep_or_non_finite_cql2_json_is_an_input_error(text):
    with pytest.raises(InputError):
        cql.from_json(text)


@pytest.mark.parametrize("pattern", ["\\", "abc\\", "a\\\\\\"])
def test_like_ending_with_a_lone_backslash_is_an_input_error(pattern):
    with pytest.raises(InputError, match="barre oblique"):
        cql.to_sql(cql.Op("like", (cql.Prop("land_ref"), pattern)), PARCELS)
    cql.to_sql(cql.Op("like", (cql.Prop("land_ref"), pattern + "\\")), PARCELS)  # escaped: accepted


def test_a_string_literal_is_never_read_again_as_json():
    """Only the filter itself is JSON text: a literal that looks like an object stays a literal."""
    ast = cql.from_json({"op": "=", "args": [{"property": "land_ref"}, '{"op": "or"}']})
    assert ast == cql.Op("=", (cql.Prop("land_ref"), '{"op": "or"}'))


# ------------------------------------------------------------------------------------------- JSON bodies
@FAST
@given(st.one_of(st.binary(max_size=60), json_values.map(lambda v: json.dumps(v).encode()),
                 st.text(max_size=60).map(str.encode)))
def test_any_body_parses_or_is_an_input_error(data):
    _accepts_or_input_error(parse_json, data, 8)


@pytest.mark.parametrize("data,match", [
    (b"[" * 100_000 + b"]" * 100_000, "imbriqué"), (b'{"a":"\\u0000"}', "nul"), (b'{"\\u0000":1}', "nul"),
    (b'["\\udc00"]', "Unicode"), (b"\xc3\x28", "UTF-8"), (b"[NaN]", "NaN"), (b"[1e999]", "fini"),
    (b'"' + b"[" * 200 + b'"', None),
])
def test_strict_json(data, match):
    if match is None:  # brackets inside a string are not nesting
        assert parse_json(data, 8) == "[" * 200
        return
    with pytest.raises(InputError, match=match):
        parse_json(data, 8)


# ------------------------------------------------------------------------------------- licence filing time
@pytest.mark.parametrize("filed_at", ["2026-11-23T09:30:00", "2026-11-23", "2026-11-23T09:30:00+01:00"])
def test_a_filing_time_without_offset_is_compared_with_stored_ones(filed_at):
    """Found by hand: a naive filing time against a stored timestamptz was a TypeError (500)."""
    from datetime import UTC, datetime

    from instruction.licence import distance_rule

    nearby = [{"id": 1, "name": "Pharmacie", "status": "demande", "distance_m": 50.0,
               "filed_at": datetime(2026, 11, 22, 8, 0, tzinfo=UTC)}]
    rule = distance_rule({"kind": "pharmacy", "min_m": 300}, nearby, "straight", filed_at, 3)
    assert rule["status"] == "fail"  # the other request was filed first


@pytest.mark.parametrize("filed_at", ["hier", "0000-01-01T00:00:00", "2026-13-01", "99999-01-01"])
def test_a_bad_filing_time_is_an_input_error(filed_at):
    from instruction.licence import distance_rule

    with pytest.raises(InputError, match="dépôt invalides"):
        distance_rule({"kind": "pharmacy", "min_m": 300}, [], "straight", filed_at, 3)
