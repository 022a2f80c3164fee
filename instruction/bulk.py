"""Bulk instruction of a whole commune: the zone shares of every parcel, vectorised (shapely 2, STRtree).

Most parcels lie wholly inside one zone: an STRtree over the parcels answers "which parcels does this
zone cover?" with the zone prepared once, and only the parcels that straddle a limit are intersected.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

import numpy as np
import psycopg
import shapely

from instruction import precedence
from layers import bulk_zoning as q
from layers.rule_sets import rule_set


@dataclass
class BulkResult:
    """Pairs (parcel, zone) with the area and share of the parcel in the zone."""

    parcel_index: np.ndarray
    zone_index: np.ndarray
    area_m2: np.ndarray
    share_pct: np.ndarray
    marginal: np.ndarray
    straddling: int


def zone_shares(parcels: np.ndarray, zones: np.ndarray, marginal_share_pct: float,
                marginal_area_m2: float) -> BulkResult:
    """Every (parcel, zone) overlap with its area; intersections computed only for straddling parcels."""
    n = len(parcels)
    parcel_area = shapely.area(parcels)
    # 1. parcels wholly inside a zone: one query, each zone prepared once, no intersection to compute
    z_cov, p_cov = shapely.STRtree(parcels).query(zones, predicate="covers")
    inside = np.zeros(n, dtype=bool)
    inside[p_cov] = True
    # 2. the others straddle a limit (or lie outside every zone): intersect only those
    rest = np.flatnonzero(~inside)
    r_idx, z_rest = shapely.STRtree(zones).query(parcels[rest], predicate="intersects")
    p_rest = rest[r_idx]
    a_rest = shapely.area(shapely.intersection(parcels[p_rest], zones[z_rest]))
    p_all = np.concatenate([p_cov, p_rest])
    z_all = np.concatenate([z_cov, z_rest])
    area = np.concatenate([parcel_area[p_cov], a_rest])
    keep = area > 0.005  # a shared limit is not an overlap
    p, z, a = p_all[keep], z_all[keep], area[keep]
    order = np.lexsort((z, p))
    p, z, a = p[order], z[order], a[order]
    share = 100.0 * a / parcel_area[p]
    marginal = (share < marginal_share_pct) & (a < marginal_area_m2)
    return BulkResult(p, z, a, share, marginal, int(len(np.unique(p_rest))))


def bulk_instruct(conn: psycopg.Connection, commune_code: str, day: date | None = None) -> tuple[dict, str]:
    """Zone shares of every parcel of a commune on `day`: a summary and the CSV text."""
    day = day or date.today()
    _version, thresholds = rule_set(conn, "thresholds", day)
    plans = q.plans_in_force(conn, commune_code, day)
    conflicts, yielded = precedence.resolve(plans, {p["id"]: shapely.from_wkb(p["cover_wkb"]) for p in plans})
    ids, refs, wkbs = q.commune_parcels(conn, commune_code)
    zones = q.plan_zones(conn, [p["id"] for p in plans])
    parcels = shapely.from_wkb(wkbs)
    zone_geoms = shapely.from_wkb([z["wkb"] for z in zones])
    plan_ids = {p["code"]: p["id"] for p in plans}
    for i, zone in enumerate(zones):  # a plan yields the ground a later one also covers (instruction/precedence.py)
        if plan_ids[zone["plan"]] in yielded:
            zone_geoms[i] = shapely.difference(zone_geoms[i], yielded[plan_ids[zone["plan"]]])
    result = zone_shares(parcels, zone_geoms, thresholds["marginal_share_pct"], thresholds["marginal_area_m2"])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["parcel_id", "land_ref", "plan", "zone", "sector", "area_m2", "share_pct", "marginal"])
    for pi, zi, area, share, marginal in zip(result.parcel_index, result.zone_index, result.area_m2, result.share_pct,
                                             result.marginal, strict=True):
        zone = zones[zi]
        writer.writerow([ids[pi], refs[pi] or "", zone["plan"], zone["code"], zone["sector"] or "", f"{area:.2f}",
                         f"{share:.2f}", "oui" if marginal else "non"])
    covered = np.unique(result.parcel_index)
    summary = {"commune": commune_code, "date": day.isoformat(), "parcels": len(ids), "with_zone": int(len(covered)),
               "straddling": result.straddling, "pairs": int(len(result.parcel_index)),
               "plans": sorted({z["plan"] for z in zones}),
               "conflicts": [{"applied": c.applied["code"], "set_aside": c.set_aside["code"],
                              "overlap_m2": round(c.overlap_m2, 2)} for c in conflicts]}
    return summary, out.getvalue()
