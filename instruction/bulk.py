"""Bulk instruction of a whole commune: the zone shares of every parcel, vectorised (shapely 2, STRtree).

Most parcels lie wholly inside one zone: an STRtree over the parcels answers "which parcels does this
zone cover?" with the zone prepared once, and only the parcels that straddle a limit are intersected.
`overlay` does it for the zones of several plans at once (the plan impact's two versions), each outline the
plans share overlaid once; `zone_shares` is the one-plan case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import psycopg
import shapely
from shapely.geometry.base import BaseGeometry

from instruction import precedence
from layers import bulk_zoning as q
from layers.rule_sets import rule_set

LIMIT_M2 = 0.005  # an overlap of this area or less is a shared limit (digitising noise), not a part


@dataclass
class Overlay:
    """Pairs (parcel, zone) that overlap: the area, whether the zone covers the parcel, and the piece (the
    intersection; None where the zone covers the parcel, the piece being the parcel itself)."""

    parcel_index: np.ndarray
    zone_index: np.ndarray
    area_m2: np.ndarray
    inside: np.ndarray
    pieces: np.ndarray


def _expand(keys: np.ndarray, first: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each key k, the rows first[k] … first[k] + count[k] − 1: (position of the key, row)."""
    n = count[keys]
    at = np.repeat(np.arange(len(keys)), n)
    offsets = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    return at, first[keys][at] + offsets


