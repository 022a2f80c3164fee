"""Plan impact: what one plan version changes against another, parcel by parcel, over an area (issue 15).

    plan_impact(conn, from_code, to_code, area=None, progress=None, job_id=None, publish=True, assumptions=None)
returns {"schema": "urbasig/plan-impact/1", "run_id", "from_plan", "to_plan", "area", "parcels", "totals",
"by_area": [...], "by_zone": [...], "zone_changes": [...], "provenance", "links"}; the per-parcel rows are in
impact_parcels (run_id) and exported by layers/impact.py (JSON, CSV, GeoPackage).
`progress(pct: int, message: str)` is called as the work advances (the CLI prints it, a job stores it).

The computation is vectorised (instruction/impact_rows.py: shapely 2 over STRtrees, numpy), per commune: the
parcels, zones and deductions come from PostGIS in binary (layers/impact.py), the rows go back with one binary
COPY. Here: the zones' rules turned into "variants" (the effective parameters per band of plot area, from
instruction/rules.py `zone_rules`, so conditional rules on the plot area apply exactly as in the instruction),
the run and the result's shape. Per parcel and plan, as the envelope (instruction/envelope.py) does per zone
part, with its assumptions (storey height, ratios on the gross or net area: URBASIG_ENVELOPE_*), but without
the setbacks (they need each land's limits and roads):
- the parts: each zone crossing the parcel that is not marginal (the instruction's sliver rule); the zone is
  the one covering the largest share, and the number of parts says when the parcel is split;
- net area = part − (planned roads, reservations, green spaces, no-build areas of that plan);
- max footprint = min(net area, footprint % × area, COS/CUS « emprise » × area); levels = min(R+n + 1,
  height ÷ storey height); max floor area = min(COS/CUS « plancher » × area, max footprint × levels), "area"
  the part's (gross) or its net area; summed over the parts; 0 when the land is not buildable (under a part's
  minimum plot area, or no footprint left);
- area newly reserved / newly in a widening: the `to` plan's deductions on the parcel that none of the `from`
  plan's deductions covered (planned roads count as widening, the rest as reserved);
- change: `reserved` (newly reserved, not marginal), else `outside` (the parcel is in one of the plans only:
  nothing to compare), else `gain` / `loss` of floor area, else `unchanged`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date

import numpy as np
import psycopg
import shapely

from instruction.engine import Options
from instruction.envelope import Assumptions, _height, assumptions_of
from instruction.findings import r2
from instruction.impact_rows import PlanPair, Rules, aggregates, parcel_rows, tally
from instruction.rules import CONDITIONS, Context, zone_rules
from layers import impact as q
from layers.bulk import Categories
from layers.communes import find_commune
from layers.provenance import code_version, data_stamps
from layers.rule_sets import rule_set

IMPACT_SCHEMA = "urbasig/plan-impact/1"
METHOD = ("density rules on the net area; setbacks are per land, see the envelope "
          "(règles de densité sur la surface nette ; les reculs dépendent de chaque terrain : voir l'enveloppe)")
Progress = Callable[[int, str], None]
VARIANT_KEYS = ("zone", "lo", "lo_in", "hi", "hi_in", "levels", "pct", "emprise", "cos", "cus", "min_plot")
OUTSIDE = "hors du plan"  # the zone of a parcel that a plan does not cover, in the aggregates
READ_LAYERS = ["communes", "parcels", "plans", "prescriptions", "zones"]  # their versions go in the provenance


def _plot_breaks(zone: dict) -> list[float]:
    """The plot areas at which one of the zone's conditional rules changes."""
    out = set()
    for rule in zone.get("conditional_rules") or []:
        for key, limit in (rule.get("when") or {}).items():
            if key in CONDITIONS and CONDITIONS[key][0] == "plot_area_m2":
                out.add(float(limit))
    return sorted(out)


