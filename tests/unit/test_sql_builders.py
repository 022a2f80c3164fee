"""layers/cql.py and layers/features.py: SQL built by pure functions, rendered to text without a connection.

What must hold for every statement: values are placeholders bound in order (as many parameters as `%s`),
never formatted into the text; tables are quoted identifiers; properties come from the registry only.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from psycopg import sql

from api.ogc.cql2_text import parse_text
from layers.cql import FilterError, to_sql
from layers.features import COLLECTIONS, COUNT_CAP, ItemsQuery, count_sql, items_sql, where_sql

ZONES, PARCELS, PLANS = COLLECTIONS["zones"], COLLECTIONS["parcels"], COLLECTIONS["plans"]
HOSTILE = "x'); DROP TABLE parcels; --"


def text(composable: sql.Composable) -> str:
    """The statement as the server would receive it, placeholders left in."""
    return composable.as_string(None)


def placeholders(statement: str) -> int:
    return len(re.findall(r"(?<!%)%s", statement))


def _filter(cql: str, collection=ZONES, **kw) -> tuple[str, list]:
    condition, params = to_sql(parse_text(cql), collection, **kw)
    statement = text(condition)
    assert placeholders(statement) == len(params)
    return statement, params


# ------------------------------------------------------------------------------------------- CQL2 → SQL
def test_a_comparison_binds_its_value():
    statement, params = _filter(f"code = '{HOSTILE.replace(chr(39), chr(39) * 2)}'")
    assert statement == "(t.code = %s)"
    assert params == [HOSTILE] and "DROP" not in statement


def test_the_plan_property_reads_the_joined_plan():
    assert _filter("plan = 'PA-1' AND storeys_max >= 4") == ("((p.code = %s) AND (t.storeys_max >= %s))", ["PA-1", 4])


def test_in_between_like_and_null():
    assert _filter("code IN ('A', 'B') OR height_max_m BETWEEN 10 AND 20.5") == (
        "((t.code IN (%s, %s)) OR (t.height_max_m BETWEEN %s AND %s))", ["A", "B", 10, 20.5])
    assert _filter("NOT label LIKE 'Villa%' AND sector IS NULL") == (
        "(NOT ((t.label LIKE %s)) AND (t.sector IS NULL))", ["Villa%"])


def test_a_geometry_is_bound_as_wkt_and_transformed_to_storage():
    statement, params = _filter("S_INTERSECTS(geometry, BBOX(-7.7, 33.5, -7.5, 33.6))", filter_srid=4326)
    assert statement == "ST_Intersects(t.geom, ST_Transform(ST_GeomFromText(%s, 4326), 26191))"
    assert params[0].startswith("POLYGON ((-7.5 33.5")
    storage, _ = _filter("S_WITHIN(geometry, POINT(295000 332000))", filter_srid=26191)
    assert storage == "ST_Within(t.geom, ST_GeomFromText(%s, 26191))"


def test_flipped_axes_swap_the_filter_geometry():
    _, params = _filter("S_INTERSECTS(geometry, POINT(33.6 -7.6))", filter_srid=4326, flip=True)
    assert params == ["POINT (-7.6 33.6)"]


def test_validity_of_a_plan_version_is_a_bound_daterange():
    statement, params = _filter("T_INTERSECTS(validity, INTERVAL('2020-01-01', '..'))")
    assert statement == ("((SELECT daterange(pv.valid_from, pv.valid_to) FROM plans pv WHERE pv.id = t.plan_id) "
                         "&& daterange(%s, %s, '[]'))")
    assert params == [date(2020, 1, 1), None]
    own, _ = _filter("T_BEFORE(validity, DATE('2020-01-01'))", collection=PLANS)
    assert "pv.id = t.id" in own


@pytest.mark.parametrize(("cql", "message"), [
    ("owner_name = 'x'", "propriété inconnue dans le filtre : « owner_name »"),
    ("address = 'x'", "propriété inconnue"),  # restricted to partners
    ("storeys_max = 'four'", "nombre attendu"),
    ("code LIKE 3", "texte attendu"),
    ("storeys_max LIKE '4%'", "LIKE s'applique à une propriété texte"),
    ("S_INTERSECTS(code, POINT(0 0))", "s'applique à la géométrie"),
    ("S_INTERSECTS(geometry, POLYGON((0 0, 1 1, 1 0, 0 1, 0 0)))", "vide ou invalide"),
    ("T_BEFORE(code, DATE('2020-01-01'))", "s'applique à une date"),
    ("'x' = code", "doit être une propriété"),
])
def test_bad_filters_are_refused_before_sql(cql, message):
    collection = PARCELS if cql.startswith(("address", "owner")) else ZONES
    with pytest.raises(FilterError, match=message):
        to_sql(parse_text(cql), collection)


def test_partners_may_filter_on_restricted_properties():
    condition, params = to_sql(parse_text("address = 'x'"), PARCELS, partner=True)
    assert text(condition) == "(t.address = %s)" and params == ["x"]


# ------------------------------------------------------------------------------------- items and count
def test_items_statement_for_a_bbox_page_of_zones_in_force():
    q = ItemsQuery(collection=ZONES, limit=100, bbox=(-7.7, 33.5, -7.5, 33.6), day=date(2026, 6, 1), after=41,
                   offset=0)
    query, params = items_sql(q)
    statement = text(query)
    assert placeholders(statement) == len(params)
    assert 'FROM "zones" t JOIN plans p ON p.id = t.plan_id' in statement  # the table is a quoted identifier
    assert "ST_AsGeoJSON(ST_Transform(t.geom, 4326), 7, 0)::json" in statement
    assert "plan_in_force(t.plan_id, %s) AND t.id > %s ORDER BY t.id LIMIT %s OFFSET %s" in statement
    assert params[-4:] == [date(2026, 6, 1), 41, 101, 0]  # one more row than the limit: is there a next page?
    assert params[:4] == [-7.7, 33.5, -7.5, 33.6]
    assert "-7.7" not in statement and "2026" not in statement


def test_storage_crs_bbox_is_not_transformed_nor_segmentized():
    q = ItemsQuery(collection=PARCELS, limit=10, srid=26191, bbox=(1, 2, 3, 4), bbox_srid=26191)
    statement, params = text(items_sql(q)[0]), items_sql(q)[1]
    assert "ST_Transform" not in statement and "ST_Segmentize" not in statement
    assert params == [1, 2, 3, 4, 1, 2, 3, 4, 11, 0]


def test_lat_lon_bbox_is_swapped_to_lon_lat():
    q = ItemsQuery(collection=PARCELS, limit=10, bbox=(33.5, -7.7, 33.6, -7.5), bbox_flip=True)
    assert where_sql(q)[1][:4] == [-7.7, 33.5, -7.5, 33.6]


def test_public_properties_only_unless_partner():
    public = text(items_sql(ItemsQuery(collection=PARCELS, limit=1))[0])
    partner = text(items_sql(ItemsQuery(collection=PARCELS, limit=1, partner=True))[0])
    assert "'address'" not in public and "'land_ref', t.land_ref" in public
    assert "'address', t.address" in partner


def test_sort_keys_come_before_the_id_and_disable_the_keyset():
    q = ItemsQuery(collection=ZONES, limit=10, sort=[(ZONES.prop("storeys_max"), True)], after=5)
    statement = text(items_sql(q)[0])
    assert statement.endswith("ORDER BY t.storeys_max DESC NULLS LAST, t.id LIMIT %s OFFSET %s")
    assert "t.id > %s" not in statement


def test_count_is_capped_and_ignores_the_keyset():
    q = ItemsQuery(collection=PLANS, limit=10, after=7, where=[sql.SQL("(t.kind = %s)")], params=["PA"])
    query, params = count_sql(q)
    assert text(query) == ('SELECT count(*) FROM (SELECT 1 FROM "plans" t WHERE t.perimeter IS NOT NULL AND '
                           "(t.kind = %s) LIMIT %s) s")
    assert params == ["PA", COUNT_CAP + 1]


def test_a_datetime_interval_on_a_temporal_collection():
    q = ItemsQuery(collection=ZONES, limit=10, day=(date(2020, 1, 1), None))
    where, params = where_sql(q)
    statement = text(where)
    assert statement.startswith(" WHERE t.plan_id IN (SELECT pv.id FROM plans pv WHERE EXISTS")
    assert "plan_in_force(pv.id, c.d)" in statement  # the one definition of "in force", on the interval's days
    assert placeholders(statement) == len(params)
    assert params == [date(2020, 1, 1), date(2020, 1, 1), date.max]  # an open end is the last representable day
    assert where_sql(ItemsQuery(collection=PARCELS, limit=10, day=date(2020, 1, 1)))[1] == []  # not temporal
