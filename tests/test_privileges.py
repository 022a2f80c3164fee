"""Least privilege (issue 12, point 4): the web server's role owns nothing and may only do what the API needs.

The whole suite runs its apps as that role (tests/helpers.py `app_settings`), so every HTTP journey proves the
grants suffice; the tests here prove they are no wider.
"""

from __future__ import annotations

import psycopg
import pytest
from alembic.script import ScriptDirectory

from app import create_app
from layers import migrate
from layers.audit import verify_chain
from layers.db import borrow
from layers.roles import APP_ROLE, parse_privileges
from tests.helpers import app_settings, app_url

ALL_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


def declared_privileges() -> dict[str, dict[str, tuple[str, ...] | None]]:
    """Every migration's APP_GRANTS, oldest first (a later migration may change an earlier decision)."""
    scripts = ScriptDirectory.from_config(migrate.alembic_config("postgresql://unused/unused"))
    decided: dict[str, dict[str, tuple[str, ...] | None]] = {}
    for revision in reversed(list(scripts.walk_revisions())):
        for table, privileges in getattr(revision.module, "APP_GRANTS", {}).items():
            decided[table] = parse_privileges(privileges)
    return decided


def declared_grants() -> dict[str, set[str]]:
    """The privileges declared on whole tables (a privilege on some columns only is not one)."""
    return {table: {p for p, columns in privileges.items() if columns is None}
            for table, privileges in declared_privileges().items()}


def _tables(conn) -> set[str]:
    """The schema's tables and views, without those an extension owns (PostGIS's spatial_ref_sys, geometry_columns)."""
    rows = conn.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v') AND NOT EXISTS (SELECT 1 FROM "
                        "pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')").fetchall()
    return {r[0] for r in rows}


def test_every_table_has_its_app_privileges_decided_by_a_migration(conn):
    decided = declared_grants()
    undecided = _tables(conn) - set(decided)
    assert not undecided, (f"tables sans décision de droits pour {APP_ROLE} : {sorted(undecided)} ; déclarez-les "
                           "dans APP_GRANTS de leur migration (layers/migrations/README.md)")
    assert not set(decided) - _tables(conn), "APP_GRANTS nomme une table qui n'existe pas"


def test_the_app_role_has_exactly_the_declared_privileges(conn):
    for table, wanted in declared_grants().items():
        held = {p for p in ALL_PRIVILEGES if conn.execute("SELECT has_table_privilege(%s, %s, %s)",
                                                          (APP_ROLE, f"public.{table}", p)).fetchone()[0]}
        assert held == wanted, table
    # privileges on some columns only: exactly those columns (has_column_privilege is true for all columns of a
    # table-level grant, so only the column-level ones are compared here)
    for table, privileges in declared_privileges().items():
        columns = [r[0] for r in conn.execute("SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass "
                                                "AND attnum > 0 AND NOT attisdropped", (f"public.{table}",))]
        for privilege in ("SELECT", "INSERT", "UPDATE"):
            if privileges.get(privilege, ()) is None:
                continue
            held_on = {c for c in columns if conn.execute("SELECT has_column_privilege(%s, %s, %s, %s)",
                                                          (APP_ROLE, f"public.{table}", c, privilege)).fetchone()[0]}
            assert held_on == set(privileges.get(privilege) or ()), (table, privilege)
    # sequences: USAGE (nextval for its inserts), nothing more
    rows = conn.execute("SELECT c.relname, has_sequence_privilege(%s, c.oid, 'USAGE'), "
                        "has_sequence_privilege(%s, c.oid, 'UPDATE') FROM pg_class c WHERE c.relkind = 'S' "
                        "AND c.relnamespace = 'public'::regnamespace", (APP_ROLE, APP_ROLE)).fetchall()
    assert rows and all(usage and not update for _, usage, update in rows), rows


