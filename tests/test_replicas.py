"""Read replicas (issue 17, point 8) with a real streaming replica on loopback: a primary made for this module and
its standby from `pg_basebackup -R`, same PostgreSQL binaries; the app served over HTTP reads the public layers from
the replica, writes and a writer's reads on the primary, skips a replica too far behind or down, and loses no
request when the replica stops under load.

The read URLs name a replica that never answers first (a closed port), then the live one: reads go to « another
replica », and to the primary once both are out.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest
import requests

from app import create_app
from gis.errors import ConfigError
from gis.tms import WEB_MERCATOR_QUAD
from layers import migrate
from layers.accounts import create_account
from layers.cluster import Cluster
from layers.db import ensure_database
from layers.roles import ensure_roles, set_app_password
from settings import Settings
from tests.helpers import APP_PASSWORD, app_settings, app_url, free_port, load_ogc_world, serve
from tests.test_spaces_admin import signed_in, submit

ADMIN, PASSWORD = "admin@auc.ma", "mot de passe solide"
WAIT_S = 10.0  # the longest any state change may take here (the monitor measures every 0.1 s)
NEW_PARCEL = "TF 99001/C"


def until(condition, what: str, timeout_s: float = WAIT_S):
    """Poll `condition()` until it is true (returned), failing with `what` after `timeout_s`."""
    end = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"toujours pas au bout de {timeout_s} s : {what}")
        time.sleep(0.05)


class World:
    """The primary, its replica, the app's base URL and its replica set."""

    def __init__(self, primary: Cluster, replica: Cluster, base: str, app) -> None:
        self.primary, self.replica, self.base, self.app = primary, replica, base, app
        self.replicas = app.extensions["urbasig.replicas"]

    def owner(self) -> psycopg.Connection:
        return psycopg.connect(self.primary.url("urbasig"), autocommit=True)

    def replica_admin(self) -> psycopg.Connection:
        return psycopg.connect(self.replica.url("urbasig"), autocommit=True)

    def live_replica(self):
        return self.replicas.replicas[1]

    def health(self) -> dict:
        """The live replica's state in /health?details (this test is on loopback)."""
        return requests.get(f"{self.base}/health?details", timeout=10).json()["replicas"][1]

    def paused(self, paused: bool) -> None:
        with self.replica_admin() as conn:
            conn.execute("SELECT pg_wal_replay_pause()" if paused else "SELECT pg_wal_replay_resume()")

    def tile(self, z: int) -> str:
        """The path of the level-z parcels tile holding parcel 1."""
        with self.owner() as conn:
            lon, lat = conn.execute("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_Centroid(geom), 4326) p "
                                    "FROM parcels WHERE id = 1) c").fetchone()
        row, col = WEB_MERCATOR_QUAD.tile_of(lon, lat, z)
        return f"/ogc/collections/parcels/tiles/WebMercatorQuad/{z}/{row}/{col}"

    def replica_queries(self, like: str) -> int:
        """Backends of the web role on the replica whose last statement looks like `like`."""
        with self.replica_admin() as conn:
            return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = 'urbasig_app' "
                                "AND query ILIKE %s", (like,)).fetchone()[0]


@pytest.fixture(scope="module")
def world():
    base_dir = Path(tempfile.mkdtemp(prefix="urbasig-replicas-"))
    base_dir.chmod(0o755)  # the unprivileged cluster user must traverse it when tests run as root
    primary = Cluster(root=base_dir / "primary", port=free_port(), throwaway=True)
    replica = None
    app = None
    try:
        primary.start()
        with psycopg.connect(primary.url("postgres"), autocommit=True) as conn:
            ensure_roles(conn)
            set_app_password(conn, APP_PASSWORD)
        ensure_database(primary.url("postgres"), "urbasig")
        url = primary.url("urbasig")
        migrate.upgrade(url)
        with psycopg.connect(url) as conn:
            load_ogc_world(conn)
            create_account(conn, ADMIN, "Admin Agence", PASSWORD, role="admin", verified=True)
            conn.commit()
        replica = primary.standby(base_dir / "replica", free_port())
        replica.start()
        until(lambda: _caught_up(primary, replica), "la réplique rattrape le primaire")
        port = free_port()
        dead = f"postgresql://urbasig_app:x@127.0.0.1:{free_port()}/urbasig"  # nothing listens there
        app = create_app(app_settings(url, var_dir=base_dir / "var", public_url=f"http://127.0.0.1:{port}",
                                      database_read_url=f"{dead},{app_url(replica.url('urbasig'))}",
                                      read_max_lag_s=60.0, read_check_s=0.1, read_primary_after_write_s=120.0,
                                      pool_max=6, indicative_per_minute=1000))
        server, base = serve(app, port)
        yield World(primary, replica, base, app)
        server.shutdown()
    finally:
        if app is not None:
            app.extensions["urbasig.replicas"].close()
            app.extensions["urbasig.pool"].close(timeout=1)
        if replica is not None:
            replica.destroy()
        primary.destroy()
        shutil.rmtree(base_dir, ignore_errors=True)