def _effective(zone: dict, plot_area_m2: float, storey_height_m: float) -> tuple:
    """What the bulk computation needs of a zone's rules for a plot of this area (road width unknown), as the
    envelope reads them: levels = min(R+n + 1, height ÷ storey height); ratios « emprise » cap the footprint,
    ratios « plancher » the floor area."""
    rules = zone_rules(zone, Context(road_width_m=None, plot_area_m2=plot_area_m2))
    params = rules["parameters"]

    def value(key: str, meaning: str | None = None) -> float | None:
        entry = params.get(key)
        if not entry or (meaning and entry.get("meaning") != meaning):  # as instruction/envelope.py
            return None
        return float(entry["value"])

    emprise = [v for v in (value("cos_value", "emprise"), value("cus_value", "emprise")) if v is not None]
    levels = _height(rules, storey_height_m)["levels"]
    return (None if levels is None else float(levels), value("footprint_max_pct"), min(emprise) if emprise else None,
            value("cos_value", "plancher"), value("cus_value", "plancher"), value("min_plot_area_m2"))


def zone_variants(zone: dict, storey_height_m: float = Assumptions.storey_height_m) -> list[tuple]:
    """The zone's effective parameters per band of plot area: [(lo, lo_in, hi, hi_in, params)], covering every area.

    Between two breakpoints of its plot-area conditions a zone's rules are constant: each open band and each
    breakpoint is evaluated once with `zone_rules`, and neighbours with the same parameters are merged.
    """
    breaks = _plot_breaks(zone)
    if not breaks:
        return [(-math.inf, False, math.inf, False, _effective(zone, 1.0, storey_height_m))]
    bands: list[tuple[float, bool, float, bool, float]] = []  # (lo, lo_in, hi, hi_in, a value inside)
    edges = [-math.inf, *breaks, math.inf]
    for lo, hi in zip(edges, edges[1:], strict=False):
        inside = hi - 1.0 if lo == -math.inf else (lo + 1.0 if hi == math.inf else (lo + hi) / 2)
        bands.append((lo, False, hi, False, inside))
        if hi != math.inf:
            bands.append((hi, True, hi, True, hi))
    out: list[tuple] = []
    for lo, lo_in, hi, hi_in, at in bands:
        params = _effective(zone, at, storey_height_m)
        if out and out[-1][4] == params:
            out[-1] = (out[-1][0], out[-1][1], hi, hi_in, params)
        else:
            out.append((lo, lo_in, hi, hi_in, params))
    return out


def variant_table(zones: list[dict], storey_height_m: float = Assumptions.storey_height_m) -> dict[str, list]:
    """The variants of every zone as columns (zones with the same rules, e.g. in both versions, evaluated once)."""
    cols: dict[str, list] = {k: [] for k in VARIANT_KEYS}
    seen: dict[str, list[tuple]] = {}
    for zone in zones:
        rules = json.dumps({k: v for k, v in zone.items() if k not in ("id", "plan_id", "wkb")}, sort_keys=True,
                           default=str)
        if rules not in seen:
            seen[rules] = zone_variants(zone, storey_height_m)
        for lo, lo_in, hi, hi_in, params in seen[rules]:
            for key, v in zip(VARIANT_KEYS, (zone["id"], lo, lo_in, hi, hi_in, *params), strict=True):
                cols[key].append(v)
    return cols


def conditions_left_out(zones: list[dict], plan_codes: dict[int, str]) -> list[dict]:
    """The conditional rules the bulk computation cannot apply: those that depend on the road the land fronts, by
    a condition or by a formula (H ≤ L + R, instruction/rules.py FORMULAS)."""
    seen: dict[tuple, dict] = {}
    for zone in zones:
        for rule in zone.get("conditional_rules") or []:
            when = rule.get("when") or {}
            formula = rule.get("formula")
            if formula is not None or any(CONDITIONS.get(k, ("?",))[0] != "plot_area_m2" for k in when):
                key = (plan_codes[zone["plan_id"]], zone["code"], rule.get("parameter"), tuple(sorted(when.items())),
                       str(formula))
                entry = {"plan": key[0], "zone": zone["code"], "parameter": rule.get("parameter"),
                         "value": rule.get("value"), "when": when, "article": rule.get("article"),
                         "applied": "valeur de base (largeur de voie inconnue en masse)"}
                seen.setdefault(key, entry if formula is None else {**entry, "formula": formula})
    return [seen[k] for k in sorted(seen, key=str)]


def settings_assumptions(settings: object) -> Assumptions:
    """The envelope's assumptions from the settings (URBASIG_ENVELOPE_STOREY_HEIGHT_M, URBASIG_ENVELOPE_RATIO_AREA),
    as the single envelope reads them."""
    return assumptions_of(Options.from_settings(settings))


