"""A zone's regulations as typed parameters, with conditional rules applied to the land's context.

A conditional rule is `{"parameter", "value", "when": {condition: limit}, "article"}`: the value replaces the
base one when every condition holds. A rule may instead carry a `formula` (FORMULAS) whose value is computed
from the context and caps the parameter: `{"parameter": "height_max_m", "formula": "road_width_plus_setback",
"article": "…"}` is H ≤ L + R, L the width of the road the land fronts, R the zone's road setback. Formulas
are applied after the plain rules (they read the effective setback), and only lower a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import SupportsFloat

PARAMETERS = {
    "height_max_m": ("hauteur maximale", "m"),
    "storeys_max": ("niveaux au-dessus du rez-de-chaussée (R+n)", "n"),
    "footprint_max_pct": ("emprise au sol maximale", "%"),
    "cos_value": ("COS", ""),
    "cus_value": ("CUS", ""),
    "min_plot_area_m2": ("superficie minimale du terrain", "m²"),
    "min_frontage_m": ("façade minimale", "m"),
    "setback_road_m": ("recul sur voie", "m"),
    "setback_side_m": ("recul sur limites latérales", "m"),
    "setback_rear_m": ("recul sur limite de fond", "m"),
}
CONDITIONS = {
    "road_width_min_m": ("road_width_m", lambda v, c: v >= c, "voie d'au moins {c} m"),
    "road_width_max_m": ("road_width_m", lambda v, c: v <= c, "voie d'au plus {c} m"),
    "road_width_lt_m": ("road_width_m", lambda v, c: v < c, "voie de moins de {c} m"),
    "plot_area_min_m2": ("plot_area_m2", lambda v, c: v >= c, "terrain d'au moins {c} m²"),
    "plot_area_max_m2": ("plot_area_m2", lambda v, c: v <= c, "terrain d'au plus {c} m²"),
    "plot_area_lt_m2": ("plot_area_m2", lambda v, c: v < c, "terrain de moins de {c} m²"),
}


FORMULAS = {
    # name: (parameter it caps, French label)
    "road_width_plus_setback": ("height_max_m", "hauteur au plus égale à la largeur de la voie plus le recul (H ≤ L + R)"),
}


@dataclass(frozen=True)
class Context:
    """What conditional rules depend on."""

    road_width_m: float | None
    plot_area_m2: float


def _num(value: SupportsFloat | str | None) -> float | int | None:
    if value is None:
        return None
    number = float(value)
    return int(number) if number.is_integer() else round(number, 2)


def condition_holds(when: dict, context: Context) -> tuple[bool | None, list[str]]:
    """Whether every condition holds (None when one cannot be evaluated), with their French labels."""
    labels: list[str] = []
    verdict: bool | None = True
    for key, limit in sorted(when.items()):
        if key not in CONDITIONS:
            return None, [f"condition inconnue « {key} »"]
        field, test, label = CONDITIONS[key]
        labels.append(label.format(c=_num(limit)))
        value = getattr(context, field)
        if value is None:
            verdict = None if verdict is not False else False
            continue
        if not test(value, float(limit)):
            verdict = False
    return verdict, labels


def _apply_formula(rule: dict, params: dict[str, dict], undecided: list[dict], context: Context) -> None:
    """Cap a parameter with a formula rule (FORMULAS); undecidable (unknown formula or road width) is flagged."""
    key, name = rule["parameter"], str(rule.get("formula"))
    article = rule.get("article")
    if name not in FORMULAS or FORMULAS[name][0] != key:
        undecided.append({"parameter": key, "value": None, "condition": f"formule inconnue « {name} » pour {key}",
                          "article": article, "formula": name})
        return
    holds, labels = condition_holds(rule.get("when") or {}, context)
    if holds is False:
        return
    setback = float(params.get("setback_road_m", {}).get("value") or 0)
    label = FORMULAS[name][1]
    if holds is None or context.road_width_m is None:
        undecided.append({"parameter": key, "value": None, "condition": " et ".join([label, *labels]),
                          "article": article, "formula": name})
        return
    value = context.road_width_m + setback
    current = params.get(key)
    if current is not None and current["value"] <= value:
        return
    unit_label, unit = PARAMETERS[key]
    condition = f"{label} : voie de {_num(context.road_width_m)} m + recul de {_num(setback)} m"
    params[key] = {"value": _num(value), "label": unit_label, "unit": unit,
                   "base_value": current.get("base_value") if current else None,
                   "condition": " et ".join([condition, *labels]), "article": article, "formula": name}


def zone_rules(zone: dict, context: Context) -> dict:
    """The effective parameters of a zone: base value, conditional overrides applied, undecidable ones flagged."""
    params: dict[str, dict] = {}
    for key, (label, unit) in PARAMETERS.items():
        value = _num(zone.get(key))
        if value is None:
            continue
        entry: dict[str, object] = {"value": value, "label": label, "unit": unit, "base_value": value}
        if key == "cos_value":
            entry["meaning"] = zone.get("cos_meaning")
        if key == "cus_value":
            entry["meaning"] = zone.get("cus_meaning")
        params[key] = entry
    undecided: list[dict] = []
    formulas = []
    for rule in zone.get("conditional_rules") or []:
        key = rule.get("parameter")
        if key not in PARAMETERS:
            continue
        if "formula" in rule:
            formulas.append(rule)
            continue
        holds, labels = condition_holds(rule.get("when") or {}, context)
        condition = " et ".join(labels)
        if holds is None:
            undecided.append({"parameter": key, "value": _num(rule.get("value")), "condition": condition,
                              "article": rule.get("article")})
        elif holds:
            label, unit = PARAMETERS[key]
            base = params.get(key, {}).get("base_value")
            params[key] = {"value": _num(rule.get("value")), "label": label, "unit": unit, "base_value": base,
                           "condition": condition, "article": rule.get("article")}
    for rule in formulas:
        _apply_formula(rule, params, undecided, context)
    return {
        "parameters": params,
        "undecided_conditions": undecided,
        "continuous_frontage": zone.get("continuous_frontage"),
        "uses_allowed": sorted(zone.get("uses_allowed") or []),
        "uses_forbidden": sorted(zone.get("uses_forbidden") or []),
        "uses_conditional": sorted(zone.get("uses_conditional") or []),
        "dominant_use": zone.get("dominant_use"),
        "article": zone.get("regulation_article"),
        "text": zone.get("regulation_text"),
    }


def use_status(use: str, rules: dict) -> str:
    """Whether a use is allowed in a zone: "allowed", "forbidden", "conditional" or "unknown"."""
    wanted = use.strip().lower()

    def matches(items: list[str]) -> bool:
        return any(wanted == i.lower() or wanted.startswith(i.lower()) or i.lower().startswith(wanted) for i in items)

    if matches(rules["uses_forbidden"]):
        return "forbidden"
    if matches(rules["uses_allowed"]):
        return "allowed"
    if matches(rules["uses_conditional"]):
        return "conditional"
    return "unknown"
