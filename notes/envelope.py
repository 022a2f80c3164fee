"""The buildable envelope in the notes: computed once when the note is made, stored with its result, written out.

`with_envelope(conn, result)` adds the section `envelope` (instruction/envelope.py, schema urbasig/envelope/1,
polygons in EPSG:26191) to an instruction result made with its geometries: the official note stores that
result, so a signed note renders the same envelope again, whatever the engine or the data become. A result
stored before the envelope existed has none, and its note has no envelope section (`envelope_lines` → []).

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
from notes.mapdraw import Lettering, draw_envelope

if TYPE_CHECKING:
    import psycopg
    from reportlab.graphics.shapes import Drawing

ENVELOPE_KEY = "envelope"

PHRASES: dict[str, dict[str, str]] = {
    "heading": {"fr": "Enveloppe constructible indicative", "ar": "الغلاف القابل للبناء (إرشادي)"},
    "part": {"fr": "Enveloppe indicative, zone {code} : emprise au sol max. {footprint} ({footprint_rule}), {height}, "
                   "surface de plancher max. {floor} ({floor_rule}).",
             "ar": "الغلاف الإرشادي، المنطقة {code}: المساحة المبنية القصوى {footprint} ({footprint_rule})، {height}، "
                   "مساحة الطوابق القصوى {floor} ({floor_rule})."},
    "part_empty": {"fr": "Enveloppe indicative, zone {code} : aucune surface constructible.",
                   "ar": "الغلاف الإرشادي، المنطقة {code}: لا توجد أي مساحة قابلة للبناء."},
    "part_zero": {"fr": "Enveloppe indicative, zone {code} : emprise au sol nulle (le règlement fixe {pct}) : rien n'y "
                        "est constructible.",
                  "ar": "الغلاف الإرشادي، المنطقة {code}: مساحة مبنية منعدمة (يحدد النظام {pct}): لا شيء قابل للبناء فيها."},
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
}
# The envelope's reasons by their code, written from the result's figures; an unknown code keeps the engine's
# French message (embedded whole in Arabic).
REASONS: dict[str, dict[str, str]] = {
    "emprise_vide": {"fr": "les reculs et les prescriptions ne laissent aucune surface constructible sur la zone {code}",
                     "ar": "التراجعات والتخصيصات لا تترك أي مساحة قابلة للبناء في المنطقة {code}"},
    "plusieurs_morceaux": {"fr": "la surface constructible est en {pieces} morceaux (coupée par une prescription ou "
                                 "par les reculs)",
                           "ar": "المساحة القابلة للبناء مقسمة إلى {pieces} أجزاء (بفعل تخصيص أو تراجعات)"},
    "sans_limite_sur_voie": {"fr": "aucune limite du terrain ne longe une voie : reculs latéraux et de fond non classés",
                             "ar": "لا يحاذي أي حد من حدود العقار طريقا: التراجعات الجانبية والخلفية غير مصنفة"},
    "sous_surface_minimale": {"fr": "terrain de {area}, sous la superficie minimale de {minimum} de la zone {code}",
                              "ar": "عقار مساحته {area}، دون المساحة الدنيا {minimum} للمنطقة {code}"},
    "sous_surface_minimale_terrain": {"fr": "terrain sous la superficie minimale",
                                      "ar": "عقار دون المساحة الدنيا"},
    "sans_zonage": {"fr": "aucune zone de plan d'aménagement ici : enveloppe non déterminée",
                    "ar": "لا توجد هنا أي منطقة لتصميم التهيئة: الغلاف غير محدد"},
}


def with_envelope(conn: psycopg.Connection, result: dict) -> dict:
    """The result (made with its geometries) with its envelope section, as the note stores and renders it."""
    from instruction.envelope import envelope_of

    computed = envelope_of(conn, result)
    stored = {k: v for k, v in computed.items() if k not in ("date", "provenance")}  # the result's own, not twice
    return {**result, ENVELOPE_KEY: stored}


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
        return phrase("height_rn", lang, rn=f"R+{int(storeys)}", height=metres)
    if storeys is not None:
        return f"R+{int(storeys)}"
    return phrase("height_m", lang, height=metres) if metres else phrase("height_none", lang)


def _reason(reason: dict, part: dict | None, envelope: dict, lang: str) -> str:
    """A reason of the envelope in `lang`, from its code and the envelope's figures."""
    code = reason["code"]
    if code == "sous_surface_minimale" and part is None:
        code = "sous_surface_minimale_terrain"
    template = REASONS.get(code)
    if template is None:  # a reason this catalogue does not know yet: the engine's French words
        return l10n.embed(reason["message"], lang)
    plot = (part or {}).get("plot") or {}
    values = {"pieces": part["pieces"] if part else "", "code": part["zone"]["code"] if part else "",
              "area": l10n.area(envelope["totals"]["land_area_m2"], lang, 2, trim=True),
              "minimum": l10n.area(plot.get("min_area_m2") or 0, lang, 2, trim=True)}
    return template[lang].format(**{k: l10n.embed(v, lang) for k, v in values.items()})


