"""The per-parcel rows of a plan impact, vectorised (shapely 2 over STRtrees, numpy): pure, no I/O.

`PlanPair.build` prepares, once per run, the two versions' zones (each outline the plans share overlaid once),
their deductions (planned roads, reservations, green spaces, no-build areas; an outline both plans share cut once)
and the zones' rules per band of plot area ("variants", instruction/impact.py). `parcel_rows` then computes every
row of `impact_parcels` for a set of parcels (a commune), as instruction/impact.py describes:

- zone parts: `instruction.bulk.overlay` (a parcel a zone covers is not intersected); parts of LIMIT_M2 or less
  are shared limits, marginal parts (the instruction's sliver rule) are not parts;
- deductions per parcel and plan: the pieces of the deducted prescriptions meeting it, united (a parcel that the
  same outlines deduct in both plans: the same union, nothing newly reserved, no difference computed);
- per part: net area, footprint, levels and floor area from the part's zone rules for the parcel's area; per
  parcel and plan: the zone of the largest part, the parts, buildable, floor area, uses; the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from instruction.bulk import LIMIT_M2, lone_zones, overlay
from layers.bulk import Categories

CHANGES = ("reserved", "outside", "gain", "loss", "unchanged")  # the first that holds (impact_parcels.change)
SIDES = (0, 1)  # the `from` plan, the `to` plan
PROBE_CELL_M = 100.0  # a deduction whose box is mostly empty (a diagonal strip) is looked up by cells of this size
PROBE_FILL = 0.25  # … when its area is under this share of its box


@dataclass(frozen=True)
class Rules:
    """What the computation reads of the plans: thresholds and the envelope's assumptions."""

    marginal_share_pct: float
    marginal_area_m2: float
    noise_m2: float
    ratio_area: str  # "gross" | "net": what footprint %, COS and CUS multiply (instruction/envelope.py)


@dataclass(frozen=True)
class PlanPair:
    """The zones and deductions of the two plan versions, prepared once per run."""

    shapes: np.ndarray  # distinct zone outlines
    zone_shape: np.ndarray  # per zone (both plans): its outline
    zone_side: np.ndarray  # per zone: 0 `from`, 1 `to`
    zone_lone: np.ndarray  # per zone: it overlaps no other zone of its plan (instruction/bulk.py lone_zones)
    zone_id: np.ndarray
    zone_code: list[str]
    zone_uses: np.ndarray  # per zone: the index of its set of allowed uses in `use_sets`
    use_sets: list[frozenset]
    variant_first: np.ndarray  # per zone: its first row in the variant columns, and how many
    variant_count: np.ndarray
    variants: dict[str, np.ndarray]  # lo, lo_in, hi, hi_in, levels, pct, emprise, cos, cus, min_plot (NaN: none)
    cut_shapes: np.ndarray  # distinct deduction outlines
    cut_in: np.ndarray  # (2, outlines): whether the plan deducts it
    cut_road: np.ndarray  # per outline: a planned road (widening, new road) in the `to` plan
    probes: np.ndarray  # boxes the parcels are looked up by: an outline's, or the cells of a grid it meets
    probe_cut: np.ndarray  # per box: its outline

    @classmethod
    def build(cls, zones: list[dict], zone_geoms: np.ndarray, from_id: int, deductions: list[dict],
              deduction_geoms: np.ndarray, variants: dict[str, list], road_kinds: tuple[str, ...]) -> PlanPair:
        """From the zones (id, plan_id, code, uses_allowed, wkb) and deductions (plan_id, kind, wkb) of both plans,
        with their geometries, and the variant columns (instruction/impact.py `variant_table`)."""
        shape_of: dict[bytes, int] = {}
        zone_shape = np.array([shape_of.setdefault(bytes(z["wkb"]), len(shape_of)) for z in zones], dtype=np.int64)
        shapes = np.empty(len(shape_of), dtype=object)
        shapes[zone_shape] = zone_geoms
        uses: dict[frozenset, int] = {}
        zone_uses = np.array([uses.setdefault(frozenset(u for u in z["uses_allowed"] or () if u), len(uses))
                              for z in zones], dtype=np.int64)
        ids = np.array([z["id"] for z in zones], dtype=np.int64)
        v_zone = np.array(variants["zone"], dtype=np.int64)
        v_order = np.argsort(v_zone, kind="stable")
        v_cols = {k: np.array([np.nan if x is None else x for x in variants[k]], dtype=float)[v_order]
                  for k in variants if k != "zone"}
        first = np.searchsorted(v_zone[v_order], ids)
        count = np.searchsorted(v_zone[v_order], ids, side="right") - first
        cut_of: dict[bytes, int] = {}
        cut_shape = np.array([cut_of.setdefault(bytes(d["wkb"]), len(cut_of)) for d in deductions], dtype=np.int64)
        cut_shapes = np.empty(len(cut_of), dtype=object)
        cut_shapes[cut_shape] = deduction_geoms
        cut_in = np.zeros((2, len(cut_of)), dtype=bool)
        cut_road = np.zeros(len(cut_of), dtype=bool)
        for d, s in zip(deductions, cut_shape, strict=True):
            side = 0 if d["plan_id"] == from_id else 1
            cut_in[side, s] = True
            cut_road[s] |= side == 1 and d["kind"] in road_kinds
        zone_side = np.array([0 if z["plan_id"] == from_id else 1 for z in zones], dtype=np.int64)
        return cls(shapes, zone_shape, zone_side, lone_zones(shapes, zone_shape, zone_side), ids,
                   [z["code"] for z in zones], zone_uses, list(uses), first, count, v_cols, cut_shapes, cut_in,
                   cut_road, *_probes(cut_shapes))


