"""Connections: the database URL from settings, the embedded cluster, one pool per process, request connections.

Driver errors that mean "the database is not there" (connection refused or lost, statement cancelled) are
translated here, where they enter, into DatabaseUnavailable / DatabaseTimeout: the driver's own text goes
to the log through the exception's cause, never into an answer.

Time and outages: every borrowed connection gets the request class's `statement_timeout`; a request's `Deadline`
(set by the HTTP layer) is checked before each statement, and the statement running when it passes is cancelled.
The pool has a circuit breaker: after a failed connection, borrowing fails at once for a moment instead of every
request waiting for a server that is not there; the pool's own reconnection brings the service back.
"""

from __future__ import annotations

import contextvars
import ctypes
import logging
import select
import threading
import time
import weakref
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from gis.errors import ConfigError, DatabaseTimeout, DatabaseUnavailable, RequestTimeout, UrbasigError
from layers.cluster import Cluster

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

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
    return _initialized_cluster(settings).url(DBNAME)


def _initialized_cluster(settings: Settings) -> Cluster:
    """The embedded cluster, which must exist already (the server and the CLI never create it implicitly)."""
    cluster = embedded_cluster(settings)
    if not cluster.initialized:
        raise DatabaseUnavailable("la base intégrée n'existe pas encore : lancez `make run` ou `urbasig db start`")
    return cluster


def app_database_url(settings: Settings) -> str:
    """The URL the web server connects with: role urbasig_app, never the owner (see layers/roles.py)."""
    from layers.roles import app_url

    if settings.app_database_url:
        return settings.app_database_url
    if settings.database_url:
        raise ConfigError("URBASIG_APP_DATABASE_URL manque : le serveur web ne se connecte pas avec le compte "
                          "propriétaire (URBASIG_DATABASE_URL) ; donnez l'URL du rôle urbasig_app "
                          "(voir README, « Moindre privilège »)")
    cluster = _initialized_cluster(settings)
    return app_url(cluster.url(DBNAME), cluster.app_password())


def set_embedded_app_password(settings: Settings) -> bool:
    """Give the embedded cluster's urbasig_app role the password kept in var/ (False before the migration)."""
    from layers.roles import set_app_password

    cluster = embedded_cluster(settings)
    with connect(cluster.url("postgres"), autocommit=True) as conn:
        return set_app_password(conn, cluster.app_password())


def start_embedded(settings: Settings, app_password: bool = True) -> str:
    """Start the embedded cluster if needed, create the database, set the server role's password (unless
    `app_password` is False: a command that only reads needs no web role, and ALTER ROLE costs a connection and a
    password hash), return its URL."""
    cluster = embedded_cluster(settings)
    cluster.start()
    ensure_database(cluster.url("postgres"), DBNAME)
    if app_password:
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
            if conn.info.server_version >= 150000:
                # A file copy, not PostgreSQL 15's default WAL_LOG (every page through shared buffers and the WAL,
                # then flushed by the checkpoint of the next DROP DATABASE): a small template (the tests' ~17 MB
                # migrated database, copied for each test) is copied and dropped in ~40 % less time and CPU.
                query = sql.SQL("{} STRATEGY FILE_COPY").format(query)
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


@contextmanager
def outage_as_ours() -> Iterator[None]:
    """Turn a driver error meaning the database cannot answer, raised inside, into DatabaseUnavailable (for a
    loop outside layers/ that waits an outage out: `urbasig mail-deliver --loop`)."""
    try:
        yield
    except psycopg.OperationalError as exc:
        raise _translated(exc) from exc


