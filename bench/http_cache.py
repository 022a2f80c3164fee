"""HTTP caching: cached tiles from the database cache alone and from each process's memory (with the layer versions
read at every request, or once a second), and OGC items / item answered 200 or 304 (If-None-Match).

Usage: .venv/bin/python bench/http_cache.py [PARCELS] [SECONDS]   (default 200000 parcels, 10 s per measure)

urbasig under gunicorn as `make run` serves it (2 workers × 4 threads), wrk -t2 -c8 on loopback, the sample
territory in a scratch database; the tiles are asked once before each measure (warm-up), so every measured tile
is a cache hit. The machine has 2 cores shared by server, database and load generator: compare the ratios of one
run, not absolute figures across runs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import requests
from _common import free_port, scratch_db, start_app, stop_group, table, wait_ready
from ogc import tile_of, wrk

from layers.sample import load_sample

LOG = open(tempfile.gettempdir() + "/urbasig-bench-http-cache.log", "ab")  # noqa: SIM115
# wrk with a per-request If-None-Match: each line of URLS_FILE is "path<TAB>etag"
WRK_ETAG_LUA = """
local paths, tags = {}, {}
for line in io.lines(os.getenv("URLS_FILE")) do
  local path, tag = line:match("([^\\t]+)\\t(.+)")
  paths[#paths + 1] = path; tags[#tags + 1] = tag
end
local i = 0
request = function()
  i = i + 1
  local k = (i % #paths) + 1
  return wrk.format("GET", paths[k], {["If-None-Match"] = tags[k]})
end
"""
CONFIGS = {  # name: environment of the server
    "database cache only": {"URBASIG_TILE_MEMORY_CACHE_MB": "0"},
    "memory, versions read per request": {"URBASIG_TILE_VERSIONS_TTL_S": "0"},
    "memory, versions read once a second": {},
}


def wrk_304(paths: list[str], base: str, seconds: int, workdir: Path) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, answers other than 304) with each path's ETag in If-None-Match."""
    lines = []
    for path in paths:
        answer = requests.get(base + path, timeout=60)
        lines.append(f"{path}\t{answer.headers['ETag']}")
    assert requests.get(base + paths[0], headers={"If-None-Match": lines[0].split("\t")[1]},
                        timeout=60).status_code == 304
    urls, script = workdir / "etags.txt", workdir / "etags.lua"
    urls.write_text("\n".join(lines) + "\n")
    script.write_text(WRK_ETAG_LUA)
    out = subprocess.run(["wrk", "-t2", "-c8", f"-d{seconds}s", "--latency", "-s", str(script), base],
                         env={**os.environ, "URLS_FILE": str(urls)}, capture_output=True, text=True,
                         timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50, p99 = (re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out) for p in ("50", "99"))

    def ms(m: re.Match | None) -> float:
        if not m:
            return float("nan")
        return float(m[1]) / 1000 if m[2] == "us" else float(m[1]) * 1000 if m[2] == "s" else float(m[1])

    other = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)  # a 304 is a 3xx: counted only when not
    return rps, ms(p50), ms(p99), int(other[1]) if other else 0


def _serve(url: str, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = start_app(url, port, LOG, env)
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, proc, LOG.name)
    return proc, base


def main(n: int, seconds: int) -> None:
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    workdir = Path(tempfile.mkdtemp(prefix="urbasig-bench-cache-"))
    rows = []
    with scratch_db("urbasig_bench_cache") as url, psycopg.connect(url) as conn:
        start = time.perf_counter()
        load_sample(conn, n, 42)
        print(f"{n} parcelles chargées en {time.perf_counter() - start:.0f} s", flush=True)
        centres = conn.execute("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Transform(ST_Centroid(geom), 4326) c FROM parcels "
                               "TABLESAMPLE SYSTEM (1) LIMIT 300) s").fetchall()
        ids = [r[0] for r in conn.execute("SELECT id FROM parcels TABLESAMPLE SYSTEM (1) LIMIT 300")]
        conn.commit()
        tiles = {z: sorted({tile_of(x, y, z) for x, y in centres}) for z in (14, 16)}
        paths = {f"tile z{z}": [f"/ogc/collections/parcels/tiles/WebMercatorQuad/{z}/{y}/{x}" for x, y in tiles[z]]
                 for z in (14, 16)}
        for config, env in CONFIGS.items():
            proc, base = _serve(url, env)
            try:
                for label, urls in paths.items():
                    wrk(urls, base, 2, workdir)  # warm-up: every tile cached (and in each worker's memory)
                    sources = {requests.get(base + u, timeout=60).headers.get("X-Urbasig-Cache") for u in urls[:20]}
                    r = wrk(urls, base, seconds, workdir)
                    rows.append([f"{label}, {config}", f"{r[0]:.0f}", f"{r[1]:.2f} / {r[2]:.2f}",
                                 ", ".join(sorted(s or "?" for s in sources))])
                    print(f"  {rows[-1][0]:<52} {r[0]:8.0f} req/s", flush=True)
            finally:
                stop_group(proc)
        boxes = [f"{x - 0.0016:.6f},{y - 0.0014:.6f},{x + 0.0016:.6f},{y + 0.0014:.6f}" for x, y in centres]
        answers = {"items, bbox ~300 m, limit=100": [f"/ogc/collections/parcels/items?bbox={b}&limit=100"
                                                     for b in boxes],
                   "item by id": [f"/ogc/collections/parcels/items/{i}" for i in ids]}
        proc, base = _serve(url, {})
        try:
            for label, urls in answers.items():
                wrk(urls[:20], base, 2, workdir)
                for how, r in (("200", wrk(urls, base, seconds, workdir)), ("304", wrk_304(urls, base, seconds,
                                                                                             workdir))):
                    rows.append([f"{label}, {how}", f"{r[0]:.0f}", f"{r[1]:.2f} / {r[2]:.2f}", f"{r[3]} autres"])
                    print(f"  {rows[-1][0]:<52} {r[0]:8.0f} req/s", flush=True)
        finally:
            stop_group(proc)
    print()
    print(table(rows, ["measure", "req/s", "p50 / p99 ms", "served from / other answers"]))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000, int(sys.argv[2]) if len(sys.argv) > 2 else 10)