def _probes(shapes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boxes to look parcels up by: each shape's own, or for a shape filling little of its box, the cells of a
    PROBE_CELL_M grid that it meets (a diagonal strip's box holds hundreds of times its area in parcels)."""
    bounds = shapely.bounds(shapes).reshape(-1, 4)
    sparse = shapely.area(shapes) < PROBE_FILL * (bounds[:, 2] - bounds[:, 0]) * (bounds[:, 3] - bounds[:, 1])
    boxes: list[np.ndarray] = [np.asarray(shapely.box(*bounds[~sparse].T), dtype=object).reshape(-1)]
    owner = [np.flatnonzero(~sparse)]
    for i in np.flatnonzero(sparse):
        x0, y0, x1, y1 = bounds[i]
        xs, ys = np.meshgrid(np.arange(x0, x1, PROBE_CELL_M), np.arange(y0, y1, PROBE_CELL_M))
        cells = shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + PROBE_CELL_M, ys.ravel() + PROBE_CELL_M)
        shapely.prepare(shapes[i])
        cells = cells[shapely.intersects(shapes[i], cells)]
        boxes.append(cells)
        owner.append(np.full(len(cells), i))
    return np.concatenate(boxes), np.concatenate(owner).astype(np.int64)


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """The polygonal part of each geometry (an intersection may carry the lines and points where shapes touch)."""
    kinds = shapely.get_type_id(geoms)
    for i in np.flatnonzero((kinds != 3) & (kinds != 6)):
        parts = [g for g in shapely.get_parts(geoms[i]) if shapely.get_type_id(g) in (3, 6)]
        geoms[i] = shapely.union_all(parts) if parts else shapely.Polygon()
    return geoms


def _united(parcel: np.ndarray, pieces: np.ndarray, n: int) -> np.ndarray:
    """Per parcel (0 … n−1), the union of its pieces (None: none); pieces sorted by parcel."""
    out = np.full(n, None, dtype=object)
    if not len(parcel):
        return out
    starts = np.flatnonzero(np.r_[True, parcel[1:] != parcel[:-1]])
    ends = np.r_[starts[1:], len(parcel)]
    single = ends - starts == 1
    out[parcel[starts[single]]] = pieces[starts[single]]
    for s, e in zip(starts[~single], ends[~single], strict=True):
        out[parcel[s]] = shapely.union_all(pieces[s:e])
    return out


@dataclass
class _Cuts:
    """Per parcel: each plan's deductions united, the `to` plan's planned roads, and whether both plans deduct
    the same outlines."""

    united: list[np.ndarray]
    area: list[np.ndarray]
    road: np.ndarray
    same: np.ndarray


def _deductions(pair: PlanPair, parcels: np.ndarray) -> _Cuts:
    n = len(parcels)
    box, p = shapely.STRtree(parcels).query(pair.probes)
    key = np.unique(p.astype(np.int64) * len(pair.cut_shapes) + pair.probe_cut[box])  # sorted by parcel
    p, s = key // len(pair.cut_shapes), key % len(pair.cut_shapes)
    shapely.prepare(pair.cut_shapes)
    meet = shapely.intersects(pair.cut_shapes[s], parcels[p])
    p, s = p[meet], s[meet]
    pieces = _polygonal(shapely.intersection(parcels[p], pair.cut_shapes[s]))
    differs = np.bincount(p, weights=pair.cut_in[0, s] != pair.cut_in[1, s], minlength=n) > 0
    united = [_united(p[pair.cut_in[side, s]], pieces[pair.cut_in[side, s]], n) for side in SIDES]
    same = ~differs
    united[1][same] = united[0][same]  # the same outlines: the same union
    road = _united(p[pair.cut_road[s]], pieces[pair.cut_road[s]], n)
    area = [np.zeros(n) for _ in SIDES]
    for side in SIDES:
        has = np.flatnonzero(united[side] != None)  # noqa: E711 - numpy element-wise
        area[side][has] = shapely.area(united[side][has])
    return _Cuts(united, area, road, same)


def _newly_cut(cuts: _Cuts, noise_m2: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per parcel: (all, reserved, widening) m² that the `to` plan deducts and no deduction of `from` did."""
    n = len(cuts.same)
    all_m2, road_m2 = np.zeros(n), np.zeros(n)
    before, after = cuts.united
    fresh = np.flatnonzero((after != None) & ~cuts.same)  # noqa: E711
    alone = fresh[before[fresh] == None]  # noqa: E711
    both = fresh[before[fresh] != None]  # noqa: E711
    all_m2[alone] = cuts.area[1][alone]
    all_m2[both] = shapely.area(shapely.difference(after[both], before[both]))
    roads = np.flatnonzero(cuts.road != None)  # noqa: E711
    roads = roads[~cuts.same[roads]]
    r_alone = roads[before[roads] == None]  # noqa: E711
    r_both = roads[before[roads] != None]  # noqa: E711
    road_m2[r_alone] = shapely.area(cuts.road[r_alone])
    road_m2[r_both] = shapely.area(shapely.difference(cuts.road[r_both], before[r_both]))
    reserved = np.where(all_m2 - road_m2 > noise_m2, all_m2 - road_m2, 0.0)
    return np.where(all_m2 > noise_m2, all_m2, 0.0), reserved, np.where(road_m2 > noise_m2, road_m2, 0.0)


def _variant(pair: PlanPair, zone: np.ndarray, plot_m2: np.ndarray) -> np.ndarray:
    """Per part, the row of its zone's rules for the parcel's area (bands lo–hi, bounds in or out)."""
    v = pair.variants
    out = np.full(len(zone), -1, dtype=np.int64)
    first, count = pair.variant_first[zone], pair.variant_count[zone]
    for j in range(int(count.max()) if len(zone) else 0):
        row = np.minimum(first + j, len(v["lo"]) - 1)
        holds = ((j < count) & (out < 0)
                 & ((plot_m2 > v["lo"][row]) | ((v["lo_in"][row] > 0) & (plot_m2 == v["lo"][row])))
                 & ((plot_m2 < v["hi"][row]) | ((v["hi_in"][row] > 0) & (plot_m2 == v["hi"][row]))))
        out[holds] = row[holds]
    return out


def _first_in_group(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends of the runs of equal keys (sorted)."""
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.zeros(0, dtype=np.int64)
    return starts, np.r_[starts[1:], len(keys)].astype(np.int64)


@dataclass
class _Parts:
    """The zone parts of the parcels (not shared limits, not marginal), with their zone's rules for the parcel's
    area: parcel, zone, side, area, whether the zone covers the parcel, the piece, the variant row, and the
    parcel's stored area."""

    parcel: np.ndarray
    zone: np.ndarray
    side: np.ndarray
    area: np.ndarray
    inside: np.ndarray
    pieces: np.ndarray
    row: np.ndarray
    plot: np.ndarray


def _parts(pair: PlanPair, rules: Rules, parcels: np.ndarray, parcel_m2: np.ndarray) -> _Parts:
    found = overlay(parcels, parcel_m2, pair.shapes, pair.zone_shape, pair.zone_side, pair.zone_lone)
    keep = np.flatnonzero(found.area_m2 > LIMIT_M2)  # a shared limit is not an overlap
    part, plot = found.area_m2[keep], parcel_m2[found.parcel_index[keep]]
    keep = keep[~((100.0 * part / plot < rules.marginal_share_pct) & (part < rules.marginal_area_m2))]
    row = _variant(pair, found.zone_index[keep], parcel_m2[found.parcel_index[keep]])
    keep, row = keep[row >= 0], row[row >= 0]  # every area has its band: a zone without rules has no parts
    z = found.zone_index[keep]
    p = found.parcel_index[keep]
    return _Parts(p, z, pair.zone_side[z], found.area_m2[keep], found.inside[keep], found.pieces[keep], row,
                  parcel_m2[p])


def _net(parts: _Parts, cuts: _Cuts) -> np.ndarray:
    """Each part's area less its plan's deductions on the parcel."""
    p, cut = parts.parcel, np.zeros(len(parts.parcel))
    for s in SIDES:
        has = (parts.side == s) & (cuts.united[s][p] != None)  # noqa: E711 - numpy element-wise
        whole = has & parts.inside
        cut[whole] = cuts.area[s][p[whole]]
        cross = np.flatnonzero(has & ~parts.inside)
        if len(cross):
            cut[cross] = shapely.area(shapely.intersection(_polygonal(parts.pieces[cross]), cuts.united[s][p[cross]]))
    return np.maximum(parts.area - cut, 0.0)


def _sums(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.add.reduceat(values, starts) if len(starts) else np.zeros(0, dtype=values.dtype)


def _sides(pair: PlanPair, rules: Rules, parts: _Parts, net: np.ndarray, use_sets: dict[frozenset, int]
           ) -> tuple[np.ndarray, list[dict]]:
    """The parcels with a part, and per plan: whether it covers them, the zone of the largest part, the number of
    parts, buildable, floor area (NaN: unknown or no part), the set of allowed uses (into `use_sets`)."""
    v, row = pair.variants, parts.row
    ratio = net if rules.ratio_area == "net" else parts.area  # as instruction/envelope.py
    footprint = np.fmin(np.fmin(net, v["pct"][row] / 100.0 * ratio), v["emprise"][row] * ratio)
    floor = np.fmin(np.fmin(v["cos"][row] * ratio, v["cus"][row] * ratio), footprint * v["levels"][row])
    under_min = parts.plot + 1e-6 < v["min_plot"][row]  # NaN: no minimum
    # per parcel and plan, the parts sorted largest first (ties: the lower zone id)
    order = np.lexsort((pair.zone_id[parts.zone], -parts.area, parts.side, parts.parcel))
    p, z, side = parts.parcel[order], parts.zone[order], parts.side[order]
    starts, ends = _first_in_group(p * 2 + side)
    count = ends - starts
    # a part builds when the parcel reaches its zone's minimum plot and leaves a footprint; a split parcel builds
    # through the parts that do, as the envelope says (instruction/envelope.py: the other parts add nothing)
    part_ok = (~under_min & (np.nan_to_num(footprint) > rules.noise_m2))[order]
    buildable = _sums(part_ok.astype(np.int64), starts) > 0
    unknown = _sums((np.isnan(floor[order]) & part_ok).astype(np.int64), starts) > 0
    floor_sum = _sums(np.where(part_ok, np.nan_to_num(floor[order]), 0.0), starts)
    uses = pair.zone_uses[z[starts]]
    for g in np.flatnonzero(count > 1):  # a split parcel: the union of its parts' uses
        union = frozenset().union(*(pair.use_sets[u] for u in pair.zone_uses[z[starts[g]:ends[g]]]))
        uses[g] = use_sets.setdefault(union, len(use_sets))
    index = np.unique(p[starts])
    at = np.searchsorted(index, p[starts])
    out = []
    for s in SIDES:
        mine = side[starts] == s

        def spread(values: np.ndarray, fill: object, mine: np.ndarray = mine) -> np.ndarray:
            full = np.full(len(index), fill, dtype=values.dtype)
            full[at[mine]] = values[mine]
            return full

        has, ok = spread(np.ones(len(starts), dtype=bool), False), spread(buildable, False)
        floor_m2 = np.where(ok, spread(floor_sum, 0.0), 0.0)  # not buildable: 0
        floor_m2[(ok & spread(unknown, False)) | ~has] = np.nan  # a part's floor area unknown (a rule missing)
        out.append({"has": has, "zone": spread(z[starts], -1), "parts": spread(count, 0), "buildable": ok,
                    "floor": floor_m2, "uses": spread(uses, -1)})
    return index, out


def parcel_rows(pair: PlanPair, rules: Rules, parcels: np.ndarray, parcel_m2: np.ndarray) -> dict[str, Any]:
    """The impact rows of these parcels (those with a part in either plan), as columns named as impact_parcels'.

    `parcel_m2` is the stored area of each parcel (what the plot-area rules read). Returns "index" (the rows'
    parcels, positions in `parcels`) and one column per name: numpy arrays (NaN or masked: NULL), text and text[]
    as `Categories`.
    """
    parts = _parts(pair, rules, parcels, parcel_m2)
    cuts = _deductions(pair, parcels)
    use_sets = {u: i for i, u in enumerate(pair.use_sets)}
    index, (before, after) = _sides(pair, rules, parts, _net(parts, cuts), use_sets)
    all_m2, reserved_m2, widening_m2 = (x[index] for x in _newly_cut(cuts, rules.noise_m2))
    delta = after["floor"] - before["floor"]
    area = parcel_m2[index]
    change = np.select(
        [(all_m2 > rules.noise_m2) & ~((100.0 * all_m2 / area < rules.marginal_share_pct)
                                       & (all_m2 < rules.marginal_area_m2)),
         ~before["has"] | ~after["has"], delta > rules.noise_m2, delta < -rules.noise_m2], [0, 1, 2, 3], 4)
    gained, lost = _uses_changed(list(use_sets), before["uses"], after["uses"])
    cols: dict[str, Any] = {"index": index}
    for name, side in (("before", before), ("after", after)):
        cols[f"zone_{name}"] = Categories(side["zone"], pair.zone_code)
        cols[f"zones_{name}"] = np.ma.masked_equal(side["parts"], 0)
        cols[f"floor_{name}_m2"] = side["floor"]
        cols[f"buildable_{name}"] = np.ma.masked_array(side["buildable"], mask=~side["has"])
    cols.update(floor_delta_m2=delta, uses_gained=gained, uses_lost=lost, reserved_new_m2=reserved_m2,
                widening_new_m2=widening_m2, change=Categories(change, CHANGES))
    return cols


def _uses_changed(use_sets: list[frozenset], before: np.ndarray, after: np.ndarray) -> tuple[Categories, Categories]:
    """Per parcel, the uses the `to` plan allows that `from` did not, and the reverse (sorted; −1: no side)."""
    width = len(use_sets) + 1
    unique, back = np.unique((before + 1) * width + (after + 1), return_inverse=True)
    empty: frozenset = frozenset()
    gained, lost = [], []
    for k in unique:
        b, a = int(k // width) - 1, int(k % width) - 1
        uses_b = use_sets[b] if b >= 0 else empty
        uses_a = use_sets[a] if a >= 0 else empty
        gained.append(sorted(uses_a - uses_b))
        lost.append(sorted(uses_b - uses_a))
    back = back.reshape(-1)
    return Categories(back, gained), Categories(back, lost)


# ------------------------------------------------------------------------------------------- aggregates
def tally(cols: dict[str, Any], zone_code: list[str], commune: str | None) -> dict[str, np.ndarray]:
    """What the aggregates read of one commune's rows (parcel_rows' columns), zones as codes."""
    codes = np.array([*zone_code, None], dtype=object)
    out = {name: np.asarray(codes[np.where(cols[name].codes < 0, len(zone_code), cols[name].codes)])
           for name in ("zone_before", "zone_after")}
    out["commune"] = np.full(len(cols["index"]), commune, dtype=object)
    out["change"] = cols["change"].codes
    out["split"] = np.maximum(np.ma.filled(cols["zones_before"], 0), np.ma.filled(cols["zones_after"], 0)) > 1
    for name in ("floor_before_m2", "floor_after_m2", "floor_delta_m2", "reserved_new_m2", "widening_new_m2"):
        out[name] = np.asarray(cols[name], dtype=float)
    for name in ("buildable_before", "buildable_after"):
        out[f"{name}_true"] = np.ma.filled(cols[name], False).astype(bool)
        out[f"{name}_false"] = ~np.ma.filled(cols[name], True).astype(bool)
    return out


def _metrics(t: dict[str, np.ndarray], rows: np.ndarray) -> dict:
    """The run's metrics over some rows (layers/impact.py's columns of the summary)."""
    def count(mask: np.ndarray) -> int:
        return int(np.count_nonzero(mask[rows]))

    change, delta = t["change"][rows], t["floor_delta_m2"][rows]
    out: dict[str, Any] = {"parcels": len(rows), "zone_changed": count(t["moved"]), "split": count(t["split"])}
    out.update({name: int(np.count_nonzero(change == CHANGES.index(name)))
                for name in ("gain", "loss", "reserved", "unchanged", "outside")})
    reserved, widening = t["reserved_new_m2"][rows], t["widening_new_m2"][rows]
    out.update(floor_gained_m2=float(delta[delta > 0].sum()), floor_lost_m2=float(-delta[delta < 0].sum()),
               floor_before_m2=float(np.nansum(t["floor_before_m2"][rows])),
               floor_after_m2=float(np.nansum(t["floor_after_m2"][rows])), reserved_new_m2=float(reserved.sum()),
               widening_new_m2=float(widening.sum()), with_new_reservation=int(np.count_nonzero(reserved + widening > 0)),
               no_longer_buildable=count(t["buildable_before_true"] & t["buildable_after_false"]),
               newly_buildable=count(t["buildable_before_false"] & t["buildable_after_true"]),
               outside_one_plan=count(t["one_plan"]))
    return out


def _groups(values: np.ndarray) -> list[tuple[object, np.ndarray]]:
    """(value, rows) per distinct value (text or None), ascending, None last."""
    keys = np.where(values == None, "\uffff", values).astype(str)  # noqa: E711 - sorts after every code
    unique, inverse = np.unique(keys, return_inverse=True)
    order = np.argsort(inverse.reshape(-1), kind="stable")
    bounds = np.searchsorted(inverse.reshape(-1)[order], np.arange(len(unique) + 1))
    return [(None if u == "\uffff" else str(u), order[bounds[i]:bounds[i + 1]]) for i, u in enumerate(unique)]


def aggregates(tallies: list[dict[str, np.ndarray]]) -> dict:
    """Totals, per commune, per zone before and per change of zone, from the communes' tallies."""
    tallies = tallies or [tally_empty()]
    t = {k: np.concatenate([x[k] for x in tallies]) for k in tallies[0]}
    every = np.arange(len(t["change"]))
    t["moved"] = t["zone_before"] != t["zone_after"]
    t["one_plan"] = (t["zone_before"] == None) | (t["zone_after"] == None)  # noqa: E711 - numpy element-wise
    pairs: dict[tuple, int] = {}
    for i in np.flatnonzero(t["moved"]):
        key = (t["zone_before"][i], t["zone_after"][i])
        pairs[key] = pairs.get(key, 0) + 1

    def order(key: tuple) -> tuple:
        return (-pairs[key], *((v is None, v or "") for v in key))

    return {"totals": _metrics(t, every),
            "by_area": [{"code": code, **_metrics(t, rows)} for code, rows in _groups(t["commune"])],
            "by_zone": [{"zone": zone, **_metrics(t, rows)} for zone, rows in _groups(t["zone_before"])],
            "zone_changes": [{"from_zone": k[0], "to_zone": k[1], "parcels": pairs[k]} for k in sorted(pairs, key=order)]}


def tally_empty() -> dict[str, np.ndarray]:
    """The tally of no row."""
    none = np.zeros(0, dtype=object)
    return {"zone_before": none, "zone_after": none, "commune": none, "change": np.zeros(0, dtype=np.int64),
            "split": np.zeros(0, dtype=bool), **{k: np.zeros(0) for k in ("floor_before_m2", "floor_after_m2",
                                                                          "floor_delta_m2", "reserved_new_m2",
                                                                          "widening_new_m2")},
            **{f"buildable_{s}_{v}": np.zeros(0, dtype=bool) for s in ("before", "after") for v in ("true", "false")}}
