"""The indicative note: free, instant, anonymous, clearly not binding. PDF (reportlab) or HTML.

Built from the instruction result only (the same JSON the official note will store and sign), plus the
map extract drawn on the server.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from xml.sax.saxutils import escape

import psycopg
import shapely
from reportlab.graphics import renderSVG
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from gis import l10n
from instruction.engine import Options, instruct
from instruction.land import LandRequest
from instruction.summary import plan_citation, plan_line, summary_lines
from layers.map_extract import map_layers
from notes import arabic
from notes.arabic import FontFiles, RtlParagraph
from notes.envelope import envelope_drawing, envelope_lines, with_envelope
from notes.envelope import phrase as envelope_phrase
from notes.mapdraw import Lettering, draw_map, frame_around
from notes.texts import text

DISCLAIMER = text("disclaimer", "fr")
LEGAL = text("legal", "fr")


@dataclass
class IndicativeNote:
    """What the note shows: the result, its map extract (for the PDF, and for the page), when and in which language."""

    result: dict
    drawing: Drawing
    issued_at: datetime  # aware (UTC); read on the agency's clock (gis/l10n.py)
    lang: str = "fr"
    fonts: FontFiles | None = None  # where the Arabic font comes from (lang "ar")
    page_drawing: Drawing | None = None  # the map for the HTML page when it differs (Arabic: the browser shapes)


def fonts_from_settings(settings: object) -> FontFiles:
    """The Arabic font's source named by the settings (URBASIG_PDF_ARABIC_FONT…, else node_modules/)."""
    def path(value: str) -> Path | None:
        return Path(value) if value else None

    return FontFiles(Path(settings.node_modules), path(getattr(settings, "pdf_arabic_font", "")),
                     path(getattr(settings, "pdf_arabic_font_bold", "")), Path(settings.var_dir) / "fonts")


def _map_parts(conn: psycopg.Connection, result: dict) -> tuple:
    """The land, the layers around it (clipped to the frame) and the frame of the map extract."""
    geom = shapely.geometry.shape(result["land"]["geometry"])
    frame = frame_around(geom, (480 - 130) / 300)
    plans = [p["code"] for p in result["plans"]["applied"]]
    rows = map_layers(conn, frame, plans)
    layers = [(r["layer"], r["code"], shapely.from_wkb(r["wkb"])) for r in rows if r["wkb"]]
    return geom, layers, frame


def map_for(conn: psycopg.Connection, result: dict, letters: Lettering | None = None) -> Drawing:
    """The map extract of an instruction result made with geometries."""
    geom, layers, frame = _map_parts(conn, result)
    return draw_map(geom, layers, frame, letters=letters)


def build(conn: psycopg.Connection, land: LandRequest, day: date | None, options: Options, lang: str = "fr",
          fonts: FontFiles | None = None) -> IndicativeNote:
    """Instruct the land, compute its envelope, draw its map extract (in Arabic: for the PDF, shaped; for the
    page, as text)."""
    l10n.check_lang(lang)
    result = with_envelope(conn, instruct(conn, land, day, replace(options, with_geometry=True)), options)
    issued = datetime.now(UTC).replace(microsecond=0)
    if lang == "fr":
        return IndicativeNote(result, map_for(conn, result), issued)
    regular, bold = arabic.register(fonts or FontFiles(Path.cwd() / "node_modules"))
    geom, layers, frame = _map_parts(conn, result)
    for_pdf = draw_map(geom, layers, frame, letters=Lettering("ar", regular, bold, arabic.visual))
    for_page = draw_map(geom, layers, frame, letters=Lettering("ar", regular, bold))
    return IndicativeNote(result, for_pdf, issued, lang, fonts, for_page)


def _styles(lang: str = "fr", fonts: tuple[str, str] | None = None) -> dict[str, ParagraphStyle]:
    """The note's paragraph styles; in Arabic, the Arabic font (regular, bold) everywhere and right-aligned."""
    base = getSampleStyleSheet()
    styles = {
        "title": ParagraphStyle("title", parent=base["Title"], fontSize=14, spaceAfter=2),
        "sub": ParagraphStyle("sub", parent=base["Normal"], fontSize=9, textColor=colors.HexColor("#555555")),
        "banner": ParagraphStyle("banner", parent=base["Normal"], fontSize=8.5, textColor=colors.white,
                                 backColor=colors.HexColor("#b2182b"), borderPadding=4, leading=11),
        "h": ParagraphStyle("h", parent=base["Heading3"], fontSize=10, spaceBefore=6, spaceAfter=2),
        "p": ParagraphStyle("p", parent=base["Normal"], fontSize=8.5, leading=10.5),
        "b": ParagraphStyle("b", parent=base["Normal"], fontSize=8.5, leading=10.5, fontName="Helvetica-Bold"),
        "small": ParagraphStyle("small", parent=base["Normal"], fontSize=7, leading=8.5,
                                textColor=colors.HexColor("#555555")),
    }
    if lang == "ar" and fonts:
        regular, bold = fonts
        for name, style in styles.items():
            style.fontName = bold if name in ("title", "h", "b") else regular
            style.alignment = TA_RIGHT
    return styles


