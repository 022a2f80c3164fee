"""A bounded mixed load on loopback against gunicorn (2 workers): throughput, errors, p50/p99 per endpoint, pool.

Usage: .venv/bin/python bench/load.py [PARCELS] [SECONDS] [LEVELS]   (default 20000 parcels, 20 s, "8,32")

The sample territory in a scratch database; gunicorn with 2 sync workers (as `make run`), the tile cache off (every
tile rendered) and the indicative notes' rate limit lifted (every client is 127.0.0.1). For each concurrency
level, that many client threads send a fixed mix for a fixed time, each request on a new connection (gunicorn's
sync workers do not keep connections alive): items by bbox, vector tiles, item by id, the instruction process,
indicative notes (PDF). A watcher polls /health?details to see each worker's pool: whether a request ever
waited for a connection (requests_waiting, requests_queued) or got none (requests_errors). The machine's 2 cores
are shared by the clients, the server and PostgreSQL: figures are for comparing runs, not a capacity.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import psycopg
from _common import app_role_url, free_port, scratch_db, stop_group, table

from layers.sample import load_sample

ROOT = Path(__file__).resolve().parent.parent
LOG = tempfile.gettempdir() + "/urbasig-bench-load-gunicorn.log"
MIX = (("items", 30), ("tile", 30), ("item", 25), ("instruction", 10), ("note", 5))  # endpoint, weight


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def targets(conn: psycopg.Connection) -> dict[str, list[tuple[str, str, bytes | None]]]:
    """For each endpoint, (method, path, body) requests on random places of the territory."""
    centres = conn.execute("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Transform(ST_Centroid(geom), 4326) c FROM parcels "
                           "TABLESAMPLE SYSTEM (5) LIMIT 400) s").fetchall()
    ids = [r[0] for r in conn.execute("SELECT id FROM parcels TABLESAMPLE SYSTEM (5) LIMIT 400")]
    refs = [r[0] for r in conn.execute("SELECT land_ref FROM parcels TABLESAMPLE SYSTEM (5) WHERE land_ref IS NOT NULL "
                                       "LIMIT 400")]
    conn.commit()
    out: dict[str, list[tuple[str, str, bytes | None]]] = {
        "items": [("GET", f"/ogc/collections/parcels/items?bbox={x - 0.0016:.6f},{y - 0.0014:.6f},{x + 0.0016:.6f},"
                          f"{y + 0.0014:.6f}&limit=100", None) for x, y in centres],
        "tile": [("GET", f"/ogc/collections/parcels/tiles/WebMercatorQuad/{z}/{ty}/{tx}", None)
                 for i, (x, y) in enumerate(centres) for z in [(14, 15, 16)[i % 3]] for tx, ty in [tile_of(x, y, z)]],
        "item": [("GET", f"/ogc/collections/parcels/items/{i}", None) for i in ids],
        "instruction": [("POST", "/ogc/processes/instruction/execution",
                         json.dumps({"inputs": {"land": {"refs": [r]}}}).encode()) for r in refs],
        "note": [("GET", f"/notes/indicative?land={quote(r)}", None) for r in refs],
    }
    return out


def start_server(url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "URBASIG_DATABASE_URL": url, "URBASIG_APP_DATABASE_URL": app_role_url(url),
           "URBASIG_POOL_MAX": "4", "URBASIG_TILE_CACHE": "false",
           "URBASIG_LOG_LEVEL": "WARNING", "URBASIG_INDICATIVE_PER_MINUTE": "1000000000"}
    return subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
                             "--backlog", "2048", "--log-level", "warning", "app:create_app()"], cwd=ROOT, env=env,
                            stdout=open(LOG, "ab"), stderr=subprocess.STDOUT, start_new_session=True)  # noqa: SIM115


def request(port: int, method: str, path: str, body: bytes | None, timeout: float = 60) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_ready(port: int, proc: subprocess.Popen, seconds: float = 90) -> None:
    end = time.time() + seconds
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn s'est arrêté (voir {LOG})")
        try:
            if request(port, "GET", "/health", None, 5)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError("gunicorn ne répond pas")


COUNTERS = ("requests_num", "requests_queued", "requests_errors", "requests_wait_ms", "connections_lost")


class PoolWatch:
    """Poll /health?details: per worker, the largest requests_waiting seen and the last cumulative counters."""

    def __init__(self, port: int) -> None:
        self.port, self.workers, self.unanswered = port, {}, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status, body = request(self.port, "GET", "/health?details", None, 30)
                data = json.loads(body)
                pool = data["pool"]
                counters = {k: pool.get(k, 0) for k in COUNTERS}
                seen = self.workers.setdefault(data["pid"], {"max_waiting": 0, "base": counters})
                seen["max_waiting"] = max(seen["max_waiting"], pool.get("requests_waiting", 0))
                seen.update({k: counters[k] - seen["base"][k] for k in COUNTERS})  # during this level only
                seen["pool_size"] = pool.get("pool_size", 0)
                if status != 200:
                    self.unanswered += 1
            except (OSError, ValueError, KeyError):
                self.unanswered += 1
            self._stop.wait(0.5)

    def __enter__(self) -> PoolWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def run_level(port: int, plan: dict[str, list], concurrency: int, seconds: float) -> dict:
    """`concurrency` threads for `seconds`; returns per-endpoint latencies and errors."""
    names = [name for name, weight in MIX for _ in range(weight)]
    latencies: dict[str, list[float]] = {name: [] for name, _ in MIX}
    errors: dict[str, dict[str, int]] = {name: {} for name, _ in MIX}
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < stop_at:
            name = rng.choice(names)
            method, path, body = rng.choice(plan[name])
            start = time.monotonic()
            try:
                status, _ = request(port, method, path, body)
                outcome = None if status < 400 else str(status)
            except OSError as exc:
                outcome = type(exc).__name__
            elapsed = time.monotonic() - start
            with lock:
                if outcome is None:
                    latencies[name].append(elapsed)
                else:
                    errors[name][outcome] = errors[name].get(outcome, 0) + 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"latencies": latencies, "errors": errors, "seconds": time.monotonic() - started}


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def report(concurrency: int, result: dict, watch: PoolWatch) -> None:
    latencies, errors, seconds = result["latencies"], result["errors"], result["seconds"]
    total_ok = sum(len(v) for v in latencies.values())
    total_err = sum(sum(e.values()) for e in errors.values())
    total = total_ok + total_err
    rows = []
    for name, _ in MIX:
        n_err = sum(errors[name].values())
        rows.append([name, str(len(latencies[name]) + n_err), f"{len(latencies[name]) / seconds:.1f}",
                     f"{pct(latencies[name], 50):.0f}", f"{pct(latencies[name], 99):.0f}",
                     ", ".join(f"{k}×{v}" for k, v in errors[name].items()) or "0"])
    print(f"\nconcurrence {concurrency}, {seconds:.0f} s : {total / seconds:.1f} req/s, {total} requêtes, "
          f"erreurs {total_err} ({100 * total_err / max(1, total):.2f} %)")
    print(table(rows, ["endpoint", "requêtes", "req/s", "p50 ms", "p99 ms", "erreurs"]))
    dry = any(w["max_waiting"] or w.get("requests_errors") or w.get("requests_queued") for w in watch.workers.values())
    for pid, w in sorted(watch.workers.items()):
        print(f"  pool du worker {pid} : {w.get('requests_num', 0)} emprunts, max en attente {w['max_waiting']}, "
              f"mis en file {w.get('requests_queued', 0)}, attente cumulée {w.get('requests_wait_ms', 0)} ms, "
              f"sans connexion {w.get('requests_errors', 0)}, connexions ouvertes {w.get('pool_size', 0)}")
    print(f"  pool à sec : {'oui' if dry else 'jamais'}" + (f" ; /health sans réponse {watch.unanswered}×"
                                                            if watch.unanswered else ""))


def main(n_parcels: int, seconds: float, levels: list[int]) -> None:
    with scratch_db("urbasig_bench_load") as url:
        with psycopg.connect(url) as conn:
            start = time.perf_counter()
            load_sample(conn, n_parcels, 42)
            print(f"{n_parcels} parcelles chargées en {time.perf_counter() - start:.0f} s", flush=True)
            plan = targets(conn)
        port = free_port()
        proc = start_server(url, port)
        try:
            wait_ready(port, proc)
            for name, _ in MIX:  # warm-up: each endpoint answers, and each worker has its caches
                for method, path, body in plan[name][:6]:
                    status, body_out = request(port, method, path, body)
                    if status >= 400:
                        print(f"  {name} : HTTP {status} {body_out[:200]!r}", flush=True)
            for concurrency in levels:
                with PoolWatch(port) as watch:
                    result = run_level(port, plan, concurrency, seconds)
                report(concurrency, result, watch)
            print(f"\njournal du serveur : {LOG}")
        finally:
            stop_group(proc)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000, float(sys.argv[2]) if len(sys.argv) > 2 else 20,
         [int(v) for v in (sys.argv[3] if len(sys.argv) > 3 else "8,32").split(",")])
