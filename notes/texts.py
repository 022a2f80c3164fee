"""The words of the notes (PDF and HTML page) in French and Arabic: pure data, one place for both formats.

The note's body is instruction/summary.py; these are its frame: titles, table headings, disclaimer, legal notes.
"""

from __future__ import annotations

from gis import l10n

TEXTS: dict[str, dict[str, str]] = {
    "title": {"fr": "Note de renseignements urbanistiques — INDICATIVE",
              "ar": "مذكرة المعلومات التعميرية — إرشادية"},
    "doc_title": {"fr": "Note de renseignements urbanistiques indicative", "ar": "مذكرة المعلومات التعميرية الإرشادية"},
    "official_title": {"fr": "Note de renseignements urbanistiques n° {number}",
                       "ar": "مذكرة المعلومات التعميرية رقم {number}"},
    "agency": {"fr": "Agence urbaine de Casablanca", "ar": "الوكالة الحضرية للدار البيضاء"},
    "issued": {"fr": "établie le {moment} · situation au {day}", "ar": "حررت في {moment} · الوضعية بتاريخ {day}"},
    "official_issued": {"fr": "demande du {requested} · établie le {issued} · situation au {day}",
                        "ar": "طلب بتاريخ {requested} · حررت في {issued} · الوضعية بتاريخ {day}"},
    "disclaimer": {
        "fr": "Document indicatif, établi automatiquement à partir des données disponibles : il n'a aucune valeur "
              "juridique et n'est pas opposable. Seule la note de renseignements officielle, signée par l'Agence "
              "urbaine, fait foi. Il ne vaut ni autorisation de construire, ni de lotir.",
        "ar": "وثيقة إرشادية أعدت آليا انطلاقا من المعطيات المتوفرة: ليست لها أي قيمة قانونية ولا يحتج بها. وحدها "
              "مذكرة المعلومات الرسمية الموقعة من طرف الوكالة الحضرية يعتد بها. ولا تعد رخصة للبناء ولا للتجزئة."},
    "legal": {
        "fr": "Renseignements donnés au vu des documents d'urbanisme enregistrés à la date indiquée (loi 12-90 relative "
              "à l'urbanisme, loi 25-90 relative aux lotissements, règlement général de construction, décret "
              "2.18.577 de 2019). Les servitudes non cartographiées ne sont pas reprises.",
        "ar": "معلومات مقدمة بناء على وثائق التعمير المسجلة في التاريخ المذكور (القانون 12-90 المتعلق بالتعمير، "
              "القانون 25-90 المتعلق بالتجزئات العقارية، ضابط البناء العام، المرسوم 2.18.577 لسنة 2019). لا تشمل "
              "الارتفاقات غير المرسومة على الخرائط."},
    "provenance": {"fr": "Données du {data} · seuils v{thresholds} · urbasig {code}",
                   "ar": "معطيات {data} · العتبات v{thresholds} · urbasig {code}"},
    "applicant": {"fr": "Demandeur", "ar": "صاحب الطلب"},
    "land": {"fr": "Terrain", "ar": "العقار"},
    "by_geometry": {"fr": "terrain désigné par sa géométrie", "ar": "عقار محدد بشكله الهندسي"},
    "commune": {"fr": "Commune", "ar": "الجماعة"},
    "area": {"fr": "Superficie calculée", "ar": "المساحة المحسوبة"},
    "legal_area": {"fr": "Contenance du titre", "ar": "مساحة الرسم العقاري"},
    "plan": {"fr": "Document applicable", "ar": "الوثيقة المطبقة"},
    "no_plan": {"fr": "aucun plan d'aménagement en vigueur ici", "ar": "لا يوجد تصميم تهيئة ساري المفعول هنا"},
    "zoning": {"fr": "Zonage", "ar": "التنطيق"},
    "col_zone": {"fr": "Zone", "ar": "المنطقة"},
    "col_sector": {"fr": "Secteur", "ar": "القطاع"},
    "col_label": {"fr": "Libellé", "ar": "التسمية"},
    "marginal": {"fr": "marginale", "ar": "هامشية"},
    "summary": {"fr": "Synthèse", "ar": "خلاصة"},
    "extract": {"fr": "Extrait du règlement", "ar": "مقتطف من النظام"},
    "partners": {"fr": "Informations des partenaires", "ar": "معلومات الشركاء"},
    "partner_layer": {"fr": "{label} — source : {source} (couche « {layer} », version {version}) : {n} élément(s)",
                      "ar": "{label} — المصدر: {source} (الطبقة «{layer}»، الصيغة {version}): {n} عنصر"},
    "partner_feature": {"fr": "{share} % du terrain ({area} m²)", "ar": "{share} % من الأرض ({area} م²)"},
    "partner_feature_line": {"fr": "{length} m sur le terrain", "ar": "{length} م على الأرض"},
    "partner_feature_point": {"fr": "sur le terrain", "ar": "على الأرض"},
    "partner_note": {"fr": "Informations fournies par les organismes cités, sous leur responsabilité ; elles ne "
                           "modifient pas les règles du plan.",
                     "ar": "معلومات تقدمها الهيئات المذكورة وعلى مسؤوليتها؛ ولا تغير ضوابط التصميم."},
    "extract_zone": {"fr": "Zone {code}", "ar": "المنطقة {code}"},
    "inquiry": {"fr": "Plan en enquête publique", "ar": "تصميم في طور البحث العلني"},
    "inquiry_text": {"fr": "{name} ({code}), depuis le {since} ; il {what}.", "ar": "{name} ({code})، منذ {since}؛ {what}."},
    "inquiry_changes": {"fr": "modifierait le zonage de ce terrain", "ar": "سيغير تنطيق هذا العقار"},
    "inquiry_same": {"fr": "ne modifie pas le zonage ici", "ar": "لا يغير التنطيق هنا"},
    "sdau_only": {"fr": "Aucun plan d'aménagement en vigueur", "ar": "لا يوجد تصميم تهيئة ساري المفعول"},
    "sdau_text": {"fr": "seul le schéma directeur s'applique ({sdau}) ; ses orientations ne sont pas opposables aux "
                        "tiers.",
                  "ar": "لا يطبق إلا المخطط المديري ({sdau})؛ توجهاته غير ملزمة للأغيار."},
    "none": {"fr": "aucun", "ar": "لا شيء"},
    "pdf_version": {"fr": "Version PDF", "ar": "نسخة PDF"},
    "map_alt": {"fr": "Extrait de plan du terrain", "ar": "مقتطف من تصميم العقار"},
    "other_lang": {"fr": "النسخة العربية", "ar": "Version française"},
    "signed_notice": {"fr": "Note officielle signée électroniquement.", "ar": "مذكرة رسمية موقعة إلكترونيا."},
    "verify_at": {"fr": "Vérifiez-la sur {url} ou avec le code {code} sur la page de vérification.",
                  "ar": "تحقق منها على {url} أو بالرمز {code} في صفحة التحقق."},
    # the map extract's legend (notes/mapdraw.py)
    "legend": {"fr": "Légende", "ar": "مفتاح الخريطة"},
    "legend_land": {"fr": "terrain", "ar": "العقار"},
    "legend_zone": {"fr": "zone {code}", "ar": "المنطقة {code}"},
    "legend_roads": {"fr": "voirie", "ar": "الطرق"},
    "legend_parcels": {"fr": "parcelles", "ar": "القطع الأرضية"},
    "legend_servitude": {"fr": "servitude", "ar": "ارتفاق"},
    "legend_grid": {"fr": "EPSG:26191 — nord du quadrillage", "ar": "EPSG:26191 — شمال الشبكة"},
    "legend_road_widening": {"fr": "élargissement de voie", "ar": "توسيع الطريق"},
    "legend_new_road": {"fr": "voie projetée", "ar": "طريق مبرمجة"},
    "legend_alignment": {"fr": "alignement", "ar": "تصفيف"},
    "legend_facility_reservation": {"fr": "réserve d'équipement", "ar": "تخصيص لمرفق"},
    "legend_green_space": {"fr": "espace vert", "ar": "مساحة خضراء"},
    "legend_non_aedificandi": {"fr": "non aedificandi", "ar": "يمنع فيها البناء"},
    # the envelope's drawing (notes/mapdraw.py draw_envelope)
    "legend_envelope": {"fr": "Enveloppe", "ar": "الغلاف"},
    "legend_buildable": {"fr": "emprise constructible", "ar": "المساحة القابلة للبناء"},
    "legend_setbacks": {"fr": "reculs", "ar": "التراجعات"},
    "legend_closed": {"fr": "non constructible", "ar": "غير قابل للبناء"},
    "envelope_alt": {"fr": "Dessin de l'enveloppe constructible du terrain",
                     "ar": "رسم الغلاف القابل للبناء للعقار"},
}


def text(key: str, lang: str = "fr", **values: object) -> str:
    """The note's word `key` in `lang`, its {placeholders} filled (each value embedded: gis/l10n.embed)."""
    return TEXTS[key][l10n.check_lang(lang)].format(**{k: l10n.embed(v, lang) for k, v in values.items()})