class _Writer:
    """Paragraphs of the note in its language: reportlab's in French, right-to-left ones (notes/arabic.py) in Arabic."""

    def __init__(self, lang: str, fonts: FontFiles | None):
        self.lang = lang
        self.rtl = lang == "ar"
        self.fonts = arabic.register(fonts or FontFiles(Path.cwd() / "node_modules")) if self.rtl else \
            ("Helvetica", "Helvetica-Bold")
        self.s = _styles(lang, self.fonts)

    def t(self, key: str, **values: object) -> str:
        """The note's word `key` in this language."""
        return text(key, self.lang, **values)

    def para(self, value: str, style: str = "p", indent: float = 0) -> Flowable:
        """A paragraph of plain text (escaped here) in the note's style `style`."""
        st = self.s[style]
        if not self.rtl:
            return Paragraph(escape(value), ParagraphStyle(f"{style}-i", parent=st, leftIndent=indent) if indent else st)
        background = st.backColor
        out = RtlParagraph(value, st.fontName, st.fontSize, st.leading, indent=indent, color=st.textColor,
                           background=background, padding=4 if background else 0,
                           align="center" if style == "title" else "right")
        out.spaceBefore, out.spaceAfter = st.spaceBefore, st.spaceAfter
        return out

    def cell(self, value: str) -> str:
        """A short table cell (a number, a code) ready to draw."""
        return arabic.visual(value) if self.rtl else value

    def row(self, cells: list) -> list:
        """A table row in reading order: mirrored in Arabic (the first column on the right)."""
        return list(reversed(cells)) if self.rtl else cells

    def widths(self, widths: list[float]) -> list[float]:
        """Column widths in the row's order."""
        return list(reversed(widths)) if self.rtl else widths


def _header(w: _Writer, note: IndicativeNote, official: dict | None) -> list:
    r = note.result
    day = l10n.long_date(date.fromisoformat(r["date"]), w.lang)
    issued = l10n.long_datetime(note.issued_at, w.lang)
    if official:
        sub = w.t("official_issued", requested=l10n.long_date(official["requested_on"], w.lang),
                  issued=l10n.long_date(l10n.local(note.issued_at).date(), w.lang), day=day)
        return [w.para(w.t("official_title", number=official["number"]), "title"),
                w.para(f"{w.t('agency')} · {sub}", "sub"), Spacer(1, 4), _qr_block(official, w.s), Spacer(1, 6)]
    return [w.para(w.t("title"), "title"), w.para(f"{w.t('agency')} · {w.t('issued', moment=issued, day=day)}", "sub"),
            Spacer(1, 4), w.para(w.t("disclaimer"), "banner"), Spacer(1, 6)]


def _identification(w: _Writer, r: dict, official: dict | None) -> Table:
    land = r["land"]
    refs = ", ".join(land["refs"]) or w.t("by_geometry")
    ident = ([[w.t("applicant"), f"{official['applicant']} ({official['standing']})"]] if official else []) + [
        [w.t("land"), refs], [w.t("commune"), ", ".join(c["name"] for c in land["communes"]) or "—"],
        [w.t("area"), l10n.area(land["area_m2"], w.lang)],
        [w.t("legal_area"), l10n.area(land["legal_area_m2"], w.lang) if land["legal_area_m2"] else "—"]]
    for plan in r["plans"]["applied"]:
        ident.append([w.t("plan"), plan_citation(plan, w.lang)])
    if not r["plans"]["applied"]:
        ident.append([w.t("plan"), w.t("no_plan")])
    table = Table([w.row([w.para(a, "b"), w.para(b)]) for a, b in ident], colWidths=w.widths([42 * mm, 136 * mm]))
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#bbbbbb")),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


