"""api/ogc/cql2_text.py: the CQL2-text reader into the AST of layers/cql.py."""

from __future__ import annotations

from datetime import date

import pytest
import shapely

from api.ogc.cql2_text import parse_text
from layers.cql import FilterError, Geom, Interval, Op, Prop, from_json


def test_comparison_with_a_quoted_string():
    assert parse_text("code = 'R+4 l''Oasis'") == Op("=", (Prop("code"), "R+4 l'Oasis"))


def test_numbers_keep_their_type():
    assert parse_text("storeys_max >= 4") == Op(">=", (Prop("storeys_max"), 4))
    assert parse_text("height_max_m < 1.5e1") == Op("<", (Prop("height_max_m"), 15.0))
    assert parse_text("x <> -2") == Op("<>", (Prop("x"), -2))


def test_and_binds_tighter_than_or_and_parentheses_override():
    a, b, c = (Op("=", (Prop(n), 1)) for n in "abc")
    assert parse_text("a = 1 OR b = 1 AND c = 1") == Op("or", (a, Op("and", (b, c))))
    assert parse_text("a = 1 AND b = 1 OR c = 1") == Op("or", (Op("and", (a, b)), c))
    assert parse_text("(a = 1 OR b = 1) AND c = 1") == Op("and", (Op("or", (a, b)), c))
    assert parse_text("NOT a = 1") == Op("not", (a,))


def test_keywords_are_case_insensitive_and_quoted_names_are_properties():
    assert parse_text('"land_ref" like \'TF 1%\' and commune_code in (\'ANFA\', \'MAARIF\')') == Op("and", (
        Op("like", (Prop("land_ref"), "TF 1%")), Op("in", (Prop("commune_code"), ("ANFA", "MAARIF")))))


def test_between_is_null_and_their_negations():
    assert parse_text("width_m BETWEEN 10 AND 20") == Op("between", (Prop("width_m"), 10, 20))
    assert parse_text("width_m NOT BETWEEN 10 AND 20") == Op("not", (Op("between", (Prop("width_m"), 10, 20)),))
    assert parse_text("road_name IS NULL") == Op("isNull", (Prop("road_name"),))
    assert parse_text("road_name IS NOT NULL") == Op("not", (Op("isNull", (Prop("road_name"),)),))
    assert parse_text("continuous_frontage = TRUE") == Op("=", (Prop("continuous_frontage"), True))


def test_spatial_predicates_read_wkt_and_bbox():
    node = parse_text("S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 1 1, 0 0)))")
    assert node.op == "s_intersects" and node.args[0] == Prop("geometry")
    assert node.args[1].geom.equals(shapely.Polygon([(0, 0), (1, 0), (1, 1)]))
    box = parse_text("s_within(geometry, BBOX(-7.7, 33.5, -7.5, 33.6))").args[1]
    assert isinstance(box, Geom) and box.geom.bounds == (-7.7, 33.5, -7.5, 33.6)  # x min, y min, x max, y max


def test_temporal_predicates_read_dates_and_open_intervals():
    assert parse_text("T_INTERSECTS(validity, INTERVAL('2020-01-01', '..'))") == Op(
        "t_intersects", (Prop("validity"), Interval(date(2020, 1, 1), None)))
    assert parse_text("T_BEFORE(approval_date, DATE('2010-05-01'))") == Op(
        "t_before", (Prop("approval_date"), date(2010, 5, 1)))
    assert parse_text("valid_from > TIMESTAMP('2021-03-04T10:00:00Z')") == Op(">", (Prop("valid_from"), date(2021, 3, 4)))


@pytest.mark.parametrize(("text", "message"), [
    ("", "filtre vide"),
    ("code = 'A", "illisible à la position .* 'A"),  # an unclosed string
    ("code =", "fin inattendue"),
    ("code = 'A' code", "« code » inattendu à la position 12"),
    ("code 'A'", "opérateur attendu après « code »"),
    ("upper(code) = 'A'", "fonction CQL2 non prise en charge : « upper »"),
    ("S_INTERSECTS(geometry, BBOX(1, 2, 3))", "BBOX attend quatre nombres"),
    ("S_INTERSECTS(geometry, POLYGON((0 0, 1 0)", "WKT incomplète"),
    ("S_INTERSECTS(geometry, 'x')", "géométrie attendue"),
    ("valid_from > DATE('2021-13-01')", "date invalide"),
    ("x = 1" + " " * 20_000, "trop long"),
])
def test_unreadable_filters_say_where(text, message):
    with pytest.raises(FilterError, match=message) as err:
        parse_text(text)
    assert err.value.status == 400


def test_text_and_json_give_the_same_tree():
    text = parse_text("storeys_max >= 4 AND S_INTERSECTS(geometry, BBOX(0, 0, 1, 1))")
    json_ = from_json({"op": "and", "args": [{"op": ">=", "args": [{"property": "storeys_max"}, 4]},
                                             {"op": "s_intersects", "args": [{"property": "geometry"},
                                                                             {"bbox": [0, 0, 1, 1]}]}]})
    assert text.op == json_.op == "and"
    assert text.args[0] == json_.args[0]
    assert text.args[1].args[1].geom.equals(json_.args[1].args[1].geom)


# ------------------------------------------------------------------------------ CQL2-JSON (layers/cql.py)
def test_json_objects_of_each_kind():
    assert from_json('{"op": "isNull", "args": [{"property": "road_name"}]}') == Op("isNull", (Prop("road_name"),))
    assert from_json({"op": "IN", "args": [{"property": "code"}, ["A", "B"]]}) == Op("in", (Prop("code"), ("A", "B")))
    assert from_json({"interval": ["2020-01-01", ".."]}) == Interval(date(2020, 1, 1), None)
    assert from_json({"timestamp": "2021-03-04T10:00:00Z"}) == date(2021, 3, 4)
    point = from_json({"type": "Point", "coordinates": [1, 2]})
    assert isinstance(point, Geom) and point.geom.equals(shapely.Point(1, 2))


@pytest.mark.parametrize(("node", "message"), [
    ('{"op": ', "CQL2-JSON illisible"),
    ({"interval": ["2020-01-01"]}, "deux bornes"),
    ({"bbox": [0, 0, 1]}, "quatre nombres"),
    ({"type": "Polygon", "coordinates": [[1]]}, "GeoJSON invalide"),
    ({"op": "=", "args": {"property": "code"}}, "doit être une liste"),
    ({"coordinates": [1, 2]}, "objet inconnu"),  # coordinates without a type are not a geometry
    ({"foo": 1}, "objet inconnu"),
])
def test_bad_json_filters(node, message):
    with pytest.raises(FilterError, match=message):
        from_json(node)


def test_an_unreadable_token_is_pointed_at_not_the_blank_before_it():
    with pytest.raises(FilterError, match=r"position 8 : « 'abc »"):
        parse_text("code = 'abc")
