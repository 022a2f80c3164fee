"""Instruction: single-land latency, and bulk instruction of an arrondissement against geopandas.overlay.

Usage: .venv/bin/python bench/instruction.py [N ...]   (default: 20000 1000000 parcels)
For each size the sample territory is loaded into a scratch database of the project's PostGIS. Then:
- single instruction (`instruction.engine.instruct`, in process, one connection, prepared statements) of
  300 random titles after 30 warm-up calls: median and p95;
- bulk zone shares of the largest arrondissement, three ways, medians of 3 runs: our vectorised shapely
  (STRtree, only straddling parcels intersected), the same as one set-based PostGIS statement, and
  geopandas.overlay; each with and without loading the data from PostGIS.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from datetime import date

import geopandas as gpd
import psycopg
import shapely
from _common import scratch_db, table

from instruction.bulk import zone_shares
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


def bulk(conn: psycopg.Connection, commune: str) -> list[list[str]]:
    day = date.today()
    plans = [p["id"] for p in q.plans_in_force(conn, commune, day)]
    timings: dict[str, list[float]] = {k: [] for k in ("load", "ours", "sql", "gpd")}
    n = 0
    for _ in range(RUNS):
        t0 = time.perf_counter()
        ids, _refs, wkbs = q.commune_parcels(conn, commune)
        zones = q.plan_zones(conn, plans)
        parcels = shapely.from_wkb(wkbs)
        zone_geoms = shapely.from_wkb([z["wkb"] for z in zones])
        t1 = time.perf_counter()
        result = zone_shares(parcels, zone_geoms, 3.0, 50.0)
        t2 = time.perf_counter()
        rows = q.bulk_zone_shares_sql(conn, commune, plans)
        t3 = time.perf_counter()
        left = gpd.GeoDataFrame({"parcel": ids}, geometry=parcels, crs=26191)
        right = gpd.GeoDataFrame({"zone": [z["id"] for z in zones]}, geometry=zone_geoms, crs=26191)
        t4 = time.perf_counter()
        overlay = gpd.overlay(left, right, how="intersection", keep_geom_type=True)
        overlay["area"] = overlay.geometry.area
        t5 = time.perf_counter()
        timings["load"].append(t1 - t0)
        timings["ours"].append(t2 - t1)
        timings["sql"].append(t3 - t2)
        timings["gpd"].append((t5 - t4) + (t4 - t3))
        n = len(ids)
        assert abs(len(result.parcel_index) - len(overlay)) <= len(overlay) * 0.01, (len(result.parcel_index), len(overlay))
        assert len(rows) >= len(result.parcel_index)
    load = statistics.median(timings["load"])
    ours, sql, gpd_t = (statistics.median(timings[k]) for k in ("ours", "sql", "gpd"))

    def rate(seconds: float) -> str:
        return f"{n / seconds:,.0f}".replace(",", " ")

    print(f"  {commune} : {n} parcelles, chargement depuis PostGIS {load:.2f} s", flush=True)
    return [
        ["vectorisé shapely (STRtree)", f"{ours:.3f}", rate(ours), rate(ours + load), f"{gpd_t / ours:.1f}×",
         f"{(gpd_t + load) / (ours + load):.1f}×"],
        ["SQL ensembliste PostGIS", f"{sql:.3f}", rate(sql), rate(sql), f"{gpd_t / sql:.1f}×",
         f"{(gpd_t + load) / sql:.1f}×"],
        ["geopandas.overlay", f"{gpd_t:.3f}", rate(gpd_t), rate(gpd_t + load), "1.0×", "1.0×"],
    ]


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
            rows = bulk(conn, commune)
            print()
            print(table(rows, ["méthode", "calcul s", "parcelles/s (calcul)", "parcelles/s (avec chargement)",
                               "vs geopandas (calcul)", "vs geopandas (avec chargement)"]))
            print()


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [20_000, 1_000_000])
