"""Buildable envelope: latency per land on the sample territory, in process and over HTTP.

Usage: .venv/bin/python bench/envelope.py [N]   (default: 20000 parcels)
The sample territory is loaded into a scratch database of the project's PostGIS. Then, for 300 random titles
after 30 warm-up calls, median and p95 of:
- `instruction.envelope.envelope` in process (one connection, prepared statements): instruct with geometries,
  then the envelope; and the envelope alone (`envelope_of` on a result already instructed);
- POST /ogc/processes/envelope/execution on the app under gunicorn as `make run` serves it (2 workers), one
  request at a time, with a partner key (so the anonymous rate limit does not apply); each call is stored in
  check_results, as in service.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time

import psycopg
import requests
from _common import free_port, scratch_db, start_app, stop_group, table, wait_ready

from instruction.engine import Options, instruct
from instruction.envelope import envelope, envelope_of
from instruction.land import LandRequest
from layers.apikeys import create_key
from layers.sample import load_sample

WARM, RUNS = 30, 300


def _stats(times: list[float]) -> tuple[str, str]:
    times = sorted(times)
    return f"{statistics.median(times) * 1000:.2f}", f"{times[int(len(times) * 0.95)] * 1000:.2f}"


def in_process(conn: psycopg.Connection, refs: list[str]) -> list[list[str]]:
    whole, alone = [], []
    buildable = 0
    options = Options(with_geometry=True)
    for i, ref in enumerate(refs[:WARM + RUNS]):
        start = time.perf_counter()
        out = envelope(conn, LandRequest(refs=(ref,)), None, options)
        t1 = time.perf_counter()
        result = instruct(conn, LandRequest(refs=(ref,)), None, options)
        t2 = time.perf_counter()
        envelope_of(conn, result)
        t3 = time.perf_counter()
        if i >= WARM:
            whole.append(t1 - start)
            alone.append(t3 - t2)
            buildable += out["buildable"]
    print(f"  {RUNS} terrains, dont {buildable} constructibles", flush=True)
    return [["en processus : instruction + enveloppe", *_stats(whole)],
            ["en processus : enveloppe seule (envelope_of)", *_stats(alone)]]


def over_http(url: str, conn: psycopg.Connection, refs: list[str]) -> list[str]:
    key = create_key(conn, "bench-envelope")
    conn.commit()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.NamedTemporaryFile("ab", prefix="urbasig-bench-envelope-", suffix=".log", delete=False) as log:
        proc = start_app(url, port, log)
        try:
            wait_ready(base, proc, log.name)
            session = requests.Session()
            session.headers["X-API-Key"] = key
            times = []
            for i, ref in enumerate(refs[:WARM + RUNS]):
                start = time.perf_counter()
                r = session.post(f"{base}/ogc/processes/envelope/execution",
                                 json={"inputs": {"land": {"refs": [ref]}}}, timeout=30)
                elapsed = time.perf_counter() - start
                if r.status_code != 200:
                    raise RuntimeError(f"{ref}: HTTP {r.status_code} {r.text[:300]}")
                if i >= WARM:
                    times.append(elapsed)
        finally:
            stop_group(proc)
    return ["HTTP : POST /ogc/processes/envelope/execution", *_stats(times)]


def main(n: int) -> None:
    with scratch_db(f"urbasig_bench_envelope_{n}") as url, psycopg.connect(url) as conn:
        start = time.perf_counter()
        load_sample(conn, n, 42)
        conn.commit()
        print(f"{n} parcelles chargées en {time.perf_counter() - start:.0f} s", flush=True)
        refs = [r[0] for r in conn.execute("SELECT land_ref FROM parcels WHERE land_ref IS NOT NULL")]
        random.Random(7).shuffle(refs)
        rows = in_process(conn, refs)
        rows.append(over_http(url, conn, refs[WARM + RUNS:]))
        print()
        print(table(rows, ["mesure", "médiane ms", "p95 ms"]))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
