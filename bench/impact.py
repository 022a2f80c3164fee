"""Plan impact: parcels per second of the vectorised run, beside the same zone-change computation with geopandas.

Usage: .venv/bin/python bench/impact.py [N ...]   (default: 200000 1000000 parcels)
For each size the sample territory is loaded into a scratch database of the project's PostGIS. The sample has one
revised plan (the first arrondissement's, in public inquiry); to measure a run over the whole territory the bench
also makes a city-wide pair in the scratch database: PA-VILLE-A, the zones and prescriptions of every plan in force,
and PA-VILLE-B, the same with ~20 % of the zones densified as the sample's revision does (codes V1→V2, V2→D, D→C,
C→B, E→D, I→ZAE, ZAE→D with their rules) and the first arrondissement's prescriptions taken from its revision.
Then, each run rolled back:
- ours: `instruction.impact.plan_impact` (every parcel's zone before/after, floor areas, uses, newly reserved m²,
  buildability, written to impact_parcels, and the aggregates), for the sample's own pair and the city-wide one;
- geopandas: load the parcels and both plans' zones from PostGIS, `geopandas.overlay` the parcels with each plan's
  zones, the zone of largest share per parcel, and which parcels change zone (only that: no floor areas, no
  reservations). The load from PostGIS is counted. Both must find the same number of parcels changing zone.
Then the seconds of each step of the city-wide run (instruction/impact.py commune_impact), every commune summed.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import psycopg
import shapely
from _common import scratch_db, table

from instruction.impact import impact_communes, plan_impact, prepare_pair
from instruction.impact_rows import Rules, aggregates
from layers import impact as q
from layers.rule_sets import rule_set
from layers.sample import load_sample

RUNS = 2
CHANGES = {"V1": "V2", "V2": "D", "D": "C", "C": "B", "E": "D", "I": "ZAE", "ZAE": "D"}
RULE_COLUMNS = ("label", "dominant_use", "height_max_m", "storeys_max", "footprint_max_pct", "cos_value", "cos_meaning",
                "cus_value", "cus_meaning", "min_plot_area_m2", "min_frontage_m", "setback_road_m", "setback_side_m",
                "setback_rear_m", "continuous_frontage", "uses_allowed", "uses_forbidden", "uses_conditional",
                "conditional_rules", "regulation_article", "regulation_text")


def city_pair(conn: psycopg.Connection) -> None:
    """PA-VILLE-A (every plan in force) and PA-VILLE-B (~20 % of its zones densified), as described above."""
    cols = ", ".join(RULE_COLUMNS)
    in_force = [r[0] for r in conn.execute("SELECT id FROM plans WHERE kind = 'PA' AND status = 'homologue'")]
    revision = conn.execute("SELECT id, replaces_id FROM plans WHERE status = 'enquete_publique' AND kind = 'PA'"
                            ).fetchone()
    ids = {}
    for code, status in (("PA-VILLE-A", "homologue"), ("PA-VILLE-B", "enquete_publique")):
        ids[code] = conn.execute(
            "INSERT INTO plans (code, kind, name, status, status_date, perimeter) SELECT %s, 'PA', %s, %s, "
            "'2026-01-01', ST_Multi(ST_Union(perimeter)) FROM plans WHERE id = ANY(%s) RETURNING id",
            (code, f"Banc d'essai {code}", status, in_force)).fetchone()[0]
        conn.execute(f"INSERT INTO zones (plan_id, code, sector, {cols}, geom) SELECT %s, code, sector, {cols}, geom "
                     "FROM zones WHERE plan_id = ANY(%s) ORDER BY id", (ids[code], in_force))
    rows = conn.execute("SELECT id, code FROM zones WHERE plan_id = %s ORDER BY id", (ids["PA-VILLE-B"],)).fetchall()
    flipped = [(i, code) for i, code in rows if code in CHANGES and np.random.default_rng(i).random() < 0.2]
    for old, new in CHANGES.items():  # each zone once, from its original code (V1 → V2 is not then V2 → D)
        conn.execute(f"UPDATE zones z SET code = t.code, ({cols}) = (SELECT {cols} FROM zones s WHERE s.id = t.id) "
                     "FROM (SELECT id, code FROM zones WHERE code = %s AND plan_id = ANY(%s) ORDER BY id LIMIT 1) t "
                     "WHERE z.id = ANY(%s)", (new, in_force, [i for i, code in flipped if code == old]))
    keep = [p for p in in_force if revision is None or p != revision[1]]
    pcols = "kind, code, label, width_m, facility_code, facility_label, road_name, attributes, geom"
    conn.execute(f"INSERT INTO prescriptions (plan_id, {pcols}) SELECT %s, {pcols} FROM prescriptions "
                 "WHERE plan_id = ANY(%s)", (ids["PA-VILLE-A"], in_force))
    conn.execute(f"INSERT INTO prescriptions (plan_id, {pcols}) SELECT %s, {pcols} FROM prescriptions "
                 "WHERE plan_id = ANY(%s)", (ids["PA-VILLE-B"], keep + ([revision[0]] if revision else [])))
    conn.execute("ANALYZE zones; ANALYZE prescriptions; ANALYZE plans")
    conn.commit()


def cpu_seconds(conn: psycopg.Connection) -> float:
    """CPU time so far of this process (every thread) and of the connection's server process (same machine): on a
    shared machine, what the work cost whatever else runs beside it."""
    fields = Path(f"/proc/{conn.info.backend_pid}/stat").read_text().rsplit(")", 1)[1].split()
    return time.process_time() + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ours(conn: psycopg.Connection, from_code: str, to_code: str) -> tuple[float, float, dict]:
    """(seconds, CPU seconds client and server, result) of plan_impact, the median of RUNS runs."""
    times, cpus, result = [], [], {}
    for _ in range(RUNS):
        conn.execute("SELECT 1")  # open the transaction: the run is a savepoint in it, rolled back after
        start, cpu = time.perf_counter(), cpu_seconds(conn)
        result = plan_impact(conn, from_code, to_code, publish=False)
        times.append(time.perf_counter() - start)
        cpus.append(cpu_seconds(conn) - cpu)
        conn.rollback()
    return statistics.median(times), statistics.median(cpus), result


def per_step(conn: psycopg.Connection, from_code: str, to_code: str) -> dict[str, float]:
    """Seconds spent in each step of one run over every commune (rolled back)."""
    spent: dict[str, float] = {}
    start = time.perf_counter()
    from_plan, to_plan, _ = q.plan_pair(conn, from_code, to_code)
    plan_ids = [from_plan["id"], to_plan["id"]]
    pair = prepare_pair(conn, from_plan["id"], to_plan["id"], q.plan_zones(conn, plan_ids), 3.0)
    spent["zones and deductions"] = time.perf_counter() - start
    thresholds = rule_set(conn, "thresholds", date.today())[1]
    rules = Rules(thresholds["marginal_share_pct"], thresholds["marginal_area_m2"], q.NOISE_M2, "gross")
    run_id = q.start_run(conn, from_plan["id"], to_plan["id"], None, None, {})
    _, tallies = impact_communes(conn, run_id, pair, rules, q.run_communes(conn, from_plan["id"], to_plan["id"]),
                                 plan_ids, spent=spent)
    start = time.perf_counter()
    aggregates(tallies)
    spent["aggregates"] = time.perf_counter() - start
    conn.rollback()
    return spent


def with_geopandas(conn: psycopg.Connection, from_code: str, to_code: str) -> tuple[float, float, float, int, int]:
    """(seconds with the load, CPU seconds client and server, seconds of the load, parcels with a zone, parcels
    changing zone)."""
    times, cpus, loads, counts = [], [], [], (0, 0)
    for _ in range(RUNS):
        start, cpu = time.perf_counter(), cpu_seconds(conn)
        with conn.cursor(binary=True) as cur:
            rows = cur.execute("SELECT p.id, ST_AsBinary(p.geom) FROM parcels p, (SELECT ST_Union(perimeter) AS g "
                               "FROM plans WHERE code IN (%s, %s)) u WHERE p.geom && u.g",
                               (from_code, to_code)).fetchall()
            zone_rows = cur.execute("SELECT pl.code, z.code, ST_AsBinary(z.geom) FROM zones z JOIN plans pl ON "
                                    "pl.id = z.plan_id WHERE pl.code IN (%s, %s)", (from_code, to_code)).fetchall()
        parcels = gpd.GeoDataFrame({"parcel": [r[0] for r in rows]}, geometry=shapely.from_wkb([r[1] for r in rows]),
                                   crs=26191)
        loaded = time.perf_counter()
        zone_of = {}
        for plan in (from_code, to_code):
            picked = [r for r in zone_rows if r[0] == plan]
            zones = gpd.GeoDataFrame({"zone": [r[1] for r in picked]}, geometry=shapely.from_wkb([r[2] for r in picked]),
                                     crs=26191)
            pieces = gpd.overlay(parcels, zones, how="intersection", keep_geom_type=True)
            pieces["area"] = pieces.geometry.area
            pieces = pieces[pieces["area"] > 0.005]
            zone_of[plan] = pieces.sort_values(["parcel", "area"], ascending=[True, False]).drop_duplicates("parcel"
                                                                                                          ).set_index(
                "parcel")["zone"]
        both = zone_of[from_code].to_frame("before").join(zone_of[to_code].to_frame("after"), how="outer")
        changed = int((both["before"].fillna("") != both["after"].fillna("")).sum())
        times.append(time.perf_counter() - start)
        cpus.append(cpu_seconds(conn) - cpu)
        loads.append(loaded - start)
        counts = (len(both), changed)
    return statistics.median(times), statistics.median(cpus), statistics.median(loads), counts[0], counts[1]


def main(sizes: list[int]) -> None:
    for n in sizes:
        with scratch_db(f"urbasig_bench_impact_{n}") as url, psycopg.connect(url) as conn:
            start = time.perf_counter()
            load_sample(conn, n, 42)
            city_pair(conn)
            print(f"{n} parcelles chargées (et la paire PA-VILLE-A → PA-VILLE-B) en {time.perf_counter() - start:.0f} s",
                  flush=True)
            revision = conn.execute("SELECT r.code, p.code FROM plans p JOIN plans r ON r.id = p.replaces_id "
                                    "WHERE p.status = 'enquete_publique' AND p.kind = 'PA'").fetchone()
            rows = []
            for from_code, to_code in (revision, ("PA-VILLE-A", "PA-VILLE-B")):
                seconds, cpu, result = ours(conn, from_code, to_code)
                g_seconds, g_cpu, g_load, g_parcels, g_changed = with_geopandas(conn, from_code, to_code)
                t = result["totals"]
                print(f"  {from_code} → {to_code} : {t['parcels']} parcelles ({g_parcels} pour geopandas), "
                      f"{t['zone_changed']} changent de zone ({g_changed} pour geopandas), "
                      f"chargement geopandas {g_load:.1f} s", flush=True)
                assert abs(t["zone_changed"] - g_changed) <= max(2, 0.005 * g_changed), (t["zone_changed"], g_changed)
                rows.append([f"{from_code} → {to_code}", str(t["parcels"]), f"{seconds:.2f}",
                             f"{t['parcels'] / seconds:,.0f}".replace(",", " "), f"{g_seconds:.2f}",
                             f"{g_parcels / g_seconds:,.0f}".replace(",", " "), f"{g_seconds / seconds:.1f}×",
                             f"{cpu:.2f} / {g_cpu:.2f} = {g_cpu / cpu:.1f}×"])
            spent = per_step(conn, "PA-VILLE-A", "PA-VILLE-B")
            print("  PA-VILLE-A → PA-VILLE-B, s par étape (toutes communes) : "
                  + ", ".join(f"{k} {v:.2f}" for k, v in spent.items()), flush=True)
            print()
            print(table(rows, ["paire", "parcelles", "urbasig s", "parcelles/s", "geopandas s (chargement compris)",
                               "parcelles/s geopandas", "urbasig vs geopandas",
                               "CPU s urbasig / geopandas (client + serveur)"]))
            print(flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [200_000, 1_000_000])