def _zones_of(zone_shape: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The zones sorted by outline, and where each outline's zones start in that order and how many there are."""
    order = np.argsort(zone_shape, kind="stable")
    return order, np.searchsorted(zone_shape[order], np.arange(count)), np.bincount(zone_shape, minlength=count)


def lone_zones(shapes: np.ndarray, zone_shape: np.ndarray, zone_group: np.ndarray) -> np.ndarray:
    """Whether each zone overlaps no other zone of its group by more than LIMIT_M2 (then a parcel it covers has no
    other part in its group: any other would be within that overlap, a shared limit)."""
    order, first, count = _zones_of(zone_shape, len(shapes))
    zones_of = [order[f:f + c] for f, c in zip(first, count, strict=True)]
    lone = np.ones(len(zone_shape), dtype=bool)
    sa, sb = shapely.STRtree(shapes).query(shapes, predicate="intersects")
    pick = sa <= sb
    sa, sb = sa[pick], sb[pick]
    meet = shapely.relate_pattern(shapes[sa], shapes[sb], "T********")  # interiors meet: more than a shared limit
    sa, sb = sa[meet], sb[meet]
    meet = (sa == sb) | (shapely.area(shapely.intersection(shapes[sa], shapes[sb])) > LIMIT_M2)
    for a, b in zip(sa[meet], sb[meet], strict=True):
        for ka in zones_of[a]:
            for kb in zones_of[b]:
                if ka != kb and zone_group[ka] == zone_group[kb]:
                    lone[ka] = lone[kb] = False
    return lone


def overlay(parcels: np.ndarray, parcel_area: np.ndarray, shapes: np.ndarray, zone_shape: np.ndarray,
            zone_group: np.ndarray, lone: np.ndarray | None = None) -> Overlay:
    """Every (parcel, zone) overlap, for zones given as an outline (`shapes[zone_shape[k]]`) and a group (a plan).

    An outline shared by several zones (the same ground in two plan versions) is tested and intersected once. A
    parcel that a zone covers is not intersected, nor looked at against the other zones of the zone's group,
    unless that zone overlaps another one of its group (then its pairs are computed as for a parcel on a limit):
    `lone` (`lone_zones`), computed here unless given.
    """
    n = len(parcels)
    groups, g_of = np.unique(zone_group, return_inverse=True)
    order, first, count = _zones_of(zone_shape, len(shapes))
    lone = lone_zones(shapes, zone_shape, zone_group) if lone is None else lone
    tree = shapely.STRtree(parcels)
    s_cov, p_cov = tree.query(shapes, predicate="covers")  # each outline prepared once, over the parcels' index
    at, rows = _expand(s_cov, first, count)
    z_cov, p_cov = order[rows], p_cov[at]
    keep = lone[z_cov]
    z_cov, p_cov = z_cov[keep], p_cov[keep]
    covered = np.zeros((len(groups), n), dtype=bool)
    covered[g_of[z_cov], p_cov] = True
    # the others: the zones of each group in which the parcel is not covered, intersected
    rest = np.flatnonzero(~covered.all(axis=0))
    s_r, r_idx = shapely.STRtree(parcels[rest]).query(shapes, predicate="intersects")
    at, rows = _expand(s_r, first, count)
    z_r, p_r, s_r = order[rows], rest[r_idx[at]], s_r[at]
    keep = ~covered[g_of[z_r], p_r]
    z_r, p_r, s_r = z_r[keep], p_r[keep], s_r[keep]
    key = p_r.astype(np.int64) * len(shapes) + s_r
    unique, back = np.unique(key, return_inverse=True)
    cut = shapely.intersection(parcels[unique // len(shapes)], shapes[unique % len(shapes)])
    areas = shapely.area(cut)
    return Overlay(np.concatenate([p_cov, p_r]), np.concatenate([z_cov, z_r]),
                   np.concatenate([parcel_area[p_cov], areas[back]]),
                   np.concatenate([np.ones(len(z_cov), dtype=bool), np.zeros(len(z_r), dtype=bool)]),
                   np.concatenate([np.full(len(z_cov), None, dtype=object), cut[back]]))


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
    parcel_area = shapely.area(parcels)
    found = overlay(parcels, parcel_area, zones, np.arange(len(zones)), np.zeros(len(zones), dtype=np.int64))
    keep = found.area_m2 > LIMIT_M2  # a shared limit is not an overlap
    p, z, a = found.parcel_index[keep], found.zone_index[keep], found.area_m2[keep]
    order = np.lexsort((z, p))
    p, z, a = p[order], z[order], a[order]
    share = 100.0 * a / parcel_area[p]
    marginal = (share < marginal_share_pct) & (a < marginal_area_m2)
    return BulkResult(p, z, a, share, marginal, int(len(np.unique(found.parcel_index[~found.inside]))))


def near_zones(zones: list[dict], parcels: np.ndarray) -> list[dict]:
    """The zones whose box meets the box of all the parcels: a zone further away overlaps none of them, and leaving
    it out changes no answer (the plans touching a commune bring their whole territory: on the 1M sample's largest
    arrondissement 2,994 zones, of which 760 are near; lone_zones and the STRtree queries then do a quarter)."""
    if not len(parcels) or not zones:
        return []
    x0, y0, x1, y1 = shapely.total_bounds(parcels)
    b = shapely.bounds(shapely.from_wkb([z["wkb"] for z in zones]))
    meet = (b[:, 0] <= x1) & (b[:, 2] >= x0) & (b[:, 1] <= y1) & (b[:, 3] >= y0)
    return [z for z, m in zip(zones, meet.tolist(), strict=True) if m]


def governed_zones(zones: list[dict], plans: list[dict], yielded: dict[int, BaseGeometry]) -> np.ndarray:
    """The zones' geometries less the ground their plan yields to a later one (instruction/precedence.py)."""
    zone_geoms = shapely.from_wkb([z["wkb"] for z in zones])
    plan_ids = {p["code"]: p["id"] for p in plans}
    for i, zone in enumerate(zones):
        if plan_ids[zone["plan"]] in yielded:
            zone_geoms[i] = shapely.difference(zone_geoms[i], yielded[plan_ids[zone["plan"]]])
    return zone_geoms


def bulk_instruct(conn: psycopg.Connection, commune_code: str, day: date | None = None) -> tuple[dict, str]:
    """Zone shares of every parcel of a commune on `day`: a summary and the CSV text."""
    day = day or date.today()
    _version, thresholds = rule_set(conn, "thresholds", day)
    plans = q.plans_in_force(conn, commune_code, day)
    conflicts, yielded = precedence.resolve(plans, {p["id"]: shapely.from_wkb(p["cover_wkb"]) for p in plans})
    ids, refs, wkbs = q.commune_parcels(conn, commune_code)
    all_zones = q.plan_zones(conn, [p["id"] for p in plans])
    parcels = shapely.from_wkb(wkbs)
    zones = near_zones(all_zones, parcels)
    result = zone_shares(parcels, governed_zones(zones, plans, yielded), thresholds["marginal_share_pct"],
                         thresholds["marginal_area_m2"])
    summary = {"commune": commune_code, "date": day.isoformat(), "parcels": len(ids),
               "with_zone": int(len(np.unique(result.parcel_index))), "straddling": result.straddling,
               "pairs": int(len(result.parcel_index)), "plans": sorted({z["plan"] for z in all_zones}),
               "conflicts": [{"applied": c.applied["code"], "set_aside": c.set_aside["code"],
                              "overlap_m2": round(c.overlap_m2, 2)} for c in conflicts]}
    return summary, _csv(result, ids, refs, zones)


CSV_SPECIAL = (",", '"', "\r", "\n")


def _csv_field(value: str) -> str:
    """A CSV field as csv.writer writes it: quoted when it holds a separator, a quote or a line break."""
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in CSV_SPECIAL) else value


def _csv(result: BulkResult, ids: list[int], refs: list[str], zones: list[dict]) -> str:
    """One line per (parcel, zone) pair, in parcel then zone order (f-strings: half the time of csv.writer; the
    texts from the database quoted as it would)."""
    zone_cols = [",".join(_csv_field(v) for v in (z["plan"], z["code"], z["sector"] or "")) for z in zones]
    if any(c in "".join(refs) for c in CSV_SPECIAL):
        refs = [_csv_field(r) for r in refs]
    lines = [f"{ids[pi]},{refs[pi]},{zone_cols[zi]},{area:.2f},{share:.2f},{'oui' if marginal else 'non'}\n"
             for pi, zi, area, share, marginal in zip(result.parcel_index.tolist(), result.zone_index.tolist(),
                                                      result.area_m2.tolist(), result.share_pct.tolist(),
                                                      result.marginal.tolist(), strict=True)]
    return "parcel_id,land_ref,plan,zone,sector,area_m2,share_pct,marginal\n" + "".join(lines)
