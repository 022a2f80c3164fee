"""The buildable envelope in the notes: computed once when the note is made, stored with its result, written out.

`with_envelope(conn, result)` adds the section `envelope` (instruction/envelope.py, schema urbasig/envelope/1,
polygons in EPSG:26191) to an instruction result made with its geometries: the official note stores that
result, so a signed note renders the same envelope again, whatever the engine or the data become. A result
stored before the envelope existed has none, and its note has no envelope section (`envelope_lines` → []). A
land past the envelope's limits (URBASIG_ENVELOPE_MAX_*) still gets its note: the section then says the envelope
is not computed and why (`computed: false`, the land's size and the limits stored with it).

`envelope_lines(result, lang)` is the section's text in French or Arabic (pure, from the result only): one
line per zone part with the binding rule named, a total for a land in several zones, why a land is not
buildable instead of numbers, and the mention that it is indicative.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from gis import l10n
from gis.errors import LandTooLarge
from notes.mapdraw import Lettering, draw_envelope

if TYPE_CHECKING:
    import psycopg
    from reportlab.graphics.shapes import Drawing

    from instruction.engine import Options

ENVELOPE_KEY = "envelope"

PHRASES: dict[str, dict[str, str]] = {
    "heading": {"fr": "Enveloppe constructible indicative", "ar": "الغلاف القابل للبناء (إرشادي)"},
    "part": {"fr": "Enveloppe indicative, zone {code} : emprise au sol max. {footprint} ({footprint_rule}), {height}, "
                   "surface de plancher max. {floor} ({floor_rule}).",
             "ar": "الغلاف الإرشادي، المنطقة {code}: المساحة المبنية القصوى {footprint} ({footprint_rule})، {height}، "
                   "مساحة الطوابق القصوى {floor} ({floor_rule})."},
    "part_none": {"fr": "Enveloppe indicative, zone {code} : rien n'y est constructible — {reasons}.",
                  "ar": "الغلاف الإرشادي، المنطقة {code}: لا شيء قابل للبناء فيها — {reasons}."},
    "total": {"fr": "Total du terrain : emprise au sol max. {footprint}, surface de plancher max. {floor}.",
              "ar": "مجموع العقار: المساحة المبنية القصوى {footprint}، مساحة الطوابق القصوى {floor}."},
    "not_buildable": {"fr": "Terrain non constructible en l'état : {reasons}.",
                      "ar": "عقار غير قابل للبناء في وضعه الحالي: {reasons}."},
    "mention": {"fr": "Indicatif : reculs calculés sur le contour cadastral du terrain et la voirie connue, déductions "
                      "des prescriptions du plan ; la constructibilité réelle dépend du relevé du terrain et du projet "
                      "instruit.",
                "ar": "إرشادي: التراجعات محسوبة على الحدود المساحية للعقار والطرق المعروفة، مع خصم تخصيصات التصميم؛ "
                      "وتتوقف إمكانية البناء الفعلية على رفع العقار وعلى المشروع المدروس."},
    "fp.footprint_max_pct": {"fr": "limitée par l'emprise de {pct}", "ar": "تحدها نسبة الاستغلال {pct}"},
    "fp.buildable_area": {"fr": "limitée par les reculs et les prescriptions",
                          "ar": "تحدها التراجعات والتخصيصات"},
    "fp.cos": {"fr": "limitée par le COS d'emprise", "ar": "يحدها COS الخاص بالمساحة المبنية"},
    "fp.cus": {"fr": "limitée par le CUS d'emprise", "ar": "يحدها CUS الخاص بالمساحة المبنية"},
    "floor.cos": {"fr": "COS limitant", "ar": "يحدها COS"},
    "floor.cus": {"fr": "CUS limitant", "ar": "يحدها CUS"},
    "floor.footprint_x_levels": {"fr": "emprise × {levels} limitant",
                                 "ar": "تحدها المساحة المبنية × {levels}"},
    "floor.none": {"fr": "non déterminée : ni COS/CUS de plancher ni nombre de niveaux",
                   "ar": "غير محددة: لا معامل للطوابق ولا عدد للمستويات"},
    "height_rn": {"fr": "{rn} ({height})", "ar": "{rn} ({height})"},
    "height_m": {"fr": "hauteur {height}", "ar": "العلو {height}"},
    "height_none": {"fr": "hauteur non fixée", "ar": "علو غير محدد"},
    "floor_unknown": {"fr": "non déterminée", "ar": "غير محددة"},
    "and": {"fr": " ; ", "ar": "؛ "},
    "level": {"fr": "1 niveau", "ar": "مستوى واحد"},
    "levels": {"fr": "{n} niveaux", "ar": "{n} مستويات"},
    "not_computed": {"fr": "Enveloppe constructible non calculée : terrain trop grand pour une enveloppe ({over}) ; "
                           "elle se calcule pour un terrain à bâtir : demandez-la pour une partie du terrain.",
                     "ar": "لم يُحسب الغلاف القابل للبناء: العقار أكبر من أن يُحسب له غلاف ({over})؛ "
                           "يُحسب الغلاف لعقار معد للبناء: اطلبه لجزء من العقار."},
    "over_area": {"fr": "{area} pour au plus {maximum}", "ar": "{area} والحد الأقصى {maximum}"},
    "over_vertices": {"fr": "{n} sommets pour au plus {maximum}", "ar": "{n} رأسا والحد الأقصى {maximum}"},
}
# The envelope's reasons by their code, written from the envelope's figures; an unknown code keeps the engine's
# French message (embedded whole in Arabic). BLOCKING: the reasons that make a part not buildable.
REASONS: dict[str, dict[str, str]] = {
    "emprise_vide": {"fr": "les reculs et les prescriptions ne laissent aucune surface constructible sur la zone {code}",
                     "ar": "التراجعات والتخصيصات لا تترك أي مساحة قابلة للبناء في المنطقة {code}"},
    "plusieurs_morceaux": {"fr": "la surface constructible est en {pieces} morceaux (coupée par une prescription ou "
                                 "par les reculs), chacun gardé",
                           "ar": "المساحة القابلة للبناء مقسمة إلى {pieces} أجزاء (بفعل تخصيص أو تراجعات)، "
                                 "كل منها محتفظ به"},
    "sans_limite_sur_voie": {"fr": "aucune limite du terrain ne longe une voie : le plus grand des reculs latéral et de "
                                   "fond ({ambiguous}) est appliqué à toutes ses limites",
                             "ar": "لا يحاذي أي حد من حدود العقار طريقا: يطبق أكبر التراجعين الجانبي والخلفي "
                                   "({ambiguous}) على كل حدوده"},
    "limites_ambigues": {"fr": "limites ni clairement latérales ni de fond : le plus grand des reculs latéral et de fond "
                               "({ambiguous}) y est appliqué",
                         "ar": "حدود ليست جانبية ولا خلفية بوضوح: يطبق عليها أكبر التراجعين الجانبي والخلفي ({ambiguous})"},
    "front_bati_continu": {"fr": "front bâti continu : construction sur les limites latérales, sans recul latéral",
                           "ar": "واجهة مبنية متصلة: البناء على الحدود الجانبية دون تراجع جانبي"},
    "terrain_d_angle": {"fr": "terrain d'angle : le recul sur voie s'applique le long de chaque voie",
                        "ar": "عقار في زاوية: يطبق التراجع عن الطريق على طول كل طريق"},
    "largeur_voie_prevue": {"fr": "règles évaluées avec la largeur prévue de la voie ({width}, élargissement du plan)",
                            "ar": "القواعد مقيمة بالعرض المبرمج للطريق ({width}، توسيع التصميم)"},
    "sous_surface_minimale": {"fr": "terrain de {area}, sous la superficie minimale de {minimum} de la zone {code}",
                              "ar": "عقار مساحته {area}، دون المساحة الدنيا {minimum} للمنطقة {code}"},
    "sous_facade_minimale": {"fr": "façade sur voie de {frontage}, sous la façade minimale de {min_frontage} de la zone "
                                   "{code}",
                             "ar": "واجهة على الطريق بطول {frontage}، دون الواجهة الدنيا {min_frontage} للمنطقة {code}"},
    "aucun_niveau": {"fr": "la zone {code} n'admet aucun niveau (hauteur ou R+n nuls)",
                     "ar": "المنطقة {code} لا تسمح بأي مستوى (علو أو R+n منعدم)"},
    "sans_zonage": {"fr": "aucune zone de plan d'aménagement ici : enveloppe non déterminée",
                    "ar": "لا توجد هنا أي منطقة لتصميم التهيئة: الغلاف غير محدد"},
    "emprise_nulle": {"fr": "la zone {code} n'admet aucune emprise au sol ({pct})",
                      "ar": "المنطقة {code} لا تسمح بأي مساحة مبنية ({pct})"},
    "partie_non_constructible": {"fr": "seule la partie en zone {zones} est constructible : les totaux ne comptent "
                                       "qu'elle",
                                 "ar": "الجزء الواقع في المنطقة {zones} وحده قابل للبناء: المجاميع لا تحتسب سواه"},
}
BLOCKING = frozenset({"emprise_vide", "sous_surface_minimale", "sous_facade_minimale", "aucun_niveau", "sans_zonage",
                      "emprise_nulle"})


def with_envelope(conn: psycopg.Connection, result: dict, options: Options | None = None) -> dict:
    """The result (made with its geometries) with its envelope section, as the note stores and renders it; the
    envelope's assumptions (storey height, ratio area) and limits from the options (the settings
    URBASIG_ENVELOPE_*). A land past the limits gets a section saying the envelope is not computed, and why."""
    from instruction.envelope import ENVELOPE_SCHEMA, assumptions_of, envelope_of, limits_of

    try:
        computed = envelope_of(conn, result, assumptions_of(options), limits_of(options))
    except LandTooLarge as exc:
        return {**result, ENVELOPE_KEY: {"schema": ENVELOPE_SCHEMA, "computed": False, "size": exc.detail,
                                         "reasons": [{"code": "terrain_trop_grand", "message": exc.message}]}}
    stored = {k: v for k, v in computed.items() if k not in ("date", "provenance", "land")}  # the result's own
    return {**result, ENVELOPE_KEY: stored}


def over_text(size: dict, lang: str) -> str:
    """What of a land is over the envelope's limits (its size and the limits, as `LandTooLarge.detail` holds them):
    « 4 827 918 m² pour au plus 200 000 m² ; 9 991 sommets pour au plus 2 000 »."""
    over = []
    if size.get("area_m2", 0) > size.get("max_area_m2", float("inf")):
        over.append(phrase("over_area", lang, area=_area(size["area_m2"], lang), maximum=_area(size["max_area_m2"], lang)))
    if size.get("vertices", 0) > size.get("max_vertices", float("inf")):
        over.append(phrase("over_vertices", lang, n=l10n.number(size["vertices"], lang, 0),
                           maximum=l10n.number(size["max_vertices"], lang, 0)))
    return PHRASES["and"][lang].join(over)


def _not_computed(envelope: dict, lang: str) -> str:
    """Why a land has no envelope: its area or vertices over the limits stored with the section."""
    return phrase("not_computed", lang, over=over_text(envelope.get("size") or {}, lang))


def phrase(key: str, lang: str, **values: object) -> str:
    """One phrase of the envelope's section in `lang`, its {placeholders} filled (gis/l10n.embed)."""
    return PHRASES[key][l10n.check_lang(lang)].format(**{k: l10n.embed(v, lang) for k, v in values.items()})


