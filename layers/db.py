"""Connections: the database URL from settings, the embedded cluster, one pool per process."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from gis.errors import DatabaseUnavailable
from layers.cluster import Cluster

if TYPE_CHECKING:
    from collections.abc import Iterator

    from settings import Settings

DBNAME = "urbasig"


def embedded_cluster(settings: Settings) -> Cluster:
    """The cluster under var/ described by the settings."""
    return Cluster(root=settings.var_dir / "pg", port=settings.pg_port, bindir=settings.pg_bindir,
                   system_user=settings.pg_system_user)


def database_url(settings: Settings) -> str:
    """The URL of the application database: URBASIG_DATABASE_URL, or the embedded cluster's."""
    if settings.database_url:
        return settings.database_url
    cluster = embedded_cluster(settings)
    if not cluster.initialized:
        raise DatabaseUnavailable("la base intégrée n'existe pas encore : lancez `make run` ou `urbasig db start`")
    return cluster.url(DBNAME)


def start_embedded(settings: Settings) -> str:
    """Start the embedded cluster if needed, create the database, return its URL."""
    cluster = embedded_cluster(settings)
    cluster.start()
    ensure_database(cluster.url("postgres"), DBNAME)
    return cluster.url(DBNAME)


def ensure_database(admin_url: str, dbname: str, template: str | None = None) -> None:
    """Create database `dbname` (optionally from a template) unless it exists."""
    with connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if exists:
            return
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname))
        if template:
            query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(dbname), sql.Identifier(template))
        conn.execute(query)


def drop_database(admin_url: str, dbname: str) -> None:
    """Drop a database, closing its connections first."""
    with connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


def with_dbname(url: str, dbname: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


def connect(url: str, autocommit: bool = False) -> psycopg.Connection:
    """Open one connection; an unreachable server becomes DatabaseUnavailable."""
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=10, application_name="urbasig")
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable("base de données injoignable", detail=str(exc).splitlines()[0]) from exc


def make_pool(url: str, min_size: int, max_size: int) -> ConnectionPool:
    """A connection pool, opened lazily on first use so that nothing connects at import or app creation."""
    # autocommit: a read is one round trip, with no BEGIN/ROLLBACK around it; writers open transactions
    return ConnectionPool(url, min_size=min_size, max_size=max_size, open=False, name="urbasig",
                          kwargs={"application_name": "urbasig", "connect_timeout": 10, "autocommit": True})


@contextmanager
def pooled(pool: ConnectionPool, timeout: float = 10.0) -> Iterator[psycopg.Connection]:
    """Borrow a connection; a pool that cannot connect becomes DatabaseUnavailable."""
    try:
        if pool.closed:
            pool.open(wait=False)
        with pool.connection(timeout=timeout) as conn:
            yield conn
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable("base de données injoignable", detail=str(exc).splitlines()[0]) from exc
    except Exception as exc:  # PoolTimeout carries no psycopg class in older pools
        if type(exc).__name__ == "PoolTimeout":
            raise DatabaseUnavailable("base de données injoignable (délai dépassé)") from exc
        raise


def health(conn: psycopg.Connection) -> dict[str, str]:
    """PostgreSQL and PostGIS versions, proving the database answers."""
    row = conn.execute("SELECT current_setting('server_version'), postgis_lib_version(), "
                       "postgis_geos_version(), postgis_proj_version()").fetchone()
    return {"postgresql": row[0], "postgis": row[1], "geos": row[2], "proj": row[3]}
