"""The planning vocabulary a person reads, in French and Arabic: prescription kinds, plan kinds and statuses,
the two meanings of a coefficient (pure data: the summary, the notes and the map's panel all read it here).

`label(table, code, lang)` never shows an internal code to a person: an unknown code comes back as it is
written, marked as such in French (« autre : code »), so a new code in a plan file is visible, not hidden.
"""

from __future__ import annotations

from layers.plan_terms import PLAN_KINDS, PLAN_STATUSES

Labels = dict[str, dict[str, str]]

PRESCRIPTIONS: Labels = {
    "road_widening": {"fr": "élargissement de voie", "ar": "توسيع الطريق"},
    "new_road": {"fr": "voie projetée", "ar": "طريق مبرمجة"},
    "alignment": {"fr": "alignement", "ar": "تصفيف"},
    "facility_reservation": {"fr": "réserve pour équipement public", "ar": "تخصيص لمرفق عمومي"},
    "green_space": {"fr": "espace vert", "ar": "مساحة خضراء"},
    "non_aedificandi": {"fr": "zone non aedificandi", "ar": "منطقة يمنع فيها البناء"},
    "heritage_perimeter": {"fr": "périmètre patrimonial", "ar": "محيط تراثي"},
    "flood_zone": {"fr": "zone inondable", "ar": "منطقة معرضة للفيضانات"},
    "utility_corridor": {"fr": "couloir de réseau (ligne électrique, conduite)", "ar": "ممر شبكة (خط كهربائي، قناة)"},
    "rail_setback": {"fr": "servitude ferroviaire", "ar": "ارتفاق السكة الحديدية"},
    "motorway_setback": {"fr": "servitude autoroutière", "ar": "ارتفاق الطريق السيار"},
    "maritime_domain": {"fr": "domaine public maritime", "ar": "الملك العمومي البحري"},
    "cemetery_buffer": {"fr": "zone de protection de cimetière", "ar": "منطقة حماية المقبرة"},
    "other": {"fr": "autre prescription", "ar": "مقتضى آخر"},
}
STATUSES: Labels = {
    "etude": {"fr": PLAN_STATUSES["etude"], "ar": "في طور الدراسة"},
    "enquete_publique": {"fr": PLAN_STATUSES["enquete_publique"], "ar": "في طور البحث العلني"},
    "homologue": {"fr": PLAN_STATUSES["homologue"], "ar": "مصادق عليه"},
    "remplace": {"fr": PLAN_STATUSES["remplace"], "ar": "معوَّض"},
    "abroge": {"fr": PLAN_STATUSES["abroge"], "ar": "ملغى"},
    "annule": {"fr": PLAN_STATUSES["annule"], "ar": "مُبطَل"},
}
PLAN_KIND_LABELS: Labels = {
    "PA": {"fr": PLAN_KINDS["PA"], "ar": "تصميم التهيئة"},
    "SDAU": {"fr": PLAN_KINDS["SDAU"], "ar": "المخطط المديري للتهيئة العمرانية"},
    "PS": {"fr": PLAN_KINDS["PS"], "ar": "تصميم القطاع"},
    "PZ": {"fr": PLAN_KINDS["PZ"], "ar": "تصميم التنطيق"},
    "PDAR": {"fr": PLAN_KINDS["PDAR"], "ar": "تصميم نمو التكتلات العمرانية القروية"},
    "autre": {"fr": PLAN_KINDS["autre"], "ar": "وثيقة أخرى"},
}
COEF_MEANINGS: Labels = {
    "emprise": {"fr": "part du terrain que le bâti peut couvrir au sol",
                "ar": "نسبة مساحة الأرض التي يمكن أن تغطيها البناية"},
    "plancher": {"fr": "surface de planchers constructible par m² de terrain",
                 "ar": "مساحة الطوابق القابلة للبناء لكل متر مربع من الأرض"},
}
TABLES: dict[str, Labels] = {"prescription": PRESCRIPTIONS, "status": STATUSES, "plan_kind": PLAN_KIND_LABELS,
                             "coef": COEF_MEANINGS}


def label(table: str, code: str | None, lang: str = "fr") -> str:
    """The label of `code` in `lang` ("—" for none; an unknown code as written, so it stays visible)."""
    if code is None:
        return "—"
    known = TABLES[table].get(code)
    if known is None:
        return f"autre : {code}" if lang == "fr" else f"{code} :أخرى"
    return known[lang]
