"""What the land panel shows, in French or Arabic, built from instruction results only (pure: no Flask, no database).

`land_view(result, other, lang)` turns the instruction result (and, when a plan is in public inquiry, the
result of the same land with the other choice: the draft applied, or not) into plain values and sentences
for api/templates/map/panel.html. Every label goes through the catalogue (api/messages/panel.json) or
instruction/vocabulary.py; internal codes (`road_widening`, `enquete_publique`) never reach the page. Texts
that come from the plan itself (zone labels, uses, road names) stay as the plan writes them, in French.
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import shapely

from api.i18n import translate
from gis import l10n
from gis.crs import CRS84, STORAGE_SRID, parse_crs, reproject
from instruction import vocabulary
from instruction.vocabulary import label as vocab
from instruction.warning_text import warning_text
from notes.texts import text as note_text

# The zone parameters compared between the plan in force and the draft in public inquiry, in reading order.
COMPARED = ("height_max_m", "storeys_max", "footprint_max_pct", "cos_value", "cus_value", "min_plot_area_m2",
            "setback_road_m", "setback_side_m", "setback_rear_m")
SETBACKS = (("setback_road_m", "panel.rule.setback_road"), ("setback_side_m", "panel.rule.setback_side"),
            ("setback_rear_m", "panel.rule.setback_rear"))
SAID_ELSEWHERE = frozenset({"plan_en_enquete"})  # the inquiry box says it, with what would change


LRI, PDI = "\u2066", "\u2069"  # isolate a left-to-right quantity (« 129,55 m² ») inside Arabic text


def _iso(text: str, lang: str) -> str:
    """A quantity kept whole and left-to-right in an Arabic sentence (Unicode bidi isolate), as is in French."""
    return f"{LRI}{text}{PDI}" if lang == "ar" else text


def _area(m2: float, lang: str, decimals: int = 2) -> str:
    return _iso(l10n.area(m2, lang, decimals), lang)


def _pct(value: float, lang: str, decimals: int = 1) -> str:
    return _iso(l10n.percent(value, lang, decimals), lang)


def short(value: float | int, lang: str) -> str:
    """A number with no useless decimals: 11.5 → « 11,5 », 4.0 → « 4 », 0.75 → « 0,75 »."""
    value = float(value)
    if value.is_integer():
        return l10n.number(value, lang, 0)
    text = l10n.number(value, lang, 2)
    return text[:-1] if text.endswith("0") else text


def _metres(value: float, lang: str) -> str:
    return _iso(f"{short(value, lang)}{l10n.NBSP}m", lang)


def lonlat_bbox(bbox: list[float]) -> list[float]:
    """The box [w, s, e, n] in CRS84 (6 decimals, rounded outwards) of a box of EPSG:26191 coordinates."""
    corners = [shapely.Point(x, y) for x in (bbox[0], bbox[2]) for y in (bbox[1], bbox[3])]
    points = reproject(np.array(corners, dtype=object), parse_crs(STORAGE_SRID), parse_crs(CRS84))
    lons, lats = [p.x for p in points], [p.y for p in points]
    return [np.floor(min(lons) * 1e6) / 1e6, np.floor(min(lats) * 1e6) / 1e6,
            np.ceil(max(lons) * 1e6) / 1e6, np.ceil(max(lats) * 1e6) / 1e6]


def _day(text: str | None, lang: str) -> str | None:
    return l10n.long_date(date.fromisoformat(text), lang) if text else None


def _plan(plan: dict, lang: str) -> dict:
    """A plan as the panel cites it: name, code, kind, status with its date, approval act."""
    act = plan.get("approval_act")
    approved = _day(plan.get("approval_date"), lang)
    if act and approved and plan["approval_date"][:4] not in act:  # « Décret … du 12/06/2006 » says it already
        act_text = translate("panel.plan_act", lang, act=_iso(act, lang), date=approved)
    elif act:
        act_text = translate("panel.plan_act_nodate", lang, act=_iso(act, lang))
    else:
        act_text = translate("panel.plan_no_act", lang)
    status = vocab("status", plan["status"], lang)
    since = _day(plan.get("status_since"), lang)
    return {"code": plan["code"], "name": plan["name"], "kind": vocab("plan_kind", plan["kind"], lang),
            "status": translate("panel.plan_status", lang, status=status, date=since) if since else status,
            "status_code": plan["status"], "act": act_text}


def _coefficient(key: str, p: dict, zone_area_m2: float, lang: str) -> dict:
    """COS or CUS with its meaning in plain words and what it allows on this piece of land."""
    entry = p[key]
    meaning = entry.get("meaning")
    name = translate(f"panel.param.{key}", lang)
    if meaning in ("plancher", "emprise"):
        allowed = _area(entry["value"] * zone_area_m2, lang, 0)
        explained = (vocab("coef", meaning, lang) + " ; "
                     + translate(f"panel.rule.coef_{meaning}", lang, area=allowed, land=_area(zone_area_m2, lang, 0)))
    else:
        explained = translate("panel.rule.coef_unknown", lang)
    return {"name": f"{name} {_iso(short(entry['value'], lang), lang)}", "meaning": explained,
            "condition": _condition(entry, lang)}


def _condition(entry: dict, lang: str) -> str | None:
    """The condition of a conditional rule that applied (the plan's own words, in French)."""
    if not entry.get("condition"):
        return None
    text = entry["condition"] + (f", {entry['article']}" if entry.get("article") else "")
    return translate("panel.rule.condition", lang, condition=_iso(text, lang))


def _height(p: dict, lang: str) -> dict | None:
    if "height_max_m" not in p and "storeys_max" not in p:
        return None
    height = p.get("height_max_m")
    storeys = p.get("storeys_max")
    parts = [_metres(height["value"], lang)] if height else []
    if storeys:
        n = int(storeys["value"])
        key = "panel.rule.storeys_none" if n == 0 else "panel.rule.storeys_one" if n == 1 else "panel.rule.storeys"
        parts.append(translate(key, lang, n=n))
    return {"value": " — ".join(parts), "condition": _condition(height or {}, lang) or _condition(storeys or {}, lang)}


def _uses(uses: list[str], lang: str) -> list[dict]:
    """Each use in `lang` when the vocabulary knows it (`fr`: False), else as the plan writes it (`fr`: True)."""
    out = []
    for use in uses:
        text = vocabulary.text_of("use", use, lang)
        out.append({"text": text, "fr": lang != "fr" and text == use})
    return out


def _rules(rule: dict, lang: str) -> dict:
    """The main rules of one zone: uses, height and R+n, footprint, COS/CUS, plot, setbacks."""
    p = rule["parameters"]
    area_m2 = rule["area_m2"]
    out: dict[str, object] = {
        "dominant_use": _uses([rule["dominant_use"]], lang)[0] if rule.get("dominant_use") else None,
        "allowed": _uses(rule["uses_allowed"], lang), "conditional": _uses(rule["uses_conditional"], lang),
        "forbidden": _uses(rule["uses_forbidden"], lang),
        "height": _height(p, lang),
        "footprint": None, "coefficients": [_coefficient(k, p, area_m2, lang) for k in ("cos_value", "cus_value")
                                            if k in p],
        "plot": None, "setbacks": None, "continuous": bool(rule.get("continuous_frontage")),
        "undecided": [translate("panel.rule.undecided", lang, param=translate(f"panel.param.{u['parameter']}", lang),
                                value=short(u["value"], lang) if u["value"] is not None else "—",
                                condition=_iso(u["condition"], lang)) for u in rule["undecided_conditions"]],
        "article": (translate("panel.rule.article", lang, article=_iso(rule["article"], lang))
                    if rule.get("article") else None),
    }
    if "footprint_max_pct" in p:
        pct = p["footprint_max_pct"]["value"]
        out["footprint"] = {"value": _pct(pct, lang, 0 if float(pct).is_integer() else 1),
                            "help": translate("panel.rule.footprint_help", lang,
                                              pct=_pct(pct, lang, 0 if float(pct).is_integer() else 1),
                                              area=_area(pct / 100 * area_m2, lang, 0))}
    if "min_plot_area_m2" in p:
        plot = _area(p["min_plot_area_m2"]["value"], lang, 0)
        if "min_frontage_m" in p:
            plot += ", " + translate("panel.rule.frontage", lang, m=_metres(p["min_frontage_m"]["value"], lang))
        out["plot"] = plot
    setbacks = [translate(key, lang, m=_metres(p[name]["value"], lang)) for name, key in SETBACKS if name in p]
    out["setbacks"] = " ; ".join(setbacks) if setbacks else None
    out["empty"] = not any(out[k] for k in ("height", "footprint", "coefficients", "plot", "setbacks", "allowed",
                                            "forbidden", "conditional", "dominant_use"))
    return out


def _zone(rule: dict, lang: str) -> dict:
    z = rule["zone"]
    return {"code": z["code"], "sector": z.get("sector"), "label": z.get("label"), "plan": z.get("plan"),
            "area": _area(rule["area_m2"], lang), "share": _pct(rule["share_pct"], lang),
            "area_m2": rule["area_m2"], "share_pct": rule["share_pct"], "marginal": rule["marginal"],
            "rules": None if rule["marginal"] else _rules(rule, lang)}


def _named(label: str | None, kind: str, lang: str) -> str:
    """A prescription's own label (the plan's words), else its kind's."""
    return _iso(label, lang) if label else vocab("prescription", kind, lang)


def _roads(roads: dict, lang: str) -> dict:
    widenings = [translate("panel.widening", lang, label=_named(w["label"], w["kind"], lang),
                           area=_area(w["area_m2"], lang), share=_pct(w["share_pct"], lang),
                           depth=_metres(w["depth_m"], lang) if w["depth_m"] is not None else "—")
                 for w in roads["widenings"]]
    alignments = [translate("panel.alignment", lang, label=_named(a["label"], "alignment", lang),
                            width=_metres(a["planned_width_m"], lang) if a["planned_width_m"] is not None else "—")
                  for a in roads["alignments"]]
    fronting = [translate("panel.road_width", lang, name=_iso(r["name"], lang), width=_metres(r["width_m"], lang))
                for r in roads["fronting"] if r.get("name") and r.get("width_m") is not None]
    return {"widenings": widenings, "alignments": alignments,
            "lost": translate("panel.roads_lost", lang, lost=_area(roads["lost_area_m2"], lang),
                              remaining=_area(roads["remaining_area_m2"], lang)) if widenings else None,
            "fronting": translate("panel.fronting", lang, roads=", ".join(fronting)) if fronting else None}


def _shares(items: list[dict], lang: str, name_of) -> list[dict]:
    return [{"kind": vocab("prescription", i["kind"], lang), "label": name_of(i),
             "share": translate("panel.share_of_land", lang, area=_area(i["area_m2"], lang),
                                share=_pct(i["share_pct"], lang)),
             "share_pct": i["share_pct"], "marginal": i.get("marginal", False)} for i in items]


def _layer_group(layer: str) -> str:
    return "prescriptions" if layer.startswith("prescriptions/") else layer


def _no_data(layers: list[dict], lang: str) -> str | None:
    """The layers with no data on this land, said as such (never read as « no constraint »)."""
    groups = list(dict.fromkeys(_layer_group(entry["layer"]) for entry in layers if entry["coverage"] == "not_covered"))
    if not groups:
        return None
    return translate("panel.no_data", lang, layers=", ".join(translate(f"panel.layer.{g}", lang) for g in groups))


def _covered(result: dict) -> bool:
    """Whether the plan's layers have data on this land (so an empty list means « none here »)."""
    return result["layers"][0]["coverage"] != "not_covered"


def _rule_values(rule: dict, lang: str) -> dict[str, str]:
    """The compared parameters of a zone, formatted (R+n for storeys)."""
    out = {}
    for key in COMPARED:
        entry = rule["parameters"].get(key)
        if entry is None:
            continue
        value = entry["value"]
        if key == "storeys_max":
            out[key] = _iso(f"R+{int(value)}", lang)
        elif key == "footprint_max_pct":
            out[key] = _pct(value, lang, 0)
        elif key.endswith("_m"):
            out[key] = _metres(value, lang)
        elif key.endswith("_m2"):
            out[key] = _area(value, lang, 0)
        else:
            out[key] = _iso(short(value, lang), lang)
    return out


def _changes(before: dict | None, after: dict, lang: str) -> list[str]:
    """What differs between a zone's rules in one scenario and the main zone of the other."""
    unset = translate("panel.unset", lang)
    old = _rule_values(before, lang) if before else {}
    new = _rule_values(after, lang)
    return [translate("panel.inquiry_rule_change", lang, param=translate(f"panel.param.{k}", lang),
                      before=old.get(k, unset), after=new.get(k, unset))
            for k in COMPARED if old.get(k) != new.get(k)]


def _main_rule(result: dict | None) -> dict | None:
    rules = [r for r in (result or {}).get("rules", []) if not r["marginal"]]
    return rules[0] if rules else None


def _alternative(result: dict, other: dict | None, lang: str) -> dict | None:
    """The box on the plan in public inquiry: what it would change here (or, applied, what the plan in force says)."""
    applied = result["provenance"]["apply_plans_in_inquiry"]
    entries = result["inquiry"] if not applied else (other or {}).get("inquiry", [])
    if not entries and not (applied and any(p["status"] == "enquete_publique" for p in result["plans"]["applied"])):
        return None
    draft = entries[0]["plan"] if entries else next(p for p in result["plans"]["applied"]
                                                    if p["status"] == "enquete_publique")
    box: dict[str, object] = {
        "applied": applied,
        "intro": translate("panel.inquiry_since", lang, name=_iso(draft["name"], lang), code=_iso(draft["code"], lang),
                           date=_day(draft.get("status_since"), lang) or "—"),
        "zones": [], "added": None, "removed": None, "changed": True,
    }
    shown = other if other is not None else None
    if shown is not None:
        zones = [r for r in shown["rules"] if not r["marginal"]]
        mine = _main_rule(result)
        box["zones"] = [{"code": r["zone"]["code"], "sector": r["zone"].get("sector"), "label": r["zone"].get("label"),
                         "share": _pct(r["share_pct"], lang),
                         "changes": _changes(r, mine, lang) if applied else _changes(mine, r, lang)} for r in zones]
    elif entries:  # the second instruction did not run: the inquiry entry's zones, without their rules
        box["zones"] = [{"code": z["code"], "sector": z.get("sector"), "label": z.get("label"),
                         "share": _pct(z["share_pct"], lang), "changes": []}
                        for z in entries[0]["zones"] if not z["marginal"]]
    if entries:
        entry = entries[0]
        box["changed"] = entry["zoning_changed"]
        items = {name: ", ".join(f"{vocab('prescription', i['kind'], lang)} ({_iso(i['label'], lang)})" if i.get("label")
                                 else vocab("prescription", i["kind"], lang) for i in entry[f"prescriptions_{name}"])
                 for name in ("added", "removed")}
        if applied:  # seen from the draft: what it adds is what the plan in force does not have
            items = {"added": items["removed"], "removed": items["added"]}
        box["added"] = translate("panel.inquiry_added", lang, items=items["added"]) if items["added"] else None
        box["removed"] = translate("panel.inquiry_removed", lang, items=items["removed"]) if items["removed"] else None
    return box


def _stamp(stamp: str | None, lang: str) -> str:
    """The day of the data's last change (the timestamp is UTC ISO: a person reads the day)."""
    if not stamp:
        return "—"
    return l10n.long_date(datetime.fromisoformat(stamp.replace("Z", "+00:00")).date(), lang)


def _communes(land: dict, lang: str) -> list[str]:
    out = []
    for c in land["communes"]:
        kind_key = f"panel.commune_kind.{c['kind']}"
        kind = translate(kind_key, lang) if c["kind"] in ("arrondissement", "commune") else c["kind"]
        text = f"{c['name']} ({kind}, {translate('panel.prefecture', lang, name=c['prefecture'])})"
        if c["share_pct"] < 99.95:
            text += f" — {_pct(c['share_pct'], lang)}"
        out.append(text)
    return out


def land_view(result: dict, other: dict | None, lang: str) -> dict:
    """Everything the panel shows, from the instruction `result` (and `other`: the same land, inquiry toggled)."""
    land = result["land"]
    bbox = lonlat_bbox(land["bbox"])
    covered = _covered(result)
    shown = [w for w in result["warnings"] if w["code"] not in SAID_ELSEWHERE]
    shown.sort(key=lambda w: w["code"] != "conflit_de_plans")  # the plans' conflicts first (stable otherwise)
    warnings = [warning_text(w, result, lang) for w in shown]
    zones_layer = result["layers"][0]
    return {
        "refs": land["refs"], "land_attr": ";".join(land["refs"]),
        "bbox_attr": ",".join(f"{v:.6f}" for v in bbox),
        "center_attr": ",".join(f"{v:.6f}" for v in land["centroid_lonlat"]),
        "date": result["date"], "date_text": l10n.long_date(date.fromisoformat(result["date"]), lang),
        "area": _area(land["area_m2"], lang),
        "legal_area": _area(land["legal_area_m2"], lang) if land.get("legal_area_m2") else None,
        "parts": land["parts"] if land["parts"] > 1 else None,
        "communes": _communes(land, lang),
        "plans": [_plan(p, lang) for p in result["plans"]["applied"]],
        "zones": [_zone(r, lang) for r in result["rules"]],
        "zones_partial": (translate("panel.zones_partial", lang, pct=_pct(zones_layer["covered_pct"], lang))
                          if zones_layer["coverage"] == "partial" else None),
        "roads": _roads(result["roads"], lang),
        "reservations": _shares(result["reservations"], lang, lambda r: r["facility_label"] or r["label"]),
        "servitudes": _shares(result["servitudes"], lang, lambda s: s["label"]),
        "sdau": [{"label": s["label"], "destination": s["destination"], "share": _pct(s["share_pct"], lang)}
                 for s in result["sdau"]],
        "covered": covered,
        "no_data": _no_data(result["layers"], lang),
        "alternative": _alternative(result, other, lang),
        "warnings": warnings,
        "disclaimer": note_text("disclaimer", lang),
        "projet": result["provenance"]["apply_plans_in_inquiry"],
        "provenance": translate("panel.provenance", lang, stamp=_stamp(result["provenance"]["data_timestamp"], lang),
                                plans=", ".join(result["provenance"]["plans_used"]) or translate("panel.none", lang)),
    }


def _signed_area(m2: float, lang: str) -> str:
    """« +330 m² », « −120 m² » (a true minus sign)."""
    sign = "+" if m2 > 0 else "\u2212" if m2 < 0 else ""
    return _iso(sign + l10n.area(abs(m2), lang, 0), lang)


def _floor_text(row: dict, lang: str) -> str:
    before, after = row.get("floor_before_m2"), row.get("floor_after_m2")
    unset = translate("panel.impact.unset", lang)
    if before is not None and after is not None and round(before) == round(after):
        return translate("panel.impact.floor_same", lang, area=_area(after, lang, 0))
    delta = row.get("floor_delta_m2")
    if delta is None and before is not None and after is not None:
        delta = after - before
    return translate("panel.impact.floor", lang, before=_area(before, lang, 0) if before is not None else unset,
                     after=_area(after, lang, 0) if after is not None else unset,
                     delta=_signed_area(delta, lang) if delta is not None else unset)


def impact_lines(rows: list[dict], lang: str) -> list[dict]:
    """« Avec le projet PA-X : zone V1 → B, surface de plancher max 120 m² → 450 m² (+330 m²), 25 m² nouvellement
    réservés » for each published impact row of a land (layers/impact_map.land_impact), with its `change`."""
    several = len({r.get("land_ref") for r in rows}) > 1
    out = []
    for row in rows:
        before, after = row.get("zone_before"), row.get("zone_after")
        outside = translate("panel.impact.outside", lang)  # a parcel that one of the plans does not cover
        parts = [translate("panel.impact.zone_same", lang, code=_iso(before, lang)) if before and before == after
                 else translate("panel.impact.zone", lang, before=_iso(before or outside, lang),
                                after=_iso(after or outside, lang)),
                 _floor_text(row, lang)]
        for key, column in (("panel.impact.reserved", "reserved_new_m2"), ("panel.impact.widening", "widening_new_m2")):
            if (row.get(column) or 0) >= 0.5:
                parts.append(translate(key, lang, area=_area(row[column], lang, 0)))
        for key, column in (("panel.impact.uses_gained", "uses_gained"), ("panel.impact.uses_lost", "uses_lost")):
            if row.get(column):
                uses = ("، " if lang == "ar" else ", ").join(u["text"] for u in _uses(row[column], lang))
                parts.append(translate(key, lang, uses=uses))
        if row.get("buildable_before") and row.get("buildable_after") is False:
            parts.append(translate("panel.impact.no_longer_buildable", lang))
        elif row.get("buildable_before") is False and row.get("buildable_after"):
            parts.append(translate("panel.impact.becomes_buildable", lang))
        changes = ("، " if lang == "ar" else ", ").join(parts)
        plan = _iso(row.get("to_plan") or "", lang)
        text = (translate("panel.impact.with_ref", lang, ref=_iso(row["land_ref"], lang), plan=plan, changes=changes)
                if several and row.get("land_ref") else translate("panel.impact.with", lang, plan=plan, changes=changes))
        out.append({"text": text, "change": row.get("change")})
    return out
