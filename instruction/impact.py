"""Plan impact: what one plan version changes against another, parcel by parcel, over an area (issue 15).

    plan_impact(conn, from_code, to_code, area=None, progress=None, job_id=None, publish=True) -> dict
returns {"schema": "urbasig/plan-impact/1", "run_id", "from_plan", "to_plan", "area", "parcels", "totals",
"by_area": [...], "by_zone": [...], "zone_changes": [...], "provenance", "links"}; the per-parcel rows are in
impact_parcels (run_id) and exported by layers/impact.py (JSON, CSV, GeoPackage).
`progress(pct: int, message: str)` is called as the work advances (the CLI prints it, a job stores it).

The computation is set-based, in PostGIS (layers/impact.py, one statement per commune). What is pure stays
here: the zones' rules turned into "variants" (the effective parameters per band of plot area, from
instruction/rules.py `zone_rules`, so conditional rules on the plot area apply exactly as in the instruction)
and the result's shape. Per parcel and plan, as the envelope (instruction/envelope.py) does per zone part, but
on the net area, without the setbacks (they need each land's limits and roads):
- the parts: each zone crossing the parcel that is not marginal (the instruction's sliver rule); the zone is
  the one covering the largest share, and the number of parts says when the parcel is split;
- net area = part − (planned roads, reservations, green spaces, no-build areas of that plan);
- max footprint = min(net area, footprint % × part area, COS/CUS « emprise » × part area); levels = min(R+n + 1,
  height ÷ storey height); max floor area = min(COS/CUS « plancher » × part area, max footprint × levels),
  summed over the parts; 0 when the land is not buildable (under a part's minimum plot area, or no footprint
  left);
- area newly reserved / newly in a widening: the `to` plan's deductions on the parcel that none of the `from`
  plan's deductions covered (planned roads count as widening, the rest as reserved).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date

import psycopg

from instruction.envelope import Assumptions, _height
from instruction.findings import r2
from instruction.rules import CONDITIONS, Context, zone_rules
from layers import impact as q
from layers.communes import find_commune
from layers.provenance import code_version
from layers.rule_sets import rule_set

IMPACT_SCHEMA = "urbasig/plan-impact/1"
METHOD = ("density rules on the net area; setbacks are per land, see the envelope "
          "(règles de densité sur la surface nette ; les reculs dépendent de chaque terrain : voir l'enveloppe)")
Progress = Callable[[int, str], None]
VARIANT_KEYS = ("zone", "lo", "lo_in", "hi", "hi_in", "levels", "pct", "emprise", "cos", "cus", "min_plot")
STOREY_HEIGHT_M = Assumptions().storey_height_m  # the envelope's default (URBASIG_ENVELOPE_STOREY_HEIGHT_M)


def _plot_breaks(zone: dict) -> list[float]:
    """The plot areas at which one of the zone's conditional rules changes."""
    out = set()
    for rule in zone.get("conditional_rules") or []:
        for key, limit in (rule.get("when") or {}).items():
            if key in CONDITIONS and CONDITIONS[key][0] == "plot_area_m2":
                out.add(float(limit))
    return sorted(out)


def _effective(zone: dict, plot_area_m2: float) -> tuple:
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
    levels = _height(rules, STOREY_HEIGHT_M)["levels"]
    return (None if levels is None else float(levels), value("footprint_max_pct"), min(emprise) if emprise else None,
            value("cos_value", "plancher"), value("cus_value", "plancher"), value("min_plot_area_m2"))


def zone_variants(zone: dict) -> list[tuple]:
    """The zone's effective parameters per band of plot area: [(lo, lo_in, hi, hi_in, params)], covering every area.

    Between two breakpoints of its plot-area conditions a zone's rules are constant: each open band and each
    breakpoint is evaluated once with `zone_rules`, and neighbours with the same parameters are merged.
    """
    breaks = _plot_breaks(zone)
    if not breaks:
        return [(-math.inf, False, math.inf, False, _effective(zone, 1.0))]
    bands: list[tuple[float, bool, float, bool, float]] = []  # (lo, lo_in, hi, hi_in, a value inside)
    edges = [-math.inf, *breaks, math.inf]
    for lo, hi in zip(edges, edges[1:], strict=False):
        inside = hi - 1.0 if lo == -math.inf else (lo + 1.0 if hi == math.inf else (lo + hi) / 2)
        bands.append((lo, False, hi, False, inside))
        if hi != math.inf:
            bands.append((hi, True, hi, True, hi))
    out: list[tuple] = []
    for lo, lo_in, hi, hi_in, at in bands:
        params = _effective(zone, at)
        if out and out[-1][4] == params:
            out[-1] = (out[-1][0], out[-1][1], hi, hi_in, params)
        else:
            out.append((lo, lo_in, hi, hi_in, params))
    return out


