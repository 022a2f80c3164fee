"""OGC API throughput: urbasig beside tipg and stock pygeoapi (PostgreSQL + MVT-postgresql providers).

Usage: .venv/bin/python bench/ogc.py [PARCELS] [SECONDS]   (default 200000 parcels, 10 s per measure)

All three servers read the same scratch database (the sample territory), each with 2 worker processes,
on loopback; wrk (-t2 -c8) drives each endpoint in turn, with varied URLs (random ~300 m bboxes, ids,
tiles) from a Lua script. tipg and pygeoapi are installed into var/bench/ virtualenvs on first run
(never committed). The machine has 2 cores shared by server, database and load generator: compare the
ratios of one run, not absolute figures across runs.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import requests
from _common import app_role_url, free_port, scratch_db, stop_group, table

from api.ogc.features import encode_cursor
from layers.sample import load_sample

ROOT = Path(__file__).resolve().parent.parent
# server output goes to a file: an unread pipe fills up and blocks the server (tipg logs every request)
LOG = open(tempfile.gettempdir() + "/urbasig-bench-ogc-servers.log", "ab")  # noqa: SIM115
VENVS = ROOT / "var" / "bench"
WRK_LUA = """
local paths = {}
for line in io.lines(os.getenv("URLS_FILE")) do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format(os.getenv("METHOD") or "GET", paths[(i % #paths) + 1], {["Content-Type"] = "application/json"},
                    os.getenv("BODY"))
end
"""


def ensure_tools() -> None:
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env={**os.environ,
                                                                                 "DEBIAN_FRONTEND": "noninteractive"})
    venv = VENVS / "tipg-venv"
    if not (venv / "bin" / "uvicorn").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "tipg==1.6.1", "uvicorn"], check=True)
    venv = VENVS / "pygeoapi-venv"
    if not (venv / "bin" / "gunicorn").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "pygeoapi==0.21.0", "gunicorn", "psycopg2-binary",
                        "geoalchemy2", "sqlalchemy"], check=True)


def wait(url: str, proc: subprocess.Popen, seconds: float = 90) -> None:
    end = time.time() + seconds
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"le serveur s'est arrêté (voir {LOG.name})")
        try:
            if requests.get(url, timeout=5).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"pas de réponse de {url}")


def start_urbasig(url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "URBASIG_DATABASE_URL": url, "URBASIG_APP_DATABASE_URL": app_role_url(url),
           "URBASIG_POOL_MAX": "4", "URBASIG_TILE_CACHE": "false",
           "URBASIG_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
                             "--log-level", "warning", "app:create_app()"], cwd=ROOT, env=env,
                            stdout=LOG, stderr=subprocess.STDOUT, start_new_session=True)


def start_tipg(url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "TIPG_DB_SCHEMAS": '["public"]'}
    return subprocess.Popen([str(VENVS / "tipg-venv" / "bin" / "uvicorn"), "tipg.main:app", "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "2", "--log-level", "warning"], env=env,
                            stdout=LOG, stderr=subprocess.STDOUT, start_new_session=True)


def start_pygeoapi(url: str, port: int, workdir: Path, bbox: list[float]) -> subprocess.Popen:
    parts = urlsplit(url)
    data = {"host": parts.hostname, "port": parts.port, "dbname": parts.path.lstrip("/"), "user": parts.username,
            "password": parts.password, "search_path": ["public"]}
    config = {
        "server": {"bind": {"host": "127.0.0.1", "port": port}, "url": f"http://127.0.0.1:{port}",
                   "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8", "languages": ["en-US"],
                   "limits": {"default_items": 10, "max_items": 1000}, "pretty_print": False,
                   "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"}},
        "logging": {"level": "ERROR"},
        "metadata": {"identification": {"title": "bench", "description": "bench", "keywords": ["bench"],
                                        "keywords_type": "theme", "terms_of_service": "x", "url": "http://x"},
                     "license": {"name": "x", "url": "http://x"}, "provider": {"name": "x", "url": "http://x"},
                     "contact": {"name": "x", "position": "x", "address": "x", "city": "x", "stateorprovince": "x",
                                 "postalcode": "x", "country": "x", "phone": "x", "fax": "x", "email": "x@x.x",
                                 "url": "http://x", "hours": "x", "instructions": "x", "role": "pointOfContact"}},
        "resources": {"parcels": {
            "type": "collection", "title": "parcels", "description": "parcels", "keywords": ["parcels"],
            "links": [],
            "extents": {"spatial": {"bbox": bbox, "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
            "providers": [
                {"type": "feature", "name": "PostgreSQL", "data": data, "id_field": "id", "table": "parcels",
                 "geom_field": "geom", "storage_crs": "http://www.opengis.net/def/crs/EPSG/0/26191",
                 # the same public properties as ours (and not the second geometry column, which it cannot serialise)
                 "properties": ["land_ref", "ref_kind", "area_m2", "legal_area_m2", "commune_code"]},
                {"type": "tile", "name": "MVT-postgresql", "data": data, "id_field": "id", "table": "parcels",
                 "geom_field": "geom", "options": {"zoom": {"min": 0, "max": 22}},
                 "format": {"name": "pbf", "mimetype": "application/vnd.mapbox-vector-tile"}}]}},
    }
    import yaml

    cfg = workdir / "pygeoapi.yml"
    cfg.write_text(yaml.safe_dump(config))
    oas = workdir / "openapi.yml"
    bindir = VENVS / "pygeoapi-venv" / "bin"
    env = {**os.environ, "PYGEOAPI_CONFIG": str(cfg), "PYGEOAPI_OPENAPI": str(oas)}
    subprocess.run([str(bindir / "pygeoapi"), "openapi", "generate", str(cfg), "--output-file", str(oas)], env=env,
                   check=True, capture_output=True)
    return subprocess.Popen([str(bindir / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2", "--log-level",
                             "warning", "pygeoapi.flask_app:APP"], env=env, stdout=LOG,
                            stderr=subprocess.STDOUT, start_new_session=True)


def wrk(paths: list[str], base: str, seconds: int, workdir: Path, method: str = "GET",
        body: str | None = None) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, non-2xx count) for a list of paths."""
    urls = workdir / "urls.txt"
    urls.write_text("\n".join(paths) + "\n")
    script = workdir / "urls.lua"
    script.write_text(WRK_LUA)
    env = {**os.environ, "URLS_FILE": str(urls), "METHOD": method}
    if body:
        env["BODY"] = body
    out = subprocess.run(["wrk", "-t2", "-c8", f"-d{seconds}s", "--timeout", "60s", "--latency", "-s", str(script), base],
                         env=env,
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p: str) -> float:
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, pct("50"), pct("99"), int(bad.group(1)) if bad else 0


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def _endpoints(url: str, workdir: Path, extent: list[float], bboxes: list[str], ids: list[int],
               tiles: dict[int, list[tuple[int, int]]]) -> dict[str, dict]:
    """Each server's start function and the URLs of each measured endpoint."""
    return {
        "urbasig": {"start": lambda p: start_urbasig(url, p), "ready": "/ogc/collections",
                    "items": [f"/ogc/collections/parcels/items?bbox={b}&limit=100" for b in bboxes],
                    "item": [f"/ogc/collections/parcels/items/{i}" for i in ids],
                    "offset": [f"/ogc/collections/parcels/items?limit=100&offset={10000 + k}" for k in range(0, 300, 7)],
                    "deep": [f"/ogc/collections/parcels/items?limit=100&cursor={encode_cursor({'a': 10000 + k})}"
                             for k in range(0, 300, 7)],
                    "z14": [f"/ogc/collections/parcels/tiles/WebMercatorQuad/14/{y}/{x}" for x, y in tiles[14]],
                    "z16": [f"/ogc/collections/parcels/tiles/WebMercatorQuad/16/{y}/{x}" for x, y in tiles[16]]},
        "tipg": {"start": lambda p: start_tipg(url, p), "ready": "/collections",
                 "items": [f"/collections/public.parcels/items?bbox={b}&limit=100" for b in bboxes],
                 "item": [f"/collections/public.parcels/items/{i}" for i in ids],
                 "offset": [f"/collections/public.parcels/items?limit=100&offset={10000 + k}"
                            for k in range(0, 300, 7)],
                 "z14": [f"/collections/public.parcels/tiles/WebMercatorQuad/14/{x}/{y}" for x, y in tiles[14]],
                 "z16": [f"/collections/public.parcels/tiles/WebMercatorQuad/16/{x}/{y}" for x, y in tiles[16]]},
        "pygeoapi": {"start": lambda p: start_pygeoapi(url, p, workdir, extent), "ready": "/collections",
                     "items": [f"/collections/parcels/items?bbox={b}&limit=100&f=json" for b in bboxes],
                     "item": [f"/collections/parcels/items/{i}?f=json" for i in ids],
                     "offset": [f"/collections/parcels/items?limit=100&offset={10000 + k}&f=json"
                                for k in range(0, 300, 7)],
                     "z14": [f"/collections/parcels/tiles/WebMercatorQuad/14/{y}/{x}?f=mvt" for x, y in tiles[14]],
                     "z16": [f"/collections/parcels/tiles/WebMercatorQuad/16/{y}/{x}?f=mvt" for x, y in tiles[16]]},
    }


def _measure(name: str, spec: dict, seconds: int, workdir: Path, labels: dict[str, str], refs: list[str],
             results: dict[str, dict[str, tuple]], empty: set[tuple[str, str]]) -> None:
    """Start one server, measure each endpoint with wrk, stop it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        proc = spec["start"](port)
    except Exception as exc:  # a peer that cannot start is reported, the others still run
        print(f"  {name} : démarrage impossible ({exc})", flush=True)
        return
    try:
        wait(base + spec["ready"], proc)
        results[name] = {}
        for key in [k for k in ("items", "item", "offset", "deep", "z14", "z16") if k in spec]:
            try:
                sample = requests.get(base + spec[key][0], timeout=120)
                if sample.status_code >= 400:
                    print(f"  {name} {key}: HTTP {sample.status_code} {sample.text[:200]}", flush=True)
                if sample.status_code == 204 or not sample.content:
                    # an empty answer is not a comparable measure (stock pygeoapi's MVT provider gives
                    # 204 on a table stored in EPSG:26191)
                    empty.add((name, key))
                    print(f"  {name} {key}: réponse vide (HTTP {sample.status_code})", flush=True)
                wrk(spec[key][:20], base, 2, workdir)  # warm-up
                results[name][key] = wrk(spec[key], base, seconds, workdir)
            except (requests.RequestException, subprocess.TimeoutExpired, AttributeError) as exc:
                print(f"  {name:<9} {labels[key]:<32} échec ({type(exc).__name__})", flush=True)
                continue
            print(f"  {name:<9} {labels[key]:<32} {results[name][key][0]:8.1f} req/s", flush=True)
        if name == "urbasig":
            body = json.dumps({"inputs": {"land": {"refs": refs}}})
            results[name]["process"] = wrk(["/ogc/processes/instruction/execution"], base, seconds, workdir,
                                           "POST", body)
            print(f"  {name:<9} {labels['process']:<32} {results[name]['process'][0]:8.1f} req/s", flush=True)
    except Exception as exc:
        print(f"  {name} : mesure interrompue ({exc})", flush=True)
    finally:
        stop_group(proc)


def main(n: int, seconds: int) -> None:
    ensure_tools()
    workdir = Path(tempfile.mkdtemp(prefix="urbasig-bench-ogc-"))
    with scratch_db("urbasig_bench_ogc") as url, psycopg.connect(url) as conn:
        start = time.perf_counter()
        load_sample(conn, n, 42)
        print(f"{n} parcelles chargées en {time.perf_counter() - start:.0f} s", flush=True)
        centres = conn.execute("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Transform(ST_Centroid(geom), 4326) c FROM parcels "
                               "TABLESAMPLE SYSTEM (1) LIMIT 300) s").fetchall()
        ids = [r[0] for r in conn.execute("SELECT id FROM parcels TABLESAMPLE SYSTEM (1) LIMIT 300")]
        refs = [r[0] for r in conn.execute("SELECT land_ref FROM parcels TABLESAMPLE SYSTEM (1) "
                                           "WHERE land_ref IS NOT NULL LIMIT 1")]
        e = conn.execute("SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (SELECT ST_Transform(ST_SetSRID("
                         "ST_Extent(geom)::geometry, 26191), 4326) b FROM parcels) s").fetchone()
        conn.commit()
        bboxes = [f"{x - 0.0016:.6f},{y - 0.0014:.6f},{x + 0.0016:.6f},{y + 0.0014:.6f}" for x, y in centres]
        tiles = {z: [tile_of(x, y, z) for x, y in centres] for z in (14, 16)}
        servers = _endpoints(url, workdir, list(e), bboxes, ids, tiles)
        labels = {"items": "items, bbox ~300 m, limit=100", "item": "item by id",
                  "offset": "deep page by offset (10 000, 100)", "deep": "deep page by cursor (10 000, 100)",
                  "z14": "parcels tile z14 (uncached)", "z16": "parcels tile z16 (uncached)",
                  "process": "process: instruction"}
        results: dict[str, dict[str, tuple]] = {}
        empty: set[tuple[str, str]] = set()
        for name, spec in servers.items():
            _measure(name, spec, seconds, workdir, labels, refs, results, empty)
    rows = []
    for key, label in labels.items():
        row = [label]
        for name in ("urbasig", "tipg", "pygeoapi"):
            r = results.get(name, {}).get(key)
            note = " vide" if (name, key) in empty else ""
            row.append(f"{r[0]:.1f} ({r[1]:.1f} / {r[2]:.1f} ms)" + (f" {r[3]} err" if r[3] else "") + note if r else "—")
        ours = results.get("urbasig", {}).get(key)
        for peer in ("tipg", "pygeoapi"):
            other = results.get(peer, {}).get(key)
            valid = ours and other and other[0] and (peer, key) not in empty
            row.append(f"{ours[0] / other[0]:.1f}×" if valid else "—")
        rows.append(row)
    print()
    print(table(rows, ["endpoint", "urbasig req/s (p50/p99)", "tipg", "pygeoapi", "vs tipg", "vs pygeoapi"]))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000, int(sys.argv[2]) if len(sys.argv) > 2 else 10)
