"""Migrations go up and down on a real PostGIS, and the public role cannot read owners."""

import psycopg
import pytest

from layers import migrate

TABLES = {"communes", "parcels", "parcel_owners", "plans", "plan_statuses", "zones", "prescriptions", "sdau_zones",
          "roads", "establishments", "imports", "meta", "layer_versions", "rule_sets", "check_results", "api_keys",
          "tile_cache", "rate_limits", "payments", "audit_log", "outbox", "accounts", "note_requests",
          "note_documents", "payment_attempts", "audit_head", "usage_daily", "note_pdf_versions"}


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


def test_upgrade_then_downgrade_then_upgrade(empty_db_url):
    migrate.upgrade(empty_db_url)
    assert _tables(empty_db_url) >= TABLES
    assert migrate.current(empty_db_url) == "0027"
    migrate.downgrade(empty_db_url, "base")
    assert not (TABLES & _tables(empty_db_url))
    assert migrate.current(empty_db_url) is None
    migrate.upgrade(empty_db_url)
    assert _tables(empty_db_url) >= TABLES


def test_geometry_columns_are_in_26191_with_gist_indexes(conn):
    rows = conn.execute("SELECT f_table_name, f_geometry_column, srid FROM geometry_columns g JOIN pg_tables t ON "
                        "t.schemaname = g.f_table_schema AND t.tablename = g.f_table_name "
                        "WHERE f_table_schema = 'public'").fetchall()  # tables: a view's geometry is its table's
    # every stored geometry is in Merchich, except the generated Web Mercator display copies for tiles
    assert rows and all(srid == 26191 for _, column, srid in rows if column != "geom_3857")
    assert sorted((t, s) for t, c, s in rows if c == "geom_3857") == [("parcels", 3857), ("partner_features", 3857)]
    rows = [(t, s) for t, _, s in rows]
    indexed = {r[0] for r in conn.execute(
        "SELECT tablename FROM pg_indexes WHERE indexdef LIKE '%USING gist%'").fetchall()}
    assert {table for table, _ in rows} <= indexed


def test_public_role_reads_parcels_but_not_owners(conn):
    conn.execute("SET ROLE urbasig_public")
    conn.execute("SELECT count(*) FROM parcels").fetchone()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM parcel_owners")


def test_coefficients_must_say_what_they_mean(conn):
    conn.execute("INSERT INTO plans (code, kind, name, status, status_date) VALUES ('P', 'PA', 'p', 'etude', now())")
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO zones (plan_id, code, cos_value, geom) SELECT id, 'D', 1.5, "
                     "ST_Multi(ST_MakeEnvelope(0, 0, 1, 1, 26191)) FROM plans")


def test_layer_version_bumps_on_write(conn):
    conn.execute("INSERT INTO communes (code, name, kind, prefecture, prefecture_kind, geom) VALUES "
                 "('X', 'X', 'arrondissement', 'P', 'préfecture', ST_Multi(ST_MakeEnvelope(0, 0, 1, 1, 26191)))")
    first = conn.execute("SELECT version FROM layer_versions WHERE layer = 'communes'").fetchone()[0]
    conn.execute("UPDATE communes SET name = 'Y'")
    assert conn.execute("SELECT version FROM layer_versions WHERE layer = 'communes'").fetchone()[0] == first + 1


def _allowed(conn, table: str, column: str) -> list[str]:
    """The values a single-column CHECK (… IN (…)) constraint allows, in their order."""
    import re

    (definition,) = conn.execute(
        "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid "
        "AND a.attnum = c.conkey[1] WHERE c.conrelid = %s::regclass AND c.contype = 'c' "
        "AND cardinality(c.conkey) = 1 AND a.attname = %s", (table, column)).fetchone()
    return re.findall(r"'([^']*)'::text", definition)


def test_plan_vocabulary_is_the_one_the_database_enforces(conn):
    from layers.catalog import LAYERS
    from layers.plan_terms import PLAN_KINDS, PLAN_STATUSES, REGULATORY_KINDS

    assert _allowed(conn, "plans", "status") == list(PLAN_STATUSES) == _allowed(conn, "plan_statuses", "status")
    assert _allowed(conn, "plans", "kind") == list(PLAN_KINDS)
    assert set(LAYERS["zones"].plan_kinds) == set(REGULATORY_KINDS)
    # plan_status_on breaks ties between statuses of one day by this order (a later status wins)
    source = conn.execute("SELECT prosrc FROM pg_proc WHERE proname = 'plan_status_on'").fetchone()[0]
    assert ", ".join(f"'{s}'" for s in PLAN_STATUSES) in source
