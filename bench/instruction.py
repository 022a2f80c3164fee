"""Instruction: single-land latency, and bulk instruction of an arrondissement against geopandas.overlay.

Usage: .venv/bin/python bench/instruction.py [N ...]   (default: 20000 1000000 parcels)
For each size the sample territory is loaded into a scratch database of the project's PostGIS. Then:
- single instruction (`instruction.engine.instruct`, in process, one connection, prepared statements) of
  300 random titles after 30 warm-up calls: median and p95;
- bulk zone shares of the largest arrondissement, interleaved, medians of 3 runs, wall and CPU seconds (this
  process, its children and the connection's PostgreSQL process): our vectorised shapely (STRtree, only
  straddling parcels intersected) with the load from PostGIS, the whole `bulk_instruct` (precedence, CSV), the
  `urbasig bulk-instruct` command in a new process, the SQL classification of the parcels wholly inside a zone
  alone (layers/bulk_zoning.py commune_split, not used by the product), one set-based PostGIS statement, and
  geopandas.overlay over the same parcels and zones loaded the same way.
"""

from __future__ import annotations

import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import psycopg
import shapely
from _common import scratch_db, table

from instruction.bulk import bulk_instruct, lone_zones, near_zones, zone_shares
from instruction.engine import instruct
from instruction.land import LandRequest
from layers import bulk_zoning as q
from layers.sample import load_sample

RUNS = 3


def latency(conn: psycopg.Connection, refs: list[str]) -> tuple[float, float]:
    for ref in refs[:30]:
        instruct(conn, LandRequest(refs=(ref,)))
    times = []
    for ref in refs[30:]:
        start = time.perf_counter()
        instruct(conn, LandRequest(refs=(ref,)))
        times.append(time.perf_counter() - start)
    times.sort()
    return statistics.median(times) * 1000, times[int(len(times) * 0.95)] * 1000