def _raise_in(thread_id: int, exc_type: type[BaseException] | None) -> None:
    """Have `exc_type` raised in a thread at its next bytecode (None withdraws one not yet raised)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                               ctypes.py_object(exc_type) if exc_type else None)


class Deadline:
    """A request's time budget as the database layer sees it.

    Checked before each statement (a safe point). When it passes, the watchdog calls `expire`: the request's thread
    is interrupted (RequestTimeout raised asynchronously) only inside an `interruptible()` region of pure Python
    work and outside the driver; inside the driver, the statement running (`conn`) is cancelled; anywhere else the
    deadline is only marked expired and the next statement, borrow or region raises. Every change of where the
    thread is, and the watchdog's decision, happen under `_lock`, so the decision never acts on a stale state.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.thread_id = threading.get_ident()
        self.conn: psycopg.Connection | None = None
        self.in_database = 0
        self.interruptible = 0
        self.expired = False
        self.cancelled = False  # a cancel was sent on `conn`: it may still hit a later statement
        self._raised = False  # an exception was raised in the thread, maybe not delivered yet
        self._done = False
        self._graced = False  # given a grace (`grace`): the watchdog leaves it alone
        self._lock = threading.Lock()

    def remaining_s(self) -> float:
        """Seconds left (negative once passed)."""
        return self.at - time.monotonic()

    def check(self) -> None:
        """Raise RequestTimeout once the budget is spent."""
        if self.expired or time.monotonic() >= self.at:
            self.expired = True
            raise RequestTimeout

    def _withdraw(self) -> None:
        """Withdraw an exception raised by the watchdog and not delivered yet (under `_lock`)."""
        if self._raised:
            self._raised = False
            _raise_in(self.thread_id, None)

    def enter_database(self, check: bool = True) -> None:
        """Mark the thread inside the driver or the pool (never interrupted there); `check`: raise if spent."""
        with self._lock:
            self._withdraw()
            if check and not self._done:
                self.check()
            self.in_database += 1

    def leave_database(self) -> None:
        """End a block marked by `enter_database`."""
        with self._lock:
            self.in_database -= 1

    def enter_interruptible(self) -> None:
        """Mark the start of pure Python work that the watchdog may interrupt (raise if already spent)."""
        with self._lock:
            self.check()
            self.interruptible += 1

    def leave_interruptible(self) -> None:
        """End an interruptible block (and withdraw an exception not delivered yet)."""
        with self._lock:
            self.interruptible -= 1
            self._withdraw()

    def finish(self) -> None:
        """The request is over: the watchdog leaves this thread alone from now on."""
        with self._lock:
            self._done = True
            self._withdraw()

    def grace(self, seconds: float) -> bool:
        """Once the budget is spent (or has less than `seconds` left), end it `seconds` from now instead.

        The watchdog watches the original end only: these seconds are checked before each statement, each one
        also bounded by the connection's statement_timeout. False (nothing changed) with more time left.
        """
        with self._lock:
            if not self.expired and self.remaining_s() >= seconds:
                return False
            self._withdraw()
            self.at, self.expired, self._graced = time.monotonic() + seconds, False, True
            return True

    def spend(self) -> None:
        """Mark the budget spent (the next statement, borrow or region raises)."""
        with self._lock:
            self.expired = True

    def expire(self) -> psycopg.Connection | None:
        """The watchdog's decision when the budget ends: interrupt, or the connection whose statement to cancel."""
        with self._lock:
            if self._done or self._graced:  # finished, or given a grace meanwhile (the watchdog stops it once)
                return None
            self.expired = True
            if self.interruptible and not self.in_database:
                self._raised = True
                _raise_in(self.thread_id, RequestTimeout)
                return None
            if self.in_database and self.conn is not None:
                self.cancelled = True
                return self.conn
            return None  # the next statement, borrow or interruptible region raises


# The deadline of the request being handled in this thread (None outside requests: CLI, jobs, tests).
current_deadline: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("urbasig_deadline", default=None)


@contextmanager
def interruptible() -> Iterator[None]:
    """Mark a block of pure Python work (geometry, rules, PDF) that the request's budget may interrupt.

    Only there does the watchdog raise RequestTimeout in the request's thread: elsewhere (the driver, the pool,
    logging's locks) an exception at an arbitrary bytecode could leave a lock held or a transaction half-entered.
    Database calls inside the block suspend it. Leaving the block after the budget ended raises RequestTimeout.
    """
    deadline = current_deadline.get()
    if deadline is None:
        yield
        return
    deadline.enter_interruptible()
    try:
        yield
    finally:
        deadline.leave_interruptible()
    deadline.check()


@contextmanager
def _in_database(check: bool = True) -> Iterator[None]:
    deadline = current_deadline.get()
    if deadline is None:
        yield
        return
    deadline.enter_database(check)
    try:
        yield
    finally:
        deadline.leave_database()


