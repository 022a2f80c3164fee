"""Search box latency: GET /api/recherche over HTTP, per kind of text, on a large sample territory.

Usage: .venv/bin/python bench/search.py [PARCELS] [N]   (default 200000 parcels, N = 200 requests per kind)

The app runs under gunicorn (2 workers) on loopback; one client sends the requests one after the other (a
person typing: latency, not throughput), each kind of text drawn from the database (titles typed letter by
letter, whole titles, addresses, misspelt addresses, streets, communes, Lambert and lon/lat points, DMS,
nonsense). The plans of the queries are printed (auto_explain, as the owner): the index each one reads, and
whether any scanned the parcels table. Aim: under 50 ms per suggestion.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import requests
from _common import free_port, scratch_db, start_app, stop_group, table, wait_ready

from layers.sample import load_sample

ROOT = Path(__file__).resolve().parent.parent
LOG = open(tempfile.gettempdir() + "/urbasig-bench-search-server.log", "ab")  # noqa: SIM115


def texts(conn: psycopg.Connection, n: int) -> dict[str, list[str]]:
    """The texts of each kind, read from the database."""
    rng = random.Random(7)
    refs = [r[0] for r in conn.execute("SELECT land_ref FROM parcels TABLESAMPLE SYSTEM (2) WHERE land_ref IS NOT NULL "
                                       "LIMIT %s", (n,))]
    typed = [ref[:k] for ref in refs[: max(1, n // 8)] for k in range(1, len(ref) + 1)][:n]
    addresses = [r[0] for r in conn.execute("SELECT address FROM parcels TABLESAMPLE SYSTEM (2) LIMIT %s", (n,))]
    streets = [r[0] for r in conn.execute("SELECT DISTINCT name FROM roads WHERE name IS NOT NULL")]
    communes = [r[0] for r in conn.execute("SELECT name FROM communes")]
    points = conn.execute("SELECT ST_X(p), ST_Y(p), ST_X(ST_Transform(p, 4326)), ST_Y(ST_Transform(p, 4326)) FROM "
                          "(SELECT ST_PointOnSurface(geom) AS p FROM parcels TABLESAMPLE SYSTEM (1) LIMIT %s) s",
                          (n,)).fetchall()

    def dms(lat: float, lon: float) -> str:
        def one(v: float) -> str:
            v = abs(v)
            return f"{int(v)}°{int(v * 60) % 60}'{(v * 3600) % 60:.1f}\""
        return f"{one(lat)}N {one(lon)}W"

    def misspelt(address: str) -> str:
        number, street = address.split(", ", 1)
        return f"{street.lower().replace('rue', 'r.').replace('boulevard', 'bd').replace('ibn', 'ibnou')} {number}"

    return {
        "titre tapé lettre à lettre": typed,
        "titre complet (tf12345-c)": [r.lower().replace(" ", "").replace("/", "-") for r in refs],
        "adresse exacte": [a.replace(",", "") for a in addresses],
        "adresse mal orthographiée": [misspelt(a) for a in addresses if ", " in a],
        "voie seule": [rng.choice(streets).lower() for _ in range(n)],
        "commune": [rng.choice(communes) for _ in range(n)],
        "Lambert x y": [f"{x:.1f} {y:.1f}" for x, y, _lon, _lat in points],
        "lon/lat décimal": [f"{lat:.6f}, {lon:.6f}" for _x, _y, lon, lat in points],
        "degrés-minutes-secondes": [dms(lat, lon) for _x, _y, lon, lat in points],
        "rien de connu": [f"zq{rng.randrange(10**6)}x" for _ in range(n)],
    }


def measure(base: str, queries: list[str]) -> tuple[float, float, float, int]:
    """Median, p95 and max in ms over HTTP, and the share of answers with results (in %)."""
    session = requests.Session()
    for q in queries[:10]:  # warm-up: connections, prepared statements
        session.get(base + "/api/recherche", params={"q": q})
    times, found = [], 0
    for q in queries:
        start = time.perf_counter()
        response = session.get(base + "/api/recherche", params={"q": q, "limit": 8})
        times.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
        found += bool(response.json()["results"])
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], times[-1], round(100 * found / len(queries))


def plans(url: str, samples: dict[str, list[str]]) -> list[list[str]]:
    """The indexes each kind's queries read, from auto_explain (shown to this client), and any scan of parcels."""
    from gis.search_text import understand
    from layers.search import find

    rows = []
    with psycopg.connect(url, autocommit=True) as conn:
        notices: list[str] = []
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        conn.execute("LOAD 'auto_explain'")
        conn.execute("SET auto_explain.log_min_duration = 0")
        conn.execute("SET auto_explain.log_nested_statements = on")
        conn.execute("SET client_min_messages = log")
        for kind, queries in samples.items():
            notices.clear()
            find(conn, understand(queries[len(queries) // 2]), 8)
            text = "\n".join(notices)
            import re

            indexes = sorted(set(re.findall(r"Index (?:Only )?Scan (?:Backward )?using (\w+)", text)
                                 + re.findall(r"Bitmap Index Scan on (\w+)", text)))
            seq = sorted(set(re.findall(r"Seq Scan on (\w+)", text)))
            rows.append([kind, ", ".join(indexes) or "—", ", ".join(seq) or "—"])
    return rows


def main(n_parcels: int, n: int) -> None:
    with scratch_db("urbasig_bench_search") as url, psycopg.connect(url) as conn:
        start = time.perf_counter()
        load_sample(conn, n_parcels, 42)
        conn.commit()
        conn.execute("ANALYZE")
        conn.commit()
        print(f"{n_parcels} parcelles chargées en {time.perf_counter() - start:.0f} s", flush=True)
        samples = texts(conn, n)
        port = free_port()
        proc = start_app(url, port, LOG)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base, proc, LOG.name)
            rows = []
            for kind, queries in samples.items():
                p50, p95, worst, found = measure(base, queries)
                rows.append([kind, str(len(queries)), f"{p50:.1f}", f"{p95:.1f}", f"{worst:.1f}", f"{found} %"])
        finally:
            stop_group(proc)
        print()
        print(f"GET /api/recherche sur {n_parcels} parcelles (gunicorn 2 workers, un client, ms)")
        print(table(rows, ["texte", "n", "médiane", "p95", "max", "avec résultat"]))
        print()
        print(table(plans(url, samples), ["texte", "index lus", "parcours séquentiels"]))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000, int(sys.argv[2]) if len(sys.argv) > 2 else 200)
