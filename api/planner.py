"""The planner tools' endpoints: read a dropped file (/carte/fichier), print the map view (/carte/impression).

Thin: parse the multipart form, call layers/uploads.py or notes/map_print.py, answer. The overlay itself is
the instruction process (/ogc/processes/instruction/execution), called by the page.
"""

from __future__ import annotations

import io
import json
import math
import warnings
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
LEGEND_KINDS = ("fill", "line", "circle")
SKETCH, RESULT = "planner-draw", "planner-result"  # the planner's own map sources (api/static/js/planner.js)
DRAFT_SOURCES = {"draft-zones": "map.layer.draft", "draft-prescriptions": "map.layer.draft"}  # map-style.js
PRINT_LABELS = ("title", "legend", "as_of", "printed", "plans", "data", "data_of", "since", "no_plan", "crs")


def _client() -> str:
    return request.remote_addr or "inconnu"


THROTTLED = {"fichier": "fichiers déposés sur la carte", "impression": "impressions de carte"}  # scope → what (429)


def _throttle(scope: str) -> None:
    from layers.ratelimit import hit

    hit(get_db(), scope, _client(), current_app.config["URBASIG"].checks_per_minute, what=THROTTLED[scope])


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
        result = read_upload(data, upload.filename or "", UploadLimits(
            max_vertices=settings.max_vertices, max_repair_vertices=settings.upload_max_repair_vertices,
            max_json_depth=settings.max_json_depth))
    return jsonify(result.to_json())


def _number(name: str, default: float | None = None) -> float:
    text = request.form.get(name)
    if text in (None, ""):
        if default is None:
            raise InputError(f"champ « {name} » manquant")
        return default
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"« {name} » : nombre attendu (reçu « {text[:40]} »)") from None
    if not math.isfinite(value):  # float() reads "nan", "inf", "-inf"
        raise InputError(f"« {name} » : nombre fini attendu (reçu « {text[:40]} »)")
    return value


def _bearing() -> float:
    """The map's bearing in degrees, any finite number, reduced to [0, 360)."""
    return _number("bearing", 0.0) % 360.0


def _bbox() -> tuple[float, float, float, float]:
    """The view (west, south, east, north in degrees): finite, of positive size, inside EPSG:26191's domain."""
    from gis.crs import STORAGE_SRID, storage_area_lonlat

    parts = (request.form.get("bbox") or "").split(",")
    try:
        west, south, east, north = (float(p) for p in parts)
    except ValueError:
        raise InputError("« bbox » : ouest,sud,est,nord en degrés attendu") from None
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise InputError("« bbox » : quatre nombres finis attendus (ouest,sud,est,nord en degrés)")
    if west >= east or south >= north:
        raise InputError("emprise de la vue invalide : « bbox » ouest < est et sud < nord attendus, en degrés")
    w0, s0, e0, n0 = storage_area_lonlat()
    if west < w0 or south < s0 or east > e0 or north > n0:
        raise InputError(f"« bbox » : la vue doit se trouver dans le domaine d'EPSG:{STORAGE_SRID} (Merchich / Nord "
                         f"Maroc), entre {w0:g} et {e0:g} de longitude et {s0:g} et {n0:g} de latitude")
    return west, south, east, north


def _choice(name: str, allowed: tuple[str, ...], default: str) -> str:
    value = request.form.get(name) or default
    if value not in allowed:
        raise InputError(f"« {name} » : {' ou '.join(allowed)} attendu (reçu « {value[:20]} »)")
    return value


def _legend_items() -> list[dict]:
    """The legend field: a JSON list of at most MAX_LEGEND objects, read by the one strict JSON reader."""
    from api.inputs import max_json_depth
    from gis.jsontext import parse_json

    items = parse_json(request.form.get("legend") or "[]", max_json_depth(), where="legend")
    if not isinstance(items, list) or len(items) > MAX_LEGEND:
        raise InputError(f"« legend » : liste de {MAX_LEGEND} couches au plus attendue")
    if not all(isinstance(item, dict) for item in items):
        raise InputError("« legend » : chaque couche est un objet {source, colour, kind}")
    return items


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _legend_label(source: str, code: str | None, lang: str, zone_codes: set[str]) -> str | None:
    """The printed label of a legend entry, from our catalogue and vocabulary only; None for what we don't know."""
    from gis import l10n
    from instruction.vocabulary import PRESCRIPTIONS
    from layers.catalog import CATALOGUE

    texts = catalogue()[lang]
    if source == f"{RESULT}/zones":  # a zone of the overlay: its code must be one of the view's zones
        return f"{texts['planner.zone']} {l10n.embed(code, lang)}" if code in zone_codes else None
    if source.startswith(f"{RESULT}/"):  # a prescription kind of the overlay
        kind = source.split("/", 1)[1]
        return _capital(PRESCRIPTIONS[kind][lang]) if kind in PRESCRIPTIONS else None
    if source in DRAFT_SOURCES:
        return texts[DRAFT_SOURCES[source]]
    if source in CATALOGUE or source == SKETCH:
        return texts.get(f"planner.layer.{source}")
    return None


