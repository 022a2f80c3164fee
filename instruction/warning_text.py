"""A result's warnings as a person reads them, in French or Arabic, rendered from their code and the result.

The result stores each warning with a code and a French message (for API clients and the audit); the notes
render it again from the code and the result's data, so its numbers and dates follow gis/l10n.py in either
language. A code this module does not know is shown with its stored message (French), never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from gis import l10n

TEXTS: dict[str, dict[str, str]] = {
    "plan_en_enquete": {"fr": "Le {name} ({code}) est en enquête publique depuis le {since} : il {change}.",
                        "ar": "{name} ({code}) في طور البحث العلني منذ {since}: {change}."},
    "inquiry_changes": {"fr": "classerait ce terrain en zone {new} au lieu de {old}",
                        "ar": "سيصنف هذا العقار في المنطقة {new} بدل {old}"},
    "inquiry_same": {"fr": "ne modifie pas le zonage de ce terrain", "ar": "لا يغير تنطيق هذا العقار"},
    "no_zone": {"fr": "aucune zone", "ar": "لا منطقة"},
    "conflit_de_plans": {
        "fr": "Deux plans en vigueur se chevauchent sur {area} de ce terrain ({pct}) : {old} ({old_code}, en vigueur "
              "depuis le {old_since}) et {new} ({new_code}, depuis le {new_since}). Sur cette partie, le plus récent "
              "({new_code}) est appliqué (l'acte postérieur l'emporte) ; l'incohérence des données est à signaler à "
              "l'agence urbaine.",
        "ar": "يتداخل تصميمان ساريا المفعول على {area} من هذا العقار ({pct}): {old} ({old_code}، ساري المفعول منذ "
              "{old_since}) و{new} ({new_code}، منذ {new_since}). على هذا الجزء يطبق الأحدث ({new_code}) (النص "
              "اللاحق هو المعتمد)؛ ينبغي إشعار الوكالة الحضرية بعدم انسجام المعطيات."},
    "plan_homologue_a_venir": {"fr": "Le plan {code} est homologué mais n'entre en vigueur que le {day} : il ne "
                                     "s'applique pas encore.",
                               "ar": "التصميم {code} مصادق عليه لكنه لا يدخل حيز التنفيذ إلا في {day}: لا يطبق بعد."},
    "titres_non_contigus": {"fr": "Les titres ne sont pas contigus : le terrain compte {parts} parties distinctes, "
                                  "instruites ensemble.",
                            "ar": "الرسوم العقارية غير متلاصقة: يتكون العقار من {parts} أجزاء منفصلة، دُرست معاً."},
    "sans_plan_amenagement": {"fr": "Aucun plan d'aménagement n'est en vigueur sur ce terrain à cette date : seul le "
                                    "SDAU s'applique (orientations, non opposable aux tiers).",
                              "ar": "لا يوجد تصميم تهيئة ساري المفعول على هذا العقار في هذا التاريخ: لا يطبق إلا "
                                    "المخطط المديري (توجهات غير ملزمة للأغيار)."},
    "aucun_document": {"fr": "Aucun document d'urbanisme en vigueur ne couvre ce terrain à cette date.",
                       "ar": "لا تغطي أي وثيقة تعمير سارية المفعول هذا العقار في هذا التاريخ."},
    "couverture_partielle": {"fr": "Le plan d'aménagement ne couvre que {pct} du terrain.",
                             "ar": "لا يغطي تصميم التهيئة سوى {pct} من العقار."},
    "plan_en_enquete_applique": {"fr": "Un plan en enquête publique est appliqué (réglage "
                                       "URBASIG_APPLY_PLANS_IN_INQUIRY).",
                                 "ar": "يطبق تصميم في طور البحث العلني (الإعداد URBASIG_APPLY_PLANS_IN_INQUIRY)."},
    "plusieurs_zones": {"fr": "Le terrain est partagé entre {n} zones : chaque partie suit les règles de sa zone.",
                        "ar": "يتوزع العقار على {n} مناطق: يخضع كل جزء لضوابط منطقته."},
    "zones_marginales": {"fr": "Certaines zones ne touchent le terrain que par une bande marginale (imprécision "
                               "probable du tracé) : elles sont signalées, non ignorées.",
                         "ar": "بعض المناطق لا تمس العقار إلا بشريط هامشي (على الأرجح بسبب عدم دقة الرسم): تمت "
                               "الإشارة إليها ولم يتم تجاهلها."},
    "contenance_ecart": {"fr": "La contenance du titre ({legal}) diffère de plus de 5 % de la surface calculée "
                               "({area}).",
                         "ar": "تختلف مساحة الرسم العقاري ({legal}) بأكثر من 5 % عن المساحة المحسوبة ({area})."},
    "conditions_indeterminees": {"fr": "Certaines règles dépendent de la largeur de la voie, inconnue ici.",
                                 "ar": "بعض الضوابط ترتبط بعرض الطريق، وهو غير معروف هنا."},
}
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _t(key: str, lang: str, **values: object) -> str:
    return TEXTS[key][l10n.check_lang(lang)].format(**{k: l10n.embed(v, lang) for k, v in values.items()})


def _day(value: str | None, lang: str) -> str:
    return l10n.long_date(date.fromisoformat(value), lang) if value else "—"


def _pct(value: float, lang: str) -> str:
    return l10n.percent(value, lang, 2, trim=True)


def _zone_list(zones: list[dict], lang: str) -> str:
    sep = ", " if lang == "fr" else "، "
    codes = [(z["zone"]["code"] if "zone" in z else z["code"], z) for z in zones]  # a rule, or an inquiry's zone
    return sep.join(f"{code} ({_pct(z['share_pct'], lang)})" for code, z in codes if not z["marginal"]) \
        or _t("no_zone", lang)


def _inquiry(warning: dict, result: dict, lang: str) -> str | None:
    for entry in result.get("inquiry", []):
        plan = entry["plan"]
        if f"({plan['code']})" not in warning["message"]:
            continue
        change = (_t("inquiry_changes", lang, new=_zone_list(entry["zones"], lang), old=_zone_list(result["rules"], lang))
                  if entry["zoning_changed"] else _t("inquiry_same", lang))
        return _t("plan_en_enquete", lang, name=plan["name"], code=plan["code"], since=_day(plan["status_since"], lang),
                  change=change)
    return None


def _conflict(warning: dict, result: dict, lang: str) -> str | None:
    names = {p["code"]: p["name"] for group in result["plans"].values() for p in group}
    for c in result.get("conflicts", []):
        if c["message"] != warning["message"]:
            continue
        return _t("conflit_de_plans", lang, area=l10n.area(c["overlap_m2"], lang, 2, trim=True),
                  pct=_pct(c["overlap_pct"], lang), old=names.get(c["set_aside"], c["set_aside"]),
                  old_code=c["set_aside"], old_since=_day(c["set_aside_since"], lang),
                  new=names.get(c["applied"], c["applied"]), new_code=c["applied"], new_since=_day(c["applied_since"], lang))
    return None


def _upcoming(warning: dict, result: dict, lang: str) -> str | None:
    if lang == "fr":
        return _ISO_DAY.sub(lambda m: l10n.long_date(date.fromisoformat(m.group()), lang), warning["message"])
    code = re.search(r"\(([^()]+)\) est homologué", warning["message"])
    day = _ISO_DAY.search(warning["message"])
    if not (code and day):
        return None
    return _t("plan_homologue_a_venir", lang, code=code.group(1), day=_day(day.group(), lang))


def _land(warning: dict, result: dict, lang: str) -> str | None:
    land = result["land"]
    values = {"titres_non_contigus": {"parts": land.get("parts")},
              "couverture_partielle": {"pct": _pct(result["layers"][0]["covered_pct"], lang)},
              "plusieurs_zones": {"n": sum(1 for r in result["rules"] if not r["marginal"])},
              "contenance_ecart": {"legal": l10n.area(land["legal_area_m2"] or 0, lang, 2, trim=True),
                                   "area": l10n.area(land["area_m2"], lang, 2, trim=True)}}
    return _t(warning["code"], lang, **values.get(warning["code"], {}))


_RENDERERS: dict[str, Callable[[dict, dict, str], str | None]] = {
    "plan_en_enquete": _inquiry, "conflit_de_plans": _conflict, "plan_homologue_a_venir": _upcoming}


def warning_text(warning: dict, result: dict, lang: str = "fr") -> str:
    """The warning in `lang`, its numbers and dates formatted; an unknown one as stored."""
    code = str(warning.get("code") or "")
    render = _RENDERERS.get(code) or (_land if code in TEXTS else None)
    text = render(warning, result, lang) if render else None
    return text if text is not None else warning["message"]
