"""The map extract of a note, drawn on the server (reportlab graphics): pure, from geometries in EPSG:26191.

The land is outlined in red over the zones (one colour per code), roads, prescriptions and neighbouring
parcels, with a scale bar, a north arrow (grid north of Merchich / Nord Maroc) and a legend.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import shapely
from reportlab.graphics.shapes import Drawing, Group, Line, Polygon, PolyLine, Rect, String
from reportlab.lib import colors
from shapely.geometry.base import BaseGeometry

from gis import l10n
from notes.texts import text

PALETTE = ["#f6d38b", "#f4a582", "#c2a5cf", "#a6dba0", "#92c5de", "#fddbc7", "#d9f0d3", "#e7d4e8", "#fee090",
           "#b2abd2", "#80cdc1", "#dfc27d"]
PRESCRIPTION_STYLE = {  # colour, and the legend's word (notes/texts.py legend_<kind>)
    "road_widening": ("#e66101", "legend_road_widening"), "new_road": ("#e66101", "legend_new_road"),
    "alignment": ("#b2182b", "legend_alignment"), "facility_reservation": ("#7b3294", "legend_facility_reservation"),
    "green_space": ("#1b7837", "legend_green_space"), "non_aedificandi": ("#000000", "legend_non_aedificandi"),
}
SERVITUDE = ("#2166ac", "legend_servitude")


def _as_is(line: str) -> str:
    return line


@dataclass(frozen=True)
class Lettering:
    """The language of the map's words, their font, and how a line of text is made drawable.

    French: Helvetica, text as it is. Arabic in a PDF: the Arabic font and notes/arabic.visual (shaped, in
    display order); in an SVG the browser shapes, so the text stays logical.
    """

    lang: str = "fr"
    font: str = "Helvetica"
    bold: str = "Helvetica-Bold"
    shape: Callable[[str], str] = _as_is

    @property
    def rtl(self) -> bool:
        """Whether the words are set right to left."""
        return self.lang == "ar"

    def word(self, key: str, **values: object) -> str:
        """The legend's word `key`, ready to draw."""
        return self.shape(text(key, self.lang, **values))


def _translucent(hex_colour: str) -> colors.Color:
    c = colors.HexColor(hex_colour)
    return colors.Color(c.red, c.green, c.blue, alpha=0.25)


def zone_colour(code: str) -> colors.Color:
    """A stable colour for a zone code."""
    index = int(hashlib.md5(code.encode()).hexdigest(), 16) % len(PALETTE)  # noqa: S324 - a colour, not security
    return colors.HexColor(PALETTE[index])


def frame_around(land: BaseGeometry, ratio: float) -> tuple[float, float, float, float]:
    """A frame of the given width/height ratio around the land with a margin (at least 40 m)."""
    x0, y0, x1, y1 = land.bounds
    margin = max(40.0, 0.35 * max(x1 - x0, y1 - y0))
    x0, y0, x1, y1 = x0 - margin, y0 - margin, x1 + margin, y1 + margin
    w, h = x1 - x0, y1 - y0
    if w / h < ratio:
        extra = (h * ratio - w) / 2
        x0, x1 = x0 - extra, x1 + extra
    else:
        extra = (w / ratio - h) / 2
        y0, y1 = y0 - extra, y1 + extra
    return x0, y0, x1, y1


def _nice(length_m: float) -> float:
    exponent = 10 ** math.floor(math.log10(length_m))
    for step in (1, 2, 5, 10):
        if step * exponent >= length_m:
            return step * exponent
    return 10 * exponent


def _polygons(geom: BaseGeometry) -> list[shapely.Polygon]:
    return [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and not p.is_empty]


class _Page:
    """Map coordinates (EPSG:26191) to drawing points."""

    def __init__(self, frame: tuple[float, float, float, float], scale: float):
        self.x0, self.y0 = frame[0], frame[1]
        self.scale = scale

    def flat(self, coords: Iterable[tuple[float, float]]) -> list[float]:
        """Return the drawing coordinates of a sequence of points, flattened as reportlab takes them."""
        return [v for x, y in coords for v in ((x - self.x0) * self.scale, (y - self.y0) * self.scale)]


