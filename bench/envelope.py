"""Buildable envelope: latency per land on the sample territory, in process and over HTTP.

Usage: .venv/bin/python bench/envelope.py [N]   (default: 20000 parcels)
The sample territory is loaded into a scratch database of the project's PostGIS. Then, for 300 random titles
after 30 warm-up calls, median and p95 of:
- `instruction.envelope.envelope` in process (one connection, prepared statements): instruct with geometries,
  then the envelope; and the envelope alone (`envelope_from` on a land already instructed, with the roads and
  zones its instruction read);
- POST /ogc/processes/envelope/execution on the app under gunicorn as `make run` serves it (2 workers), one
  request at a time, with a partner key (so the anonymous rate limit does not apply); each call is stored in
  check_results, as in service.
Then large drawn lands (star-shaped, a jagged outline: 2 % radial noise on every vertex), in process:
- at the envelope's limits: 2,000 vertices, 20 ha (URBASIG_ENVELOPE_MAX_VERTICES, _MAX_AREA_M2);
- past them, inside the instruction's (10,000 vertices, 5 km²): 9,990 vertices, 4.8 km², refused, and the same
  land with the envelope's limits lifted (its cost now: it ran for minutes before the limits were buffered as
  merged runs).
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time

import numpy as np
import psycopg
import requests
import shapely
from _common import free_port, scratch_db, start_app, stop_group, table, wait_ready
from shapely.geometry import mapping

from gis.errors import LandTooLarge
from instruction.engine import Options, instruct_with_sources
from instruction.envelope import envelope, envelope_from
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
        instructed = instruct_with_sources(conn, LandRequest(refs=(ref,)), None, options)
        t2 = time.perf_counter()
        envelope_from(conn, instructed, options)
        t3 = time.perf_counter()
        if i >= WARM:
            whole.append(t1 - start)
            alone.append(t3 - t2)
            buildable += out["buildable"]
    print(f"  {RUNS} terrains, dont {buildable} constructibles", flush=True)
    return [["en processus : instruction + enveloppe", *_stats(whole)],
            ["en processus : enveloppe seule (envelope_from)", *_stats(alone)]]


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


def _star(cx: float, cy: float, vertices: int, area_m2: float) -> dict:
    """A star-shaped land of `vertices` vertices and about `area_m2`, each vertex's radius off by 2 % (GeoJSON)."""
    radius = (area_m2 / np.pi) ** 0.5
    angles = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    r = radius * (1 + 0.02 * np.random.default_rng(1).standard_normal(vertices))
    ring = np.c_[cx + r * np.cos(angles), cy + r * np.sin(angles)]
    return mapping(shapely.Polygon(ring))


def large_lands(conn: psycopg.Connection) -> list[list[str]]:
    cx, cy = conn.execute("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(perimeter) AS c FROM plans "
                          "WHERE kind = 'PA' ORDER BY code LIMIT 1) p").fetchone()
    rows = []
    at_limits = LandRequest(geometry=_star(cx, cy, 1_999, 199_000), crs="EPSG:26191")  # 2,000 with its closing one
    times = []
    for _ in range(5):
        start = time.perf_counter()
        envelope(conn, at_limits, None, Options())
        times.append(time.perf_counter() - start)
    rows.append(["terrain dessiné aux limites : 2 000 sommets, 20 ha", f"{statistics.median(times) * 1000:.0f}", "—"])
    huge = LandRequest(geometry=_star(cx, cy, 9_990, 4_800_000), crs="EPSG:26191")
    start = time.perf_counter()
    try:
        envelope(conn, huge, None, Options())
    except LandTooLarge:
        rows.append(["9 990 sommets, 4,8 km² : refusé (400)", f"{(time.perf_counter() - start) * 1000:.0f}", "—"])
    lifted = Options(envelope_max_area_m2=5_000_000, envelope_max_vertices=10_000)
    start = time.perf_counter()
    envelope(conn, huge, None, lifted)
    rows.append(["le même, limites de l'enveloppe levées", f"{(time.perf_counter() - start) * 1000:.0f}", "—"])
    return rows


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
        rows += large_lands(conn)
        print()
        print(table(rows, ["mesure", "médiane ms", "p95 ms"]))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