class GuardedTransaction(psycopg.Transaction):
    """A transaction block whose BEGIN/SAVEPOINT and COMMIT/ROLLBACK run as database work (never interrupted)."""

    def __enter__(self):  # noqa: D105
        with _in_database():
            return super().__enter__()

    def __exit__(self, exc_type, exc_val, exc_tb):  # noqa: D105
        with _in_database(check=False):
            return super().__exit__(exc_type, exc_val, exc_tb)


class GuardedConnection(psycopg.Connection):
    """A connection whose `transaction()` blocks are GuardedTransaction (without pipeline mode, unused here).

    A read replica's connection, during a request, knows how to reach the request's connection to the primary
    (`primary`, see `primary()`), and keeps the failure that should send the request to another server (`failure`).
    """

    primary: Callable[[], psycopg.Connection] | None = None
    failure: BaseException | None = None

    @contextmanager
    def transaction(self, savepoint_name: str | None = None,  # type: ignore[override]
                    force_rollback: bool = False) -> Iterator[psycopg.Transaction]:
        """Start a transaction block (a savepoint inside one), as psycopg's own."""
        with GuardedTransaction(self, savepoint_name, force_rollback) as tx:
            yield tx


@contextmanager
def past_deadline(seconds: float = 2.0) -> Iterator[None]:
    """Once the request's budget is spent (or nearly), let a few statements record why: an audit line, a commit.

    See `Deadline.grace`; after the block the budget is spent again, so the request goes no further. With more
    than `seconds` left, nothing changes.
    """
    deadline = current_deadline.get()
    if deadline is None or not deadline.grace(seconds):
        yield
        return
    try:
        yield
    finally:
        deadline.spend()


WRITE_ON_REPLICA = "la base de données a refusé une écriture (réplique en lecture seule) : réessayez"


class TranslatingCursor(psycopg.Cursor):
    """A cursor whose connection failures and timeouts become our errors where they enter.

    A write refused by a read-only server (a replica: a bug of the routing, api/db.py) is DatabaseUnavailable too,
    kept on the connection as its `failure` with the lost connections and the conflicts with recovery: the request
    is then run again on the primary.
    """

    def execute(self, query, params=None, *, prepare=None, binary=None):  # noqa: D102 - psycopg's own signature
        try:
            with _in_database():
                return super().execute(query, params, prepare=prepare, binary=binary)
        except (psycopg.OperationalError, psycopg.errors.ReadOnlySqlTransaction) as exc:
            raise self._failed(exc) from exc

    def executemany(self, query, params_seq, *, returning=False):  # noqa: D102 - psycopg's own signature
        try:
            with _in_database():
                return super().executemany(query, params_seq, returning=returning)
        except (psycopg.OperationalError, psycopg.errors.ReadOnlySqlTransaction) as exc:
            raise self._failed(exc) from exc

    def _failed(self, exc: psycopg.Error) -> DatabaseUnavailable:
        if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
            log.error("écriture envoyée à un serveur en lecture seule : %s", exc)
            error = DatabaseUnavailable(WRITE_ON_REPLICA)
        else:
            error = _translated(exc)
        if not isinstance(error, DatabaseTimeout) and isinstance(self.connection, GuardedConnection):
            self.connection.failure = exc
        return error


def primary(conn: psycopg.Connection) -> psycopg.Connection:
    """The connection for a write, or a read that must be current (credentials), while a request reads `conn`:
    `conn` itself, or the request's connection to the primary when `conn` is a read replica's (borrowed on first
    use). Every write a public read may do (tile cache, counters, rate limits) goes through it."""
    writer = getattr(conn, "primary", None)
    return conn if writer is None else writer()


def connect(url: str, autocommit: bool = False) -> psycopg.Connection:
    """Open one connection; an unreachable server becomes DatabaseUnavailable."""
    try:
        return GuardedConnection.connect(url, autocommit=autocommit, connect_timeout=10, application_name="urbasig",
                               cursor_factory=TranslatingCursor)
    except psycopg.OperationalError as exc:
        raise _translated(exc) from exc