def _plan_out(plan: dict) -> dict:
    return {"code": plan["code"], "name": plan["name"], "kind": plan["kind"], "status": plan["status"],
            "status_date": plan["status_date"].isoformat() if plan["status_date"] else None,
            "approval_act": plan["approval_act"]}


def _metrics(row: dict) -> dict:
    return {k: (r2(v) if k.endswith("_m2") else v) for k, v in row.items()}


def _columns(run_id: int, commune: str | None, ids: np.ndarray, cols: dict) -> list[tuple[str, str, object]]:
    """impact_parcels' columns (layers/impact.py PARCEL_COLUMNS) from parcel_rows' ones."""
    n = len(cols["index"])
    given = {"run_id": np.full(n, run_id, dtype=np.int64), "parcel_id": ids[cols["index"]],
             "commune_code": Categories(np.zeros(n, dtype=np.int64), [commune])}
    return [(name, pgtype, given[name] if name in given else cols[name]) for name, pgtype in q.PARCEL_COLUMNS]


def prepare_pair(conn: psycopg.Connection, from_id: int, to_id: int, zones: list[dict],
                 storey_height_m: float) -> PlanPair:
    """The two plans' zones, deductions and rules, ready for `parcel_rows`."""
    deductions = q.plan_deductions(conn, [from_id, to_id])
    return PlanPair.build(zones, shapely.from_wkb([z["wkb"] for z in zones]), from_id, deductions,
                          shapely.from_wkb([d["wkb"] for d in deductions]), variant_table(zones, storey_height_m),
                          q.ROAD_KINDS)


def _stopwatch(spent: dict[str, float] | None) -> Callable[[str], None]:
    """lap(step) adds the seconds since the previous lap to spent[step] (nothing when spent is None)."""
    clock = [time.perf_counter()]

    def lap(step: str) -> None:
        now = time.perf_counter()
        if spent is not None:
            spent[step] = spent.get(step, 0.0) + now - clock[0]
        clock[0] = now

    return lap


def impact_communes(conn: psycopg.Connection, run_id: int, pair: PlanPair, rules: Rules, chunks: list[str | None],
                    plan_ids: list[int], progress: Progress | None = None, spent: dict[str, float] | None = None
                    ) -> tuple[int, list[dict]]:
    """Compute and write the rows of each commune's parcels (None: the parcels without a commune); their count and
    what the aggregates read of them (impact_rows.tally).

    A commune is computed while the server takes the previous one's COPY, written by a thread (the connection is
    used by one thread at a time: the next commune's parcels are read before the COPY starts). `progress(pct,
    message)` after each commune written; `spent`, if given, adds up the seconds of each step (bench/impact.py).
    """
    say = progress or (lambda _pct, _msg: None)
    lap = _stopwatch(spent)

    def write(columns: list) -> int:
        start = time.perf_counter()
        count = q.write_parcels(conn, columns)
        if spent is not None:
            spent["COPY (beside the computation)"] = spent.get("COPY (beside the computation)", 0.0) + \
                time.perf_counter() - start
        return count

    total, tallies = 0, []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="urbasig-impact-copy") as copier:
        writing: Future[int] | None = None
        loaded = q.run_parcels(conn, chunks[0], plan_ids) if chunks else ([], [], [])
        for i, chunk in enumerate(chunks):
            ids, areas, wkbs = loaded
            lap("read parcels")
            parcels = shapely.from_wkb(wkbs)
            lap("decode WKB")
            cols = parcel_rows(pair, rules, parcels, np.array(areas, dtype=float)) if ids else None
            lap("compute")
            if writing is not None:
                total += writing.result()
                say(5 + int(85 * i / len(chunks)), f"{chunks[i - 1] or 'parcelles sans commune'} : fait "
                                                   f"({total} parcelles en tout)")
            lap("waiting for the COPY")
            loaded = q.run_parcels(conn, chunks[i + 1], plan_ids) if i + 1 < len(chunks) else ([], [], [])
            lap("read parcels")
            writing = None
            if cols is not None:
                writing = copier.submit(write, _columns(run_id, chunk, np.array(ids, dtype=np.int64), cols))
                tallies.append(tally(cols, pair.zone_code, chunk))
        if writing is not None:
            total += writing.result()
            lap("waiting for the COPY")
    if chunks:
        say(90, f"{chunks[-1] or 'parcelles sans commune'} : fait ({total} parcelles en tout)")
    return total, tallies


