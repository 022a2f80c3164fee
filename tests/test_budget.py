"""Time budgets against the real app and PostGIS: each request class's statement_timeout, and a request past
its budget answered 503 with Retry-After (a statement cancelled, Python work interrupted), the worker intact."""

from __future__ import annotations

import time

import pytest
from flask import jsonify

from api.budget import request_class
from api.db import get_db
from app import create_app
from gis.errors import ConfigError, RequestTimeout
from layers.db import Deadline, RequestConnection, current_deadline, interruptible, past_deadline
from layers.outbox import queue_mail
from settings import Settings
from tests.helpers import app_settings, count


def _show_timeout():
    return jsonify({"statement_timeout": get_db().execute("SHOW statement_timeout").fetchone()[0]})


def _sleep_in_database():
    get_db().execute("SELECT pg_sleep(10)")
    return jsonify({"slept": True})


def _python_then_database():
    time.sleep(0.8)  # within the budget (1 s)…
    get_db().execute("SELECT pg_sleep(10)")  # …then a statement that the budget's end must cancel
    return jsonify({"slept": True})


def _spin():
    n, end = 0, time.monotonic() + 5
    with interruptible():
        while time.monotonic() < end:  # pure Python far past the budget (a quadratic geometry loop, say)
            n += 1
    return jsonify({"n": n})


def _transactions():
    conn, end = get_db(), time.monotonic() + 5
    while time.monotonic() < end:  # a GET's real BEGIN/COMMIT blocks, far past the budget, outside any region
        with conn.transaction(), conn.transaction():  # BEGIN, then a savepoint
            pass
    return jsonify({"done": True})


def _pid():
    return jsonify({"pid": get_db().execute("SELECT pg_backend_pid()").fetchone()[0],
                    "status": get_db().info.transaction_status.name})


def _write_then_spin():
    queue_mail(get_db(), "amina@example.ma", "Bienvenue", "Bonjour")
    return _spin()


def _app(db_url, **budgets):
    settings = app_settings(db_url, pool_min=1, pool_max=2, pool_timeout_s=2, **budgets)
    app = create_app(settings)
    for rule, view, methods in (("/ogc/_t/timeout", _show_timeout, ["GET"]),
                                ("/ogc/processes/_t/timeout", _show_timeout, ["GET", "POST"]),
                                ("/notes/_t/timeout", _show_timeout, ["GET", "POST"]),
                                ("/ogc/_t/sleep", _sleep_in_database, ["GET"]),
                                ("/ogc/_t/python-then-sleep", _python_then_database, ["GET"]),
                                ("/notes/_t/spin", _spin, ["GET"]),
                                ("/ogc/_t/transactions", _transactions, ["GET"]),
                                ("/ogc/_t/pid", _pid, ["GET"]),
                                ("/notes/_t/write-then-spin", _write_then_spin, ["POST"])):
        app.add_url_rule(rule, rule, view, methods=methods)
    return app


def test_request_classes():
    assert request_class("/ogc/collections/parcels/items") == "reads"
    assert request_class("/ogc/collections/parcels/tiles/WebMercatorQuad/14/1/1") == "reads"
    assert request_class("/ogc/processes/permit-check/execution") == "checks"
    assert request_class("/notes/indicative") == "notes"
    assert request_class("/verify/ABC") == "notes"
    assert request_class("/signature/") == "notes"  # a batch of signatures, sign-in's scrypt, uploads
    assert request_class("/espace/demandes/nouvelle") == "notes"
    assert request_class("/") == "reads"


def test_each_request_class_gets_its_statement_timeout(db_url):
    client = _app(db_url, budget_reads_s=3, budget_checks_s=4, budget_notes_s=6).test_client()
    for _ in range(2):  # the same pooled connection, borrowed by each class in turn
        assert client.get("/ogc/_t/timeout").get_json() == {"statement_timeout": "3s"}
        assert client.get("/ogc/processes/_t/timeout").get_json() == {"statement_timeout": "4s"}
        assert client.post("/ogc/processes/_t/timeout").get_json() == {"statement_timeout": "4s"}
        assert client.get("/notes/_t/timeout").get_json() == {"statement_timeout": "6s"}
        assert client.post("/notes/_t/timeout").get_json() == {"statement_timeout": "6s"}


