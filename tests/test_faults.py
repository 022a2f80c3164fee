"""Faults, with real parts: PostgreSQL stopped and started under load, a gunicorn worker killed, an import killed
mid-way, the mail server down then back.

The server tests run a real gunicorn (2 sync workers) on its own throwaway cluster, so that stopping PostgreSQL
touches nothing else of the suite.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import requests
from aiosmtpd.controller import Controller

from layers import migrate
from layers.cluster import Cluster
from layers.db import ensure_database
from layers.outbox import queue_mail
from layers.roles import set_app_password
from tests.helpers import APP_PASSWORD, Inbox, app_url

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ITEMS = "/ogc/collections/parcels/items?limit=2"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> set[int]:
    """The processes whose parent is `pid` (gunicorn's workers)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


@dataclass
class Answer:
    """One client request: when it started and ended (monotonic), its status (0: no answer) and Retry-After."""

    started: float
    ended: float
    status: int
    retry_after: str | None
    error: str = ""


class Load:
    """Client threads sending GET requests in a loop, each on a new connection, recording every answer."""

    def __init__(self, base: str, paths: list[str], threads: int = 6) -> None:
        self.base, self.paths, self.answers = base, paths, []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _run(self, index: int) -> None:
        k = index
        while not self._stop.is_set():
            path = self.paths[k % len(self.paths)]
            k += 1
            started = time.monotonic()
            try:
                r = requests.get(self.base + path, timeout=10)
                answer = Answer(started, time.monotonic(), r.status_code, r.headers.get("Retry-After"))
                if r.status_code >= 500 and r.status_code != 503:
                    answer.error = r.text[:200]
            except requests.RequestException as exc:
                answer = Answer(started, time.monotonic(), 0, None, type(exc).__name__)
            self.answers.append(answer)

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=15)

    def between(self, start: float, end: float) -> list[Answer]:
        """The answers to requests sent and answered within [start, end]."""
        return [a for a in list(self.answers) if a.started >= start and a.ended <= end]