def _area(m2: float | None, lang: str) -> str:
    return "—" if m2 is None else l10n.area(m2, lang, 0)


def _metres(value: float, lang: str) -> str:
    """« 11,5 m », « 12 m », « 17,25 m »: no useless decimal."""
    text = l10n.number(value, lang, 2, trim=True)
    return f"{text[:-1] if ',' in text and text.endswith('0') else text}{l10n.NBSP}m"


def _height(height: dict, lang: str) -> str:
    metres = _metres(height["max_m"], lang) if height.get("max_m") else None
    storeys = height.get("storeys_max")
    if storeys is not None and metres:
        text = phrase("height_rn", lang, rn=f"R+{int(storeys)}", height=metres)
    elif storeys is not None:
        text = f"R+{int(storeys)}"
    else:
        text = phrase("height_m", lang, height=metres) if metres else phrase("height_none", lang)
    if height.get("binding") not in (None, "height_max_m") and height.get("binding_label"):
        text += f" — {l10n.embed(height['binding_label'], lang)}"  # a height tied to the road (H ≤ L + R…)
    return text


def _length(value: float | None, lang: str) -> str:
    return "—" if value is None else l10n.length(value, lang, 2, trim=True)


def _reason(reason: dict, part: dict | None, envelope: dict, lang: str) -> str:
    """A reason of the envelope in `lang`, from its code and the envelope's figures (`part`: the part it is about,
    or the first governing part for the land's own reasons)."""
    template = REASONS.get(reason["code"])
    if template is None:  # a reason this catalogue does not know yet: the engine's French words
        return l10n.embed(reason["message"], lang)
    part = part or {}
    plot = part.get("plot") or {}
    values = {"pieces": part.get("pieces", ""), "code": (part.get("zone") or {}).get("code", ""),
              "area": l10n.area(envelope["totals"]["land_area_m2"], lang, 2, trim=True),
              "minimum": _area_exact(plot.get("min_area_m2"), lang),
              "frontage": _length(plot.get("frontage_m"), lang), "min_frontage": _length(plot.get("min_frontage_m"), lang),
              "ambiguous": _length((part.get("setbacks") or {}).get("ambiguous_m"), lang),
              "width": _length((envelope.get("context") or {}).get("road_width_m"), lang),
              "pct": l10n.percent((part.get("footprint") or {}).get("pct") or 0, lang, 0),
              "zones": ", ".join(p["zone"]["code"] for p in governing_parts(envelope) if buildable_part(p))}
    return template[lang].format(**{k: l10n.embed(v, lang) for k, v in values.items()})