def _caught_up(primary: Cluster, replica: Cluster) -> bool:
    """Whether the replica has replayed all the WAL the primary has flushed."""
    with psycopg.connect(primary.url("urbasig"), autocommit=True) as conn:
        position = conn.execute("SELECT pg_current_wal_flush_lsn()").fetchone()[0]
    with psycopg.connect(replica.url("urbasig"), autocommit=True) as conn:
        return conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (position,)).fetchone()[0]


def _new_parcel(world: World) -> int:
    """A parcel added on the primary (as the migrations' owner would): its id."""
    with world.owner() as conn:
        return conn.execute(
            "INSERT INTO parcels (ref_kind, ref_number, ref_suffix, ref_text, legal_area_m2, commune_code, geom) "
            "VALUES ('TF', '99001', 'C', %s, 300, 'ANFA', ST_Multi(ST_Translate(ST_MakeEnvelope(50, 50, 60, 60, "
            "26191), 295000, 332000))) RETURNING id", (NEW_PARCEL,)).fetchone()[0]


def _item(world: World, parcel_id: int, session=requests) -> int:
    return session.get(f"{world.base}/ogc/collections/parcels/items/{parcel_id}", timeout=10).status_code


def test_public_reads_go_to_the_replica_and_their_writes_to_the_primary(world):
    r = requests.get(f"{world.base}/ogc/collections/parcels/items?limit=5", timeout=10)
    assert r.status_code == 200 and len(r.json()["features"]) == 5
    assert world.replica_queries("%parcels%") >= 1  # the web role's statement ran on the replica
    assert world.health()["state"] == "ok"
    dead = requests.get(f"{world.base}/health?details", timeout=10).json()["replicas"][0]
    assert dead["state"] == "injoignable" and "urbasig_app" not in dead["name"]  # named without its login
    # a marker only the replica answers: a parcel it has not replayed yet (replay paused, well under the lag limit)
    world.paused(True)
    try:
        parcel_id = _new_parcel(world)
        assert _item(world, parcel_id) == 404
    finally:
        world.paused(False)
    until(lambda: _item(world, parcel_id) == 200, "la réplique rejouée sert la nouvelle parcelle")
    # a tile built on the replica is cached on the primary (the replica refuses any write)
    with world.owner() as conn:
        conn.execute("DELETE FROM tile_cache")
    r = requests.get(world.base + world.tile(17), timeout=10)
    assert r.status_code == 200
    with world.owner() as conn:
        cached = conn.execute("SELECT count(*) FROM tile_cache WHERE collection = 'parcels'").fetchone()[0]
        before = conn.execute("SELECT COALESCE(sum(n), 0) FROM usage_daily WHERE kind = 'indicative'").fetchone()[0]
    assert cached == 1
    # an indicative note: the instruction reads the replica, its counters and rate limit are kept on the primary
    r = requests.get(f"{world.base}/notes/indicative", params={"land": "TF 2451/C", "format": "html"}, timeout=30)
    assert r.status_code == 200, r.text[:300]
    with world.owner() as conn:
        after = conn.execute("SELECT COALESCE(sum(n), 0) FROM usage_daily WHERE kind = 'indicative'").fetchone()[0]
        hits = conn.execute("SELECT count(*) FROM rate_limits WHERE scope = 'indicative'").fetchone()[0]
    assert after == before + 1 and hits >= 1
    assert world.replica_queries("%zones%") + world.replica_queries("%parcels%") >= 1


def test_a_writer_reads_its_own_write_at_once(world):
    admin = signed_in(world.base, ADMIN)
    anonymous = requests.Session()
    plan = f"{world.base}/ogc/collections/plans/items/PA-ANFA-2026"
    assert anonymous.get(plan, timeout=10).json()["properties"]["status"] == "enquete_publique"
    world.paused(True)  # behind, but well under the lag limit: the public still reads the replica
    try:
        form = "//section[@data-code='PA-ANFA-2026']//form[contains(@class, 'plan-status')]"
        r = submit(admin, f"{world.base}/admin/plans", form, status="homologue", date="2026-11-20",
                   act="Décret n° 2-26-900", in_force_from="")
        assert r.status_code == 303, r.text[:500]
        assert admin.cookies.get("urbasig_ecrit")  # the writer's mark: its reads go to the primary a while
        assert admin.get(plan, timeout=10).json()["properties"]["status"] == "homologue"
        assert anonymous.get(plan, timeout=10).json()["properties"]["status"] == "enquete_publique"  # the replica
        forged = requests.get(plan, cookies={"urbasig_ecrit": "1.forged.x"}, timeout=10)
        assert forged.json()["properties"]["status"] == "enquete_publique"  # an unsigned mark is nobody's
    finally:
        world.paused(False)
    until(lambda: anonymous.get(plan, timeout=10).json()["properties"]["status"] == "homologue",
          "le public voit l'écriture une fois rejouée")


