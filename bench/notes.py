"""Indicative note latency (PDF with its map extract), in process, on the sample territory.

Usage: .venv/bin/python bench/notes.py [PARCELS] [N]   (default 20000 parcels, 200 notes after 20 warm-up)
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from urllib.parse import quote

import psycopg
from _common import scratch_db

from app import create_app
from layers.sample import load_sample
from settings import Settings


def main(n_parcels: int, n: int) -> None:
    with scratch_db("urbasig_bench_notes") as url:
        with psycopg.connect(url) as conn:
            load_sample(conn, n_parcels, 42)
            refs = [r[0] for r in conn.execute("SELECT land_ref FROM parcels WHERE land_ref IS NOT NULL")]
        random.Random(5).shuffle(refs)
        app = create_app(Settings(database_url=url, indicative_per_minute=1_000_000))
        client = app.test_client()
        for fmt in ("pdf", "html"):
            times = []
            for i, ref in enumerate(refs[: n + 20]):
                start = time.perf_counter()
                r = client.get(f"/notes/indicative?land={quote(ref)}&format={fmt}")
                elapsed = time.perf_counter() - start
                assert r.status_code == 200, r.data[:200]
                if i >= 20:
                    times.append(elapsed)
            times.sort()
            median = statistics.median(times) * 1000
            print(f"note indicative {fmt.upper():<4} ({n_parcels} parcelles) : médiane {median:.1f} ms, "
                  f"p95 {times[int(len(times) * 0.95)] * 1000:.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000, int(sys.argv[2]) if len(sys.argv) > 2 else 200)
