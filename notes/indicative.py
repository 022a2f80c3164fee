"""The indicative note: free, instant, anonymous, clearly not binding. PDF (reportlab) or HTML.

Built from the instruction result only (the same JSON the official note will store and sign), plus the
map extract drawn on the server.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from datetime import date, datetime
from xml.sax.saxutils import escape

import psycopg
import shapely
from reportlab.graphics import renderSVG
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from instruction.engine import Options, instruct
from instruction.land import LandRequest
from instruction.summary import summary_text
from layers.map_extract import map_layers
from notes.mapdraw import draw_map, frame_around

DISCLAIMER = ("Document indicatif, établi automatiquement à partir des données disponibles : il n'a aucune valeur "
              "juridique et n'est pas opposable. Seule la note de renseignements officielle, signée par l'Agence "
              "urbaine, fait foi. Il ne vaut ni autorisation de construire, ni de lotir.")
LEGAL = ("Renseignements donnés au vu des documents d'urbanisme enregistrés à la date indiquée (loi 12-90 relative "
         "à l'urbanisme, loi 25-90 relative aux lotissements, règlement général de construction, décret "
         "2.18.577 de 2019). Les servitudes non cartographiées ne sont pas reprises.")


@dataclass
class IndicativeNote:
    """What the note shows."""

    result: dict
    drawing: Drawing
    issued_at: datetime


def map_for(conn: psycopg.Connection, result: dict) -> Drawing:
    """The map extract of an instruction result made with geometries."""
    geom = shapely.geometry.shape(result["land"]["geometry"])
    frame = frame_around(geom, (480 - 130) / 300)
    plans = [p["code"] for p in result["plans"]["applied"]]
    rows = map_layers(conn, frame, plans)
    layers = [(r["layer"], r["code"], shapely.from_wkb(r["wkb"])) for r in rows if r["wkb"]]
    return draw_map(geom, layers, frame)


def build(conn: psycopg.Connection, land: LandRequest, day: date | None, options: Options) -> IndicativeNote:
    """Instruct the land and draw its map extract."""
    result = instruct(conn, land, day, replace(options, with_geometry=True))
    return IndicativeNote(result, map_for(conn, result), datetime.now().replace(microsecond=0))


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("title", parent=base["Title"], fontSize=14, spaceAfter=2),
        "sub": ParagraphStyle("sub", parent=base["Normal"], fontSize=9, textColor=colors.HexColor("#555555")),
        "banner": ParagraphStyle("banner", parent=base["Normal"], fontSize=8.5, textColor=colors.white,
                                 backColor=colors.HexColor("#b2182b"), borderPadding=4, leading=11),
        "h": ParagraphStyle("h", parent=base["Heading3"], fontSize=10, spaceBefore=6, spaceAfter=2),
        "p": ParagraphStyle("p", parent=base["Normal"], fontSize=8.5, leading=10.5),
        "small": ParagraphStyle("small", parent=base["Normal"], fontSize=7, leading=8.5,
                                textColor=colors.HexColor("#555555")),
    }


def _n(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}".replace(",", " ").replace(".", ",")


def pdf(note: IndicativeNote, official: dict | None = None) -> bytes:
    """The note as an A4 PDF: indicative, or official with its number, applicant and verification code."""
    r = note.result
    s = _styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=16 * mm, rightMargin=16 * mm, topMargin=14 * mm,
                            bottomMargin=14 * mm, title="Note de renseignements urbanistiques indicative",
                            author="urbasig", subject=", ".join(r["land"]["refs"]) or "terrain")
    land = r["land"]
    refs = ", ".join(land["refs"]) or "terrain désigné par sa géométrie"
    if official:
        story = [Paragraph(f"Note de renseignements urbanistiques n° {escape(official['number'])}", s["title"]),
                 Paragraph(f"Agence urbaine de Casablanca · demande du {official['requested_on']:%d/%m/%Y} · établie le "
                           f"{note.issued_at:%d/%m/%Y} · situation au {date.fromisoformat(r['date']):%d/%m/%Y}", s["sub"]),
                 Spacer(1, 4), _qr_block(official, s), Spacer(1, 6)]
    else:
        story = [
            Paragraph("Note de renseignements urbanistiques — INDICATIVE", s["title"]),
            Paragraph(f"Agence urbaine de Casablanca · établie le {note.issued_at:%d/%m/%Y à %H:%M} · situation au "
                      f"{date.fromisoformat(r['date']):%d/%m/%Y}", s["sub"]),
            Spacer(1, 4),
            Paragraph(escape(DISCLAIMER), s["banner"]),
            Spacer(1, 6),
        ]
    ident = ([["Demandeur", f"{official['applicant']} ({official['standing']})"]] if official else []) + [
        ["Terrain", refs], ["Commune", ", ".join(c["name"] for c in land["communes"]) or "—"],
             ["Superficie calculée", f"{_n(land['area_m2'])} m²"],
             ["Contenance du titre", f"{_n(land['legal_area_m2'])} m²" if land["legal_area_m2"] else "—"]]
    for plan in r["plans"]["applied"]:
        ident.append(["Document applicable", f"{plan['name']} ({plan['code']}), {plan['status_label']}"
                      + (f", {plan['approval_act']}" if plan.get("approval_act") else "")])
    if not r["plans"]["applied"]:
        ident.append(["Document applicable", "aucun plan d'aménagement en vigueur ici"])
    table = Table([[Paragraph(f"<b>{escape(a)}</b>", s["p"]), Paragraph(escape(b), s["p"])] for a, b in ident],
                  colWidths=[42 * mm, 136 * mm])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#bbbbbb")),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [table, Spacer(1, 4), *_situation(r, s), Spacer(1, 4), note.drawing, Spacer(1, 4)]
    if r["rules"]:
        rows = [["Zone", "Secteur", "Libellé", "m²", "%", ""]]
        for rule in r["rules"]:
            z = rule["zone"]
            rows.append([z["code"], z["sector"] or "", Paragraph(escape(z["label"] or ""), s["p"]),
                         _n(rule["area_m2"]), _n(rule["share_pct"]), "marginale" if rule["marginal"] else ""])
        zt = Table(rows, colWidths=[16 * mm, 18 * mm, 80 * mm, 24 * mm, 16 * mm, 24 * mm], repeatRows=1)
        zt.setStyle(TableStyle([("FONTSIZE", (0, 0), (-1, -1), 8), ("BACKGROUND", (0, 0), (-1, 0),
                                                                      colors.HexColor("#eeeeee")),
                                ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#bbbbbb")),
                                ("ALIGN", (3, 1), (4, -1), "RIGHT")]))
        story += [Paragraph("Zonage", s["h"]), zt]
    story.append(Paragraph("Synthèse", s["h"]))
    for line in summary_text(r).splitlines()[2:]:
        if line.startswith("Document applicable"):  # already in the identification table
            continue
        indent = len(line) - len(line.lstrip())
        story.append(Paragraph(escape(line.strip()), ParagraphStyle("l", parent=s["p"], leftIndent=indent * 3)))
    extracts = [(rule["zone"], rule.get("text")) for rule in r["rules"] if rule.get("text") and not rule["marginal"]]
    if extracts:
        story.append(Paragraph("Extrait du règlement", s["h"]))
        for zone, text in extracts:
            story.append(Paragraph(f"<b>Zone {escape(zone['code'])}</b> ({escape(zone['plan'] or '')}) : "
                                   f"{escape(text)}", s["p"]))
    story += [Spacer(1, 6), Paragraph(escape(LEGAL), s["small"]),
              Paragraph(escape(f"Données du {r['provenance']['data_timestamp']} · seuils v"
                               f"{r['provenance']['thresholds']['version']} · urbasig "
                               f"{r['provenance']['code_version']}"), s["small"])]
    doc.build(story)
    return buffer.getvalue()


def _situation(r: dict, s: dict) -> list:
    """The layout's headline for the three situations: plan in force, plan in public inquiry, SDAU only."""
    box = ParagraphStyle("box", parent=s["p"], borderPadding=4, leading=11)
    out = []
    for inquiry in r["inquiry"]:
        plan = inquiry["plan"]
        what = "modifierait le zonage de ce terrain" if inquiry["zoning_changed"] else "ne modifie pas le zonage ici"
        out.append(Paragraph(f"<b>Plan en enquête publique</b> : {escape(plan['name'])} ({escape(plan['code'])}), "
                             f"depuis le {escape(str(plan['status_since']))} ; il {what}.",
                             ParagraphStyle("inq", parent=box, backColor=colors.HexColor("#fff3bf"))))
    if not r["plans"]["applied"]:
        sdau = ", ".join(p["name"] for p in r["plans"]["sdau"]) or "aucun"
        out.append(Paragraph(f"<b>Aucun plan d'aménagement en vigueur</b> : seul le schéma directeur s'applique "
                             f"({escape(sdau)}) ; ses orientations ne sont pas opposables aux tiers.",
                             ParagraphStyle("sdau", parent=box, backColor=colors.HexColor("#e7f0fa"))))
    return out


def _qr_block(official: dict, s: dict) -> Table:
    """The verification block: QR code to the public page, short code, signature notice."""
    from reportlab.graphics.barcode.qr import QrCodeWidget

    url = official["verify_url"]
    widget = QrCodeWidget(url)
    x0, y0, x1, y1 = widget.getBounds()
    size = 26 * mm
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    text = Paragraph(f"<b>Note officielle signée électroniquement.</b> Vérifiez-la sur {escape(url)} "
                     f"ou avec le code <b>{escape(official['short_code'])}</b> sur la page de vérification.", s["p"])
    block = Table([[drawing, text]], colWidths=[30 * mm, 148 * mm])
    block.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                               ("BOX", (0, 0), (-1, -1), 0.5, colors.HexColor("#1b7837"))]))
    return block


def svg(note: IndicativeNote) -> str:
    """The map extract as inline SVG (for the HTML note)."""
    text = renderSVG.drawToString(note.drawing)
    return text[text.index("<svg"):]
