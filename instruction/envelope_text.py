"""The French text of a buildable envelope (`urbasig envelope`), built from the result only (pure)."""

from __future__ import annotations

from gis import l10n


def _a(m2: float | None) -> str:
    return "—" if m2 is None else l10n.area(m2, "fr", 2, trim=True)


def _l(m: float | None) -> str:
    return "—" if m is None else l10n.length(m, "fr", 2, trim=True)


def _setbacks(s: dict) -> str:
    side = "aucun (front bâti continu)" if s["continuous_frontage"] else _l(s["side_m"])
    out = f"sur voie {_l(s['road_m'])}, latéral {side}, de fond {_l(s['rear_m'])}"
    return out + (f", limites non classées {_l(s['ambiguous_m'])}" if s.get("ambiguous_m") is not None else "")


def _height(h: dict) -> str:
    if h["max_m"] is None and h["storeys_max"] is None:
        return "    Hauteur : non fixée par le règlement."
    parts = [_l(h["max_m"])] if h["max_m"] is not None else []
    if h["storeys_max"] is not None:
        parts.append(f"R+{h['storeys_max']}")
    text = f"    Hauteur : {', '.join(parts)}"
    if h["levels"] is not None:
        text += f", soit {h['levels']} niveau{'x' if h['levels'] > 1 else ''}"
    if h["binding"] and h["binding"] != "height_max_m":
        text += f" — hauteur limitée par : {h['binding_label']} ({h['rule']})"
    if h["levels_binding"] == "height_max_m" and h["storeys_max"] is not None:
        text += " — niveaux limités par la hauteur"
    return text + "."


def _part_lines(p: dict) -> list[str]:
    zone = p["zone"]
    sector = f", secteur {zone['sector']}" if zone.get("sector") else ""
    flag = " — bande marginale, non comptée" if p["marginal"] else ""
    lines = [f"  Zone {zone['code']}{sector} ({zone.get('plan')}) : {_a(p['area_m2'])}"
             f" ({l10n.percent(p['share_pct'] or 0, 'fr', 1, trim=True)}){flag}"]
    for d in p["deductions"]:
        lines.append(f"    Déduit : {d['kind_label']} « {d['label']} », {_a(d['area_m2'])}.")
    lines.append(f"    Reculs : {_setbacks(p['setbacks'])}.")
    pieces = f"{p['pieces']} morceau{'x' if p['pieces'] > 1 else ''}"
    lines.append(f"    Surface constructible : {_a(p['buildable_area_m2'])} ({pieces}).")
    fp = p["footprint"]
    lines.append(f"    Emprise maximale : {_a(fp['max_m2'])} — limitée par : {fp['binding_label']}.")
    lines.append(_height(p["height"]))
    fa = p["floor_area"]
    how = f" ({fa['how']})" if fa.get("how") else ""
    lines.append(f"    Surface de plancher maximale : {_a(fa['max_m2'])} — limitée par : {fa['binding_label']}{how}.")
    lines += [f"    ! {r['message']}." for r in p["reasons"]]
    if not p["buildable"]:
        lines.append("    Cette partie n'est pas constructible.")
    return lines


def envelope_text(result: dict) -> str:
    """The envelope in French: the verdict, the totals, then each zone part with the rule that binds."""
    land = result.get("land") or {}
    refs = ", ".join(land.get("refs") or []) or "terrain désigné par sa géométrie"
    totals = result["totals"]
    lines = [f"Enveloppe constructible — {refs} ({_a(totals['land_area_m2'])}), au {result.get('date')}",
             f"Constructible : {'oui' if result['buildable'] else 'non'}. Emprise maximale "
             f"{_a(totals['max_footprint_m2'])}, surface de plancher maximale {_a(totals['max_floor_area_m2'])}, "
             f"surface constructible {_a(totals['buildable_area_m2'])}.",
             f"Limites : sur voie {_l(result['limits']['road_m'])}, latérales {_l(result['limits']['side_m'])}, de fond "
             f"{_l(result['limits']['rear_m'])}" + (f", non classées {_l(result['limits']['ambiguous_m'])}"
                                                    if result["limits"].get("ambiguous_m") else "")
             + (f" ; voies : {', '.join(result['limits']['roads'])}" if result["limits"]["roads"] else "") + "."]
    lines += [f"! {r['message']}." for r in result["reasons"]]
    lines.append("Par partie de zone :")
    for p in result["parts"]:
        lines += _part_lines(p)
    a = result.get("assumptions") or {}
    if a:
        lines.append(f"Hypothèses : hauteur d'étage {_l(a['storey_height_m'])} ; coefficients appliqués à la surface "
                     f"{'brute' if a['ratio_area'] == 'gross' else 'nette des déductions'} de chaque partie.")
    return "\n".join(lines)
