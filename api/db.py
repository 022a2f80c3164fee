"""Request-scoped database access: one pooled connection per request, taken on first use (as Flask's tutorial
`get_db` / `close_db`).

GET, HEAD and OPTIONS requests read in autocommit (a read is one round trip, no BEGIN/COMMIT around it); any
other method runs in one transaction, committed when the answer is a success and rolled back otherwise, so a
request that fails half-way has written nothing. The commit happens just before the answer leaves (so a
failed commit is still an error answer, never a 200 for something not stored); the teardown rolls back what
is left and gives the connection back to the pool.

Read replicas (URBASIG_DATABASE_READ_URL, README « Passage à l'échelle »): the public reads (REPLICA_ENDPOINTS,
GET) take their connection from a replica the monitor finds up and close enough (layers/replicas.py), in turn,
falling back to another replica, then the primary. Everything else reads and writes on the primary: writes, staff
spaces, the official chain, jobs, verification. A client that wrote (a successful POST, PUT, PATCH or DELETE) gets
a signed cookie, and its public reads go to the primary until it ends (read your writes). A write that a public
read does (tile cache, counters, rate limits) and the credentials it checks go to the primary through
`layers.db.primary(conn)`. A replica that fails during a request (stopped, a conflict with its recovery) is marked
down and the request is run again on the primary: no request is lost to a replica.
"""

from __future__ import annotations

import logging
import threading
from functools import wraps
from typing import TYPE_CHECKING

from flask import Flask, Response, current_app, g, request
from itsdangerous import BadSignature, TimestampSigner

from gis.errors import DatabaseUnavailable
from layers.db import RequestConnection

if TYPE_CHECKING:
    from collections.abc import Callable

    import psycopg
    from psycopg_pool import ConnectionPool

    from layers.replicas import Replica

log = logging.getLogger(__name__)
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The public reads a replica may answer: the map, its search and panel, indicative notes, the OGC collections,
# items and tiles. Not the jobs (a client polls the job it just created), nor the verification of a note.
REPLICA_ENDPOINTS = frozenset({
    "web.home", "search.suggestions", "search.page", "panel.land_panel", "panel.land_envelope", "notes.indicative",
    "ogc.collections", "ogc.collection", "ogc.queryables", "ogc.items", "ogc.item", "ogc.collection_tilesets",
    "ogc.collection_tileset", "ogc.collection_tilejson", "ogc.collection_tile",
})
WROTE_COOKIE = "urbasig_ecrit"  # signed, with its time: this client wrote, its reads go to the primary for a while


def _open(pool: ConnectionPool, write: bool) -> RequestConnection:
    from api.budget import statement_timeout_s

    return RequestConnection(pool, write=write, timeout=current_app.config["URBASIG"].pool_timeout_s,
                             statement_timeout_s=statement_timeout_s())


def get_db() -> psycopg.Connection:
    """The request's connection, borrowed the first time a view asks for it: a replica's for a public read."""
    if "db" not in g:
        replicas = current_app.extensions.get("urbasig.replicas")
        if replicas is not None and _reads_from_replica():
            for replica in replicas.usable():
                try:
                    db = _open(replica.pool, write=False)
                except DatabaseUnavailable as exc:
                    if replica.pool.breaker.suspect:  # down; a pool only busy (a timeout) is left to the next read
                        replicas.mark_down(replica, exc.message)
                    continue
                db.conn.primary, db.conn.failure = primary_db, None  # type: ignore[attr-defined]
                g.db, g.db_replica = db, replica
                return db.conn
        g.db = _open(current_app.extensions["urbasig.pool"], write=request.method not in READ_ONLY_METHODS)
    return g.db.conn


def primary_db() -> psycopg.Connection:
    """The request's connection to the primary: get_db()'s, or a second one beside a replica's."""
    if g.get("db_replica") is None and ("db" in g or not _reads_from_replica()):
        return get_db()
    if "db_primary" not in g:
        g.db_primary = _open(current_app.extensions["urbasig.pool"], write=False)
    return g.db_primary.conn


def _reads_from_replica() -> bool:
    """Whether this request's reads may go to a replica: a public read, by a client that has not just written."""
    if g.get("db_on_primary") or request.method not in READ_ONLY_METHODS or request.endpoint not in REPLICA_ENDPOINTS:
        return False
    wrote = request.cookies.get(WROTE_COOKIE)
    if not wrote:
        return True
    try:
        _signer().unsign(wrote, max_age=current_app.config["URBASIG"].read_primary_after_write_s)
    except BadSignature:  # expired or forged: a replica, as for anyone
        return True
    return False


