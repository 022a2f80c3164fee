"""notes/mapdraw.py: the note's map extract, drawn from geometries without a database."""

from __future__ import annotations

import pytest
import shapely
from reportlab.graphics.shapes import String

from notes.mapdraw import draw_map, frame_around, zone_colour

LAND = shapely.box(100, 100, 140, 150)


def _texts(drawing) -> list[str]:
    out = []

    def walk(node):
        for child in getattr(node, "contents", []):
            walk(child)
        if isinstance(node, String):
            out.append(node.text)

    walk(drawing)
    return out


def test_frame_has_the_ratio_and_a_margin():
    x0, y0, x1, y1 = frame_around(LAND, 1.6)
    assert (x1 - x0) / (y1 - y0) == pytest.approx(1.6)
    assert x0 <= 100 - 40 and y0 <= 100 - 40 and x1 >= 140 + 40 and y1 >= 150 + 40


def test_zone_colours_are_stable_and_differ():
    assert zone_colour("V2") == zone_colour("V2")
    assert len({str(zone_colour(c)) for c in ("A", "B", "C", "D", "V2", "R+4")}) > 1


def test_legend_lists_zones_and_prescriptions_once_in_order_of_appearance():
    layers = [("zones", "V2", shapely.box(0, 0, 120, 300)), ("zones", "D", shapely.box(120, 0, 300, 300)),
              ("zones", "V2", shapely.box(200, 200, 210, 210)),
              ("prescriptions", "flood_zone", shapely.box(10, 10, 20, 20)),
              ("prescriptions", "alignment", shapely.LineString([(0, 97), (300, 97)])),
              ("prescriptions", "rail_setback", shapely.box(30, 30, 40, 40))]
    texts = _texts(draw_map(LAND, layers, frame_around(LAND, 1.6)))
    assert texts[texts.index("Légende") + 1:] == ["terrain", "zone V2", "zone D", "servitude", "alignement", "voirie",
                                                  "parcelles", "EPSG:26191 — nord du quadrillage"]
    assert "N" in texts and any(t.endswith("\u00a0m") for t in texts)  # north arrow and scale bar (gis/l10n.py)


def test_the_legend_in_arabic_is_set_from_the_right():
    from notes.mapdraw import Lettering

    layers = [("zones", "V2", shapely.box(0, 0, 300, 300)), ("prescriptions", "green_space", shapely.box(10, 10, 20, 20))]
    drawing = draw_map(LAND, layers, frame_around(LAND, 1.6), letters=Lettering(lang="ar"))
    strings = []

    def walk(node):
        for child in getattr(node, "contents", []):
            walk(child)
        if isinstance(node, String):
            strings.append(node)

    walk(drawing)
    words = [s.text.translate({0x200e: None, 0x200f: None}) for s in strings]
    assert words[words.index("مفتاح الخريطة") + 1:] == ["العقار", "المنطقة V2", "مساحة خضراء", "الطرق", "القطع الأرضية",
                                                          "EPSG:26191 — شمال الشبكة"]
    legend = [s for s in strings if s.text.translate({0x200e: None, 0x200f: None}) in ("العقار", "المنطقة V2")]
    assert all(s.textAnchor == "end" and s.x > drawing.width - 30 for s in legend)  # ending at the right edge
