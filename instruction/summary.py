"""The text of an instruction result (the body of the note) in French or Arabic, built from the result only.

Numbers and dates are written for a person (gis/l10n.py: « 1 234,56 m² », « 1er juin 2026 »), the words come
from instruction/vocabulary.py and the phrases below; the result itself (its JSON) is never changed, so a
stored note renders the same text again. Names the plans write (zone labels, plan names, road names) stay as
written: they are the plan's own words. The warnings are rendered from their code and the result's data
(instruction/warning_text.py).
"""

from __future__ import annotations

import re
from datetime import date

from gis import l10n
from instruction import vocabulary as vocab
from instruction.warning_text import warning_text

PHRASES: dict[str, dict[str, str]] = {
    "land": {"fr": "Terrain : {refs} — {communes} — superficie calculée {area}",
             "ar": "العقار: {refs} — {communes} — المساحة المحسوبة {area}"},
    "land_legal": {"fr": " (contenance du titre {area})", "ar": " (مساحة الرسم العقاري {area})"},
    "by_geometry": {"fr": "terrain désigné par sa géométrie", "ar": "عقار محدد بشكله الهندسي"},
    "no_commune": {"fr": "hors des communes connues", "ar": "خارج الجماعات المعروفة"},
    "as_of": {"fr": "Situation au {day}.", "ar": "الوضعية بتاريخ {day}."},
    "plan": {"fr": "Document applicable : {citation}.", "ar": "الوثيقة المطبقة: {citation}."},
    "citation": {"fr": "{name} ({code}), {status}{act}", "ar": "{kind} {name} ({code})، {status}{act}"},
    "no_plan": {"fr": "Aucun plan d'aménagement n'est en vigueur sur ce terrain à cette date.",
                "ar": "لا يوجد تصميم تهيئة ساري المفعول على هذا العقار في هذا التاريخ."},
    "partial": {"fr": "Le zonage ne couvre que {pct} du terrain.", "ar": "لا يغطي التنطيق سوى {pct} من العقار."},
    "zoning": {"fr": "Zonage :", "ar": "التنطيق:"},
    "zone": {"fr": "zone {code}", "ar": "المنطقة {code}"},
    "sector": {"fr": ", secteur {sector}", "ar": "، القطاع {sector}"},
    "no_label": {"fr": "sans libellé", "ar": "بدون تسمية"},
    "zone_line": {"fr": "  - {zone} : {area} ({pct}){flag}", "ar": "  - {zone}: {area} ({pct}){flag}"},
    "marginal": {"fr": " — bande marginale, probablement due au tracé",
                 "ar": " — شريط هامشي، راجع على الأرجح إلى دقة الرسم"},
    "use": {"fr": "    Vocation : {use}.", "ar": "    الغرض الرئيسي: {use}."},
    "height": {"fr": "    Hauteur : {height}", "ar": "    العلو: {height}"},
    "storeys": {"fr": ", soit {rn}", "ar": "، أي {rn}"},
    "rule_for": {"fr": " (règle pour {cond})", "ar": " (قاعدة خاصة بـ{cond})"},
    "footprint": {"fr": "    Emprise au sol maximale : {pct}.", "ar": "    نسبة الاستغلال القصوى للأرض: {pct}."},
    "coef": {"fr": "    {name} : {value} ({meaning}).", "ar": "    {name}: {value} ({meaning})."},
    "min_plot": {"fr": "    Terrain minimal : {area}", "ar": "    المساحة الدنيا للبقعة: {area}"},
    "min_front": {"fr": ", façade minimale {length}", "ar": "، الواجهة الدنيا {length}"},
    "setbacks": {"fr": "    Reculs : {items}.", "ar": "    التراجعات: {items}."},
    "setback_road_m": {"fr": "sur voie {length}", "ar": "عن الطريق {length}"},
    "setback_side_m": {"fr": "latéral {length}", "ar": "الجانبي {length}"},
    "setback_rear_m": {"fr": "de fond {length}", "ar": "الخلفي {length}"},
    "continuous": {"fr": "    Front bâti continu.", "ar": "    واجهة مبنية متصلة."},
    "uses_allowed": {"fr": "    Usages autorisés : {uses}.", "ar": "    الاستعمالات المسموح بها: {uses}."},
    "uses_conditional": {"fr": "    Sous conditions : {uses}.", "ar": "    المسموح بها بشروط: {uses}."},
    "uses_forbidden": {"fr": "    Interdits : {uses}.", "ar": "    الممنوعة: {uses}."},
    "undecided": {"fr": "    À vérifier : {parameter} = {value} si {cond}.",
                  "ar": "    يتعين التحقق: {parameter} = {value} إذا كانت {cond}."},
    "roads": {"fr": "Voirie et alignements :", "ar": "الطرق والتصفيفات:"},
    "widening": {"fr": "  - {label} : {area} du terrain ({pct}), profondeur {depth}.",
                 "ar": "  - {kind} ({label}): {area} من العقار ({pct})، بعمق {depth}."},
    "alignment": {"fr": "  - {label} (emprise future {width}).", "ar": "  - {kind} ({label}) (العرض المستقبلي {width})."},
    "road_total": {"fr": "  Surface touchée par la voirie : {lost} ; surface restante : {left}.",
                   "ar": "  المساحة التي تمسها الطرق: {lost}؛ المساحة المتبقية: {left}."},
    "reservations": {"fr": "Réserves et espaces verts :", "ar": "التخصيصات والمساحات الخضراء:"},
    "reservation": {"fr": "  - {what} : {area} ({pct}).", "ar": "  - {kind} ({what}): {area} ({pct})."},
    "servitudes": {"fr": "Servitudes :", "ar": "الارتفاقات:"},
    "servitude": {"fr": "  - {what} : {area} ({pct}).", "ar": "  - {kind} ({what}): {area} ({pct})."},
    "sdau": {"fr": "SDAU : {items}.", "ar": "المخطط المديري للتهيئة العمرانية: {items}."},
    "no_data_here": {"fr": "Sans données ici (ce n'est pas une absence de contrainte) : {layers}.",
                     "ar": "لا توجد معطيات هنا (وهذا لا يعني غياب القيود): {layers}."},
    "no_data": {"fr": "Aucune couche ne couvre ce terrain : aucune donnée, ce qui ne signifie pas absence de contrainte.",
                "ar": "لا تغطي أي طبقة هذا العقار: لا توجد معطيات، وهذا لا يعني غياب القيود."},
    "warnings": {"fr": "Avertissements :", "ar": "تنبيهات:"},
}
_SEPARATOR = {"fr": ", ", "ar": "، "}
_AND = {"fr": " et ", "ar": " و"}


