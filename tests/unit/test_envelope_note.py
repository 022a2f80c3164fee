"""The envelope in the notes, without a database: its lines (FR/AR, the binding rule named, why a land is not
buildable) and its small drawing, from envelopes computed by instruction/envelope.py on hand-made geometries.

The land of every test: 20 × 30 m (600 m²) on a road along its south edge; setbacks 4 m from the road, 3 m
from the side and rear limits. The buildable footprint is x 3–17 × y 4–27 = 14 × 23 = 322 m² (the road band
takes y 0–4, the rear band y 27–30, the side bands x 0–3 and 17–20).
"""

from __future__ import annotations

import shapely
from reportlab.graphics.shapes import Polygon, PolyLine, Rect, String

from instruction.envelope import PLANNED_ROAD_KINDS, Part, Road, compute_envelope
from notes.envelope import envelope_drawing, envelope_lines
from notes.mapdraw import CLOSED_FILL, ENVELOPE_FILL, SETBACK_FILL

LAND = shapely.box(0, 0, 20, 30)
ROAD = Road(shapely.box(-50, -12, 70, 0), 12.0, "Rue des Tests")


def _rule(**values: float) -> dict:
    base = {"setback_road_m": 4, "setback_side_m": 3, "setback_rear_m": 3, "height_max_m": 11.5, "storeys_max": 2,
            "footprint_max_pct": 60}
    parameters = {k: {"value": v} for k, v in {**base, **values}.items()}
    parameters.setdefault("cos_value", {"value": 1.2, "meaning": "plancher"})
    return {"zone": {"id": 1, "plan": "PA-X", "code": "R2", "sector": None, "label": "Habitat R+2"},
            "parameters": parameters, "share_pct": 100.0, "marginal": False, "continuous_frontage": False}


def _result(rule: dict, land: shapely.Polygon = LAND, constraints: list | None = None) -> dict:
    planned = [Road(g, None, label, planned=True) for kind, label, g in constraints or [] if kind in PLANNED_ROAD_KINDS]
    envelope = compute_envelope(land=land, parts=[Part(rule, land)], roads=[ROAD, *planned],
                                constraints=constraints or [], road_tolerance_m=0.5)  # as envelope_of does
    layers = [{"layer": f"prescriptions/{kind}", "features": [{"geometry": shapely.geometry.mapping(geom)}]}
              for kind, _label, geom in constraints or []]
    return {"land": {"geometry": shapely.geometry.mapping(land)}, "layers": layers, "envelope": envelope}


def test_one_line_per_part_with_the_binding_rules_and_the_mention():
    # footprint: min(322 buildable, 60 % × 600 = 360) = 322, bound by the setbacks; floor: min(COS 1.2 × 600 = 720,
    # 322 × 3 levels = 966) = 720, bound by the COS
    lines = envelope_lines(_result(_rule()))
    assert lines[0] == ("Enveloppe indicative, zone R2 : emprise au sol max. 322\u00a0m² (limitée par les reculs et les "
                        "prescriptions), R+2 (11,5\u00a0m), surface de plancher max. 720\u00a0m² (COS limitant).")
    assert lines[-1].startswith("Indicatif : reculs calculés sur le contour cadastral")
    assert len(lines) == 2


def test_footprint_ratio_and_storeys_bind_when_smaller():
    # footprint 40 % × 600 = 240 < 322; floor: no COS, 240 × 3 levels = 720
    rule = _rule(footprint_max_pct=40)
    del rule["parameters"]["cos_value"]
    line = envelope_lines(_result(rule))[0]
    assert "emprise au sol max. 240\u00a0m² (limitée par l'emprise de 40\u00a0%)" in line
    assert "surface de plancher max. 720\u00a0m² (emprise × 3 niveaux limitant)" in line


def test_arabic_line_names_the_same_figures_and_rule():
    line, mention = envelope_lines(_result(_rule()), "ar")
    assert line.startswith("الغلاف الإرشادي، المنطقة")
    for piece in ("322\u00a0m²", "R+2", "11,5\u00a0m", "720\u00a0m²", "يحدها COS", "تحدها التراجعات"):
        assert piece in line, piece
    assert mention.startswith("إرشادي:")


def test_a_land_under_the_minimum_plot_says_why_instead_of_numbers():
    for lang, expected in (("fr", "Terrain non constructible en l'état : terrain de 600 m², sous la superficie "
                                  "minimale de 800 m² de la zone R2."),
                           ("ar", "دون المساحة الدنيا")):
        line = envelope_lines(_result(_rule(min_plot_area_m2=800)), lang)[0]
        assert expected in line.replace("\u00a0", " ") and "322" not in line