class Breaker:
    """After a failed connection, refuse at once for `open_s` seconds, then let requests try again (briefly)."""

    def __init__(self, open_s: float) -> None:
        self.open_s = open_s
        self._open_until = 0.0
        self._suspect = False  # a failure was seen and no success since: waits are short
        self._lock = threading.Lock()

    @property
    def open(self) -> bool:
        """Whether requests are refused at once."""
        return time.monotonic() < self._open_until

    @property
    def suspect(self) -> bool:
        """Whether the database failed and has not answered since."""
        return self._suspect

    def suspect_now(self) -> None:
        """Record a broken connection: requests wait briefly until one answers, but are not refused yet."""
        self._suspect = True

    def trip(self) -> None:
        """Record a failed connection."""
        with self._lock:
            self._suspect = True
            self._open_until = time.monotonic() + self.open_s

    def reset(self) -> None:
        """Record a connection that answered."""
        if self._suspect:
            with self._lock:
                self._suspect, self._open_until = False, 0.0


class Pool(ConnectionPool):
    """The process's connection pool, with its circuit breaker and how long a request waits during an outage."""

    def __init__(self, *args: object, breaker_open_s: float = 1.0, outage_wait_s: float = 1.0,
                 least_privilege: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.breaker = Breaker(breaker_open_s)
        self.outage_wait_s = outage_wait_s
        # the web server's pool: its role is checked once, at the first connection borrowed
        self.role_unchecked = least_privilege


# The web server's role may own nothing: not a superuser, neither the owner of a table nor a member of it.
_ROLE_POWERS = """
SELECT r.rolsuper, EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
                           AND c.relkind IN ('r', 'p') AND pg_has_role(current_user, c.relowner, 'MEMBER'))
FROM pg_roles r WHERE r.rolname = current_user
"""


def check_least_privilege(conn: psycopg.Connection) -> None:
    """Refuse a connection whose role is a superuser, owns the tables or is a member of their owner."""
    row = conn.execute(_ROLE_POWERS).fetchone()
    user = conn.info.user
    if row is None or row[0]:
        raise ConfigError(f"URBASIG_APP_DATABASE_URL se connecte avec le rôle « {user} », superutilisateur : le "
                          "serveur web doit utiliser le rôle sans privilège urbasig_app (voir README, "
                          "« Moindre privilège »)")
    if row[1]:
        raise ConfigError(f"URBASIG_APP_DATABASE_URL se connecte avec le rôle « {user} », propriétaire des tables "
                          "ou membre de leur propriétaire : le serveur web doit utiliser le rôle urbasig_app "
                          "(voir README, « Moindre privilège »)")


def make_pool(url: str, min_size: int, max_size: int, *, connect_timeout_s: int = 2, reconnect_timeout_s: float = 0.5,
              breaker_open_s: float = 1.0, outage_wait_s: float = 1.0, least_privilege: bool = False) -> Pool:
    """A connection pool, opened lazily on first use so that nothing connects at import or app creation.

    With `least_privilege` (the web server's pool), the first connection borrowed checks its role
    (`check_least_privilege`). A short `connect_timeout` and `reconnect_timeout`: when the server is down, the
    pool soon gives up reconnecting in the background and connects again on demand, at the next request that
    needs it, instead of backing off for minutes (1, 2, 4… s) while the server is already back.
    """
    # autocommit: a read is one round trip, with no BEGIN/ROLLBACK around it; writing requests open one
    # transaction each (RequestConnection)
    return Pool(url, min_size=min_size, max_size=max_size, open=False, name="urbasig", connection_class=GuardedConnection,
                reconnect_timeout=reconnect_timeout_s, breaker_open_s=breaker_open_s, outage_wait_s=outage_wait_s,
                least_privilege=least_privilege,
                kwargs={"application_name": "urbasig", "connect_timeout": connect_timeout_s, "autocommit": True,
                        "cursor_factory": TranslatingCursor})


# The statement_timeout (ms) each pooled connection has, so that it is set only when a request of another class
# borrows it (a round trip saved on most requests).
_statement_timeouts: weakref.WeakKeyDictionary[psycopg.Connection, int] = weakref.WeakKeyDictionary()


def _set_statement_timeout(conn: psycopg.Connection, seconds: float | None) -> None:
    """Give the borrowed connection its statement_timeout (0 = none), at session level, outside any transaction."""
    milliseconds = 0 if seconds is None else max(1, int(seconds * 1000))
    if _statement_timeouts.get(conn) == milliseconds:
        return
    with _in_database():
        conn.execute("SELECT set_config('statement_timeout', %s, false)", (str(milliseconds),))
    _statement_timeouts[conn] = milliseconds


def _closed_by_server(conn: psycopg.Connection) -> bool:
    """Whether an idle connection has something to read: the server ended it (restart, shutdown), without a query."""
    try:
        return bool(select.select([conn.fileno()], [], [], 0)[0])
    except (OSError, ValueError, psycopg.Error):
        return True


def _take(pool: ConnectionPool, timeout: float, statement_timeout_s: float | None) -> psycopg.Connection:
    conn = pool.getconn(timeout=timeout)
    try:
        if _closed_by_server(conn):
            conn.close()
            raise DatabaseUnavailable(UNREACHABLE)
        _set_statement_timeout(conn, statement_timeout_s)
    except BaseException:
        pool.putconn(conn)  # a broken one is discarded and replaced by the pool
        raise
    return conn


def _database_answers(pool: ConnectionPool) -> bool:
    """Whether the server accepts a new connection now (refused at once when it is down)."""
    try:
        psycopg.connect(pool.conninfo, **pool.kwargs).close()
    except psycopg.OperationalError as exc:
        log.info("base toujours injoignable : %s", exc)
        return False
    return True


def _take_or_probe(pool: ConnectionPool, breaker: Breaker, timeout: float, outage_wait_s: float,
                   statement_timeout_s: float | None) -> psycopg.Connection:
    """Take a connection; after a failure, ask the server directly instead of waiting for the pool.

    A broken connection is either a server restarted (its other idle connections are broken too: the pool
    checks them and reconnects, and the request tries once more) or a server down (refused at once).
    """
    if breaker.suspect:
        if not _database_answers(pool):
            raise DatabaseUnavailable(UNREACHABLE)
        pool.check()
        return _take(pool, min(timeout, outage_wait_s), statement_timeout_s)
    try:
        return _take(pool, timeout, statement_timeout_s)
    except DatabaseUnavailable as first:
        if isinstance(first, DatabaseTimeout):
            raise
        log.warning("connexion du pool inutilisable : %s", first)
        breaker.suspect_now()
        return _take_or_probe(pool, breaker, timeout, outage_wait_s, statement_timeout_s)


def borrow(pool: ConnectionPool, timeout: float = 10.0, statement_timeout_s: float | None = None) -> psycopg.Connection:
    """Take a connection from the pool (opened on first use), with its statement_timeout set.

    Fails fast when the database is down: DatabaseUnavailable at once while the breaker is open; after it, one
    direct connection attempt says whether the server is back (the pool may be backing off between attempts).
    """
    breaker = pool.breaker if isinstance(pool, Pool) else Breaker(0.0)
    outage_wait_s = pool.outage_wait_s if isinstance(pool, Pool) else timeout
    if breaker.open:
        raise DatabaseUnavailable(UNREACHABLE)
    try:
        with _in_database():
            if pool.closed:
                pool.open(wait=False)
            conn = _take_or_probe(pool, breaker, timeout, outage_wait_s, statement_timeout_s)
    except psycopg.OperationalError as exc:
        breaker.trip()
        raise _translated(exc) from exc
    except PoolTimeout as exc:
        if breaker.suspect:
            breaker.trip()  # still no connection since the last failure: refuse at once for a moment
        raise DatabaseUnavailable(UNREACHABLE) from exc
    except DatabaseUnavailable as exc:
        if not isinstance(exc, DatabaseTimeout):
            breaker.trip()
        raise
    breaker.reset()
    if isinstance(pool, Pool) and pool.role_unchecked:
        try:
            with _in_database():
                check_least_privilege(conn)
        except BaseException:
            pool.putconn(conn)
            raise
        pool.role_unchecked = False
    return conn


def release(pool: ConnectionPool, conn: psycopg.Connection) -> None:
    """Give a connection back; a broken one trips the breaker (the pool discards and replaces it)."""
    if conn.broken and isinstance(pool, Pool):
        pool.breaker.trip()
    pool.putconn(conn)


def pool_stats(pool: ConnectionPool) -> dict[str, object]:
    """The pool's counters (psycopg_pool's get_stats) and the breaker's state, for /health?details."""
    stats: dict[str, object] = dict(pool.get_stats())
    if isinstance(pool, Pool):
        stats["breaker_open"] = pool.breaker.open
        stats["database_suspect"] = pool.breaker.suspect
    return stats


@contextmanager
def pooled(pool: ConnectionPool, timeout: float = 10.0,
           statement_timeout_s: float | None = None) -> Iterator[psycopg.Connection]:
    """Borrow a connection for a block and give it back (outside requests; requests use RequestConnection)."""
    conn = borrow(pool, timeout, statement_timeout_s)
    try:
        yield conn
    finally:
        release(pool, conn)


class RequestConnection:
    """One HTTP request's connection from the pool: autocommit for reads, one transaction for a writing request.

    A writing request's transaction is opened at once, so that the transaction blocks of layers functions
    become savepoints inside it and an explicit commit() inside it is refused by psycopg. `commit` ends it
    when the answer is a success; `close` rolls back whatever was not committed and gives the connection back.
    """

    def __init__(self, pool: ConnectionPool, write: bool, timeout: float = 10.0,
                 statement_timeout_s: float | None = None) -> None:
        self.pool = pool
        self.deadline = current_deadline.get()
        if self.deadline is not None:  # never wait for a connection past the request's budget
            timeout = max(0.01, min(timeout, self.deadline.remaining_s()))
        self.conn = borrow(pool, timeout, statement_timeout_s)
        self._tx: psycopg.Transaction | None = None
        if write:
            try:
                with _in_database():
                    self._tx = self.conn.transaction()
                    self._tx.__enter__()  # BEGIN; left by commit() or close()
            except BaseException:
                release(self.pool, self.conn)
                raise
        if self.deadline is not None:
            self.deadline.conn = self.conn  # the watchdog cancels the statement running when the budget ends

    def commit(self) -> None:
        """Commit the request's transaction (nothing to do for a read-only request)."""
        tx, self._tx = self._tx, None
        if tx is not None:
            if self.conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
                self._tx = tx  # a statement failed and was swallowed somewhere: commit would silently roll back
                raise UrbasigError("la transaction de la requête a échoué : rien n'a été enregistré")
            try:
                with _in_database():
                    tx.__exit__(None, None, None)
            except psycopg.OperationalError as exc:
                raise _translated(exc) from exc

    def checkpoint(self) -> None:
        """Commit what the request wrote so far and go on in a new transaction (a refusal's counters and audit)."""
        if self._tx is not None:
            self.commit()
            self._tx = self.conn.transaction()
            self._tx.__enter__()

    def close(self) -> None:
        """Roll back what was not committed and return the connection to the pool.

        After a cancel sent by the watchdog, the connection is closed instead (the pool replaces it): the cancel
        may arrive after its statement ended and would otherwise hit the next request's statement.
        """
        tx, self._tx = self._tx, None
        if self.deadline is not None:
            self.deadline.conn = None
            self.deadline.enter_database(check=False)  # from here on, never interrupted: the connection must go back
        try:
            if self.deadline is not None and self.deadline.cancelled:
                self.conn.close()  # the server rolls back what was not committed
            elif tx is not None and not self.conn.closed:
                tx.__exit__(psycopg.Rollback, psycopg.Rollback(tx), None)
        except psycopg.Error as exc:  # a broken connection: the pool discards it
            log.warning("rollback impossible, connexion perdue : %s", exc)
        finally:
            release(self.pool, self.conn)


def health(conn: psycopg.Connection) -> dict[str, str]:
    """PostgreSQL and PostGIS versions, proving the database answers."""
    row = conn.execute("SELECT current_setting('server_version'), postgis_lib_version(), "
                       "postgis_geos_version(), postgis_proj_version()").fetchone()
    return {"postgresql": row[0], "postgis": row[1], "geos": row[2], "proj": row[3]}


def cancel_quietly(conn: psycopg.Connection, timeout_s: float = 2.0) -> str | None:
    """Ask the server to cancel the statement running on `conn`; the driver's complaint (None if none) when it cannot
    (the connection is gone: nothing left to cancel)."""
    try:
        conn.cancel_safe(timeout=timeout_s)
    except psycopg.Error as exc:
        return str(exc)
    return None


def rollback_quietly(conn: psycopg.Connection) -> str | None:
    """Roll back `conn`; the driver's complaint when the connection is broken (the server rolled back already)."""
    try:
        conn.rollback()
    except psycopg.Error as exc:
        return str(exc)
    return None
