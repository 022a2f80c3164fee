"""The French text of an instruction result (the body of the note), built from the result only."""

from __future__ import annotations


def _n(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:,.2f}".replace(",", " ").replace(".", ",")
    text = text[:-3] if text.endswith(",00") else text
    return f"{text} {unit}".strip()


def _zone_name(zone: dict) -> str:
    sector = f", secteur {zone['sector']}" if zone.get("sector") else ""
    return f"zone {zone['code']}{sector} ({zone['label'] or 'sans libellé'})"


def _height_line(p: dict) -> str | None:
    if "storeys_max" not in p and "height_max_m" not in p:
        return None
    storeys = p.get("storeys_max", {}).get("value")
    height = p.get("height_max_m", {}).get("value")
    text = f"    Hauteur : {_n(height, 'm')}" + (f", soit R+{storeys}" if storeys is not None else "")
    cond = p.get("storeys_max", {}).get("condition") or p.get("height_max_m", {}).get("condition")
    return text + (f" (règle pour {cond})" if cond else "") + "."


def _density_lines(p: dict) -> list[str]:
    lines = []
    if "footprint_max_pct" in p:
        lines.append(f"    Emprise au sol maximale : {_n(p['footprint_max_pct']['value'], '%')}.")
    for key, name in (("cos_value", "COS"), ("cus_value", "CUS")):
        if key in p:
            meaning = "surface de plancher / terrain" if p[key].get("meaning") == "plancher" else "emprise / terrain"
            lines.append(f"    {name} : {_n(p[key]['value'])} ({meaning}).")
    if "min_plot_area_m2" in p:
        front = p.get("min_frontage_m", {}).get("value")
        lines.append(f"    Terrain minimal : {_n(p['min_plot_area_m2']['value'], 'm²')}"
                     + (f", façade minimale {_n(front, 'm')}" if front is not None else "") + ".")
    setbacks = [(k, lbl) for k, lbl in (("setback_road_m", "sur voie"), ("setback_side_m", "latéral"),
                                         ("setback_rear_m", "de fond")) if k in p]
    if setbacks:
        lines.append("    Reculs : " + ", ".join(f"{lbl} {_n(p[k]['value'], 'm')}" for k, lbl in setbacks) + ".")
    return lines


def _use_lines(rule: dict) -> list[str]:
    lines = []
    if rule.get("continuous_frontage"):
        lines.append("    Front bâti continu.")
    for key, title in (("uses_allowed", "Usages autorisés"), ("uses_conditional", "Sous conditions"),
                       ("uses_forbidden", "Interdits")):
        if rule[key]:
            lines.append(f"    {title} : {', '.join(rule[key])}.")
    return lines


def _rules_lines(rule: dict) -> list[str]:
    p = rule["parameters"]
    lines = [f"    Vocation : {rule['dominant_use']}."] if rule.get("dominant_use") else []
    height = _height_line(p)
    lines += ([height] if height else []) + _density_lines(p) + _use_lines(rule)
    for u in rule["undecided_conditions"]:
        lines.append(f"    À vérifier : {u['parameter']} = {_n(u['value'])} si {u['condition']}.")
    return lines


def _land_lines(result: dict) -> list[str]:
    land = result["land"]
    refs = ", ".join(land["refs"]) if land["refs"] else "terrain désigné par sa géométrie"
    communes = ", ".join(f"{c['name']}" for c in land["communes"]) or "hors des communes connues"
    return [f"Terrain : {refs} — {communes} — superficie calculée {_n(land['area_m2'], 'm²')}"
            + (f" (contenance du titre {_n(land['legal_area_m2'], 'm²')})" if land["legal_area_m2"] else "") + ".",
            f"Situation au {result['date']}."]


def _plan_lines(result: dict) -> list[str]:
    plans = result["plans"]
    lines = []
    for p in plans["applied"]:
        act = f", {p['approval_act']}" if p.get("approval_act") else ""
        lines.append(f"Document applicable : {p['name']} ({p['code']}), {p['status_label']}{act}.")
    if not plans["applied"]:
        lines.append("Aucun plan d'aménagement n'est en vigueur sur ce terrain à cette date.")
    zones_layer = result["layers"][0]
    if plans["applied"] and zones_layer["coverage"] != "covered":
        lines.append(f"Le zonage ne couvre que {_n(zones_layer['covered_pct'], '%')} du terrain.")
    return lines


def _zoning_lines(rules: list[dict]) -> list[str]:
    if not rules:
        return []
    lines = ["Zonage :"]
    for rule in rules:
        flag = " — bande marginale, probablement due au tracé" if rule["marginal"] else ""
        lines.append(f"  - {_zone_name(rule['zone'])} : {_n(rule['area_m2'], 'm²')} "
                     f"({_n(rule['share_pct'], '%')}){flag}")
        if not rule["marginal"]:
            lines.extend(_rules_lines(rule))
    return lines


def _road_lines(roads: dict) -> list[str]:
    if not (roads["widenings"] or roads["alignments"]):
        return []
    lines = ["Voirie et alignements :"]
    for w in roads["widenings"]:
        lines.append(f"  - {w['label']} : {_n(w['area_m2'], 'm²')} du terrain ({_n(w['share_pct'], '%')}), "
                     f"profondeur {_n(w['depth_m'], 'm')}.")
    for a in roads["alignments"]:
        lines.append(f"  - {a['label']} (emprise future {_n(a['planned_width_m'], 'm')}).")
    lines.append(f"  Surface touchée par la voirie : {_n(roads['lost_area_m2'], 'm²')} ; "
                 f"surface restante : {_n(roads['remaining_area_m2'], 'm²')}.")
    return lines


def _constraint_lines(result: dict) -> list[str]:
    lines = []
    if result["reservations"]:
        lines.append("Réserves et espaces verts :")
        for r in result["reservations"]:
            what = r["facility_label"] or r["label"]
            lines.append(f"  - {what} : {_n(r['area_m2'], 'm²')} ({_n(r['share_pct'], '%')}).")
    if result["servitudes"]:
        lines.append("Servitudes :")
        for s in result["servitudes"]:
            lines.append(f"  - {s['label']} : {_n(s['area_m2'], 'm²')} ({_n(s['share_pct'], '%')}).")
    if result["sdau"]:
        lines.append("SDAU : " + "; ".join(f"{s['label']} ({_n(s['share_pct'], '%')})" for s in result["sdau"]) + ".")
    return lines


def _coverage_lines(layers: list[dict]) -> list[str]:
    not_covered = [layer["label"] for layer in layers if layer["coverage"] == "not_covered"]
    if not_covered and len(not_covered) < len(layers):
        return ["Sans données ici (ce n'est pas une absence de contrainte) : " + ", ".join(sorted(set(not_covered)))
                + "."]
    if not_covered:
        return ["Aucune couche ne couvre ce terrain : aucune donnée, ce qui ne signifie pas absence de contrainte."]
    return []


def summary_text(result: dict) -> str:
    """Render the result as the French text of a note de renseignements (indicative body)."""
    lines = (_land_lines(result) + _plan_lines(result) + _zoning_lines(result["rules"]) + _road_lines(result["roads"])
             + _constraint_lines(result) + _coverage_lines(result["layers"]))
    if result["warnings"]:
        lines.append("Avertissements :")
        lines.extend(f"  - {w['message']}" for w in result["warnings"])
    return "\n".join(lines)