def test_the_app_role_owns_nothing_and_is_no_member_of_the_owner(conn):
    role = conn.execute("SELECT rolsuper, rolcreatedb, rolcreaterole, rolbypassrls, rolreplication, rolcanlogin "
                        "FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone()
    assert role == (False, False, False, False, False, True)
    owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_log'").fetchone()[0]
    assert owner != APP_ROLE
    assert not conn.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", (APP_ROLE, owner)).fetchone()[0]
    assert not conn.execute("SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member "
                            "WHERE r.rolname = %s", (APP_ROLE,)).fetchone()[0]
    owned = conn.execute("SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = %s)",
                         (APP_ROLE,)).fetchone()[0]
    assert owned == 0


ATTEMPTS = [
    "TRUNCATE audit_log",
    "DELETE FROM audit_log",
    "UPDATE audit_log SET actor = 'personne'",
    "SET session_replication_role = replica",
    "ALTER TABLE audit_log DISABLE TRIGGER audit_log_chain",
    "ALTER TABLE audit_log DISABLE TRIGGER ALL",
    "DROP TABLE audit_log",
    "DROP TRIGGER audit_log_no_change ON audit_log",
    "CREATE TABLE intrus (i int)",
    "UPDATE audit_head SET last_id = 0",
    "INSERT INTO audit_head (singleton, last_hash) VALUES (false, 'x')",
    "SELECT * FROM parcel_owners",
    "INSERT INTO parcels (ref_kind, geom) VALUES ('NI', ST_Multi(ST_MakeEnvelope(0, 0, 1, 1, 26191)))",
    "UPDATE zones SET code = 'X'",
    "DELETE FROM accounts",
    "UPDATE api_keys SET key_hash = 'y'",
    "DELETE FROM api_keys",
    "CREATE ROLE intrus",
    "CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
    # staff pages read the trail and the documents, the admin page changes roles and a reset the password
    # (migration 0019); still no HTTP path updates a queued mail, an account's address, a document or a plan's
    # identity and geometry
    "UPDATE outbox SET status = 'envoye'",
    "UPDATE accounts SET email = 'x@y.ma'",
    "UPDATE note_documents SET data = ''",
    "DELETE FROM note_documents",
    "UPDATE plans SET code = 'X'",
    "DELETE FROM plans",
    "UPDATE usage_daily SET day = '2001-01-01'",
    "UPDATE layer_versions SET layer = 'x'",
    "DELETE FROM layer_versions",
    "ALTER TABLE audit_log DISABLE TRIGGER audit_log_chain_at_commit",
    "SET CONSTRAINTS audit_log_chain_at_commit IMMEDIATE; UPDATE audit_log SET hash = NULL",
    # a plan impact's rows are written once and go with their run (migration 0022)
    "DELETE FROM impact_parcels",
    "UPDATE impact_parcels SET change = 'gain'",
    "UPDATE impact_runs SET from_plan_id = to_plan_id",
]


@pytest.fixture
def app_conn(db_url):
    """A connection of the app's own pool, as every HTTP request gets one."""
    app = create_app(app_settings(db_url, pool_min=1, pool_max=1))
    pool = app.extensions["urbasig.pool"]
    connection = borrow(pool)
    yield connection
    pool.putconn(connection)


def test_through_the_apps_own_connection_the_trail_cannot_be_wiped(app_conn, conn):
    assert app_conn.execute("SELECT current_user, session_user").fetchone() == (APP_ROLE, APP_ROLE)
    conn.execute("INSERT INTO audit_log (actor, action, entity, entity_id) VALUES ('t', 'a', 'e', '1')")
    conn.commit()
    for statement in ATTEMPTS:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app_conn.execute(statement)
    assert conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM pg_class WHERE relname = 'intrus'").fetchone()[0] == 0


def test_the_app_appends_but_cannot_forge_the_chain(app_conn, conn):
    app_conn.execute("INSERT INTO audit_log (id, at, actor, action, entity, entity_id, prev_hash, hash) VALUES "
                     "(1, '2001-01-01', 'app', 'x', 'e', '1', 'faux', 'faux')")
    line = conn.execute("SELECT id, at > now() - interval '1 hour', prev_hash, hash FROM audit_log").fetchone()
    assert line[1] and line[2] == "0" * 64 and line[3] != "faux"  # the triggers set time and hashes
    assert verify_chain(conn).ok


def test_the_app_updates_only_the_columns_its_pages_change_on_an_account(app_conn, conn):
    conn.execute("INSERT INTO accounts (email, full_name, password_hash) VALUES ('a@b.ma', 'A', 'h')")
    conn.commit()
    # verification, password reset, and the admin's page (role, name, organisation, disabled) — migration 0019
    app_conn.execute("UPDATE accounts SET verified_at = now(), verify_token_hash = NULL, verify_code_hash = NULL, "
                     "verify_code_failures = verify_code_failures + 1, password_hash = 'h2', reset_token_hash = NULL, "
                     "reset_expires_at = NULL, role = 'partner', organisation = 'Commune', "
                     "disabled_at = now() WHERE email = 'a@b.ma'")
    for column in ("id", "email", "full_name", "created_at", "verify_expires_at"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app_conn.execute(f"UPDATE accounts SET {column} = {column} WHERE email = 'a@b.ma'")


def test_column_privileges_are_parsed_and_odd_ones_refused():
    assert parse_privileges("SELECT, UPDATE (a, b_c)") == {"SELECT": None, "UPDATE": ("a", "b_c")}
    assert parse_privileges("") == {}
    for odd in ("TRUNCATE", "SELECT,,", "UPDATE (a; b)", "UPDATE ()"):
        with pytest.raises(ValueError):
            parse_privileges(odd)


def test_a_server_without_its_own_role_refuses_to_start_as_the_owner(db_url):
    from gis.errors import ConfigError
    from settings import Settings

    with pytest.raises(ConfigError, match="URBASIG_APP_DATABASE_URL"):
        create_app(Settings(database_url=db_url))


def test_the_app_url_is_the_same_database_with_the_app_role(db_url):
    url = app_url(db_url)
    with psycopg.connect(url) as c:
        assert c.execute("SELECT current_user, current_database()").fetchone() == (APP_ROLE, db_url.rsplit("/", 1)[1])


def test_the_embedded_cluster_serves_as_the_app_role_with_its_password_in_var(monkeypatch):
    import shutil
    import socket
    import tempfile
    from pathlib import Path

    from click.testing import CliRunner

    from app import cli
    from layers.db import embedded_cluster
    from settings import Settings

    var = Path(tempfile.mkdtemp(prefix="urbasig-var-"))
    var.chmod(0o755)  # the unprivileged cluster user must traverse it when tests run as root
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(var_dir=var, pg_port=port)
    monkeypatch.delenv("URBASIG_DATABASE_URL", raising=False)
    monkeypatch.setenv("URBASIG_VAR_DIR", str(var))
    monkeypatch.setenv("URBASIG_PG_PORT", str(port))
    try:
        for args in (["db", "start"], ["db", "upgrade"]):
            done = CliRunner().invoke(cli, args)
            assert done.exit_code == 0, done.output
        secret = var / "pg.app-password"
        assert secret.stat().st_mode & 0o777 == 0o600
        app = create_app(settings)
        assert app.extensions["urbasig.pool"].conninfo.startswith(f"postgresql://{APP_ROLE}:")
        assert app.test_client().get("/health").json["database"] == "joignable"
        with app.extensions["urbasig.pool"].connection() as c:
            assert c.execute("SELECT current_user").fetchone()[0] == APP_ROLE
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                c.execute("TRUNCATE audit_log")
        app.extensions["urbasig.pool"].close()
    finally:
        embedded_cluster(settings).destroy()
        shutil.rmtree(var, ignore_errors=True)


def _borrowed_role_check(url: str, db_url: str) -> None:
    app = create_app(app_settings(db_url, pool_min=1, pool_max=1).with_(app_database_url=url))
    pool = app.extensions["urbasig.pool"]
    try:
        connection = borrow(pool)
        pool.putconn(connection)
    finally:
        pool.close()


def test_a_server_given_a_powerful_role_refuses_at_its_first_connection(db_url, conn):
    from gis.errors import ConfigError

    with pytest.raises(ConfigError, match="superutilisateur"):
        _borrowed_role_check(db_url, db_url)  # the tests' owner is the cluster's superuser
    owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_log'").fetchone()[0]
    conn.execute("DROP ROLE IF EXISTS urbasig_test_member")
    conn.execute("CREATE ROLE urbasig_test_member LOGIN PASSWORD 'membre' NOINHERIT")
    conn.execute(f'GRANT "{owner}" TO urbasig_test_member')
    conn.commit()
    try:
        member_url = app_url(db_url).replace(f"{APP_ROLE}:", "urbasig_test_member:").split("@")
        member_url = member_url[0].rsplit(":", 1)[0] + ":membre@" + member_url[1]
        with pytest.raises(ConfigError, match="membre de leur propriétaire"):
            _borrowed_role_check(member_url, db_url)
    finally:
        conn.execute("DROP ROLE urbasig_test_member")
        conn.commit()
    _borrowed_role_check(app_url(db_url), db_url)  # the server's own role passes


def test_the_app_writes_only_open_partner_import_rows(app_conn, conn):
    """Row security on imports (migration 0027): the server records and closes its partners' uploads only."""
    agency = conn.execute("INSERT INTO imports (layer, source_path) VALUES ('parcels', 'agence.gpkg') RETURNING id"
                          ).fetchone()[0]
    conn.commit()
    assert app_conn.execute("SELECT count(*) FROM imports WHERE id = %s", (agency,)).fetchone()[0] == 1  # it reads
    changed = app_conn.execute("UPDATE imports SET feature_count = 0 WHERE id = %s", (agency,)).rowcount
    assert changed == 0  # the agency's history: not a row it may change
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app_conn.execute("INSERT INTO imports (layer, source_path) VALUES ('zones', 'faux.gpkg')")
    app_conn.rollback()
    mine = app_conn.execute("INSERT INTO imports (layer, source_path) VALUES ('partenaire-essai', 'p.gpkg') "
                            "RETURNING id").fetchone()[0]
    assert app_conn.execute("UPDATE imports SET feature_count = 3, finished_at = now() WHERE id = %s",
                            (mine,)).rowcount == 1
    assert app_conn.execute("UPDATE imports SET feature_count = 4 WHERE id = %s", (mine,)).rowcount == 0  # closed
    app_conn.rollback()
