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

# Added for the notes (summary_text in French and Arabic); the panel may read them too.
USES: Labels = {  # uses and dominant uses as the plans' regulations write them (an unknown one is shown as written)
    "aire de jeux": {"fr": "aire de jeux", "ar": "فضاء للألعاب"},
    "artisanat": {"fr": "artisanat", "ar": "الصناعة التقليدية"},
    "atelier artisanal": {"fr": "atelier artisanal", "ar": "ورشة حرفية"},
    "bureaux": {"fr": "bureaux", "ar": "مكاتب"},
    "commerce": {"fr": "commerce", "ar": "تجارة"},
    "commerce de proximité": {"fr": "commerce de proximité", "ar": "تجارة القرب"},
    "enseignement": {"fr": "enseignement", "ar": "تعليم"},
    "entrepôts": {"fr": "entrepôts", "ar": "مستودعات"},
    "espace vert": {"fr": "espace vert", "ar": "مساحة خضراء"},
    "habitation": {"fr": "habitation", "ar": "سكن"},
    "habitation individuelle": {"fr": "habitation individuelle", "ar": "سكن فردي"},
    "hôtellerie": {"fr": "hôtellerie", "ar": "فندقة"},
    "industrie": {"fr": "industrie", "ar": "صناعة"},
    "logement de gardien": {"fr": "logement de gardien", "ar": "سكن الحارس"},
    "profession libérale": {"fr": "profession libérale", "ar": "مهنة حرة"},
    "sièges sociaux": {"fr": "sièges sociaux", "ar": "مقرات اجتماعية"},
    "toute construction": {"fr": "toute construction", "ar": "كل بناء"},
    "équipements de quartier": {"fr": "équipements de quartier", "ar": "تجهيزات الحي"},
    "établissement classé": {"fr": "établissement classé", "ar": "مؤسسة مصنفة"},
    "établissement classé 1re catégorie": {"fr": "établissement classé 1re catégorie",
                                            "ar": "مؤسسة مصنفة من الصنف الأول"},
    "établissement classé 2e catégorie": {"fr": "établissement classé 2e catégorie",
                                           "ar": "مؤسسة مصنفة من الصنف الثاني"},
    "établissement classé 3e catégorie": {"fr": "établissement classé 3e catégorie",
                                           "ar": "مؤسسة مصنفة من الصنف الثالث"},
    "activités": {"fr": "activités", "ar": "أنشطة"},
    "habitat": {"fr": "habitat", "ar": "سكن"},
    "habitat collectif": {"fr": "habitat collectif", "ar": "سكن جماعي"},
    "habitat collectif et bureaux": {"fr": "habitat collectif et bureaux", "ar": "سكن جماعي ومكاتب"},
    "habitat individuel": {"fr": "habitat individuel", "ar": "سكن فردي"},
}
PARAMETER_LABELS: Labels = {  # the zone-rule words (instruction/rules.py PARAMETERS)
    "height_max_m": {"fr": "hauteur maximale", "ar": "العلو الأقصى"},
    "storeys_max": {"fr": "niveaux au-dessus du rez-de-chaussée (R+n)", "ar": "عدد الطوابق فوق الطابق الأرضي (R+n)"},
    "footprint_max_pct": {"fr": "emprise au sol maximale", "ar": "نسبة الاستغلال القصوى للأرض"},
    "cos_value": {"fr": "COS", "ar": "المعامل COS"},
    "cus_value": {"fr": "CUS", "ar": "المعامل CUS"},
    "min_plot_area_m2": {"fr": "superficie minimale du terrain", "ar": "المساحة الدنيا للبقعة"},
    "min_frontage_m": {"fr": "façade minimale", "ar": "الواجهة الدنيا"},
    "setback_road_m": {"fr": "recul sur voie", "ar": "التراجع عن الطريق"},
    "setback_side_m": {"fr": "recul sur limites latérales", "ar": "التراجع عن الحدود الجانبية"},
    "setback_rear_m": {"fr": "recul sur limite de fond", "ar": "التراجع عن الحد الخلفي"},
}
COEF_SHORT: Labels = {  # a coefficient's meaning in a few words, after its value
    "plancher": {"fr": "surface de plancher / terrain", "ar": "مساحة الطوابق / مساحة الأرض"},
    "emprise": {"fr": "emprise / terrain", "ar": "المساحة المبنية / مساحة الأرض"},
}
CONDITIONS: Labels = {  # instruction/rules.py CONDITIONS, {c} the limit
    "road_width_min_m": {"fr": "voie d'au moins {c} m", "ar": "طريق لا يقل عرضها عن {c} m"},
    "road_width_max_m": {"fr": "voie d'au plus {c} m", "ar": "طريق لا يزيد عرضها عن {c} m"},
    "road_width_lt_m": {"fr": "voie de moins de {c} m", "ar": "طريق يقل عرضها عن {c} m"},
    "plot_area_min_m2": {"fr": "terrain d'au moins {c} m²", "ar": "بقعة لا تقل مساحتها عن {c} m²"},
    "plot_area_max_m2": {"fr": "terrain d'au plus {c} m²", "ar": "بقعة لا تزيد مساحتها عن {c} m²"},
    "plot_area_lt_m2": {"fr": "terrain de moins de {c} m²", "ar": "بقعة تقل مساحتها عن {c} m²"},
}
LAYERS: Labels = {  # the result's layers (instruction/findings.py _layers_out); prescriptions/<kind> use PRESCRIPTIONS
    "zones": {"fr": "zonage du plan d'aménagement", "ar": "تنطيق تصميم التهيئة"},
    "sdau": {"fr": "affectation du SDAU", "ar": "تخصيص المخطط المديري"},
    "communes": {"fr": "communes et arrondissements", "ar": "الجماعات والمقاطعات"},
}
TABLES.update({"use": USES, "parameter": PARAMETER_LABELS, "coef_short": COEF_SHORT, "condition": CONDITIONS,
               "layer": LAYERS})


def layer_label(layer: str, lang: str = "fr") -> str:
    """The label of a result's layer (« zones », « prescriptions/flood_zone », « sdau »…) in `lang`."""
    if layer.startswith("prescriptions/"):
        return label("prescription", layer.split("/", 1)[1], lang)
    return label("layer", layer, lang)


def text_of(table: str, value: str, lang: str = "fr") -> str:
    """A plan's own word (a use…) in `lang` when the vocabulary knows it, else as the plan writes it."""
    known = TABLES[table].get(value)
    return known[lang] if known else value
