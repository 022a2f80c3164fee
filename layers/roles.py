"""Least privilege: the login role every HTTP request uses, and what it may do on each table.

The owner of the schema (the cluster's superuser for the embedded database, URBASIG_DATABASE_URL otherwise)
runs migrations and the command line. The web server connects as APP_ROLE, which owns nothing, is no member
of the owner and holds only the grants below, declared table by table. A migration that creates a table
declares its app privileges with `grants_sql({"table": "SELECT, INSERT"})` ("" = none, a deliberate choice);
tests/test_privileges.py fails for a table that no migration decided.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

APP_ROLE = "urbasig_app"
PUBLIC_ROLE = "urbasig_public"
_PRIVILEGES = {"SELECT", "INSERT", "UPDATE", "DELETE"}
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")

CREATE_ROLE_SQL = f"""
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION NOINHERIT;
    END IF;
    -- a role made by hand keeps no dangerous attribute
    ALTER ROLE {APP_ROLE} NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION NOINHERIT;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'role {APP_ROLE} not created (no CREATEROLE): create it by hand (see README)';
END $$;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{PUBLIC_ROLE}') THEN
        CREATE ROLE {PUBLIC_ROLE} NOLOGIN;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'role {PUBLIC_ROLE} not created (no CREATEROLE): create it by hand';
END $$;
"""


_GRANT = re.compile(r"\s*([A-Za-z]+)\s*(?:\(([^()]*)\))?\s*(?:,|$)")


def parse_privileges(wanted: str) -> dict[str, tuple[str, ...] | None]:
    """"SELECT, UPDATE (a, b)" → {"SELECT": None, "UPDATE": ("a", "b")}: None = the whole table."""
    parsed: dict[str, tuple[str, ...] | None] = {}
    position, text = 0, wanted.strip()
    while position < len(text):
        match = _GRANT.match(text, position)
        if not match or match.end() == position:
            raise ValueError(f"privilèges illisibles : {wanted!r}")
        name, columns = match.group(1).upper(), match.group(2)
        if name not in _PRIVILEGES:
            raise ValueError(f"privilège inattendu : {name!r} dans {wanted!r}")
        if columns is None:
            parsed[name] = None
        else:
            names = tuple(c.strip() for c in columns.split(","))
            if not names or not all(_IDENTIFIER.match(c) for c in names):
                raise ValueError(f"colonnes inattendues pour {name} : {columns!r}")
            parsed[name] = names
        position = match.end()
    return parsed


def grants_sql(privileges: dict[str, str]) -> str:
    """SQL giving APP_ROLE exactly these privileges per table ("" = none), and USAGE on every sequence.

    A privilege may name columns, "UPDATE (verified_at, verify_code_hash)": only those columns get it.
    """
    lines = []
    for table, wanted in privileges.items():
        if not _IDENTIFIER.match(table):
            raise ValueError(f"nom de table inattendu : {table!r}")
        parsed = parse_privileges(wanted)
        # revoking on the table also revokes every column privilege of it
        lines.append(f"REVOKE ALL ON TABLE public.{table} FROM {APP_ROLE};")
        whole = [name for name, columns in parsed.items() if columns is None]
        if whole:
            lines.append(f"GRANT {', '.join(whole)} ON TABLE public.{table} TO {APP_ROLE};")
        for name, columns in parsed.items():
            if columns is not None:
                lines.append(f"GRANT {name} ({', '.join(columns)}) ON TABLE public.{table} TO {APP_ROLE};")
    body = "\n        ".join(lines)
    return f"""
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        GRANT USAGE ON SCHEMA public TO {APP_ROLE};
        {body}
        GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE};
    END IF;
END $$;
"""


def ensure_roles(conn: psycopg.Connection) -> None:
    """Create the cluster-wide roles if missing (before a restore, whose grants name them)."""
    conn.execute(CREATE_ROLE_SQL)


def set_app_password(conn: psycopg.Connection, password: str) -> bool:
    """Give APP_ROLE its password (as the owner); False when the role does not exist (not migrated yet)."""
    if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone():
        return False
    # ALTER ROLE takes no bound parameter: the password goes in as a quoted literal, never logged
    conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(APP_ROLE), sql.Literal(password)))
    return True


def app_url(owner_url: str, password: str) -> str:
    """The owner's URL (same server and database) for APP_ROLE with `password`."""
    parts = urlsplit(owner_url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{APP_ROLE}:{quote(password, safe='')}@{host}"))