def phrase(key: str, lang: str, **values: object) -> str:
    """One phrase of the note in `lang`, its {placeholders} filled (each value embedded: gis/l10n.embed)."""
    return PHRASES[key][l10n.check_lang(lang)].format(**{k: l10n.embed(v, lang) for k, v in values.items()})


def _area(value: float | None, lang: str) -> str:
    return "—" if value is None else l10n.area(value, lang, 2, trim=True)


def _length(value: float | None, lang: str) -> str:
    return "—" if value is None else l10n.length(value, lang, 2, trim=True)


def _pct(value: float | None, lang: str) -> str:
    return "—" if value is None else l10n.percent(value, lang, 2, trim=True)


def _num(value: float | None, lang: str) -> str:
    return "—" if value is None else l10n.number(value, lang, 2, trim=True)


def _condition(french: str, lang: str) -> str:
    """A rule's condition (stored in French by instruction/rules.py) in `lang`, its limits formatted."""
    parts = []
    for piece in french.split(" et "):
        for texts in vocab.CONDITIONS.values():
            pattern = "^" + re.escape(texts["fr"]).replace(r"\{c\}", r"(-?[0-9.]+)") + "$"
            found = re.match(pattern, piece)
            if found:
                parts.append(texts[lang].format(c=_num(float(found.group(1)), lang)))
                break
        else:
            parts.append(piece)  # a condition the vocabulary does not know: as written
    return _AND[lang].join(parts)


def _zone_name(zone: dict, lang: str) -> str:
    sector = phrase("sector", lang, sector=zone["sector"]) if zone.get("sector") else ""
    label = l10n.embed(zone["label"], lang) if zone["label"] else phrase("no_label", lang)
    return f"{phrase('zone', lang, code=zone['code'])}{sector} ({label})"