def _area_exact(m2: float | None, lang: str) -> str:
    return "—" if m2 is None else l10n.area(m2, lang, 2, trim=True)


def levels_text(levels: int, lang: str) -> str:
    """« 1 niveau », « 3 niveaux » (the ground floor counts: R+2 is 3 levels)."""
    return phrase("level", lang) if levels == 1 else phrase("levels", lang, n=levels)


def buildable_part(part: dict) -> bool:
    """Whether something may be built on a part (the engine's flag; for an envelope stored without it: ground left
    and a footprint the rules allow there, a 0 % zone has none)."""
    if "buildable" in part:
        return bool(part["buildable"])
    return bool(part["buildable_area_m2"]) and (part["footprint"]["max_m2"] or 0) > 0.01


def _blocking(part: dict, envelope: dict, lang: str) -> list[str]:
    """Why nothing may be built on a part (a zone allowing 0 % of footprint says so even with no reason)."""
    out = [_reason(r, part, envelope, lang) for r in part["reasons"] if r["code"] in BLOCKING]
    if not out and not (part["footprint"]["max_m2"] or 0) > 0.01:
        kind = "emprise_nulle" if part["buildable_area_m2"] else "emprise_vide"
        out.append(_reason({"code": kind, "message": ""}, part, envelope, lang))
    return out


