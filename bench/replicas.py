"""Read replicas: what routing the public reads to a streaming replica costs, and a replica stopped under load.

Usage: .venv/bin/python bench/replicas.py [PARCELS] [SECONDS]   (default 200000 parcels, 10 s per measure)

A primary and its streaming replica (`pg_basebackup -R`, layers/cluster.py `Cluster.standby`) are made in a
temporary directory with the project's PostgreSQL binaries, the sample territory loaded on the primary. The app
runs under gunicorn as `make run` serves it (2 workers × 4 threads), once on the primary alone, once with
URBASIG_DATABASE_READ_URL; wrk (-t2 -c8) drives item by id and ~300 m bbox items on each. Then, on the replica
server, the replica is stopped a third of the way through a measure: the requests lost (non-2xx or socket errors,
which must be 0) and the worst latency say what the fall-back to the primary costs. One machine holds primary,
replica, server and load generator: the replica adds no capacity here (it shares the cores); compare the ratios of
one run, and read the routing's cost, not a gain.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg
from _common import app_role_url, free_port, start_app, stop_group, table, wait_ready
from ogc import WRK_LUA

from layers import migrate
from layers.cluster import Cluster
from layers.db import ensure_database
from layers.roles import app_url, ensure_roles
from layers.sample import load_sample

LOG_NAME = tempfile.gettempdir() + "/urbasig-bench-replicas-servers.log"


def clusters(base: Path, parcels: int) -> tuple[Cluster, Cluster]:
    """The primary (migrated, the sample territory loaded) and its running replica."""
    primary = Cluster(root=base / "primary", port=free_port(), throwaway=True)
    primary.start()
    with psycopg.connect(primary.url("postgres"), autocommit=True) as conn:
        ensure_roles(conn)
    ensure_database(primary.url("postgres"), "urbasig")
    migrate.upgrade(primary.url("urbasig"))
    with psycopg.connect(primary.url("urbasig")) as conn:
        load_sample(conn, parcels, 42)
        conn.commit()
    replica = primary.standby(base / "replica", free_port())
    replica.start()
    return primary, replica


def workload(url: str, n: int = 2000) -> dict[str, list[str]]:
    """Item-by-id and ~300 m bbox paths over the sample's parcels."""
    rng = random.Random(7)
    with psycopg.connect(url) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM parcels ORDER BY random() LIMIT %s", (n,))]
        points = conn.execute("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_Centroid(geom), 4326) p "
                              "FROM parcels ORDER BY random() LIMIT 300) c").fetchall()
    d = 0.0015  # ~150 m each way
    boxes = [f"{x - d:.5f},{y - d:.5f},{x + d:.5f},{y + d:.5f}" for x, y in points]
    rng.shuffle(boxes)
    return {"item by id": [f"/ogc/collections/parcels/items/{i}" for i in ids],
            "items, ~300 m bbox": [f"/ogc/collections/parcels/items?bbox={b}&limit=100" for b in boxes]}


def serve(env: dict[str, str], url: str, log) -> tuple[object, str]:
    port = free_port()
    proc = start_app(url, port, log, {"URBASIG_TILE_CACHE": "false", **env})
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, proc, LOG_NAME)
    return proc, base


def main() -> None:
    parcels = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    base_dir = Path(tempfile.mkdtemp(prefix="urbasig-bench-replicas-"))
    base_dir.chmod(0o755)
    primary = replica = None
    try:
        start = time.perf_counter()
        primary, replica = clusters(base_dir, parcels)
        print(f"primaire et réplique prêts ({parcels:,} parcelles) en {time.perf_counter() - start:.1f} s")
        url = primary.url("urbasig")
        app = app_role_url(url)  # sets urbasig_app's password on the primary: the replica replays it
        password = unquote(urlsplit(app).password or "")
        read = app_url(replica.url("urbasig"), password)
        paths = workload(url)
        rows = []
        with open(LOG_NAME, "ab") as log:
            for label, env in (("primaire seul", {"URBASIG_APP_DATABASE_URL": app}),
                               ("réplique", {"URBASIG_APP_DATABASE_URL": app, "URBASIG_DATABASE_READ_URL": read})):
                proc, base = serve(env, url, log)
                try:
                    for name, urls in paths.items():
                        measure(urls[:50], base, 2, base_dir)  # warm-up
                        rps, p50, p99, worst, bad = measure(urls, base, seconds, base_dir)
                        rows.append([name, label, f"{rps:,.0f}", f"{p50:.1f}", f"{p99:.1f} (max {worst:.0f})", str(bad)])
                    if label == "réplique":
                        stopper = threading.Timer(seconds / 3, replica.stop)
                        stopper.start()
                        rps, p50, p99, worst, bad = measure(paths["item by id"], base, seconds, base_dir)
                        stopper.join()
                        rows.append(["item by id, réplique arrêtée à 1/3", label, f"{rps:,.0f}", f"{p50:.1f}",
                                     f"{p99:.1f} (max {worst:.0f})", str(bad)])
                finally:
                    stop_group(proc)
        print(table(rows, ["mesure", "lectures", "req/s", "p50 ms", "p99 ms", "perdues"]))
    finally:
        for cluster in (replica, primary):
            if cluster is not None:
                cluster.destroy()
        shutil.rmtree(base_dir, ignore_errors=True)


def measure(urls: list[str], base: str, seconds: int, workdir: Path) -> tuple[float, float, float, float, int]:
    """wrk -t2 -c8 over `urls`: (requests/s, p50, p99 and worst latency in ms, requests lost: non-2xx answers and
    socket errors)."""
    (workdir / "urls.txt").write_text("\n".join(urls) + "\n")
    (workdir / "urls.lua").write_text(WRK_LUA)
    out = subprocess.run(["wrk", "-t2", "-c8", f"-d{seconds}s", "--timeout", "60s", "--latency", "-s",
                          str(workdir / "urls.lua"), base], env={**os.environ, "URLS_FILE": str(workdir / "urls.txt")},
                         capture_output=True, text=True, timeout=seconds + 60).stdout

    def ms(value: str, unit: str) -> float:
        return float(value) / 1000 if unit == "us" else float(value) * 1000 if unit == "s" else float(value)

    latency = re.search(r"Latency\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s)", out)
    p50 = re.search(r"\s50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", out)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    lost = (int(bad.group(1)) if bad else 0) + (sum(int(g) for g in errors.groups()) if errors else 0)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return (rps, ms(*p50.groups()) if p50 else float("nan"), ms(*p99.groups()) if p99 else float("nan"),
            ms(*latency.groups()) if latency else float("nan"), lost)


if __name__ == "__main__":
    main()