def _signer() -> TimestampSigner:
    return TimestampSigner(current_app.config["SECRET_KEY"], salt="urbasig-read-your-writes")


def remember_writer(response: Response) -> Response:
    """After a successful write, send this client's reads to the primary for URBASIG_READ_PRIMARY_AFTER_WRITE_S."""
    if (request.method not in READ_ONLY_METHODS and response.status_code < 400
            and "urbasig.replicas" in current_app.extensions):
        settings = current_app.config["URBASIG"]
        response.set_cookie(WROTE_COOKIE, _signer().sign(b"1").decode(), max_age=int(settings.read_primary_after_write_s),
                            httponly=True, samesite="Lax", secure=settings.https)
    return response


def _replica_failed() -> Replica | None:
    """The replica this request read from, when it failed under it (lost, refused a statement): else None."""
    db, replica = g.get("db"), g.get("db_replica")
    if replica is None or db is None:
        return None
    return replica if db.conn.broken or db.conn.failure is not None else None


def _leave_replica(replica: Replica) -> None:
    """Give the failed replica's connection back, and read from the primary for the rest of the request."""
    import psycopg

    from layers.db import current_deadline

    db = g.pop("db")
    if db.conn.broken or isinstance(db.conn.failure, psycopg.OperationalError):  # a write refused: the replica is fine
        log.warning("réplique %s en échec pendant une requête : %s", replica.name, db.conn.failure)
        current_app.extensions["urbasig.replicas"].mark_down(replica, "échec pendant une requête (connexion perdue, "
                                                                      "ou conflit avec la relecture du WAL)")
    db.conn.primary = None
    db.close()
    deadline = current_deadline.get()
    if deadline is not None:
        deadline.leave_database()  # close() marks the request's end in the database; the request goes on
    g.pop("db_replica")
    g.db_on_primary = True


def on_primary_if_replica_fails(view: Callable) -> Callable:
    """Run the view again on the primary when the replica it read from failed meanwhile (its answer discarded)."""

    @wraps(view)
    def run(*args: object, **kwargs: object) -> object:
        try:
            answer = view(*args, **kwargs)
        except DatabaseUnavailable:
            replica = _replica_failed()
            if replica is None:
                raise
        else:
            replica = _replica_failed()
            if replica is None:
                return answer
        _leave_replica(replica)
        return view(*args, **kwargs)

    return run


def commit_db(response: Response) -> Response:
    """Commit a writing request's transaction when its answer is a success (2xx, 3xx)."""
    db = g.get("db")
    if db is not None and response.status_code < 400:
        db.commit()
    return response


def keep_writes() -> None:
    """Commit what this request wrote so far, before a refusal rolls back the rest (throttling counts, audit)."""
    db = g.get("db")
    if db is not None:
        db.checkpoint()


def close_db(exc: BaseException | None = None) -> None:
    """Roll back whatever was not committed and return the connections to their pools."""
    for name in ("db_primary", "db"):
        db = g.pop(name, None)
        if db is not None:
            db.conn.primary = None
            db.close()
    g.pop("db_replica", None)


def init_app(app: Flask) -> None:
    """Set up the read replicas (URBASIG_DATABASE_READ_URL), register the commit, the read-your-writes cookie and
    the teardown."""
    from layers.replicas import replica_set

    replicas = replica_set(app.config["URBASIG"], app.extensions["urbasig.pool"])
    if replicas is not None:
        app.extensions["urbasig.replicas"] = replicas
        app.before_request(route_reads)
    app.after_request(remember_writer)  # registered first, so it runs after the commit
    app.after_request(commit_db)
    app.teardown_appcontext(close_db)


_routing = threading.Lock()


def route_reads() -> None:
    """At the first request (every view is registered by then), have each public read run again on the primary
    when its replica fails under it."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.extensions.get("urbasig.reads_routed"):
        return
    with _routing:
        if not app.extensions.get("urbasig.reads_routed"):
            for endpoint in REPLICA_ENDPOINTS & app.view_functions.keys():
                app.view_functions[endpoint] = on_primary_if_replica_fails(app.view_functions[endpoint])
            app.extensions["urbasig.reads_routed"] = True