def _server_cpu(conn: psycopg.Connection) -> float:
    """CPU seconds used so far by this connection's server process (the project's PostgreSQL is local)."""
    fields = Path(f"/proc/{conn.info.backend_pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Clock:
    """Wall and CPU seconds (this process, its children and the connection's server process) of each run."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    def run(self, name: str, work):
        start = (time.perf_counter(), time.process_time() + _children_cpu() + _server_cpu(self.conn))
        out = work()
        self.wall.setdefault(name, []).append(time.perf_counter() - start[0])
        self.cpu.setdefault(name, []).append(time.process_time() + _children_cpu() + _server_cpu(self.conn) - start[1])
        return out

    def median(self, name: str) -> tuple[float, float]:
        return statistics.median(self.wall[name]), statistics.median(self.cpu[name])


def _ours(conn: psycopg.Connection, commune: str, plans: list[int]):
    """The zone shares as bulk_instruct computes them, the load from PostGIS counted."""
    ids, _refs, wkbs = q.commune_parcels(conn, commune)
    parcels = shapely.from_wkb(wkbs)
    zones = near_zones(q.plan_zones(conn, plans), parcels)
    return zone_shares(parcels, shapely.from_wkb([z["wkb"] for z in zones]), 3.0, 50.0)


def _before(conn: psycopg.Connection, commune: str, plans: list[int]):
    """The path this replaced, kept here as the reference: one row per parcel, every zone of the plans in force."""
    with conn.cursor(binary=True) as cur:
        rows = cur.execute("SELECT id, land_ref, ST_AsBinary(geom) FROM parcels WHERE commune_code = %s ORDER BY id",
                           (commune,)).fetchall()
    zones = q.plan_zones(conn, plans)
    return zone_shares(shapely.from_wkb([r[2] for r in rows]), shapely.from_wkb([z["wkb"] for z in zones]), 3.0, 50.0)


def _geopandas(conn: psycopg.Connection, commune: str, plans: list[int], near: bool = True):
    """geopandas.overlay over the same parcels and zones, loaded from PostGIS the same way (`near` False: every zone
    of the plans in force, as this benchmark gave it before the zones were filtered)."""
    ids, _refs, wkbs = q.commune_parcels(conn, commune)
    parcels = shapely.from_wkb(wkbs)
    zones = q.plan_zones(conn, plans)
    zones = near_zones(zones, parcels) if near else zones
    left = gpd.GeoDataFrame({"parcel": ids}, geometry=parcels, crs=26191)
    right = gpd.GeoDataFrame({"zone": [z["id"] for z in zones]}, geometry=shapely.from_wkb([z["wkb"] for z in zones]),
                             crs=26191)
    overlay = gpd.overlay(left, right, how="intersection", keep_geom_type=True)
    overlay["area"] = overlay.geometry.area
    return overlay


def _split(conn: psycopg.Connection, commune: str, plans: list[int]) -> q.CommuneSplit:
    """Only the classification in SQL (ST_CoveredBy with the parcels' GiST index) of the parcels wholly inside one
    lone zone: what it would save the load is what the product pays for the whole load."""
    zones = q.plan_zones(conn, plans)
    geoms = shapely.from_wkb([z["wkb"] for z in zones])
    keys = np.flatnonzero(lone_zones(geoms, np.arange(len(zones)), np.zeros(len(zones), dtype=np.int64)))
    return q.commune_split(conn, commune, shapely.to_wkb(geoms[keys]).tolist(), keys.tolist())


def _cli(url: str, commune: str, out: Path) -> None:
    """`urbasig bulk-instruct` as a user runs it: a new process, its imports, its connection, the CSV file."""
    subprocess.run([str(Path(sys.executable).with_name("urbasig")), "bulk-instruct", commune, "--out", str(out)],
                   check=True, env={**os.environ, "URBASIG_DATABASE_URL": url}, stderr=subprocess.DEVNULL)


GEOPANDAS_COMMAND = """
import sys
import warnings
import geopandas as gpd, psycopg
warnings.simplefilter("ignore")  # pandas prefers SQLAlchemy connections; a psycopg one is what a script has
url, commune, out = sys.argv[1:4]
with psycopg.connect(url) as conn:
    parcels = gpd.read_postgis("SELECT id, land_ref, geom FROM parcels WHERE commune_code = %(c)s ORDER BY id", conn,
                               geom_col="geom", params={"c": commune})
    zones = gpd.read_postgis("SELECT z.id, z.code, z.geom FROM zones z WHERE z.plan_id = ANY(%(p)s) AND "
                             "z.geom && (SELECT ST_Extent(geom) FROM parcels WHERE commune_code = %(c)s)", conn,
                             geom_col="geom", params={"c": commune, "p": [int(p) for p in sys.argv[4:]] or None})
overlay = gpd.overlay(parcels, zones, how="intersection", keep_geom_type=True)
overlay["area_m2"] = overlay.geometry.area.round(2)
overlay.drop(columns="geometry").to_csv(out, index=False)
"""


def _geopandas_command(url: str, commune: str, plans: list[int], out: Path) -> None:
    """The same as a geopandas user's command: a new process, geopandas imported, read_postgis, overlay, CSV."""
    subprocess.run([sys.executable, "-c", GEOPANDAS_COMMAND, url, commune, str(out), *map(str, plans)], check=True)


def bulk(conn: psycopg.Connection, url: str, commune: str) -> list[list[str]]:
    day = date.today()
    plans = [p["id"] for p in q.plans_in_force(conn, commune, day)]
    n = len(q.commune_parcels(conn, commune)[0])
    clock = Clock(conn)
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(RUNS):  # interleaved: the machine is shared, each method sees the same moments
            ours = clock.run("ours", lambda: _ours(conn, commune, plans))
            before = clock.run("before", lambda: _before(conn, commune, plans))
            clock.run("full", lambda: bulk_instruct(conn, commune, day))
            clock.run("cli", lambda: _cli(url, commune, Path(tmp) / "out.csv"))
            clock.run("gpd_cli", lambda: _geopandas_command(url, commune, plans, Path(tmp) / "gpd.csv"))
            overlay = clock.run("gpd", lambda: _geopandas(conn, commune, plans))
            clock.run("gpd_all", lambda: _geopandas(conn, commune, plans, near=False))
            split = clock.run("split", lambda: _split(conn, commune, plans))
            rows = clock.run("sql", lambda: q.bulk_zone_shares_sql(conn, commune, plans))
            assert abs(len(ours.parcel_index) - len(overlay)) <= len(overlay) * 0.01, (len(ours.parcel_index),
                                                                                         len(overlay))
            assert len(rows) >= len(ours.parcel_index)
            assert np.array_equal(before.area_m2, ours.area_m2) and before.straddling == ours.straddling
    print(f"  {commune} : {n} parcelles, dont {len(split.wkbs)} hors d'une zone unique (à intersecter) ; médianes de "
          f"{RUNS} passages alternés, temps écoulé et CPU (client + serveur PostgreSQL)", flush=True)

    def row(label: str, name: str, peer: str = "gpd") -> list[str]:
        wall, cpu = clock.median(name)
        peer_wall, peer_cpu = clock.median(peer)
        return [label, f"{wall:.3f}", f"{cpu:.3f}", f"{n / wall:,.0f}".replace(",", " "), f"{peer_wall / wall:.1f}×",
                f"{peer_cpu / cpu:.1f}×"]

    return [row("parts de zone, chargement compris (shapely STRtree)", "ours"),
            row("  le chemin d'avant (une ligne par parcelle, toutes les zones)", "before"),
            row("bulk_instruct complet (préséance, CSV)", "full"),
            row("commande urbasig bulk-instruct (processus neuf, CPU du client)", "cli"),
            row("  la même, vs geopandas en commande", "cli", "gpd_cli"),
            row("geopandas en commande (import, read_postgis, overlay, CSV)", "gpd_cli"),
            row("classement seul en SQL (ST_CoveredBy, index GiST)", "split"),
            row("SQL ensembliste PostGIS (une requête)", "sql"),
            row("geopandas.overlay, chargement compris, zones proches", "gpd"),
            row("geopandas.overlay, chargement compris, toutes les zones des plans", "gpd_all"),
            row("  parts de zone vs geopandas toutes zones (comparaison d'avant)", "ours", "gpd_all")]


def main(sizes: list[int]) -> None:
    for n in sizes:
        with scratch_db(f"urbasig_bench_instr_{n}") as url, psycopg.connect(url) as conn:
            start = time.perf_counter()
            load_sample(conn, n, 42)
            print(f"{n} parcelles chargées en {time.perf_counter() - start:.0f} s", flush=True)
            refs = [r[0] for r in conn.execute("SELECT land_ref FROM parcels WHERE land_ref IS NOT NULL")]
            random.Random(7).shuffle(refs)
            median, p95 = latency(conn, refs[:330])
            print(f"  instruction d'un terrain : médiane {median:.2f} ms, p95 {p95:.2f} ms", flush=True)
            commune = conn.execute("SELECT commune_code FROM parcels GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
                                   ).fetchone()[0]
            rows = bulk(conn, url, commune)
            print()
            print(table(rows, ["méthode", "écoulé s", "CPU s", "parcelles/s", "vs geopandas (écoulé)",
                               "vs geopandas (CPU)"]))
            print()


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [20_000, 1_000_000])
