"""The printed map: the current view of the public map as a PDF page (reportlab), A4 or A3, either way up.

Pure: it is given the map image (the browser's MapLibre canvas), the ground width the image shows (metres of
Merchich / Nord Maroc, measured by the caller), the legend of the visible layers, the plans shown and the dates
of the data. It draws the title, the image, a scale bar, a north arrow, the legend, the plans, the dates and the
disclaimer of the indicative note (the same words: this is not a note).
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.pagesizes import A3, A4, landscape, portrait
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from gis import l10n
from instruction import vocabulary as vocab
from instruction.summary import plan_citation
from notes import arabic
from notes.arabic import FontFiles
from notes.indicative import DISCLAIMER
from notes.mapdraw import _nice

PAPERS = {"A4": A4, "A3": A3}
ORIENTATIONS = {"portrait": portrait, "landscape": landscape}
FONT_FILES = (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
              Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"))
MARGIN = 12 * mm
COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")  # the only colours a legend entry may have: #rgb, #rrggbb
_SEPARATOR = {"fr": ", ", "ar": "، "}


@dataclass
class LegendEntry:
    """One visible layer: its label and colour, and how it is drawn (fill, line or point)."""

    label: str
    colour: str
    kind: str = "fill"


@dataclass
class PrintedMap:
    """Everything the page shows."""

    image: bytes
    ground_width_m: float
    paper: str = "A4"
    orientation: str = "landscape"
    bearing_deg: float = 0.0
    as_of: date | None = None
    legend: list[LegendEntry] = field(default_factory=list)
    plans: list[dict] = field(default_factory=list)
    data_dates: dict[str, datetime] = field(default_factory=dict)
    issued_at: datetime | None = None
    labels: dict[str, str] = field(default_factory=dict)  # the page's texts (api/messages/planner.json)
    lang: str = "fr"
    fonts: FontFiles | None = None  # where the Arabic font comes from (lang "ar": notes/arabic.py)


@dataclass(frozen=True)
class _Pen:
    """How words are set: the fonts, and for Arabic the shaping and the right-to-left alignment."""

    font: str
    bold: str
    rtl: bool = False

    def shape(self, text: str) -> str:
        """The text as drawn (Arabic: joined letters in display order)."""
        return arabic.visual(text) if self.rtl else text

    def split(self, text: str, font: str, size: float, width: float) -> list[str]:
        """Lines of `text` fitting `width`, in logical order (Arabic: each French run whole on its line)."""
        if not self.rtl:
            return simpleSplit(text, font, size, width)
        return _balanced(arabic.wrap(_held(text), font, size, width))

    def line(self, c: Canvas, x: float, y: float, width: float, text: str, font: str, size: float) -> None:
        """One line in the box [x, x + width]: from its left edge, or from its right edge in Arabic."""
        c.setFont(font, size)
        if self.rtl:
            c.drawRightString(x + width, y, self.shape(text))
        else:
            c.drawString(x, y, text)


_LATIN_RUN = re.compile(f"{l10n.LRM}([^{l10n.LRM}]{{1,44}}){l10n.LRM}")


def _held(text: str) -> str:
    """Short French runs (a name, a code, an act, held by l10n.embed's marks) with no-break spaces: never split."""
    return _LATIN_RUN.sub(lambda run: l10n.LRM + run[1].replace(" ", l10n.NBSP) + l10n.LRM, text)


def _balanced(lines: list[str]) -> list[str]:
    """Lines whose left-to-right runs are closed on each line: a run cut by the wrap ends with its line and opens
    again on the next, so its brackets and « n° » stay with it (each line is ordered on its own)."""
    out, inside = [], False
    for line in lines:
        text = (l10n.RLM + l10n.LRM if inside else "") + line
        inside = text.count(l10n.LRM) % 2 == 1
        out.append(text + (l10n.LRM + l10n.RLM if inside else ""))
    return out


def _pen(m: PrintedMap) -> _Pen:
    """Arabic: the notes' embedded Arabic font, right to left; French: DejaVu Sans when the system has it."""
    if m.lang == "ar":
        if m.fonts is None:
            raise arabic.FontMissing("impression en arabe : police arabe non configurée")
        return _Pen(*arabic.register(m.fonts), rtl=True)
    return _Pen(*_fonts())


def _fonts() -> tuple[str, str]:
    """DejaVu Sans when the system has it (every accented letter, ², ≈), else Helvetica."""
    if all(p.exists() for p in FONT_FILES):
        if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont("DejaVuSans", str(FONT_FILES[0])))
            pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(FONT_FILES[1])))
        return "DejaVuSans", "DejaVuSans-Bold"
    return "Helvetica", "Helvetica-Bold"


def _colour(text: object) -> colors.Color:
    """A legend swatch's colour: #rgb or #rrggbb, anything else grey (reportlab's toColor may answer a list)."""
    if isinstance(text, str) and COLOUR.fullmatch(text):
        return colors.HexColor(text if len(text) == 7 else "#" + "".join(ch * 2 for ch in text[1:]))
    return colors.grey