def _zoning(w: _Writer, r: dict) -> list:
    if not r["rules"]:
        return []
    rows = [w.row([w.cell(w.t("col_zone")), w.cell(w.t("col_sector")), w.cell(w.t("col_label")), "m²", "%", ""])]
    for rule in r["rules"]:
        z = rule["zone"]
        rows.append(w.row([w.cell(z["code"]), w.cell(z["sector"] or ""), w.para(z["label"] or ""),
                           l10n.number(rule["area_m2"], w.lang), l10n.number(rule["share_pct"], w.lang),
                           w.cell(w.t("marginal")) if rule["marginal"] else ""]))
    zt = Table(rows, colWidths=w.widths([16 * mm, 18 * mm, 80 * mm, 24 * mm, 16 * mm, 24 * mm]), repeatRows=1)
    numbers = (1, 2) if w.rtl else (3, 4)
    arabic_cells = [("FONTNAME", (0, 0), (-1, -1), w.fonts[0]), ("FONTNAME", (0, 0), (-1, 0), w.fonts[1]),
                    ("ALIGN", (0, 0), (-1, -1), "RIGHT")] if w.rtl else []
    zt.setStyle(TableStyle([("FONTSIZE", (0, 0), (-1, -1), 8),
                            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                            ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#bbbbbb")),
                            ("ALIGN", (numbers[0], 1), (numbers[1], -1), "RIGHT"), *arabic_cells]))
    return [w.para(w.t("zoning"), "h"), zt]


def _synthesis(w: _Writer, r: dict) -> list:
    story = [w.para(w.t("summary"), "h")]
    cited = {plan_line(p, w.lang) for p in r["plans"]["applied"]}  # already in the identification table
    for line in summary_lines(r, w.lang)[2:]:
        if line in cited:
            continue
        indent = len(line) - len(line.lstrip())
        story.append(w.para(line.strip(), indent=indent * 3))
    return story


def _envelope(w: _Writer, r: dict) -> list:
    """The envelope's section: its drawing and its lines (none for a result stored without an envelope)."""
    lines = envelope_lines(r, w.lang)
    if not lines:
        return []
    letters = Lettering("ar", *w.fonts, arabic.visual) if w.rtl else None
    story: list = [w.para(envelope_phrase("heading", w.lang), "h"), envelope_drawing(r, letters), Spacer(1, 3)]
    for line in lines[:-1]:
        indent = len(line) - len(line.lstrip())
        story.append(w.para(line.strip(), indent=indent * 3))
    return [*story, w.para(lines[-1], "small")]  # the mention that it is indicative


def _partner_feature(feature: dict, lang: str) -> str:
    if feature.get("length_m"):
        where = text("partner_feature_line", lang, length=l10n.number(feature["length_m"], lang))
    elif feature["area_m2"]:
        where = text("partner_feature", lang, share=l10n.number(feature["share_pct"], lang),
                     area=l10n.number(feature["area_m2"], lang))
    else:
        where = text("partner_feature_point", lang)
    values = [f"{a['label']} : {a['value']}" for a in feature["attributes"] if a["value"] not in (None, "")]
    return " ; ".join([where, *values])


def partner_lines(r: dict, lang: str = "fr") -> list[tuple[str, list[str]]]:
    """« Informations des partenaires » (PDF and page): per partner information layer crossing the land, its line
    (label, source, layer and version) and one line per feature; empty for a result without them."""
    return [(text("partner_layer", lang, label=entry["label"][lang], source=entry["source"], layer=entry["layer"],
                  version=entry["version"], n=len(entry["features"])),
             [_partner_feature(f, lang) for f in entry["features"]]) for entry in r.get("partners", [])]


def _partners(w: _Writer, r: dict) -> list:
    """The PDF's section of the partner information layers (none for a result without them)."""
    lines = partner_lines(r, w.lang)
    if not lines:
        return []
    story: list = [w.para(w.t("partners"), "h")]
    for head, features in lines:
        story += [w.para(head, "b"), *(w.para(f, indent=8) for f in features)]
    return [*story, w.para(w.t("partner_note"), "small")]


