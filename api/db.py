"""Request-scoped database access: one pooled connection per request, taken on first use (as Flask's tutorial
`get_db` / `close_db`).

GET, HEAD and OPTIONS requests read in autocommit (a read is one round trip, no BEGIN/COMMIT around it); any
other method runs in one transaction, committed when the answer is a success and rolled back otherwise, so a
request that fails half-way has written nothing. The commit happens just before the answer leaves (so a
failed commit is still an error answer, never a 200 for something not stored); the teardown rolls back what
is left and gives the connection back to the pool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, Response, current_app, g, request

from layers.db import RequestConnection

if TYPE_CHECKING:
    import psycopg

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_db() -> psycopg.Connection:
    """The request's connection, borrowed from the pool the first time a view asks for it."""
    if "db" not in g:
        from api.budget import statement_timeout_s

        g.db = RequestConnection(current_app.extensions["urbasig.pool"], write=request.method not in READ_ONLY_METHODS,
                                 timeout=current_app.config["URBASIG"].pool_timeout_s,
                                 statement_timeout_s=statement_timeout_s())
    return g.db.conn


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
    """Roll back whatever was not committed and return the connection to the pool."""
    db = g.pop("db", None)
    if db is not None:
        db.close()


def init_app(app: Flask) -> None:
    """Register the commit and the teardown."""
    app.after_request(commit_db)
    app.teardown_appcontext(close_db)