def _part_line(part: dict, lang: str) -> str:
    fp = part["footprint"]
    fp_rule = phrase(f"fp.{fp['binding']}", lang, pct=l10n.percent(fp["pct"] or 0, lang, 0))
    floor = part["floor_area"]
    levels = part["height"].get("levels")
    floor_rule = phrase(f"floor.{floor['binding']}", lang, levels=levels_text(levels, lang) if levels else "")
    floor_text = _area(floor["max_m2"], lang) if floor["max_m2"] is not None else phrase("floor_unknown", lang)
    return phrase("part", lang, code=part["zone"]["code"], footprint=_area(fp["max_m2"], lang), footprint_rule=fp_rule,
                  height=_height(part["height"], lang), floor=floor_text, floor_rule=floor_rule)


def governing_parts(envelope: dict) -> list[dict]:
    """The parts that govern the land (not the marginal slivers; all of them when every one is marginal)."""
    return [p for p in envelope["parts"] if not p["marginal"]] or envelope["parts"]


def envelope_lines(result: dict, lang: str = "fr") -> list[str]:
    """The envelope section's lines (indented by two spaces per level); [] when the result holds no envelope.

    A buildable land: one line per governing part (what may be built and the rule that binds; or why nothing may
    be built on that part), its other reasons under it, a total for several parts, the land's own reasons. A
    land that is not: one line saying why. Then the mention that it is indicative.
    """
    envelope = result.get(ENVELOPE_KEY)
    if not envelope:
        return []
    if envelope.get("computed") is False:
        return [_not_computed(envelope, lang)]
    lines: list[str] = []
    parts = governing_parts(envelope)
    first = parts[0] if parts else None
    if not envelope["buildable"]:
        reasons = [text for part in parts for text in _blocking(part, envelope, lang)]
        said = {r["code"] for part in parts for r in part["reasons"]}  # a part's reason says more (its figures)
        reasons += [_reason(r, first, envelope, lang) for r in envelope["reasons"]
                    if r["code"] in BLOCKING and r["code"] not in said]
        lines.append(phrase("not_buildable", lang, reasons=PHRASES["and"][lang].join(dict.fromkeys(reasons))))
    else:
        for part in parts:
            if buildable_part(part):
                lines.append(_part_line(part, lang))
                lines += [f"  - {_reason(r, part, envelope, lang)}" for r in part["reasons"]]
            else:
                lines.append(phrase("part_none", lang, code=part["zone"]["code"],
                                    reasons=PHRASES["and"][lang].join(dict.fromkeys(_blocking(part, envelope, lang)))))
        if len(parts) > 1:
            totals = envelope["totals"]
            floor = totals["max_floor_area_m2"]
            lines.append(phrase("total", lang, footprint=_area(totals["max_footprint_m2"], lang),
                                floor=_area(floor, lang) if floor is not None else phrase("floor_unknown", lang)))
        said = {r["code"] for part in parts for r in part["reasons"]}
        lines += [f"  - {_reason(r, first, envelope, lang)}" for r in envelope["reasons"] if r["code"] not in said]
    lines.append(phrase("mention", lang))
    return lines