def _height_line(p: dict, lang: str) -> str | None:
    if "storeys_max" not in p and "height_max_m" not in p:
        return None
    storeys = p.get("storeys_max", {}).get("value")
    height = p.get("height_max_m", {}).get("value")
    text = phrase("height", lang, height=_length(height, lang))
    text += phrase("storeys", lang, rn=f"R+{storeys}") if storeys is not None else ""
    cond = p.get("storeys_max", {}).get("condition") or p.get("height_max_m", {}).get("condition")
    return text + (phrase("rule_for", lang, cond=_condition(cond, lang)) if cond else "") + "."


def _density_lines(p: dict, lang: str) -> list[str]:
    lines = []
    if "footprint_max_pct" in p:
        lines.append(phrase("footprint", lang, pct=_pct(p["footprint_max_pct"]["value"], lang)))
    for key, name in (("cos_value", "COS"), ("cus_value", "CUS")):
        if key in p:
            meaning = vocab.COEF_SHORT["plancher" if p[key].get("meaning") == "plancher" else "emprise"][lang]
            lines.append(phrase("coef", lang, name=name, value=_num(p[key]["value"], lang), meaning=meaning))
    if "min_plot_area_m2" in p:
        front = p.get("min_frontage_m", {}).get("value")
        lines.append(phrase("min_plot", lang, area=_area(p["min_plot_area_m2"]["value"], lang))
                     + (phrase("min_front", lang, length=_length(front, lang)) if front is not None else "") + ".")
    setbacks = [phrase(k, lang, length=_length(p[k]["value"], lang))
                for k in ("setback_road_m", "setback_side_m", "setback_rear_m") if k in p]
    if setbacks:
        lines.append(phrase("setbacks", lang, items=_SEPARATOR[lang].join(setbacks)))
    return lines


def _use_lines(rule: dict, lang: str) -> list[str]:
    lines = [phrase("continuous", lang)] if rule.get("continuous_frontage") else []
    for key in ("uses_allowed", "uses_conditional", "uses_forbidden"):
        if rule[key]:
            uses = _SEPARATOR[lang].join(vocab.text_of("use", u, lang) for u in rule[key])
            lines.append(phrase(key, lang, uses=uses))
    return lines


def _rules_lines(rule: dict, lang: str) -> list[str]:
    p = rule["parameters"]
    dominant = rule.get("dominant_use")
    lines = [phrase("use", lang, use=vocab.text_of("use", dominant, lang))] if dominant else []
    height = _height_line(p, lang)
    lines += ([height] if height else []) + _density_lines(p, lang) + _use_lines(rule, lang)
    for u in rule["undecided_conditions"]:
        lines.append(phrase("undecided", lang, parameter=vocab.label("parameter", u["parameter"], lang),
                            value=_num(u["value"], lang), cond=_condition(u["condition"], lang)))
    return lines


def _land_lines(result: dict, lang: str) -> list[str]:
    land = result["land"]
    refs = ", ".join(land["refs"]) if land["refs"] else phrase("by_geometry", lang)
    communes = ", ".join(f"{c['name']}" for c in land["communes"]) or phrase("no_commune", lang)
    legal = phrase("land_legal", lang, area=_area(land["legal_area_m2"], lang)) if land["legal_area_m2"] else ""
    return [phrase("land", lang, refs=refs, communes=communes, area=_area(land["area_m2"], lang)) + legal + ".",
            phrase("as_of", lang, day=l10n.long_date(date.fromisoformat(result["date"]), lang))]


def plan_citation(plan: dict, lang: str) -> str:
    """« PA d'Anfa (PA-1), homologué, décret … » in `lang` (the notes' identification table cites it so)."""
    act = f"{_SEPARATOR[lang]}{l10n.embed(plan['approval_act'], lang)}" if plan.get("approval_act") else ""
    status = plan["status_label"] if lang == "fr" else vocab.label("status", plan.get("status"), lang)
    return phrase("citation", lang, name=plan["name"], code=plan["code"], status=status, act=act,
                  kind=vocab.label("plan_kind", plan.get("kind"), lang))