@pytest.fixture(scope="module")
def own_cluster():
    """A throwaway cluster for this module only (the tests stop and start it), with a migrated database."""
    base = Path(tempfile.mkdtemp(prefix="urbasig-faults-"))
    base.chmod(0o755)
    cluster = Cluster(root=base / "pg", port=_free_port(), throwaway=True)
    cluster.start()
    ensure_database(cluster.url("postgres"), "urbasig")
    url = cluster.url("urbasig")
    migrate.upgrade(url)
    with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
        assert set_app_password(conn, APP_PASSWORD)  # the server connects as urbasig_app, never the owner
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO parcels (ref_kind, ref_number, ref_suffix, geom) SELECT 'TF', i, 'C', "
                     "ST_Multi(ST_MakeEnvelope(295000 + i * 20, 332000, 295010 + i * 20, 332010, 26191)) "
                     "FROM generate_series(1, 50) i")
    try:
        yield cluster, url
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def gunicorn(own_cluster):
    """gunicorn with 2 sync workers on the module's cluster; yields (base URL, master process)."""
    _, url = own_cluster
    port = _free_port()
    env = {**os.environ, "URBASIG_DATABASE_URL": url, "URBASIG_APP_DATABASE_URL": app_url(url),
           "URBASIG_POOL_MAX": "4", "URBASIG_LOG_LEVEL": "WARNING",
           "URBASIG_TILE_CACHE": "false", "URBASIG_VAR_DIR": tempfile.mkdtemp(prefix="urbasig-faults-var-")}
    log = open(tempfile.gettempdir() + f"/urbasig-faults-gunicorn-{port}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2", "--timeout", "30",
                             "--graceful-timeout", "2", "app:create_app()"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(base + "/health", timeout=5).status_code == 200 and len(_children(proc.pid)) == 2:
                break
        except requests.RequestException:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "gunicorn n'a pas démarré"
        time.sleep(0.2)
    try:
        yield base, proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def _wait_for_200(base: str, seconds: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        try:
            if requests.get(base + ITEMS, timeout=5).status_code == 200:
                return time.monotonic() - start
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"toujours pas de réponse 200 après {seconds} s")


def test_postgresql_stopped_under_load_fast_503_then_back_without_restart(own_cluster, gunicorn):
    cluster, _ = own_cluster
    base, proc = gunicorn
    workers = _children(proc.pid)
    with Load(base, [ITEMS, ITEMS, "/health"]) as load:
        time.sleep(1.5)
        cluster.stop()
        stopped = time.monotonic()
        time.sleep(3.0)
        health = requests.get(base + "/health", timeout=5)
        restarting = time.monotonic()
        cluster.start()
        started = time.monotonic()
        recovery_s = _wait_for_200(base, 15)
        time.sleep(1.5)
        tail_from = time.monotonic()
        time.sleep(1.0)
    answers = load.answers
    assert not [a for a in answers if a.status not in (200, 503)], [a for a in answers if a.status not in (200, 503)]
    down = load.between(stopped + 0.2, restarting)
    assert len(down) >= 20, len(down)
    assert {a.status for a in down} == {503}
    assert all(a.retry_after and int(a.retry_after) > 0 for a in down)
    slowest = max(a.ended - a.started for a in down)
    assert slowest < 1.5, slowest  # fast: no request waits for a server that is not there
    assert health.status_code == 503 and health.headers["Retry-After"]
    assert health.json()["database"] == "injoignable"
    assert recovery_s < 8, recovery_s
    tail = load.between(tail_from, time.monotonic())
    assert tail and {a.status for a in tail} == {200}
    assert _children(proc.pid) == workers  # the same workers: nothing restarted
    print(f"panne : {len(down)} réponses 503, la plus lente {slowest * 1000:.0f} ms ; "
          f"retour des 200 {recovery_s:.1f} s après le redémarrage de PostgreSQL ({started - restarting:.1f} s)")


def test_postgresql_restarted_while_idle_the_next_requests_are_served(own_cluster, gunicorn):
    cluster, _ = own_cluster
    base, _ = gunicorn
    _wait_for_200(base, 15)
    for _ in range(6):  # both workers hold pooled connections
        assert requests.get(base + ITEMS, timeout=10).status_code == 200
    cluster.stop()
    cluster.start()  # every pooled connection is now closed by the server, and no request has seen it
    answers = [requests.get(base + ITEMS, timeout=10) for _ in range(6)]
    assert [r.status_code for r in answers] == [200] * 6  # found closed before use and replaced, no 503


def test_a_worker_killed_under_load_is_replaced_and_only_its_request_fails(gunicorn):
    base, proc = gunicorn
    _wait_for_200(base, 15)
    before = _children(proc.pid)
    assert len(before) == 2
    victim = min(before)
    with Load(base, [ITEMS], threads=4) as load:
        time.sleep(1.0)
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        deadline = killed + 20
        while len(_children(proc.pid) - {victim}) < 2:
            assert time.monotonic() < deadline, "le maître n'a pas remplacé le worker"
            time.sleep(0.1)
        replaced = time.monotonic()
        time.sleep(1.5)
        tail_from = time.monotonic()
        time.sleep(1.0)
    after = _children(proc.pid)
    assert victim not in after and len(after) == 2 and after & before  # one new worker, the other untouched
    failed = [a for a in load.answers if a.status != 200]
    assert all(a.status == 0 for a in failed), failed  # never a 500: only a connection cut
    assert len(failed) <= 1, failed  # at most the request the killed (sync) worker was answering
    assert len(load.answers) > 50
    assert {a.status for a in load.between(tail_from, time.monotonic())} == {200}
    print(f"worker tué : {len(failed)} requête(s) perdue(s) sur {len(load.answers)}, remplacé en "
          f"{replaced - killed:.1f} s")


# ---------------------------------------------------------------------------------------- import killed mid-way
def _snapshot(url: str) -> dict[str, object]:
    """Row count of every table, the indexes and constraints: what an import may change."""
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                             "ORDER BY tablename")]
        counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}  # noqa: S608
        indexes = [r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1")]
        constraints = [r[0] for r in conn.execute("SELECT conname FROM pg_constraint ORDER BY 1")]
    return {"counts": counts, "indexes": indexes, "constraints": constraints}


def _big_parcels_file(path: Path, n: int) -> Path:
    """A GeoJSON file of n square parcels of 9 × 9 m in EPSG:26191, rows of 300."""

    def feature(i: int) -> str:
        x, y = 295_000 + (i % 300) * 10, 332_000 + (i // 300) * 10
        ring = f"[[{x},{y}],[{x + 9},{y}],[{x + 9},{y + 9}],[{x},{y + 9}],[{x},{y}]]"
        return (f'{{"type":"Feature","properties":{{"land_ref":"TF {900_000 + i}/C"}},'
                f'"geometry":{{"type":"Polygon","coordinates":[{ring}]}}}}')

    path.write_text('{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"EPSG:26191"}},'
                    f'"features":[{",".join(feature(i) for i in range(n))}]}}')
    return path


def test_an_import_killed_mid_way_leaves_the_database_unchanged(db_url, tmp_path):
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO parcels (ref_kind, ref_number, ref_suffix, geom) VALUES ('TF', 1, 'C', "
                     "ST_Multi(ST_MakeEnvelope(295000, 331000, 295010, 331010, 26191)))")
    before = _snapshot(db_url)
    source = _big_parcels_file(tmp_path / "parcelles.geojson", 60_000)
    env = {**os.environ, "URBASIG_DATABASE_URL": db_url, "URBASIG_VAR_DIR": str(tmp_path / "var")}
    proc = subprocess.Popen([str(BIN / "urbasig"), "import", str(source), "--layer", "parcels"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    dbname = db_url.rsplit("/", 1)[1]
    writing = None
    with psycopg.connect(db_url, autocommit=True) as watch:
        deadline = time.monotonic() + 60
        while writing is None and proc.poll() is None and time.monotonic() < deadline:
            row = watch.execute("SELECT query FROM pg_stat_activity WHERE datname = %s AND application_name = 'urbasig' "
                                "AND query ILIKE 'COPY%%' AND state = 'active'", (dbname,)).fetchone()
            writing = row[0] if row else None
            time.sleep(0.01)
        assert writing, f"l'import n'a pas été surpris en train d'écrire : {proc.communicate()[0][-500:]!r}"
        time.sleep(0.1)  # inside the COPY
        proc.kill()
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        deadline = time.monotonic() + 10  # the server rolls back once it sees the client gone
        while watch.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = 'urbasig'",
                            (dbname,)).fetchone()[0]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert _snapshot(db_url) == before
    small = _big_parcels_file(tmp_path / "quelques-parcelles.geojson", 50)
    done = subprocess.run([str(BIN / "urbasig"), "import", str(small), "--layer", "parcels"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]  # and nothing left behind (a lock, an index) blocks the next one
    assert _snapshot(db_url)["counts"]["parcels"] == 51


# ---------------------------------------------------------------------------------------- mail server down, back
def test_mail_server_down_then_back_the_outbox_keeps_retries_and_delivers_once(db_url, tmp_path):
    with psycopg.connect(db_url) as conn:
        queue_mail(conn, "demandeur@example.ma", "Votre note NRU-7", "Veuillez trouver la note.", b"%PDF-1.7 x",
                   "NRU-7.pdf", "note", "NRU-7")
    port = _free_port()
    env = {**os.environ, "URBASIG_DATABASE_URL": db_url, "URBASIG_SMTP_HOST": "127.0.0.1",
           "URBASIG_SMTP_PORT": str(port),
           "URBASIG_VAR_DIR": str(tmp_path / "var")}

    def deliver() -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / "urbasig"), "mail-deliver"], env=env, capture_output=True, text=True,
                              timeout=60)

    def outbox() -> tuple:
        with psycopg.connect(db_url) as conn:
            return conn.execute("SELECT status, attempts, sent_at IS NOT NULL FROM outbox").fetchone()

    down = deliver()  # nothing listens on the port
    assert down.returncode == 1 and "injoignable" in down.stderr
    assert outbox() == ("en_attente", 1, False)
    assert deliver().returncode == 0 and outbox() == ("en_attente", 1, False)  # not due yet: no attempt
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE outbox SET next_attempt_at = now()")  # the back-off's minute has passed
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        back = deliver()
        again = deliver()
    finally:
        controller.stop()
    assert back.returncode == 0 and "1 courriel(s) envoyé(s)" in back.stdout
    assert again.returncode == 0 and "0 courriel(s) envoyé(s)" in again.stdout
    assert outbox() == ("envoye", 2, True)
    assert [m["Subject"] for m in inbox.messages] == ["Votre note NRU-7"]  # once, no duplicate
    with psycopg.connect(db_url) as conn:
        actions = [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE entity_id = 'NRU-7' ORDER BY id")]
    assert actions == ["courriel.echec", "courriel.envoye"]
