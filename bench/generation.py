"""Sample territory: generation and load time at 20,000 and 1,000,000 parcels.

Usage: .venv/bin/python bench/generation.py [N ...]   (default: 20000 1000000)
Each size is generated and loaded into a scratch database of the project's PostGIS (make db first).
"""

from __future__ import annotations

import resource
import sys
import time

import psycopg
from _common import scratch_db, table

from data.generator import generate
from layers.sample import load_sample


def main(sizes: list[int]) -> None:
    rows = []
    for n in sizes:
        start = time.perf_counter()
        generate(n, 42)
        gen_only = time.perf_counter() - start
        with scratch_db(f"urbasig_bench_gen_{n}") as url, psycopg.connect(url) as conn:
            summary = load_sample(conn, n, 42)
            size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
        total = summary.generate_s + summary.load_s
        rows.append([f"{n:,}".replace(",", " "), f"{gen_only:.1f}", f"{summary.load_s:.1f}", f"{total:.1f}",
                     f"{n / total:,.0f}".replace(",", " "), size])
        print(f"  {n} parcelles : génération {gen_only:.1f} s, chargement {summary.load_s:.1f} s", flush=True)
    print()
    print(table(rows, ["parcelles", "génération s", "chargement s", "total s", "parcelles/s", "taille base"]))
    print(f"mémoire max du processus : {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.1f} Go")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [20_000, 1_000_000])