def plan_line(plan: dict, lang: str) -> str:
    """« Document applicable : PA d'Anfa (PA-1), homologué, décret … » in `lang`."""
    return phrase("plan", lang, citation=plan_citation(plan, lang))


def _plan_lines(result: dict, lang: str) -> list[str]:
    plans = result["plans"]
    lines = [plan_line(p, lang) for p in plans["applied"]]
    if not plans["applied"]:
        lines.append(phrase("no_plan", lang))
    zones_layer = result["layers"][0]
    if plans["applied"] and zones_layer["coverage"] != "covered":
        lines.append(phrase("partial", lang, pct=_pct(zones_layer["covered_pct"], lang)))
    return lines


def _zoning_lines(rules: list[dict], lang: str) -> list[str]:
    if not rules:
        return []
    lines = [phrase("zoning", lang)]
    for rule in rules:
        flag = phrase("marginal", lang) if rule["marginal"] else ""
        lines.append(phrase("zone_line", lang, zone=_zone_name(rule["zone"], lang), area=_area(rule["area_m2"], lang),
                            pct=_pct(rule["share_pct"], lang), flag=flag))
        if not rule["marginal"]:
            lines.extend(_rules_lines(rule, lang))
    return lines


def _road_lines(roads: dict, lang: str) -> list[str]:
    if not (roads["widenings"] or roads["alignments"]):
        return []
    lines = [phrase("roads", lang)]
    for w in roads["widenings"]:
        lines.append(phrase("widening", lang, label=w["label"], area=_area(w["area_m2"], lang),
                            pct=_pct(w["share_pct"], lang), depth=_length(w["depth_m"], lang),
                            kind=vocab.label("prescription", w.get("kind", "road_widening"), lang)))
    for a in roads["alignments"]:
        lines.append(phrase("alignment", lang, label=a["label"], width=_length(a["planned_width_m"], lang),
                            kind=vocab.label("prescription", "alignment", lang)))
    lines.append(phrase("road_total", lang, lost=_area(roads["lost_area_m2"], lang),
                        left=_area(roads["remaining_area_m2"], lang)))
    return lines


def _constraint_lines(result: dict, lang: str) -> list[str]:
    lines = []
    for key, items in (("reservation", result["reservations"]), ("servitude", result["servitudes"])):
        if items:
            lines.append(phrase(key + "s", lang))
        for r in items:
            what = r.get("facility_label") or r["label"]
            lines.append(phrase(key, lang, what=what, area=_area(r["area_m2"], lang), pct=_pct(r["share_pct"], lang),
                                kind=vocab.label("prescription", r.get("kind"), lang)))
    if result["sdau"]:
        items = "; ".join(f"{s['label']} ({_pct(s['share_pct'], lang)})" for s in result["sdau"])
        lines.append(phrase("sdau", lang, items=items if lang == "fr" else items.replace("; ", "؛ ")))
    return lines


def _coverage_lines(layers: list[dict], lang: str) -> list[str]:
    not_covered = [layer for layer in layers if layer["coverage"] == "not_covered"]
    if not_covered and len(not_covered) < len(layers):
        names = {layer["label"] if lang == "fr" else vocab.layer_label(layer["layer"], lang) for layer in not_covered}
        return [phrase("no_data_here", lang, layers=_SEPARATOR[lang].join(sorted(names)))]
    if not_covered:
        return [phrase("no_data", lang)]
    return []


def summary_lines(result: dict, lang: str = "fr") -> list[str]:
    """The note's text as lines (indented by two spaces per level): land, date, plans, zones, rules, warnings."""
    l10n.check_lang(lang)
    lines = (_land_lines(result, lang) + _plan_lines(result, lang) + _zoning_lines(result["rules"], lang)
             + _road_lines(result["roads"], lang) + _constraint_lines(result, lang)
             + _coverage_lines(result["layers"], lang))
    if result["warnings"]:
        lines.append(phrase("warnings", lang))
        lines.extend(f"  - {warning_text(w, result, lang)}" for w in result["warnings"])
    return lines


def summary_text(result: dict, lang: str = "fr") -> str:
    """Render the result as the text of a note de renseignements (indicative body) in French or Arabic."""
    return "\n".join(summary_lines(result, lang))