def _draw_zones(body: Group, page: _Page, layers: list[tuple[str, str | None, BaseGeometry]]) -> list[str]:
    """Fill each zone with its colour; return the zone codes in order of appearance."""
    codes: list[str] = []
    for layer, code, geom in layers:
        if layer != "zones" or code is None:
            continue
        if code not in codes:
            codes.append(code)
        for p in _polygons(geom):
            body.add(Polygon(page.flat(p.exterior.coords), fillColor=zone_colour(code),
                             strokeColor=colors.HexColor("#8c6d31"), strokeWidth=0.4))
    return codes


def _draw_context(body: Group, page: _Page, layers: list[tuple[str, str | None, BaseGeometry]]) -> None:
    """Roads in grey, then the neighbouring parcels' outlines."""
    for layer, _code, geom in layers:
        if layer == "roads":
            for p in _polygons(geom):
                body.add(Polygon(page.flat(p.exterior.coords), fillColor=colors.HexColor("#e0e0e0"), strokeColor=None))
    for layer, _code, geom in layers:
        if layer == "parcels":
            for p in _polygons(geom):
                body.add(Polygon(page.flat(p.exterior.coords), fillColor=None, strokeColor=colors.HexColor("#606060"),
                                 strokeWidth=0.3))


def _draw_prescriptions(body: Group, page: _Page, layers: list[tuple[str, str | None, BaseGeometry]]) -> list[str]:
    """Draw the prescriptions (areas dashed, lines solid); return their legend keys in order of appearance."""
    kinds: list[str] = []
    for layer, kind, geom in layers:
        if layer != "prescriptions":
            continue
        colour, _label = PRESCRIPTION_STYLE.get(kind or "", SERVITUDE)
        key = kind if kind in PRESCRIPTION_STYLE else "servitude"
        if key not in kinds:
            kinds.append(key)
        for part in shapely.get_parts(geom):
            if part.is_empty:  # ST_Intersection gives empty pieces for features whose box only meets the frame
                continue
            if part.geom_type == "Polygon":
                body.add(Polygon(page.flat(part.exterior.coords), fillColor=_translucent(colour),
                                 strokeColor=colors.HexColor(colour), strokeWidth=0.8, strokeDashArray=[3, 2]))
            elif part.geom_type == "LineString":
                body.add(PolyLine(page.flat(part.coords), strokeColor=colors.HexColor(colour), strokeWidth=1.4))
    return kinds


def _draw_scale_and_north(drawing: Drawing, frame_width_m: float, scale: float, height: float,
                          letters: Lettering) -> None:
    """Scale bar (bottom left) and north arrow (top left): the map is in Lambert grid coordinates."""
    bar_m = _nice(frame_width_m / 5)
    drawing.add(Rect(10, 10, bar_m * scale, 4, fillColor=colors.black, strokeColor=colors.black))
    drawing.add(String(10, 18, l10n.length(bar_m, letters.lang, 2, trim=True), fontSize=7, fontName=letters.font))
    drawing.add(Line(20, height - 40, 20, height - 14, strokeColor=colors.black, strokeWidth=1.2))
    drawing.add(Polygon([16, height - 22, 20, height - 12, 24, height - 22], fillColor=colors.black))
    drawing.add(String(16, height - 52, "N", fontSize=9, fontName="Helvetica-Bold"))


def _draw_legend(drawing: Drawing, codes: list[str], kinds: list[str], left: float, height: float,
                 letters: Lettering) -> None:
    """The legend on the right: land, zones, prescriptions, roads, parcels (16 entries at most).

    Right to left in Arabic: the swatch at the right edge, its word ending just left of it.
    """
    w = letters.word
    lx, ly = left + 10, height - 14
    rx = drawing.width - 4  # the right edge, where an Arabic legend starts
    anchor = "end" if letters.rtl else "start"
    drawing.add(String(rx if letters.rtl else lx, ly, w("legend"), fontSize=8, fontName=letters.bold,
                       textAnchor=anchor))
    entries = [(w("legend_land"), None, colors.red)] + [(w("legend_zone", code=c), zone_colour(c), None)
                                                        for c in codes] + \
        [(w(PRESCRIPTION_STYLE.get(k, SERVITUDE)[1]), None, colors.HexColor(PRESCRIPTION_STYLE.get(k, SERVITUDE)[0]))
         for k in kinds] + [(w("legend_roads"), colors.HexColor("#e0e0e0"), None),
                            (w("legend_parcels"), None, colors.HexColor("#606060"))]
    for i, (label, fill, stroke) in enumerate(entries[:16]):
        y = ly - 14 - i * 12
        box_x, text_x = (rx - 12, rx - 16) if letters.rtl else (lx, lx + 16)
        drawing.add(Rect(box_x, y, 12, 8, fillColor=fill, strokeColor=stroke or colors.HexColor("#8c6d31"),
                         strokeWidth=1.5 if stroke else 0.4))
        drawing.add(String(text_x, y + 1, label, fontSize=7, fontName=letters.font, textAnchor=anchor))
    drawing.add(String(rx if letters.rtl else lx, 10, w("legend_grid"), fontSize=5.5, fillColor=colors.grey,
                       fontName=letters.font, textAnchor=anchor))