def scale_bar_m(ground_width_m: float) -> float:
    """A round length (1, 2 or 5 × 10ⁿ m) about a fifth of the width shown (a finite, positive width)."""
    if not (isinstance(ground_width_m, int | float) and math.isfinite(ground_width_m) and ground_width_m > 0):
        raise ValueError(f"largeur au sol finie et positive attendue (reçu {ground_width_m!r})")
    return _nice(ground_width_m / 5)


def north_angle(bearing_deg: float) -> float:
    """The map's bearing (degrees, any finite value) reduced to [0, 360): the north arrow turns by it."""
    if not (isinstance(bearing_deg, int | float) and math.isfinite(bearing_deg)):
        raise ValueError(f"orientation finie attendue (reçu {bearing_deg!r})")
    return float(bearing_deg) % 360.0


def _scale_and_north(c: Canvas, m: PrintedMap, box: tuple[float, float, float, float], font: str, bold: str) -> None:
    """The scale bar (bottom left of the map) and the north arrow (top right), on white plates."""
    x, y, w, h = box
    metres_per_pt = m.ground_width_m / w
    bar_m = scale_bar_m(m.ground_width_m)
    bar_pt = bar_m / metres_per_pt
    c.setFillColor(colors.white)
    c.rect(x + 6, y + 6, bar_pt + 70, 26, stroke=0, fill=1)
    c.setFillColor(colors.black)
    half = bar_pt / 2
    c.rect(x + 12, y + 12, half, 5, stroke=1, fill=1)
    c.setFillColor(colors.white)
    c.rect(x + 12 + half, y + 12, half, 5, stroke=1, fill=1)
    c.setFillColor(colors.black)
    c.setFont(font, 7)
    c.drawString(x + 12, y + 21, "0")
    c.drawString(x + 12 + bar_pt - 4, y + 21, l10n.length(bar_m, m.lang, 0))
    denominator = m.ground_width_m / (w / 72 * 0.0254)
    c.drawString(x + 18 + bar_pt, y + 12, f"1:{l10n.number(round(denominator, -1), m.lang, 0)}")
    # north arrow: MapLibre's north is true north; the view may be rotated by its bearing
    cx, cy = x + w - 24, y + h - 30
    c.setFillColor(colors.white)
    c.circle(cx, cy, 17, stroke=0, fill=1)
    c.saveState()
    c.translate(cx, cy)
    c.rotate(north_angle(m.bearing_deg))
    c.setFillColor(colors.black)
    path = c.beginPath()
    path.moveTo(0, 12)
    path.lineTo(-6, -9)
    path.lineTo(0, -4)
    path.lineTo(6, -9)
    path.close()
    c.drawPath(path, stroke=0, fill=1)
    c.setFont(bold, 8)
    c.drawCentredString(0, -16 + 1, "N")
    c.restoreState()