def plan_impact(conn: psycopg.Connection, from_code: str, to_code: str, area: str | None = None,
                progress: Progress | None = None, job_id: str | None = None, publish: bool = True,
                assumptions: Assumptions | None = None) -> dict:
    """Compute and store the impact of `to_code` against `from_code` over `area` (a commune; None: both plans).

    `assumptions`: the envelope's (storey height, ratio area; the settings URBASIG_ENVELOPE_*, defaults if None).
    All in one transaction (a savepoint when the caller's is open): a failed run leaves no row.
    """
    say = progress or (lambda _pct, _msg: None)
    assumptions = assumptions or Assumptions()
    from_plan, to_plan, _shared = q.plan_pair(conn, from_code, to_code)
    commune = None
    if area is not None:
        commune = find_commune(conn, area)
        q.check_area(conn, commune["code"], commune["name"], from_plan, to_plan)
    today = date.today()
    t_version, thresholds = rule_set(conn, "thresholds", today)
    plan_ids = [from_plan["id"], to_plan["id"]]
    zones = q.plan_zones(conn, plan_ids)
    codes = {from_plan["id"]: from_plan["code"], to_plan["id"]: to_plan["code"]}
    provenance = {
        "from_plan": _plan_out(from_plan), "to_plan": _plan_out(to_plan), "date": today.isoformat(),
        "thresholds": {"version": t_version, "marginal_share_pct": thresholds["marginal_share_pct"],
                       "marginal_area_m2": thresholds["marginal_area_m2"], "noise_m2": q.NOISE_M2,
                       "storey_height_m": assumptions.storey_height_m, "ratio_area": assumptions.ratio_area},
        "method": METHOD, "deducted_kinds": list(q.DEDUCTED_KINDS), "widening_kinds": list(q.ROAD_KINDS),
        "conditions_not_applied": conditions_left_out(zones, codes), "code_version": code_version(),
        **data_stamps(conn, READ_LAYERS),
    }
    rules = Rules(float(thresholds["marginal_share_pct"]), float(thresholds["marginal_area_m2"]), q.NOISE_M2,
                  assumptions.ratio_area)
    with conn.transaction():
        run_id = q.start_run(conn, from_plan["id"], to_plan["id"], commune["code"] if commune else None, job_id,
                             provenance)
        chunks: list[str | None] = ([commune["code"]] if commune
                                    else q.run_communes(conn, from_plan["id"], to_plan["id"]))
        say(2, f"{from_code} → {to_code} : {len(chunks)} commune(s) à calculer")
        pair = prepare_pair(conn, from_plan["id"], to_plan["id"], zones, assumptions.storey_height_m)
        total, tallies = impact_communes(conn, run_id, pair, rules, chunks, plan_ids, say)
        say(92, "agrégats par commune et par zone")
        agg = aggregates(tallies)
        names = q.commune_names(conn, [a["code"] for a in agg["by_area"] if a["code"] is not None])
        agg["by_area"] = [{"code": a["code"], "name": names.get(a["code"]), **a} for a in agg["by_area"]]
        summary = {"totals": _metrics(agg["totals"]), "by_area": [_metrics(r) for r in agg["by_area"]],
                   "by_zone": [{**_metrics(r), "zone_label": r["zone"] or OUTSIDE} for r in agg["by_zone"]],
                   "zone_changes": [{**r, "from_label": r["from_zone"] or OUTSIDE, "to_label": r["to_zone"] or OUTSIDE}
                                    for r in agg["zone_changes"]]}
        q.finish_run(conn, run_id, total, summary, publish)
    say(100, f"terminé : {total} parcelles")
    links = [{"rel": "related", "type": "application/geo+json", "title": "collection plan-impact (calcul publié)",
              "href": "/ogc/collections/plan-impact/items"}] if publish else []
    return {"schema": IMPACT_SCHEMA, "run_id": run_id, "from_plan": from_code, "to_plan": to_code,
            "area": commune["code"] if commune else None, "parcels": total, "published": publish, **summary,
            "provenance": provenance, "links": links}
