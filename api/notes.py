"""Public notes: GET /notes/indicative (PDF or HTML), rate-limited per client."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, current_app, render_template, request

from api.db import get_db, keep_writes
from api.i18n import current_lang
from gis.dates import read_day
from gis.errors import Forbidden, InputError
from instruction.engine import Options
from instruction.land import LandRequest
from layers import usage
from layers.db import interruptible
from layers.ratelimit import hit
from notes.envelope import envelope_lines
from notes.envelope import phrase as envelope_phrase
from notes.indicative import build, envelope_svg, fonts_from_settings, pdf, svg
from notes.texts import text

notes = Blueprint("notes", __name__, url_prefix="/notes")


def land_from_args(args: dict[str, str]) -> LandRequest:
    """`land=TF 3875/C` (several separated by « ; »), or `lon` and `lat` (WGS 84)."""
    if args.get("land"):
        refs = tuple(r.strip() for r in args["land"].split(";") if r.strip())
        return LandRequest(refs=refs)
    if args.get("lon") and args.get("lat"):
        try:
            return LandRequest(point=(float(args["lon"]), float(args["lat"])))
        except ValueError:
            raise InputError("lon et lat doivent être des nombres (degrés WGS 84)") from None
    raise InputError("indiquez le terrain : land=« TF 3875/C » ou lon=…&lat=…")


# The first line of the callback's answer (for the gateway's log and its capture), then the French words.
CALLBACK_ANSWERS = {"payee": "ACTION=POSTAUTH", "refusee": "ACTION=NONE;REFUS_ENREGISTRE",
                    "deja_traite": "ACTION=NONE;DEJA_TRAITE", "deja_payee": "ACTION=NONE;DEJA_PAYEE"}
BROWSER_HEADERS = ("Origin", "Cookie", "Sec-Fetch-Mode", "Sec-Fetch-Site")


def gateway_form() -> dict[str, str]:
    """The fields of a callback as the gateway sends it: a form posted server to server, each field once."""
    if request.mimetype != "application/x-www-form-urlencoded" or request.args:
        raise InputError("un rappel de paiement est un formulaire application/x-www-form-urlencoded, sans paramètre "
                         "dans l'adresse")
    if any(h in request.headers for h in BROWSER_HEADERS):
        raise Forbidden("un rappel de paiement vient de la passerelle, de serveur à serveur, jamais d'un navigateur")
    fields = request.form.to_dict(flat=False)
    repeated = sorted(k for k, v in fields.items() if len(v) != 1)
    if repeated:
        raise InputError(f"rappel de paiement : champ(s) répété(s) : {', '.join(repeated)}")
    return {k: v[0] for k, v in fields.items()}


@notes.post("/payments/callback")
def payment_callback() -> Response:
    """Server-to-server callback of the payment gateway: signed, checked, each transaction applied once."""
    from layers.payments import OUTCOMES
    from notes.official import receive_callback

    settings = current_app.config["URBASIG"]
    outcome = receive_callback(get_db(), gateway_form(), settings.payment_secret,
                               Options.from_settings(settings), keep_writes)
    return Response(f"{CALLBACK_ANSWERS[outcome]}\n{OUTCOMES[outcome]}\n", mimetype="text/plain")


def svg_base64(note, draw=svg) -> str | None:
    """A drawing of the note (the map extract by default) as a base64 SVG image: its inline styles stay inside
    the image, out of the page's CSP; None when there is nothing to draw."""
    import base64

    with interruptible():
        drawing = draw(note)
    return None if drawing is None else base64.b64encode(drawing.encode()).decode()


def _query(args: dict[str, str], **changes: str) -> str:
    """The note's query string with some parameters changed (the PDF link, the other language's link)."""
    from urllib.parse import urlencode

    return urlencode({**args, **changes})


@notes.get("/indicative")
def indicative() -> Response:
    """The free, instant, non-binding note for a land."""
    args = request.args.to_dict()
    fmt = args.get("format", "pdf")
    if fmt not in ("pdf", "html"):
        raise InputError("format : pdf ou html")
    land = land_from_args(args)
    day = None
    if args.get("date"):
        day = read_day(args["date"])
    settings = current_app.config["URBASIG"]
    conn = get_db()
    hit(conn, "indicative", request.remote_addr or "inconnu", settings.indicative_per_minute, what="notes indicatives")
    lang = current_lang()  # ?lang=ar, the cookie, Accept-Language, else French
    with interruptible():  # the instruction's geometry (its statements are never interrupted)
        note = build(conn, land, day, Options.from_settings(settings), lang, fonts_from_settings(settings))
    usage.count(conn, "indicative")  # the dashboard's indicative notes per day (a number, not who asked)
    name = "note-indicative-" + ("-".join(note.result["land"]["refs"]) or "terrain").replace(" ", "").replace("/", "-")
    if lang != "fr":
        name += f"-{lang}"
    if fmt == "html":
        from instruction.summary import plan_citation, summary_lines
        from notes.indicative import partner_lines

        other = "fr" if lang == "ar" else "ar"
        return Response(render_template(
            "notes/indicative.html", r=note.result, map_svg_b64=svg_base64(note), summary=summary_lines(note.result, lang),
            nt=lambda key, **values: text(key, lang, **values), cite=lambda plan: plan_citation(plan, lang),
            issued_at=note.issued_at, envelope={"heading": envelope_phrase("heading", lang),
                                                "lines": envelope_lines(note.result, lang),
                                                "svg_b64": svg_base64(note, envelope_svg)},
            partners=partner_lines(note.result, lang),
            day=date.fromisoformat(note.result["date"]), pdf_query=_query(args, format="pdf"),
            other_query=_query(args, lang=other)))
    with interruptible():
        document = pdf(note)
    return Response(document, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}.pdf"', "Cache-Control": "no-store"})
