"""Connections: the database URL from settings, the embedded cluster, one pool per process, request connections.

Driver errors that mean "the database is not there" (connection refused or lost, statement cancelled) are
translated here, where they enter, into DatabaseUnavailable / DatabaseTimeout: the driver's own text goes
to the log through the exception's cause, never into an answer.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from gis.errors import ConfigError, DatabaseTimeout, DatabaseUnavailable, UrbasigError
from layers.cluster import Cluster

if TYPE_CHECKING:
    from collections.abc import Iterator

    from settings import Settings

DBNAME = "urbasig"
log = logging.getLogger(__name__)


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


def app_database_url(settings: Settings) -> str:
    """The URL the web server connects with: role urbasig_app, never the owner (see layers/roles.py)."""
    from layers.roles import app_url

    if settings.app_database_url:
        return settings.app_database_url
    if settings.database_url:
        raise ConfigError("URBASIG_APP_DATABASE_URL manque : le serveur web ne se connecte pas avec le compte "
                          "propriétaire (URBASIG_DATABASE_URL) ; donnez l'URL du rôle urbasig_app "
                          "(voir README, « Moindre privilège »)")
    cluster = embedded_cluster(settings)
    if not cluster.initialized:
        raise DatabaseUnavailable("la base intégrée n'existe pas encore : lancez `make run` ou `urbasig db start`")
    return app_url(cluster.url(DBNAME), cluster.app_password())


def set_embedded_app_password(settings: Settings) -> bool:
    """Give the embedded cluster's urbasig_app role the password kept in var/ (False before the migration)."""
    from layers.roles import set_app_password

    cluster = embedded_cluster(settings)
    with connect(cluster.url("postgres"), autocommit=True) as conn:
        return set_app_password(conn, cluster.app_password())


def start_embedded(settings: Settings) -> str:
    """Start the embedded cluster if needed, create the database, set the server role's password, return its URL."""
    cluster = embedded_cluster(settings)
    cluster.start()
    ensure_database(cluster.url("postgres"), DBNAME)
    set_embedded_app_password(settings)
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


UNREACHABLE = "base de données injoignable : réessayez dans un moment"


def _translated(exc: psycopg.OperationalError) -> DatabaseUnavailable:
    """Our error for a driver error meaning the database cannot answer (its text stays in the cause)."""
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return DatabaseTimeout("la base de données n'a pas répondu à temps : réessayez, ou réduisez la demande")
    return DatabaseUnavailable(UNREACHABLE)


class TranslatingCursor(psycopg.Cursor):
    """A cursor whose connection failures and timeouts become our errors where they enter."""

    def execute(self, query, params=None, *, prepare=None, binary=None):  # noqa: D102 - psycopg's own signature
        try:
            return super().execute(query, params, prepare=prepare, binary=binary)
        except psycopg.OperationalError as exc:
            raise _translated(exc) from exc

    def executemany(self, query, params_seq, *, returning=False):  # noqa: D102 - psycopg's own signature
        try:
            return super().executemany(query, params_seq, returning=returning)
        except psycopg.OperationalError as exc:
            raise _translated(exc) from exc


def connect(url: str, autocommit: bool = False) -> psycopg.Connection:
    """Open one connection; an unreachable server becomes DatabaseUnavailable."""
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=10, application_name="urbasig",
                               cursor_factory=TranslatingCursor)
    except psycopg.OperationalError as exc:
        raise _translated(exc) from exc


def make_pool(url: str, min_size: int, max_size: int) -> ConnectionPool:
    """A connection pool, opened lazily on first use so that nothing connects at import or app creation."""
    # autocommit: a read is one round trip, with no BEGIN/ROLLBACK around it; writing requests open one
    # transaction each (RequestConnection)
    return ConnectionPool(url, min_size=min_size, max_size=max_size, open=False, name="urbasig",
                          kwargs={"application_name": "urbasig", "connect_timeout": 10, "autocommit": True,
                                  "cursor_factory": TranslatingCursor})


def borrow(pool: ConnectionPool, timeout: float = 10.0) -> psycopg.Connection:
    """Take a connection from the pool (opened on first use); one that cannot connect is DatabaseUnavailable."""
    try:
        if pool.closed:
            pool.open(wait=False)
        return pool.getconn(timeout=timeout)
    except psycopg.OperationalError as exc:
        raise _translated(exc) from exc
    except PoolTimeout as exc:
        raise DatabaseUnavailable(UNREACHABLE) from exc


@contextmanager
def pooled(pool: ConnectionPool, timeout: float = 10.0) -> Iterator[psycopg.Connection]:
    """Borrow a connection for a block and give it back (outside requests; requests use RequestConnection)."""
    conn = borrow(pool, timeout)
    try:
        yield conn
    finally:
        pool.putconn(conn)


class RequestConnection:
    """One HTTP request's connection from the pool: autocommit for reads, one transaction for a writing request.

    A writing request's transaction is opened at once, so that the transaction blocks of layers functions
    become savepoints inside it and an explicit commit() inside it is refused by psycopg. `commit` ends it
    when the answer is a success; `close` rolls back whatever was not committed and gives the connection back.
    """

    def __init__(self, pool: ConnectionPool, write: bool, timeout: float = 10.0) -> None:
        self.pool = pool
        self.conn = borrow(pool, timeout)
        self._tx: psycopg.Transaction | None = None
        if write:
            try:
                self._tx = self.conn.transaction()
                self._tx.__enter__()  # BEGIN; left by commit() or close()
            except BaseException:
                self.pool.putconn(self.conn)
                raise

    def commit(self) -> None:
        """Commit the request's transaction (nothing to do for a read-only request)."""
        tx, self._tx = self._tx, None
        if tx is not None:
            if self.conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
                self._tx = tx  # a statement failed and was swallowed somewhere: commit would silently roll back
                raise UrbasigError("la transaction de la requête a échoué : rien n'a été enregistré")
            try:
                tx.__exit__(None, None, None)
            except psycopg.OperationalError as exc:
                raise _translated(exc) from exc

    def close(self) -> None:
        """Roll back what was not committed and return the connection to the pool."""
        tx, self._tx = self._tx, None
        try:
            if tx is not None and not self.conn.closed:
                tx.__exit__(psycopg.Rollback, psycopg.Rollback(tx), None)
        except psycopg.Error as exc:  # a broken connection: the pool discards it
            log.warning("rollback impossible, connexion perdue : %s", exc)
        finally:
            self.pool.putconn(self.conn)


def health(conn: psycopg.Connection) -> dict[str, str]:
    """PostgreSQL and PostGIS versions, proving the database answers."""
    row = conn.execute("SELECT current_setting('server_version'), postgis_lib_version(), "
                       "postgis_geos_version(), postgis_proj_version()").fetchone()
    return {"postgresql": row[0], "postgis": row[1], "geos": row[2], "proj": row[3]}