class EnvelopeShapes(NamedTuple):
    """What the envelope's drawing shows, in EPSG:26191."""

    land: BaseGeometry
    buildable: BaseGeometry  # the footprint of the parts where something may be built
    closed: BaseGeometry  # ground left by the setbacks in the parts where nothing may be built (0 %, plot too small…)
    deductions: list[tuple[str, BaseGeometry]]  # (kind, its part of the land)


def envelope_layers(result: dict) -> EnvelopeShapes | None:
    """The drawing's geometries from a stored result (None without an envelope, or with none determined)."""
    from instruction.envelope import DEDUCTED_KINDS

    envelope = result.get(ENVELOPE_KEY)
    if not envelope or not envelope.get("parts") or not result["land"].get("geometry"):
        return None  # no envelope, none determined (no zoning here) or none computed (too large): nothing to draw
    land = shape(result["land"]["geometry"])
    parts = [p for p in governing_parts(envelope) if p.get("geometry")]
    buildable = shapely.union_all([shape(p["geometry"]) for p in parts if buildable_part(p)])
    closed = shapely.union_all([shape(p["geometry"]) for p in parts if not buildable_part(p)])
    deductions = []
    for layer in result["layers"]:
        kind = layer["layer"].split("/", 1)[-1]
        if not layer["layer"].startswith("prescriptions/") or kind not in DEDUCTED_KINDS:
            continue
        for f in layer["features"]:
            if f.get("geometry"):
                hit = shapely.intersection(shape(f["geometry"]), land)
                if hit.area > 0.01:
                    deductions.append((kind, hit))
    return EnvelopeShapes(land, buildable, closed, deductions)


def envelope_drawing(result: dict, letters: Lettering | None = None) -> Drawing | None:
    """The envelope's small drawing (notes/mapdraw.py) from a stored result; None when it holds no envelope."""
    found = envelope_layers(result)
    if found is None:
        return None
    return draw_envelope(found.land, found.buildable, found.deductions, closed=found.closed, letters=letters)
