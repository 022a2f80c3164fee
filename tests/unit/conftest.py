"""Unit tests of the pure parts: no database, no server, no network.

Any attempt to reach PostgreSQL from here fails the test at once, so a test that needs the database cannot
slip into this folder (the database suite lives beside it, in tests/).
"""

from __future__ import annotations

import psycopg
import pytest


@pytest.fixture(autouse=True)
def _no_database(monkeypatch):
    """Make every connection attempt an error."""

    def refuse(*args, **kwargs):
        raise AssertionError("tests/unit must not use a database: move this test to tests/")

    monkeypatch.setattr(psycopg, "connect", refuse)
    monkeypatch.setattr(psycopg.Connection, "connect", classmethod(lambda cls, *a, **k: refuse()))


@pytest.fixture(scope="session")
def server_url():
    """Shadow the database suite's cluster fixture: requesting it (or db_url, conn…) from here is an error."""
    pytest.fail("tests/unit must not use a database: move this test to tests/")