def test_a_statement_past_the_budget_is_cancelled_503_with_retry_after(db_url):
    client = _app(db_url, budget_reads_s=0.5).test_client()
    start = time.monotonic()
    r = client.get("/ogc/_t/sleep")
    elapsed = time.monotonic() - start
    assert r.status_code == 503 and elapsed < 1.5
    assert int(r.headers["Retry-After"]) > 0
    body = r.get_json()
    assert body["code"] == "ServiceUnavailable" and "n'a pas répondu à temps" in body["description"]
    assert "canceling statement" not in r.get_data(as_text=True)  # the driver's text stays in the log
    assert client.get("/ogc/_t/timeout").status_code == 200  # the connection went back to the pool, usable


def test_the_budget_cancels_the_statement_running_when_it_ends(db_url):
    client = _app(db_url, budget_reads_s=1.0).test_client()
    start = time.monotonic()
    r = client.get("/ogc/_t/python-then-sleep")
    elapsed = time.monotonic() - start
    # the statement alone had 1 s of statement_timeout, to 1.8 s: the request's deadline (1 s) cancelled it
    assert r.status_code == 503 and r.headers["Retry-After"] and elapsed < 1.5, elapsed


def test_python_work_past_the_budget_is_interrupted_503_and_the_worker_goes_on(db_url):
    app = _app(db_url, budget_notes_s=0.5)
    client = app.test_client()
    start = time.monotonic()
    r = client.get("/notes/_t/spin")
    elapsed = time.monotonic() - start
    assert r.status_code == 503 and elapsed < 1.5, elapsed
    assert r.get_json()["code"] == "temps-depasse" and "temps de traitement" in r.get_json()["message"]
    assert int(r.headers["Retry-After"]) > 0
    for _ in range(3):  # the same thread serves the next requests, with nothing pending in it
        assert client.get("/notes/_t/timeout").status_code == 200
    time.sleep(0.7)
    assert client.get("/notes/_t/timeout").status_code == 200  # no late exception from the watchdog
    stats = app.extensions["urbasig.pool"].get_stats()
    assert stats["pool_size"] == stats["pool_available"]  # every connection given back


def test_a_budget_spent_in_transaction_blocks_of_a_get_is_a_clean_503(db_url):
    app = _app(db_url, budget_reads_s=0.2)
    client = app.test_client()
    for _ in range(5):  # an exception raised inside psycopg's BEGIN/COMMIT would be a 500, or a connection stuck
        r = client.get("/ogc/_t/transactions")
        assert r.status_code == 503 and r.headers["Retry-After"], r.get_data(as_text=True)
        assert "temps de traitement" in r.get_json()["description"]
        after = client.get("/ogc/_t/pid")
        assert after.status_code == 200 and after.get_json()["status"] == "IDLE"  # no transaction left open
    stats = app.extensions["urbasig.pool"].get_stats()
    assert stats["pool_size"] == stats["pool_available"]


def test_python_outside_an_interruptible_region_is_never_interrupted(db_url):
    app = _app(db_url, budget_reads_s=0.3)
    finished = []

    def view():
        end = time.monotonic() + 0.8
        while time.monotonic() < end:  # not marked interruptible: the watchdog only marks the budget spent
            pass
        finished.append(True)
        get_db().execute("SELECT 1")  # the next statement stops the request
        return jsonify({})

    app.add_url_rule("/ogc/_t/plain", "plain", view)
    r = app.test_client().get("/ogc/_t/plain")
    assert r.status_code == 503 and finished == [True]


def test_an_interruptible_region_entered_after_the_budget_raises_at_once():
    deadline = Deadline(0.0)
    token = current_deadline.set(deadline)
    try:
        with pytest.raises(RequestTimeout), interruptible():
            pytest.fail("the region must not start")
    finally:
        current_deadline.reset(token)