def test_a_replica_too_far_behind_is_skipped_then_taken_back(world):
    world.paused(True)
    try:
        with world.owner() as conn:
            conn.execute("DELETE FROM parcels WHERE ref_text = %s", (NEW_PARCEL,))
        parcel_id = _new_parcel(world)
        assert _item(world, parcel_id) == 404  # the replica, behind but within 60 s
        world.replicas.max_lag_s = 0.3
        state = until(lambda: (h := world.health())["state"] == "en retard" and h, "la réplique passe « en retard »")
        assert state["lag_s"] > 0.3 and "retard" in state["reason"]
        assert _item(world, parcel_id) == 200  # skipped: the primary answers
    finally:
        world.paused(False)
    until(lambda: world.health()["state"] == "ok", "la réplique rattrapée revient")
    world.replicas.max_lag_s = 60.0
    assert world.health()["lag_s"] <= 0.3
    assert _item(world, parcel_id) == 200


def test_stopping_the_replica_under_load_loses_no_request(world, caplog):
    """Reads caught mid-statement on the replica as it stops are run again on the primary: to catch some surely, the
    parcels are locked on the primary (the lock is replayed on the replica, so its reads of parcels wait there)
    while it stops, then released."""
    paths = ["/ogc/collections/parcels/items?limit=20&offset=30", "/ogc/collections/parcels/items/3",
             "/ogc/collections/zones/items?limit=5", world.tile(16), "/api/recherche?q=TF%202451"]
    answers: list[int] = []
    stop = threading.Event()

    def load(k: int) -> None:
        with requests.Session() as s:
            i = k
            while not stop.is_set():
                answers.append(s.get(world.base + paths[i % len(paths)], timeout=30).status_code)
                i += 1

    def waiting(conn: psycopg.Connection) -> int:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = 'urbasig_app' "
                            "AND wait_event_type = 'Lock'").fetchone()[0]

    threads = [threading.Thread(target=load, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    try:
        until(lambda: len(answers) >= 40, "la charge tourne")
        assert world.replica_queries("%") >= 1  # the load is on the replica
        with world.owner() as watch, psycopg.connect(world.primary.url("urbasig")) as lock:
            lock.execute("LOCK TABLE parcels IN ACCESS EXCLUSIVE MODE")
            # a synchronous commit flushes the WAL, the lock's record with it (the replica receives flushed WAL)
            watch.execute("SET synchronous_commit = on")
            watch.execute("SELECT pg_current_xact_id()")
            with world.replica_admin() as replica:
                until(lambda: waiting(replica), "des lectures attendent la table sur la réplique")
            served_before = len(answers)
            world.replica.stop()  # fast shutdown: the backends are ended under their statements
            until(lambda: waiting(watch), "les mêmes lectures attendent sur le primaire")
            lock.rollback()
        until(lambda: len(answers) >= served_before + 80, "la charge continue sur le primaire")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert answers and set(answers) == {200}, sorted(set(answers))
    assert "en échec pendant une requête" in caplog.text  # some reads were indeed run again
    assert world.health()["state"] == "injoignable"
    world.replica.start()
    until(lambda: world.health()["state"] == "ok", "la réplique redémarrée revient")


def test_read_urls_are_validated_and_masked():
    s = Settings(database_read_url="postgresql://urbasig_app:s3cr3t@r1/u, postgresql://urbasig_app:t0p@r2/u")
    assert s.read_urls == ["postgresql://urbasig_app:s3cr3t@r1/u", "postgresql://urbasig_app:t0p@r2/u"]
    assert "s3cr3t" not in str(s.safe_repr()) and "t0p" not in str(s.safe_repr())
    with pytest.raises(ConfigError, match="URBASIG_DATABASE_READ_URL"):
        Settings.from_env({"URBASIG_DATABASE_READ_URL": "postgresql://a@r1/u,mysql://r2/u"}, dotenv=Path("/nonexistent"))
    with pytest.raises(ConfigError, match="URBASIG_READ_PRIMARY_AFTER_WRITE_S"):
        Settings.from_env({"URBASIG_READ_MAX_LAG_S": "20"}, dotenv=Path("/nonexistent"))