def draw_map(land: BaseGeometry, layers: list[tuple[str, str | None, BaseGeometry]],
             frame: tuple[float, float, float, float], width: float = 480, height: float = 300,
             letters: Lettering | None = None) -> Drawing:
    """Draw the map; `layers` are (layer, code, geometry) already clipped to `frame`; words per `letters`."""
    letters = letters or Lettering()
    map_w = width - 130  # legend on the right
    x0, y0, x1, y1 = frame
    scale = min(map_w / (x1 - x0), height / (y1 - y0))
    page = _Page(frame, scale)
    drawing = Drawing(width, height)
    drawing.add(Rect(0, 0, map_w, height, fillColor=colors.white, strokeColor=colors.grey, strokeWidth=0.5))
    body = Group()
    codes = _draw_zones(body, page, layers)
    _draw_context(body, page, layers)
    kinds = _draw_prescriptions(body, page, layers)
    for p in _polygons(land):
        body.add(Polygon(page.flat(p.exterior.coords), fillColor=None, strokeColor=colors.red, strokeWidth=2))
    drawing.add(body)
    _draw_scale_and_north(drawing, x1 - x0, scale, height, letters)
    _draw_legend(drawing, codes, kinds, map_w, height, letters)
    return drawing


# ------------------------------------------------------------------------ the envelope's small drawing
ENVELOPE_FILL = "#74c476"  # the buildable footprint, hatched darker
ENVELOPE_HATCH = "#238b45"
SETBACK_FILL = "#fdd49e"  # what the setbacks take
CLOSED_FILL = "#d9d9d9"  # ground of a part where nothing may be built (0 % footprint, plot under the minimum…)


def _hatch(geom: BaseGeometry, step_m: float) -> list[BaseGeometry]:
    """Diagonal hatching lines (45°, every `step_m`) clipped to `geom`."""
    if geom.is_empty:
        return []
    x0, y0, x1, y1 = geom.bounds
    span = (x1 - x0) + (y1 - y0)
    lines = [shapely.LineString([(x0 + k * step_m, y0), (x0 + k * step_m - span, y0 + span)])
             for k in range(1, int(span / step_m) + 1)]
    return [p for line in lines for p in shapely.get_parts(shapely.intersection(line, geom))
            if p.geom_type == "LineString" and not p.is_empty]


def _drawn_polygon(body: Group, page: _Page, geom: BaseGeometry, fill: colors.Color | None,
                   stroke: colors.Color | None, width: float = 0.5) -> None:
    """A polygon with its holes (reportlab polygons have none: each hole is painted white over it)."""
    for p in _polygons(geom):
        body.add(Polygon(page.flat(p.exterior.coords), fillColor=fill, strokeColor=stroke, strokeWidth=width))
        for ring in p.interiors:
            body.add(Polygon(page.flat(ring.coords), fillColor=colors.white, strokeColor=stroke, strokeWidth=width))


