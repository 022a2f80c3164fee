"""Audit chain cost: appends per second (one transaction each, as requests do) and verification speed."""

from __future__ import annotations

import sys
import threading
import time

import psycopg
from _common import app_role_url, scratch_db

from layers.audit import audit, verify_chain


def appends(url: str, n: int, writers: int) -> float:
    """Append n lines from `writers` concurrent connections of the server's role; lines per second."""
    def write(k: int) -> None:
        with psycopg.connect(url) as conn:
            for i in range(n // writers):
                audit(conn, f"w{k}", "bench", "note_request", str(i), {"status": "payee"}, {"status": "instruite"})
                conn.commit()

    threads = [threading.Thread(target=write, args=(k,)) for k in range(writers)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return n / (time.perf_counter() - started)


def main(n: int) -> None:
    with scratch_db("urbasig_bench_audit") as url:
        app = app_role_url(url)
        for writers in (1, 8):
            print(f"ajouts au journal, {writers} connexion(s) : {appends(app, n, writers):,.0f} lignes/s")
        with psycopg.connect(url) as conn:
            started = time.perf_counter()
            report = verify_chain(conn)
            seconds = time.perf_counter() - started
        assert report.ok
        print(f"vérification : {report.lines:,} lignes en {seconds:.2f} s ({report.lines / seconds:,.0f} lignes/s)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4000)