def variant_table(zones: list[dict]) -> dict[str, list]:
    """The variants of every zone as columns (the arrays the SQL unnests)."""
    cols: dict[str, list] = {k: [] for k in VARIANT_KEYS}
    for zone in zones:
        for lo, lo_in, hi, hi_in, params in zone_variants(zone):
            for key, v in zip(VARIANT_KEYS, (zone["id"], lo, lo_in, hi, hi_in, *params), strict=True):
                cols[key].append(v)
    return cols


def conditions_left_out(zones: list[dict], plan_codes: dict[int, str]) -> list[dict]:
    """The conditional rules the bulk computation cannot apply (they depend on the road the land fronts)."""
    seen: dict[tuple, dict] = {}
    for zone in zones:
        for rule in zone.get("conditional_rules") or []:
            when = rule.get("when") or {}
            if any(CONDITIONS.get(k, ("?",))[0] != "plot_area_m2" for k in when):
                key = (plan_codes[zone["plan_id"]], zone["code"], rule.get("parameter"), tuple(sorted(when.items())))
                seen.setdefault(key, {"plan": key[0], "zone": zone["code"], "parameter": rule.get("parameter"),
                                      "value": rule.get("value"), "when": when, "article": rule.get("article"),
                                      "applied": "valeur de base (largeur de voie inconnue en masse)"})
    return [seen[k] for k in sorted(seen, key=str)]


def _plan_out(plan: dict) -> dict:
    return {"code": plan["code"], "name": plan["name"], "kind": plan["kind"], "status": plan["status"],
            "status_date": plan["status_date"].isoformat() if plan["status_date"] else None,
            "approval_act": plan["approval_act"]}


def _metrics(row: dict) -> dict:
    return {k: (r2(v) if k.endswith("_m2") else v) for k, v in row.items()}


def plan_impact(conn: psycopg.Connection, from_code: str, to_code: str, area: str | None = None,
                progress: Progress | None = None, job_id: str | None = None, publish: bool = True) -> dict:
    """Compute and store the impact of `to_code` against `from_code` over `area` (a commune; None: both plans).

    All in one transaction (a savepoint when the caller's is open): a failed run leaves no row.
    """
    say = progress or (lambda _pct, _msg: None)
    from_plan, to_plan, _shared = q.plan_pair(conn, from_code, to_code)
    commune = None
    if area is not None:
        commune = find_commune(conn, area)
        q.check_area(conn, commune["code"], commune["name"], from_plan, to_plan)
    today = date.today()
    t_version, thresholds = rule_set(conn, "thresholds", today)
    zones = q.plan_zones(conn, [from_plan["id"], to_plan["id"]])
    codes = {from_plan["id"]: from_plan["code"], to_plan["id"]: to_plan["code"]}
    provenance = {
        "from_plan": _plan_out(from_plan), "to_plan": _plan_out(to_plan), "date": today.isoformat(),
        "thresholds": {"version": t_version, "marginal_share_pct": thresholds["marginal_share_pct"],
                       "marginal_area_m2": thresholds["marginal_area_m2"], "noise_m2": q.NOISE_M2,
                       "storey_height_m": STOREY_HEIGHT_M, "ratio_area": "gross"},
        "method": METHOD, "deducted_kinds": list(q.DEDUCTED_KINDS), "widening_kinds": list(q.ROAD_KINDS),
        "conditions_not_applied": conditions_left_out(zones, codes), "code_version": code_version(),
    }
    variants = variant_table(zones)
    with conn.transaction():
        run_id = q.start_run(conn, from_plan["id"], to_plan["id"], commune["code"] if commune else None, job_id,
                             provenance)
        chunks: list[str | None] = ([commune["code"]] if commune
                                    else q.run_communes(conn, from_plan["id"], to_plan["id"]))
        say(2, f"{from_code} → {to_code} : {len(chunks)} commune(s) à calculer")
        total = 0
        for i, chunk in enumerate(chunks):
            total += q.insert_parcels(conn, run_id, from_plan["id"], to_plan["id"], chunk, variants, thresholds)
            say(5 + int(85 * (i + 1) / len(chunks)), f"{chunk or 'parcelles sans commune'} : fait "
                                                     f"({total} parcelles en tout)")
        say(92, "agrégats par commune et par zone")
        agg = q.run_aggregates(conn, run_id)
        summary = {"totals": _metrics(agg["totals"]), "by_area": [_metrics(r) for r in agg["by_area"]],
                   "by_zone": [_metrics(r) for r in agg["by_zone"]], "zone_changes": agg["zone_changes"]}
        q.finish_run(conn, run_id, total, summary, publish)
    say(100, f"terminé : {total} parcelles")
    links = [{"rel": "related", "type": "application/geo+json", "title": "collection plan-impact (calcul publié)",
              "href": "/ogc/collections/plan-impact/items"}] if publish else []
    return {"schema": IMPACT_SCHEMA, "run_id": run_id, "from_plan": from_code, "to_plan": to_code,
            "area": commune["code"] if commune else None, "parcels": total, "published": publish, **summary,
            "provenance": provenance, "links": links}