def test_a_land_eaten_by_its_setbacks_says_so():
    narrow = shapely.box(0, 0, 5, 30)  # 5 m wide, 3 m side setbacks on both sides: nothing left
    lines = envelope_lines(_result(_rule(), narrow))
    assert lines[0].startswith("Terrain non constructible en l'état : les reculs et les prescriptions ne laissent")


def test_a_result_stored_without_an_envelope_has_no_section():
    old = {"land": {"geometry": shapely.geometry.mapping(LAND)}, "layers": []}
    assert envelope_lines(old) == [] and envelope_drawing(old) is None


def _polygons(drawing, fill: str) -> list[Polygon]:
    out = []

    def walk(node):
        for child in getattr(node, "contents", []):
            walk(child)
        if isinstance(node, Polygon) and node.fillColor is not None and node.fillColor.hexval() == "0x" + fill[1:]:
            out.append(node)

    walk(drawing)
    return out


def _walk(drawing, kind) -> list:
    out = []

    def walk(node):
        for child in getattr(node, "contents", []):
            walk(child)
        if isinstance(node, kind):
            out.append(node)

    walk(drawing)
    return out


def test_the_drawing_shows_the_footprint_inside_the_land_at_scale_hatched_with_its_legend():
    widening = shapely.box(0, 0, 20, 2)  # a widening strip along the road: 40 m² deducted
    result = _result(_rule(), constraints=[("road_widening", "Élargissement", widening)])
    drawing = envelope_drawing(result)
    (land,) = _polygons(drawing, SETBACK_FILL)
    (footprint,) = _polygons(drawing, ENVELOPE_FILL)

    def size(poly):
        xs, ys = poly.points[0::2], poly.points[1::2]
        return max(xs) - min(xs), max(ys) - min(ys), min(xs), min(ys)

    lw, lh, lx, ly = size(land)
    fw, fh, fx, fy = size(footprint)
    # the road setback starts at the widening's alignment: buildable y 6–27 (21 m), x 3–17 (14 m)
    assert abs(fw / lw - 14 / 20) < 1e-6 and abs(fh / lh - 21 / 30) < 1e-6
    scale = lw / 20
    assert abs((fx - lx) / scale - 3) < 1e-6 and abs((fy - ly) / scale - 6) < 1e-6
    hatching = [p for p in _walk(drawing, PolyLine) if p.strokeColor is not None]
    assert len(hatching) >= 5
    words = [s.text for s in _walk(drawing, String)]
    assert {"Enveloppe", "terrain", "emprise constructible", "reculs", "élargissement de voie"} <= set(words)
    (bar_text,) = [w for w in words if w.endswith("\u00a0m")]  # the scale bar: its length, drawn at the same scale
    (bar,) = [r for r in _walk(drawing, Rect) if r.height == 4]
    assert abs(bar.width - float(bar_text.split("\u00a0")[0].replace(",", ".")) * scale) < 1e-6


def test_a_zone_allowing_no_footprint_is_drawn_apart_not_as_buildable():
    # the land split at x = 10: west in R2, east in a green zone (0 %): its ground is grey, not hatched
    west, east = shapely.box(0, 0, 10, 30), shapely.box(10, 0, 20, 30)
    green = _rule(footprint_max_pct=0)
    green["zone"] = {**green["zone"], "id": 2, "code": "ZV"}
    envelope = compute_envelope(land=LAND, parts=[Part(_rule(), west), Part(green, east)], roads=[ROAD],
                                constraints=[], road_tolerance_m=0.5)
    result = {"land": {"geometry": shapely.geometry.mapping(LAND)}, "layers": [], "envelope": envelope}
    drawing = envelope_drawing(result)
    (footprint,) = _polygons(drawing, ENVELOPE_FILL)
    (closed,) = _polygons(drawing, CLOSED_FILL)
    assert max(footprint.points[0::2]) <= min(closed.points[0::2]) + 1e-6  # west of the zone limit, east of it
    assert "non constructible" in [s.text for s in _walk(drawing, String)]
    assert envelope_lines(result)[1] == ("Enveloppe indicative, zone ZV : rien n'y est constructible — la zone ZV "
                                         "n'admet aucune emprise au sol (0\u00a0%).")