def _legend_fields() -> list[tuple[str, str | None, str, str]]:
    """The visible layers sent by the page, typed: [(source, code, colour, kind)], checked before anything runs."""
    from api.inputs import field
    from notes.map_print import COLOUR

    out = []
    for i, item in enumerate(_legend_items()):
        where = f"legend[{i}]."
        source = field(item, "source", str, required=True, max_len=80, where=where)
        code = field(item, "code", str, max_len=40, where=where)
        colour = field(item, "colour", str, default="#888888", max_len=7, where=where)
        kind = field(item, "kind", str, default="fill", max_len=10, where=where)
        if not COLOUR.fullmatch(colour):
            raise InputError(f"« {where}colour » : couleur #rgb ou #rrggbb attendue (reçu « {colour} »)")
        if kind not in LEGEND_KINDS:
            raise InputError(f"« {where}kind » : {' ou '.join(LEGEND_KINDS)} attendu (reçu « {kind} »)")
        out.append((source, code, colour, kind))
    return out


def _legend(fields: list[tuple[str, str | None, str, str]], lang: str, zone_codes: set[str]) -> list:
    """The legend printed: each entry labelled here from our words, never by the client (its `label` is ignored).

    An entry whose source is neither a catalogue layer, the planner's sketch, a zone of the view nor a
    prescription kind of the overlay is left out: no text of the client's reaches a document bearing our name.
    """
    from notes.map_print import LegendEntry

    out, seen = [], set()
    for source, code, colour, kind in fields:
        label = _legend_label(source, code, lang, zone_codes)
        if label is not None and label not in seen:  # the draft's zones and prescriptions: one entry
            seen.add(label)
            out.append(LegendEntry(label, colour, kind))
    return out


def _image() -> bytes:
    """The map image, PNG or JPEG, fully decoded here (within MAX_IMAGE_PIXELS) before the PDF is built.

    `verify()` only checks a PNG's CRCs: a truncated PNG or JPEG passed it and failed in reportlab.
    """
    from PIL import Image, UnidentifiedImageError

    upload = request.files.get("image")
    if upload is None:
        raise InputError("image de la carte attendue dans le champ « image » (PNG ou JPEG)")
    data = upload.read()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=("PNG", "JPEG")) as img:
                if img.width * img.height > MAX_IMAGE_PIXELS:
                    raise PayloadTooLarge(f"image de {img.width} × {img.height} pixels : trop grande pour "
                                          f"l'impression ({MAX_IMAGE_PIXELS:,} pixels au plus)".replace(",", " "))
                img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PayloadTooLarge("image de la carte trop grande pour l'impression (bombe de décompression ?)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise InputError("image de la carte illisible (tronquée ou corrompue) : PNG ou JPEG attendu") from None
    return data


@planner.post("/carte/impression")
def print_view() -> Response:
    """The current view of the map as a PDF (A4/A3, portrait/landscape), with legend, scale, north, dates."""
    from gis.measure import view_polygon, view_width_m
    from layers.map_print import data_dates, plans_in_view, zone_codes_in_view
    from notes.indicative import fonts_from_settings
    from notes.map_print import PrintedMap, pdf

    image = _image()
    lang = _choice("lang", ("fr", "ar"), "fr")
    paper = _choice("paper", ("A4", "A3"), "A4")
    orientation = _choice("orientation", ("portrait", "landscape"), "landscape")
    west, south, east, north = _bbox()
    width_m = view_width_m(west, south, east, north)
    if not (math.isfinite(width_m) and width_m >= 1):
        raise InputError("emprise de la vue invalide : « bbox » d'au moins un mètre de large attendue")
    bearing = _bearing()
    legend_fields = _legend_fields()
    day_text = request.form.get("date") or ""
    day = read_day(day_text) if day_text else date.today()
    _throttle("impression")
    conn = get_db()
    view = view_polygon(west, south, east, north)
    plans = plans_in_view(conn, view, day)
    with_zones = any(source == f"{RESULT}/zones" for source, *_ in legend_fields)
    legend = _legend(legend_fields, lang, set(zone_codes_in_view(conn, view)) if with_zones else set())
    texts = catalogue()[lang]
    labels = {k: texts[f"planner.print.{k}"] for k in PRINT_LABELS} | {"disclaimer": note_text("disclaimer", lang)}
    page = PrintedMap(image=image, ground_width_m=width_m, paper=paper, orientation=orientation,
                      bearing_deg=bearing, as_of=day, legend=legend, plans=plans,
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
