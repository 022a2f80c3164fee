"""The embedded cluster: created once, restarted with its data, never run as root."""

import os
import shutil
import socket
import tempfile
from pathlib import Path

import psycopg

from layers.cluster import Cluster


def _port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_start_stop_start_keeps_data():
    base = Path(tempfile.mkdtemp(prefix="urbasig-cl-"))
    base.chmod(0o755)
    cluster = Cluster(root=base / "pg", port=_port(), throwaway=True)
    try:
        cluster.start()
        cluster.start()  # a second start is a no-op
        with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (x int)")
            owner = conn.execute("SELECT current_setting('data_directory')").fetchone()[0]
        if os.geteuid() == 0:
            assert Path(owner).stat().st_uid != 0  # the server does not run as root
        cluster.stop()
        assert not cluster.running()
        cluster.start()
        with psycopg.connect(cluster.url("postgres")) as conn:
            assert conn.execute("SELECT to_regclass('kept')").fetchone()[0] == "kept"
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)