def levels_text(levels: int, lang: str) -> str:
    """« 1 niveau », « 3 niveaux » (the ground floor counts: R+2 is 3 levels)."""
    return phrase("level", lang) if levels == 1 else phrase("levels", lang, n=levels)


def buildable_part(part: dict) -> bool:
    """Whether a part has ground to build on and a footprint the rules allow there (a 0 % zone has none)."""
    return bool(part["buildable_area_m2"]) and (part["footprint"]["max_m2"] or 0) > 0.01


def _part_line(part: dict, lang: str) -> str:
    code = part["zone"]["code"]
    fp = part["footprint"]
    if not part["buildable_area_m2"]:
        return phrase("part_empty", lang, code=code)
    if not buildable_part(part):
        return phrase("part_zero", lang, code=code, pct=l10n.percent(fp["pct"] or 0, lang, 0))
    fp_rule = phrase(f"fp.{fp['binding']}", lang, pct=l10n.percent(fp["pct"] or 0, lang, 0))
    floor = part["floor_area"]
    levels = part["height"].get("levels")
    floor_rule = phrase(f"floor.{floor['binding']}", lang, levels=levels_text(levels, lang) if levels else "")
    floor_text = _area(floor["max_m2"], lang) if floor["max_m2"] is not None else phrase("floor_unknown", lang)
    return phrase("part", lang, code=code, footprint=_area(fp["max_m2"], lang), footprint_rule=fp_rule,
                  height=_height(part["height"], lang), floor=floor_text, floor_rule=floor_rule)


def governing_parts(envelope: dict) -> list[dict]:
    """The parts that govern the land (not the marginal slivers; all of them when every one is marginal)."""
    return [p for p in envelope["parts"] if not p["marginal"]] or envelope["parts"]


def envelope_lines(result: dict, lang: str = "fr") -> list[str]:
    """The envelope section's lines (indented by two spaces per level); [] when the result holds no envelope."""
    envelope = result.get(ENVELOPE_KEY)
    if not envelope:
        return []
    lines: list[str] = []
    parts = governing_parts(envelope)
    if not envelope["buildable"]:
        reasons = [_reason(r, part, envelope, lang) for part in parts for r in part["reasons"]]
        said = {r["code"] for part in parts for r in part["reasons"]}  # a part's reason says more (its figures)
        reasons += [_reason(r, None, envelope, lang) for r in envelope["reasons"] if r["code"] not in said]
        if not reasons:  # every part is eaten by setbacks and prescriptions
            reasons = [_reason({"code": "emprise_vide", "message": ""}, parts[0] if parts else None, envelope, lang)]
        lines.append(phrase("not_buildable", lang, reasons=PHRASES["and"][lang].join(dict.fromkeys(reasons))))
    else:
        for part in parts:
            lines.append(_part_line(part, lang))
            lines += [f"  - {_reason(r, part, envelope, lang)}" for r in part["reasons"]]
        if len(parts) > 1:
            totals = envelope["totals"]
            floor = totals["max_floor_area_m2"]
            lines.append(phrase("total", lang, footprint=_area(totals["max_footprint_m2"], lang),
                                floor=_area(floor, lang) if floor is not None else phrase("floor_unknown", lang)))
    lines.append(phrase("mention", lang))
    return lines


class EnvelopeShapes(NamedTuple):
    """What the envelope's drawing shows, in EPSG:26191."""

    land: BaseGeometry
    buildable: BaseGeometry  # the footprint of the parts where something may be built
    closed: BaseGeometry  # ground left by the setbacks in a zone whose rules allow no footprint (0 %)
    deductions: list[tuple[str, BaseGeometry]]  # (kind, its part of the land)


def envelope_layers(result: dict) -> EnvelopeShapes | None:
    """The drawing's geometries from a stored result (None without an envelope, or with none determined)."""
    from instruction.envelope import DEDUCTED_KINDS

    envelope = result.get(ENVELOPE_KEY)
    if not envelope or not envelope["parts"] or not result["land"].get("geometry"):
        return None  # no envelope, or none determined (no zoning here): nothing to draw
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