def draw_envelope(land: BaseGeometry, buildable: BaseGeometry, deductions: list[tuple[str, BaseGeometry]],
                  closed: BaseGeometry | None = None, width: float = 480, height: float = 190,
                  letters: Lettering | None = None) -> Drawing:
    """The envelope's drawing: the land outlined in red, the buildable footprint hatched, the deductions (kind,
    part of the land) in their prescription's tone, the ground of the parts where nothing may be built
    (`closed`: a zone allowing no footprint, a plot under the minimum…) in grey, the rest of the land (the
    setbacks) in another tone; a scale bar, grid north and a legend."""
    closed = closed if closed is not None else shapely.Polygon()
    letters = letters or Lettering()
    map_w = width - 130
    left, bottom, top = 32.0, 26.0, 6.0  # room for grid north (left) and the scale bar (bottom)
    x0, y0, x1, y1 = land.bounds
    margin = max(1.0, 0.04 * max(x1 - x0, y1 - y0))
    x0, y0, x1, y1 = x0 - margin, y0 - margin, x1 + margin, y1 + margin
    room_w, room_h = map_w - left - 6, height - bottom - top
    scale = min(room_w / (x1 - x0), room_h / (y1 - y0))
    offset_x = left + (room_w - (x1 - x0) * scale) / 2  # the land centred in the room left
    offset_y = bottom + (room_h - (y1 - y0) * scale) / 2
    page = _Page((x0 - offset_x / scale, y0 - offset_y / scale, x1, y1), scale)
    drawing = Drawing(width, height)
    drawing.add(Rect(0, 0, map_w, height, fillColor=colors.white, strokeColor=colors.grey, strokeWidth=0.5))
    body = Group()
    _drawn_polygon(body, page, land, colors.HexColor(SETBACK_FILL), None)
    kinds: list[str] = []
    for kind, geom in deductions:
        if kind not in kinds:
            kinds.append(kind)
        colour = PRESCRIPTION_STYLE[kind][0]
        _drawn_polygon(body, page, geom, colors.white, None)  # its tone as in the legend, not over the setbacks'
        _drawn_polygon(body, page, geom, _translucent(colour), colors.HexColor(colour), 0.6)
    _drawn_polygon(body, page, closed, colors.HexColor(CLOSED_FILL), colors.HexColor("#969696"), 0.5)
    _drawn_polygon(body, page, buildable, colors.HexColor(ENVELOPE_FILL), colors.HexColor(ENVELOPE_HATCH), 0.8)
    step = 7 / scale  # a hatching line every 7 points, whatever the land's size
    for line in _hatch(buildable, step):
        body.add(PolyLine(page.flat(line.coords), strokeColor=colors.HexColor(ENVELOPE_HATCH), strokeWidth=0.5))
    _drawn_polygon(body, page, land, None, colors.red, 1.6)
    drawing.add(body)
    _draw_scale_and_north(drawing, (map_w - left) / scale, scale, height, letters)
    w = letters.word
    rest = shapely.difference(land, shapely.union_all([buildable, closed, *(g for _, g in deductions)]))
    entries = [(w("legend_land"), None, colors.red)]
    if not buildable.is_empty:
        entries.append((w("legend_buildable"), colors.HexColor(ENVELOPE_FILL), None))
    if rest.area > 0.01:  # what the setbacks take (nothing on a land with no setback)
        entries.append((w("legend_setbacks"), colors.HexColor(SETBACK_FILL), None))
    if closed.area > 0.01:
        entries.append((w("legend_closed"), colors.HexColor(CLOSED_FILL), None))
    entries += [(w(PRESCRIPTION_STYLE[k][1]), _translucent(PRESCRIPTION_STYLE[k][0]),
                 colors.HexColor(PRESCRIPTION_STYLE[k][0])) for k in kinds]
    _envelope_legend(drawing, entries, map_w, height, letters)
    return drawing


def _envelope_legend(drawing: Drawing, entries: list, left: float, height: float, letters: Lettering) -> None:
    """The drawing's legend on the right (right to left in Arabic, as the map extract's)."""
    lx, ly = left + 10, height - 14
    rx = drawing.width - 4
    anchor = "end" if letters.rtl else "start"
    drawing.add(String(rx if letters.rtl else lx, ly, letters.word("legend_envelope"), fontSize=8,
                       fontName=letters.bold, textAnchor=anchor))
    for i, (label, fill, stroke) in enumerate(entries[:10]):
        y = ly - 14 - i * 12
        box_x, text_x = (rx - 12, rx - 16) if letters.rtl else (lx, lx + 16)
        drawing.add(Rect(box_x, y, 12, 8, fillColor=fill, strokeColor=stroke or colors.HexColor("#8c6d31"),
                         strokeWidth=1.5 if stroke else 0.4))
        drawing.add(String(text_x, y + 1, label, fontSize=7, fontName=letters.font, textAnchor=anchor))
    drawing.add(String(rx if letters.rtl else lx, 10, letters.word("legend_grid"), fontSize=5.5, fillColor=colors.grey,
                       fontName=letters.font, textAnchor=anchor))