def test_a_connection_whose_statement_was_cancelled_is_not_given_back(db_url):
    app = _app(db_url, budget_reads_s=0.5)
    cancelled = []

    def view():
        cancelled.append(get_db().execute("SELECT pg_backend_pid()").fetchone()[0])
        # no server-side statement_timeout here: it would race the watchdog (same 0.5 s) and, when it wins, the
        # statement ends with no cancel sent, so the connection is rightly reused; only the watchdog may stop it
        get_db().execute("SET statement_timeout = 0")
        get_db().execute("SELECT pg_sleep(10)")
        return jsonify({})

    app.add_url_rule("/ogc/_t/pid-then-sleep", "pid-then-sleep", view)
    client = app.test_client()
    assert client.get("/ogc/_t/pid-then-sleep").status_code == 503  # its statement cancelled
    # a cancel arriving late would hit the next request's statement: that connection was closed, never reused
    pids = {client.get("/ogc/_t/pid").get_json()["pid"] for _ in range(6)}
    assert cancelled[0] not in pids


def test_close_discards_the_connection_after_a_cancel(db_url):
    app = _app(db_url)
    pool = app.extensions["urbasig.pool"]
    deadline = Deadline(10)
    token = current_deadline.set(deadline)
    try:
        request_conn = RequestConnection(pool, write=False)
        conn = request_conn.conn
        deadline.in_database = 1  # as during a statement: the watchdog cancels it
        assert deadline.expire() is conn and deadline.cancelled
        deadline.in_database = 0
        request_conn.close()
    finally:
        current_deadline.reset(token)
    assert conn.closed
    pool.close()


def test_a_grace_after_a_spent_budget_lets_its_failure_be_recorded_and_the_watchdog_leaves_it():
    deadline = Deadline(0.01)
    time.sleep(0.02)
    token = current_deadline.set(deadline)
    try:
        with pytest.raises(RequestTimeout):
            deadline.check()
        with past_deadline(2.0):
            deadline.check()  # a few statements may run: the failure's audit line, a commit
            deadline.in_database = 1  # the watchdog reaching the original end late: no cancel, no interruption
            assert deadline.expire() is None and not deadline.cancelled
            deadline.in_database = 0
        with pytest.raises(RequestTimeout):  # spent again afterwards: the request goes no further
            deadline.check()
    finally:
        current_deadline.reset(token)
    fresh = Deadline(10)
    token = current_deadline.set(fresh)
    try:
        with past_deadline(2.0):  # time left: nothing changes
            assert fresh.remaining_s() > 9
    finally:
        current_deadline.reset(token)


def test_a_writing_request_past_its_budget_writes_nothing(db_url, conn):
    client = _app(db_url, budget_notes_s=0.5).test_client()
    r = client.post("/notes/_t/write-then-spin")
    assert r.status_code == 503 and r.headers["Retry-After"]
    assert count(conn, "outbox") == 0


def test_a_real_process_past_its_budget_is_a_503(db_url):
    client = _app(db_url, budget_checks_s=0.000001).test_client()  # spent before the first statement
    r = client.post("/ogc/processes/instruction/execution", json={"inputs": {"land": {"refs": ["TF 1/C"]}}})
    assert r.status_code == 503 and r.headers["Retry-After"]
    assert r.get_json()["code"] == "ServiceUnavailable"


def test_budgets_must_end_before_the_worker_timeout(tmp_path):
    none = tmp_path / "none"
    with pytest.raises(ConfigError, match="URBASIG_BUDGET_NOTES_S"):
        Settings.from_env({"URBASIG_BUDGET_NOTES_S": "45"}, dotenv=none)
    with pytest.raises(ConfigError, match="URBASIG_BUDGET_READS_S"):
        Settings.from_env({"URBASIG_BUDGET_READS_S": "0"}, dotenv=none)
    settings = Settings.from_env({"URBASIG_BUDGET_NOTES_S": "45", "URBASIG_WORKER_TIMEOUT_S": "60"}, dotenv=none)
    assert settings.budget_notes_s == 45