def pdf(note: IndicativeNote, official: dict | None = None) -> bytes:
    """The note as an A4 PDF, in the note's language: indicative, or official with its number, applicant and code."""
    r = note.result
    w = _Writer(note.lang, note.fonts)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=16 * mm, rightMargin=16 * mm, topMargin=14 * mm,
                            bottomMargin=14 * mm, title=w.t("doc_title"), author="urbasig",
                            subject=", ".join(r["land"]["refs"]) or "terrain", lang=note.lang)
    story = _header(w, note, official)
    story += [_identification(w, r, official), Spacer(1, 4), *_situation(r, w), Spacer(1, 4), note.drawing,
              Spacer(1, 4)]
    story += _zoning(w, r) + _synthesis(w, r) + _envelope(w, r) + _partners(w, r)
    extracts = [(rule["zone"], rule.get("text")) for rule in r["rules"] if rule.get("text") and not rule["marginal"]]
    if extracts:
        story.append(w.para(w.t("extract"), "h"))
        for zone, regulation in extracts:  # the regulation's own text, in the plan's language
            story.append(Paragraph(f"<b>{escape(text('extract_zone', 'fr', code=zone['code']))}</b> "
                                   f"({escape(zone['plan'] or '')}) : {escape(regulation)}",
                                   _styles()["p"] if w.rtl else w.s["p"]))
    prov = r["provenance"]
    stamp = _moment(prov["data_timestamp"], w.lang)
    story += [Spacer(1, 6), w.para(w.t("legal"), "small"),
              w.para(w.t("provenance", data=stamp, thresholds=prov["thresholds"]["version"], code=prov["code_version"]),
                     "small")]
    doc.build(story)
    return buffer.getvalue()


def _moment(stamp: str | None, lang: str) -> str:
    """A stored ISO timestamp (UTC) as a person reads it; one that is not ISO as stored."""
    if not stamp:
        return "—"
    try:
        return l10n.long_datetime(datetime.fromisoformat(stamp.replace("Z", "+00:00")), lang)
    except ValueError:
        return stamp


def _situation(r: dict, w: _Writer) -> list:
    """The layout's headline for the three situations: plan in force, plan in public inquiry, SDAU only."""
    out = []
    for inquiry in r["inquiry"]:
        plan = inquiry["plan"]
        what = w.t("inquiry_changes") if inquiry["zoning_changed"] else w.t("inquiry_same")
        since = l10n.long_date(date.fromisoformat(plan["status_since"]), w.lang) if plan.get("status_since") else "—"
        body = w.t("inquiry_text", name=plan["name"], code=plan["code"], since=since, what=what)
        out.append(_box(w, w.t("inquiry"), body, "#fff3bf"))
    if not r["plans"]["applied"]:
        sdau = ", ".join(p["name"] for p in r["plans"]["sdau"]) or w.t("none")
        out.append(_box(w, w.t("sdau_only"), w.t("sdau_text", sdau=sdau), "#e7f0fa"))
    return out


def _box(w: _Writer, head: str, body: str, background: str) -> Flowable:
    """A coloured box: a bold headline, then its text."""
    if w.rtl:
        return RtlParagraph(f"{head}: {body}", w.fonts[1], 8.5, 11, background=colors.HexColor(background), padding=4)
    style = ParagraphStyle("box", parent=w.s["p"], borderPadding=4, leading=11, backColor=colors.HexColor(background))
    return Paragraph(f"<b>{escape(head)}</b> : {escape(body)}", style)


def _qr_block(official: dict, s: dict) -> Table:
    """The verification block: QR code to the public page, short code, signature notice."""
    from reportlab.graphics.barcode.qr import QrCodeWidget

    url = official["verify_url"]
    widget = QrCodeWidget(url)
    x0, y0, x1, y1 = widget.getBounds()
    size = 26 * mm
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    notice = Paragraph(f"<b>{escape(text('signed_notice'))}</b> "
                       + escape(text("verify_at", url=url, code=official["short_code"])), s["p"])
    block = Table([[drawing, notice]], colWidths=[30 * mm, 148 * mm])
    block.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                               ("BOX", (0, 0), (-1, -1), 0.5, colors.HexColor("#1b7837"))]))
    return block


def svg(note: IndicativeNote) -> str:
    """The map extract as inline SVG (for the HTML note)."""
    drawn = renderSVG.drawToString(note.page_drawing or note.drawing)
    return drawn[drawn.index("<svg"):]


def envelope_svg(note: IndicativeNote) -> str | None:
    """The envelope's drawing as SVG (for the HTML note; in Arabic the browser shapes); None without an envelope."""
    letters = None
    if note.lang == "ar":
        regular, bold = arabic.register(note.fonts or FontFiles(Path.cwd() / "node_modules"))
        letters = Lettering("ar", regular, bold)
    drawing = envelope_drawing(note.result, letters)
    if drawing is None:
        return None
    drawn = renderSVG.drawToString(drawing)
    return drawn[drawn.index("<svg"):]
