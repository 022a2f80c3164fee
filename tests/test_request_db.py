"""Request-scoped database access against the real app and PostGIS: one pooled connection per request, taken
only when used, autocommit for reads, one transaction for a writing request that commits on success and
writes nothing when the request fails half-way."""

from __future__ import annotations

from flask import jsonify

from api.db import get_db
from app import create_app
from gis.errors import InputError
from layers.accounts import create_account
from layers.outbox import queue_mail
from tests.helpers import app_settings, count


def _write_then(failure: Exception | None):
    """A view that writes an account, its audit line and an e-mail, then fails (or not)."""

    def view():
        conn = get_db()
        account_id, _ = create_account(conn, "amina@example.ma", "Amina Alaoui", "mot de passe solide")
        queue_mail(conn, "amina@example.ma", "Bienvenue", "Bonjour", entity="account", entity_id=str(account_id))
        if failure is not None:
            raise failure
        return jsonify({"id": account_id}), 201

    return view


def _state():
    conn = get_db()
    conn.execute("SELECT 1")
    return jsonify({"same": conn is get_db(), "transaction": conn.info.transaction_status.name})


def _deferred_violation():
    get_db().execute("INSERT INTO t_child (parent) VALUES (42)")  # checked only at COMMIT
    return jsonify({"ok": True})


def _app(db_url, pool_max: int = 2):
    app = create_app(app_settings(db_url, pool_min=1, pool_max=pool_max, pool_timeout_s=2))
    app.add_url_rule("/notes/_test/crash", "crash", _write_then(RuntimeError("en plein milieu")), methods=["POST"])
    app.add_url_rule("/notes/_test/refused", "refused", _write_then(InputError("refusé après écriture")),
                     methods=["POST"])
    app.add_url_rule("/notes/_test/ok", "ok", _write_then(None), methods=["POST"])
    app.add_url_rule("/notes/_test/state", "state", _state, methods=["GET", "POST"])
    app.add_url_rule("/notes/_test/deferred", "deferred", _deferred_violation, methods=["POST"])
    return app


def _written(conn) -> tuple[int, int, int]:
    conn.rollback()  # see what other transactions committed
    return count(conn, "accounts"), count(conn, "outbox"), count(conn, "audit_log")


def test_a_request_that_fails_half_way_writes_nothing(db_url, conn):
    client = _app(db_url).test_client()
    assert client.post("/notes/_test/crash").status_code == 500
    assert _written(conn) == (0, 0, 0)
    assert client.post("/notes/_test/refused").status_code == 400  # our error after a write: rolled back too
    assert _written(conn) == (0, 0, 0)
    assert client.post("/notes/_test/ok").status_code == 201  # the same writes, committed once the answer is a success
    assert _written(conn) == (1, 1, 1)


def test_a_failed_commit_is_an_error_answer_never_a_success(db_url, conn):
    conn.execute("CREATE TABLE t_parent (id int PRIMARY KEY); CREATE TABLE t_child (parent int REFERENCES t_parent "
                 "DEFERRABLE INITIALLY DEFERRED)")
    conn.commit()
    r = _app(db_url).test_client().post("/notes/_test/deferred")
    assert r.status_code == 500 and r.get_json()["code"] == "erreur-interne" and "t_parent" not in r.get_data(as_text=True)
    assert _written(conn) == (0, 0, 0) and count(conn, "t_child") == 0


def test_one_connection_per_request_autocommit_for_reads_a_transaction_for_writes(db_url):
    client = _app(db_url, pool_max=1).test_client()  # one connection: a request that kept it would block the next
    for _ in range(5):
        assert client.get("/notes/_test/state").get_json() == {"same": True, "transaction": "IDLE"}  # no BEGIN
        assert client.post("/notes/_test/state").get_json() == {"same": True, "transaction": "INTRANS"}
        assert client.post("/notes/_test/crash").status_code == 500  # given back after a failure too


def test_a_request_that_needs_no_database_takes_no_connection(db_url):
    app = _app(db_url)
    client = app.test_client()
    # not "/": the map page reads the data's extent (once per process, layers/tiles.py map_overview)
    for path in ("/ogc/conformance", "/ogc/openapi", "/ogc/processes", "/recherche"):
        assert client.get(path).status_code == 200
    assert app.extensions["urbasig.pool"].closed  # the pool was never even opened
