"""Public notes: GET /notes/indicative (PDF or HTML), rate-limited per client."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, current_app, render_template, request

from api.db import get_db
from gis.errors import InputError
from instruction.engine import Options
from instruction.land import LandRequest
from layers.ratelimit import hit
from notes.indicative import DISCLAIMER, build, pdf, svg

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


@notes.post("/payments/callback")
def payment_callback() -> Response:
    """Server-to-server callback of the payment gateway: signed, checked, applied once."""
    from layers.payments import apply_callback
    from notes.payment import verify

    secret = current_app.config["URBASIG"].payment_secret
    fields = request.form.to_dict()
    if not secret or not verify(fields, secret):
        return Response("signature invalide", status=403, mimetype="text/plain")
    settings = current_app.config["URBASIG"]
    conn = get_db()
    order, changed = apply_callback(conn, fields)
    if changed:  # a paid request is instructed at once
        from notes.official import on_payment

        on_payment(conn, order, Options(settings.max_land_area_m2, settings.apply_plans_in_inquiry))
    return Response("ACTION=POSTAUTH" if changed else "ACTION=POSTAUTH;DEJA_TRAITE", mimetype="text/plain")


def svg_base64(note) -> str:
    """The map extract as a base64 SVG image: its inline styles stay inside the image, out of the page's CSP."""
    import base64

    return base64.b64encode(svg(note).encode()).decode()


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
        try:
            day = date.fromisoformat(args["date"])
        except ValueError:
            raise InputError("date : AAAA-MM-JJ") from None
    settings = current_app.config["URBASIG"]
    conn = get_db()
    hit(conn, "indicative", request.remote_addr or "inconnu", settings.indicative_per_minute)
    note = build(conn, land, day, Options(settings.max_land_area_m2, settings.apply_plans_in_inquiry))
    name = "note-indicative-" + ("-".join(note.result["land"]["refs"]) or "terrain").replace(" ", "").replace("/", "-")
    if fmt == "html":
        from instruction.summary import summary_text

        return Response(render_template("notes/indicative.html", r=note.result, map_svg_b64=svg_base64(note),
                                        summary=summary_text(note.result).splitlines(), disclaimer=DISCLAIMER,
                                        issued_at=note.issued_at))
    return Response(pdf(note), mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}.pdf"', "Cache-Control": "no-store"})