def _legend(c: Canvas, m: PrintedMap, x: float, top: float, width: float, pen: _Pen) -> float:
    """The legend of the visible layers, in columns (from the right in Arabic); the y where it ends."""
    c.setFillColor(colors.black)
    pen.line(c, x, top, width, m.labels.get("legend", "Légende"), pen.bold, 9)
    columns = max(1, int(width // (60 * mm)))
    col_w = width / columns
    y = top - 13
    for i, entry in enumerate(m.legend[:24]):
        column = i % columns
        cx = x + (columns - 1 - column) * col_w + col_w - 12 if pen.rtl else x + column * col_w
        cy = y - (i // columns) * 11
        colour = _colour(entry.colour)
        if entry.kind == "line":
            c.setStrokeColor(colour)
            c.setLineWidth(2)
            c.line(cx, cy + 3, cx + 12, cy + 3)
            c.setLineWidth(1)
        elif entry.kind == "circle":
            c.setFillColor(colour)
            c.circle(cx + 6, cy + 3, 3, stroke=0, fill=1)
        else:
            c.setFillColor(colour)
            c.setStrokeColor(colors.HexColor("#555555"))
            c.rect(cx, cy, 12, 7, stroke=1, fill=1)
        c.setFillColor(colors.black)
        label_x = cx - col_w + 12 if pen.rtl else cx + 16
        pen.line(c, label_x, cy + 0.5, col_w - 16, entry.label[:60], pen.font, 7.5)
    rows = math.ceil(min(len(m.legend), 24) / columns) if m.legend else 0
    return y - rows * 11 - 4


def _paragraph(c: Canvas, pen: _Pen, text: str, x: float, y: float, width: float, size: float) -> float:
    for line in pen.split(text, pen.font, size, width):
        pen.line(c, x, y, width, line, pen.font, size)
        y -= size * 1.3
    return y


def print_citation(plan: dict, lang: str) -> str:
    """A plan shown in the view (layers/map_print.plans_in_view), cited as the indicative note cites it."""
    status = plan.get("status_on") or plan.get("status")
    return plan_citation({**plan, "status": status, "status_label": vocab.label("status", status, "fr")}, lang)


def facts(m: PrintedMap) -> list[str]:
    """The lines that say what is shown: each plan cited as the note cites it, with the date of its status."""
    lang = m.lang
    out = []
    for p in m.plans:
        since = ""
        if p.get("status_since"):
            day = l10n.embed(l10n.long_date(p["status_since"], lang), lang)
            since = f"{_SEPARATOR[lang]}{m.labels.get('since', 'depuis le')} {day}"
        out.append(print_citation(p, lang) + since)
    if not m.plans:
        out.append(m.labels.get("no_plan", "Aucun plan d'aménagement dans cette vue à cette date."))
    return out


def _footer_height(m: PrintedMap, pen: _Pen, left_w: float, right_w: float, width: float) -> float:
    """The height below the map: the taller of the legend and the plans/dates column, then the disclaimer."""
    def lines(text: str, size: float, w: float) -> int:
        return len(pen.split(text, pen.font, size, w))

    columns = max(1, int(left_w // (60 * mm)))
    legend_h = 13 + math.ceil(min(len(m.legend), 24) / columns) * 11 + 4
    right_h = 12 + sum(lines(line, 7.5, right_w) for line in facts(m)) * 7.5 * 1.3 + 16 + 7.5 * 1.3 + 8
    disclaimer_h = lines(m.labels.get("disclaimer", DISCLAIMER), 7, width) * 7 * 1.3
    return 14 + max(legend_h, right_h) + 6 + disclaimer_h + 14


def _plans_column(c: Canvas, m: PrintedMap, x: float, top: float, width: float, pen: _Pen) -> float:
    """The plans shown and the date of the data; the y where it ends."""
    c.setFillColor(colors.black)
    pen.line(c, x, top, width, m.labels.get("plans", "Plans affichés"), pen.bold, 9)
    y = top - 12
    for line in facts(m):
        y = _paragraph(c, pen, line, x, y, width, 7.5)
    pen.line(c, x, y - 4, width, m.labels.get("data", "Date des données"), pen.bold, 9)
    y -= 16
    latest = max(m.data_dates.values(), default=None)
    if latest is not None:
        y = _paragraph(c, pen, f"{m.labels.get('data_of', 'Données du')} {l10n.long_datetime(latest, m.lang)}", x, y,
                       width, 7.5)
    return y


def pdf(m: PrintedMap) -> bytes:
    """The PDF page of the printed map (French, or Arabic set right to left)."""
    pen = _pen(m)
    size = ORIENTATIONS[m.orientation](PAPERS[m.paper])
    page_w, page_h = size
    buffer = io.BytesIO()
    c = Canvas(buffer, pagesize=size, pageCompression=1)
    c.setTitle(m.labels.get("title", "Extrait de carte"))
    c.setAuthor("urbasig")
    issued = m.issued_at or datetime.now().replace(microsecond=0)
    as_of = m.as_of or issued.date()
    top = page_h - MARGIN
    width = page_w - 2 * MARGIN
    pen.line(c, MARGIN, top - 12, width, m.labels.get("title", "Extrait de carte"), pen.bold, 14)
    c.setFillColor(colors.HexColor("#444444"))
    pen.line(c, MARGIN, top - 25, width, f"{m.labels.get('as_of', 'Plans en vigueur au')} "
             f"{l10n.long_date(as_of, m.lang)} · {m.labels.get('printed', 'imprimé le')} "
             f"{l10n.long_datetime(issued, m.lang)}", pen.font, 8.5)
    reader = ImageReader(io.BytesIO(m.image))
    iw, ih = reader.getSize()
    legend_w, plans_w = width * 0.55, width * 0.42
    legend_x, plans_x = (MARGIN + width - legend_w, MARGIN) if pen.rtl else (MARGIN, MARGIN + width * 0.58)
    avail_h = top - 32 - MARGIN - _footer_height(m, pen, legend_w, plans_w, width)
    scale = min(width / iw, avail_h / ih)
    w, h = iw * scale, ih * scale
    x, y = MARGIN + (width - w) / 2, top - 32 - h
    c.drawImage(reader, x, y, w, h)
    c.setStrokeColor(colors.HexColor("#333333"))
    c.rect(x, y, w, h, stroke=1, fill=0)
    _scale_and_north(c, m, (x, y, w, h), pen.font, pen.bold)
    below = _legend(c, m, legend_x, y - 14, legend_w, pen)
    ry = _plans_column(c, m, plans_x, y - 14, plans_w, pen)
    c.setFillColor(colors.HexColor("#b2182b"))
    _paragraph(c, pen, m.labels.get("disclaimer", DISCLAIMER), MARGIN, min(below, ry) - 6, width, 7)
    c.setFillColor(colors.HexColor("#666666"))
    pen.line(c, MARGIN, MARGIN, width, m.labels.get("crs", "Mesures en EPSG:26191 (Merchich / Nord Maroc) ; fond : "
                                                           "couches d'urbasig, sans fond de carte externe."),
             pen.font, 6.5)
    c.showPage()
    c.save()
    return buffer.getvalue()
