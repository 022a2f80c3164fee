"""Jobs: what asynchronous execution costs beside a synchronous call, and how fast one runner drains the queue.

Usage: .venv/bin/python bench/jobs.py [N_JOBS]   (default 200)
The sample territory (2,000 parcels) in a scratch database of the project's PostGIS, the app on werkzeug's
threaded server, the runner in process (api/ogc/runner.py, one runner, as the web role). Measured:
- a synchronous `instruction` over HTTP, and the submission of the same as a job (`Prefer: respond-async`):
  median and p95 of N calls;
- one runner draining N accepted `instruction` jobs: jobs per second;
- submit → successful as a client sees it, with `urbasig jobs work --loop` polling every 0.2 s: median of 30.
"""

from __future__ import annotations

import random
import statistics
import sys
import threading
import time

import requests
from _common import app_role_url, scratch_db, table

from api.ogc.runner import RunnerSettings, work
from app import create_app
from layers.db import connect
from layers.sample import load_sample
from settings import Settings


def _quantiles(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times) * 1000, times[int(len(times) * 0.95) - 1] * 1000


def main(n: int) -> None:
    import psycopg
    from werkzeug.serving import make_server

    with scratch_db("urbasig_bench_jobs") as url:
        with psycopg.connect(url) as conn:
            load_sample(conn, 2000, 42)
            conn.commit()
            refs = [r[0] for r in conn.execute("SELECT land_ref FROM parcels WHERE land_ref IS NOT NULL").fetchall()]
        app_url = app_role_url(url)
        settings = Settings(database_url=url, app_database_url=app_url, pool_min=2, pool_max=8,
                            jobs_per_client=10 * n, jobs_queue_max=10 * n, jobs_poll_s=0.2, jobs_heartbeat_s=1.0,
                            jobs_stale_s=10.0)
        import logging
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = make_server("127.0.0.1", port, create_app(settings.with_(public_url=f"http://127.0.0.1:{port}")),
                             threaded=True)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}/ogc/processes/instruction/execution"
        http = requests.Session()
        rng = random.Random(7)
        picks = [rng.choice(refs) for _ in range(n)]
        for ref in picks[:20]:  # warm-up
            http.post(base, json={"inputs": {"land": {"refs": [ref]}}}, timeout=30)
        sync, submit = [], []
        for ref in picks:
            start = time.perf_counter()
            assert http.post(base, json={"inputs": {"land": {"refs": [ref]}}}, timeout=30).status_code == 200
            sync.append(time.perf_counter() - start)
        for ref in picks:
            start = time.perf_counter()
            r = http.post(base, json={"inputs": {"land": {"refs": [ref]}}}, headers={"Prefer": "respond-async"},
                          timeout=30)
            submit.append(time.perf_counter() - start)
            assert r.status_code == 201, r.text
        conf = RunnerSettings.from_settings(settings)
        start = time.perf_counter()
        done = work(lambda autocommit: connect(app_url, autocommit), conf, threading.Event(), lambda _: None, "drain")
        drain_s = time.perf_counter() - start
        assert done == n
        stop = threading.Event()
        loop = threading.Thread(target=work, args=(lambda autocommit: connect(app_url, autocommit), conf, stop,
                                                   lambda _: None, "loop"), daemon=True)
        loop.start()
        round_trips = []
        for ref in picks[:30]:
            start = time.perf_counter()
            location = http.post(base, json={"inputs": {"land": {"refs": [ref]}}},
                                 headers={"Prefer": "respond-async"}, timeout=30).headers["Location"]
            while http.get(location, timeout=30).json()["status"] != "successful":
                time.sleep(0.02)
            round_trips.append(time.perf_counter() - start)
        stop.set()
        loop.join(timeout=30)
        server.shutdown()
    rows = [[what, *(f"{v:.1f}" for v in _quantiles(times))] for what, times in (
        ("instruction, synchronous (HTTP)", sync), ("instruction, job submitted (201)", submit),
        ("submit → successful, runner polling 0.2 s", round_trips))]
    print(table(rows, ["", "median ms", "p95 ms"]))
    print(f"one runner drained {n} instruction jobs in {drain_s:.2f} s: {n / drain_s:.0f} jobs/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
