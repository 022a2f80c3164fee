"""The planner tools' endpoints: read a dropped file (/carte/fichier), print the map view (/carte/impression).

Thin: parse the multipart form, call layers/uploads.py or notes/map_print.py, answer. The overlay itself is
the instruction process (/ogc/processes/instruction/execution), called by the page.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime

from flask import Blueprint, Response, current_app, jsonify, request

from api.db import get_db
from api.i18n import catalogue
from gis.dates import read_day
from gis.errors import InputError, PayloadTooLarge
from layers.db import interruptible
from notes.texts import text as note_text

planner = Blueprint("planner", __name__)

MAX_IMAGE_PIXELS = 6000 * 6000  # an A3 at 200 dpi is ~3300 × 2300
MAX_LEGEND = 40
PRINT_LABELS = ("title", "legend", "as_of", "printed", "plans", "data", "data_of", "since", "no_plan", "crs")


def _client() -> str:
    return request.remote_addr or "inconnu"


def _throttle(scope: str) -> None:
    from layers.ratelimit import hit

    hit(get_db(), scope, _client(), current_app.config["URBASIG"].checks_per_minute)


@planner.post("/carte/fichier")
def dropped_file() -> Response:
    """Read a GeoJSON or zipped Shapefile sent as `fichier` (multipart): its polygons as one land, in CRS84 and 26191."""
    from layers.uploads import UploadLimits, read_upload

    upload = request.files.get("fichier")
    if upload is None:
        raise InputError("fichier attendu : envoyez-le dans le champ « fichier » d'un formulaire multipart")
    _throttle("fichier")
    settings = current_app.config["URBASIG"]
    data = upload.read(UploadLimits.max_bytes + 1)
    with interruptible():
        result = read_upload(data, upload.filename or "", UploadLimits(max_vertices=settings.max_vertices))
    return jsonify(result.to_json())


def _number(name: str, default: float | None = None) -> float:
    text = request.form.get(name)
    if text in (None, ""):
        if default is None:
            raise InputError(f"champ « {name} » manquant")
        return default
    try:
        return float(text)
    except ValueError:
        raise InputError(f"« {name} » : nombre attendu (reçu « {text[:40]} »)") from None


def _bbox() -> tuple[float, float, float, float]:
    parts = (request.form.get("bbox") or "").split(",")
    try:
        west, south, east, north = (float(p) for p in parts)
    except ValueError:
        raise InputError("« bbox » : ouest,sud,est,nord en degrés attendu") from None
    return west, south, east, north


def _choice(name: str, allowed: tuple[str, ...], default: str) -> str:
    value = request.form.get(name) or default
    if value not in allowed:
        raise InputError(f"« {name} » : {' ou '.join(allowed)} attendu (reçu « {value[:20]} »)")
    return value


def _legend(lang: str) -> list:
    """The visible layers sent by the page: [{source, colour, kind}], labelled here from the catalogue."""
    from notes.map_print import LegendEntry

    try:
        items = json.loads(request.form.get("legend") or "[]")
    except ValueError:
        raise InputError("« legend » : liste JSON attendue") from None
    if not isinstance(items, list) or len(items) > MAX_LEGEND:
        raise InputError(f"« legend » : liste de {MAX_LEGEND} couches au plus attendue")
    texts = catalogue()[lang]
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise InputError("« legend » : chaque couche est un objet {source, colour, kind}")
        source, colour, kind = (str(item.get(k) or "")[:60] for k in ("source", "colour", "kind"))
        label = texts.get(f"planner.layer.{source}", str(item.get("label") or source)[:60])
        out.append(LegendEntry(label, colour or "#888888", kind if kind in ("fill", "line", "circle") else "fill"))
    return out


def _image() -> bytes:
    """The map image (PNG or JPEG), checked to be one and of a bounded size before anything decodes it."""
    from PIL import Image, UnidentifiedImageError

    upload = request.files.get("image")
    if upload is None:
        raise InputError("image de la carte attendue dans le champ « image » (PNG ou JPEG)")
    data = upload.read()
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format not in ("PNG", "JPEG"):
                raise InputError(f"image de la carte : PNG ou JPEG attendu (reçu {img.format})")
            if img.width * img.height > MAX_IMAGE_PIXELS:
                raise PayloadTooLarge(f"image de {img.width} × {img.height} pixels : trop grande pour l'impression")
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError):
        raise InputError("image de la carte illisible : PNG ou JPEG attendu") from None
    return data


@planner.post("/carte/impression")
def print_view() -> Response:
    """The current view of the map as a PDF (A4/A3, portrait/landscape), with legend, scale, north, dates."""
    from gis.measure import view_polygon, view_width_m
    from instruction.vocabulary import STATUSES
    from layers.map_print import data_dates, plans_in_view
    from notes.indicative import fonts_from_settings
    from notes.map_print import PrintedMap, pdf

    image = _image()
    lang = _choice("lang", ("fr", "ar"), "fr")
    paper = _choice("paper", ("A4", "A3"), "A4")
    orientation = _choice("orientation", ("portrait", "landscape"), "landscape")
    west, south, east, north = _bbox()
    width_m = view_width_m(west, south, east, north)
    day_text = request.form.get("date") or ""
    day = read_day(day_text) if day_text else date.today()
    _throttle("impression")
    conn = get_db()
    plans = plans_in_view(conn, view_polygon(west, south, east, north), day)
    for p in plans:
        p["status_label"] = STATUSES[p["status_on"]][lang] if p["status_on"] in STATUSES else p["status_on"]
    texts = catalogue()[lang]
    labels = {k: texts[f"planner.print.{k}"] for k in PRINT_LABELS} | {"disclaimer": note_text("disclaimer", lang)}
    page = PrintedMap(image=image, ground_width_m=width_m, paper=paper, orientation=orientation,
                      bearing_deg=_number("bearing", 0.0), as_of=day, legend=_legend(lang), plans=plans,
                      data_dates=data_dates(conn), issued_at=datetime.now(UTC).replace(microsecond=0), labels=labels,
                      lang=lang, fonts=fonts_from_settings(current_app.config["URBASIG"]))
    with interruptible():
        body = pdf(page)
    name = f"carte-urbasig-{day.isoformat()}-{paper}.pdf"
    return Response(body, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@planner.app_context_processor
def _vocabulary() -> dict[str, object]:
    """planner_vocabulary_json(): the prescription kinds and plan statuses in the page's language, for planner.js."""

    def vocabulary_json() -> str:
        from api.i18n import current_lang
        from instruction.vocabulary import PRESCRIPTIONS, STATUSES

        lang = current_lang()
        data = {"prescriptions": {k: v[lang] for k, v in PRESCRIPTIONS.items()},
                "statuses": {k: v[lang] for k, v in STATUSES.items()}}
        return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")

    return {"planner_vocabulary_json": vocabulary_json}
