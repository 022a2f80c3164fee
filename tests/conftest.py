"""A real throwaway PostGIS for the suite: one cluster per session, one migrated database per test."""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import psycopg
import pytest
from werkzeug.serving import make_server

from layers import migrate
from layers.cluster import Cluster
from layers.db import drop_database, ensure_database, with_dbname
from layers.roles import ensure_roles, set_app_password
from tests.helpers import APP_PASSWORD, SAMPLE_PARCELS, SAMPLE_SEED, app_settings, ogc_world_database, sample_database

_counter = itertools.count()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# With pytest-xdist (`make test` runs the suite in 2 processes, each with its own throwaway cluster): a unit of
# work is a test module (its module fixtures made once), tests/browser/ is one (one chromium at a time, its site
# and fixtures made once), and the units that take longest start first, so none is left running alone at the end.
FIRST = ("tests/browser", "tests/test_ogc_tiles_processes.py", "tests/test_sample.py", "tests/test_faults.py",
         "tests/test_packaging.py", "tests/test_planner.py", "tests/test_official.py")


def _unit(nodeid: str) -> str:
    """The unit of work of a test for pytest-xdist: its module, or tests/browser for every browser test."""
    module = nodeid.split("::", 1)[0]
    return "tests/browser" if module.startswith("tests/browser/") else module


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Send whole units (`_unit`) to the workers, in the order of the collection (`pytest_collection_modifyitems`)."""
    from xdist.scheduler import LoadScopeScheduling

    class ByUnit(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit(nodeid)

    config.option.loadscopereorder = False  # xdist would sort the units by their number of tests, not their time
    return ByUnit(config, log)


def pytest_collection_modifyitems(config, items):
    """In a pytest-xdist worker, the units of FIRST first (every worker sorts alike: the collections must agree)."""
    if not hasattr(config, "workerinput"):  # a plain run: the order of the files, untouched
        return
    rank = {name: i for i, name in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(_unit(item.nodeid), len(FIRST)))  # stable: the rest keep their order


@pytest.fixture(scope="session", autouse=True)
def _pools_closed_at_the_end():
    """Keep every app's pool until the end and close it then: a pool collected mid-run warns from its thread."""
    from layers import db

    made = []
    original = db.make_pool

    def tracking(*args, **kwargs):
        pool = original(*args, **kwargs)
        made.append(pool)
        return pool

    db.make_pool = tracking
    yield
    db.make_pool = original
    for pool in made:
        pool.close(timeout=1)


def _app_role_ready(url: str) -> None:
    """Create the cluster-wide server role (migration 0013 does too) with the tests' password, once a session."""
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_roles(conn)
        assert set_app_password(conn, APP_PASSWORD)


@pytest.fixture(scope="session")
def server_url():
    """URL of the maintenance database of a PostGIS server: URBASIG_TEST_DATABASE_URL or a throwaway cluster."""
    external = os.environ.get("URBASIG_TEST_DATABASE_URL")
    if external:
        _app_role_ready(with_dbname(external, "postgres"))
        yield with_dbname(external, "postgres")
        return
    base = Path(tempfile.mkdtemp(prefix="urbasig-test-"))
    base.chmod(0o755)  # the unprivileged cluster user must traverse it when tests run as root
    cluster = Cluster(root=base / "pg", port=_free_port(), throwaway=True)
    cluster.start()
    try:
        _app_role_ready(cluster.url("postgres"))
        yield cluster.url("postgres")
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def template_name(server_url):
    """A database migrated to head, copied for each test (CREATE DATABASE … TEMPLATE is fast)."""
    name = f"urbasig_template_{os.getpid()}"
    drop_database(server_url, name)
    ensure_database(server_url, name)
    migrate.upgrade(with_dbname(server_url, name))
    yield name
    drop_database(server_url, name)


@pytest.fixture
def db_url(server_url, template_name):
    """A fresh, migrated database for one test, dropped afterwards."""
    name = f"urbasig_t{os.getpid()}_{next(_counter)}"
    ensure_database(server_url, name, template=template_name)
    yield with_dbname(server_url, name)
    drop_database(server_url, name)


@pytest.fixture
def make_db(server_url, template_name):
    """A factory of extra migrated databases for one test (all dropped afterwards)."""
    made = []

    def _make() -> str:
        name = f"urbasig_m{os.getpid()}_{next(_counter)}"
        ensure_database(server_url, name, template=template_name)
        made.append(name)
        return with_dbname(server_url, name)

    yield _make
    for name in made:
        drop_database(server_url, name)


@pytest.fixture
def empty_db_url(server_url):
    """A database with PostGIS not yet installed and no schema (for migration tests)."""
    name = f"urbasig_e{os.getpid()}_{next(_counter)}"
    ensure_database(server_url, name)
    yield with_dbname(server_url, name)
    drop_database(server_url, name)


@pytest.fixture
def conn(db_url):
    """A connection to the test's database."""
    with psycopg.connect(db_url) as connection:
        yield connection


@pytest.fixture(scope="session")
def sample_url(server_url, template_name):
    """The sample territory (as `make run` loads it, smaller) in one database for the whole session.

    Loaded once and shared by the panel, search and browser tests: they read its land (parcels, zones, plans) and
    never change it; tests/browser/test_staff_spaces.py adds accounts and requests, which no reader of the land
    sees. A test that writes parcels, zones or plans makes its own database with `db_url` or `make_db`.
    """
    yield from sample_database(server_url, template_name, "urbasig_sample", SAMPLE_PARCELS, SAMPLE_SEED)


@pytest.fixture(scope="session")
def ogc_url(server_url, template_name):
    """The database behind the live OGC server: tests/fixtures/ogc_world.sql and its grid of parcels."""
    yield from ogc_world_database(server_url, template_name, "urbasig_ogc")


LIVE_REQUESTS: list[str] = []  # path?query of every request the live OGC server answered


@pytest.fixture(scope="session")
def live(ogc_url):
    from app import create_app

    port = _free_port()  # the links of the OGC documents come from the public URL: the server's own address
    app = create_app(app_settings(ogc_url, pool_min=1, pool_max=4, cors_origins="https://carte.example",
                                  public_url=f"http://127.0.0.1:{port}",
                                  checks_per_minute=1_000_000))  # schemathesis must reach the checks, not 429
    inner = app.wsgi_app

    def logged(environ, start_response):
        LIVE_REQUESTS.append(f"{environ['PATH_INFO']}?{environ.get('QUERY_STRING', '')}")
        return inner(environ, start_response)

    app.wsgi_app = logged
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/ogc"
    server.shutdown()


@pytest.fixture
def live_requests(live):
    """The requests the live server answers during the test (a client's request count)."""
    LIVE_REQUESTS.clear()
    return LIVE_REQUESTS


