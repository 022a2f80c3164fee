"""The land panel: GET /carte/terrain, what the plans say about one land, as an HTML fragment or a whole page.

`?land=TF 1/C;TF 2/C` or `?lon=&lat=` (WGS 84), `&date=AAAA-MM-JJ` (today by default), `&projet=1` (apply the
plan in public inquiry instead of warning about it), `&lang=fr|ar`. A request sent by the map's script
(`X-Requested-With: fetch`, or `?fragment=1`) gets the fragment `<section class="land-panel">`; a person opening
the link gets a page with the same panel and a link to the map. Errors (unknown title, bad date or point,
no parcel there) are 4xx fragments or pages in the request's language, never JSON and never a 500.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date
from urllib.parse import quote, urlencode

from flask import Blueprint, Flask, current_app, redirect, render_template, request

from api.db import get_db
from api.errors import request_id
from api.i18n import current_lang, translate
from api.panel_view import impact_lines, land_view
from gis.dates import read_day
from gis.errors import CRSError, InputError, LandRefError, LandTooLarge, NotFound, PayloadTooLarge, UrbasigError
from instruction.engine import Options, instruct
from instruction.land import LandRequest
from layers.db import interruptible
from layers.impact_map import land_impact

panel = Blueprint("panel", __name__, url_prefix="/carte")

# Where a person starts the request of an official note: the form of the applicant's space, its titles filled in
# (`?refs=TF 1/C;TF 2/C`); an anonymous visitor signs in or registers first and comes back to it.
OFFICIAL_REQUEST_PATH = "/espace/demandes/nouvelle"


def official_link(refs: str) -> str:
    """The request form with these titles (« TF 1/C;TF 2/C ») filled in."""
    return OFFICIAL_REQUEST_PATH + ("?" + urlencode({"refs": refs}, quote_via=quote, safe=";") if refs else "")


class PanelError(InputError):
    """A request the panel cannot answer, with its catalogue message (the page's language) and status."""

    def __init__(self, key: str, status: int = 400, detail: str | None = None, **values: object) -> None:
        super().__init__(detail or key)
        self.key, self.values, self.status, self.french = key, values, status, detail


@dataclass(frozen=True)
class PanelQuery:
    """What a panel request asks: the land, the date, whether to apply the plan in public inquiry."""

    land: LandRequest
    day: date | None
    projet: bool

    def params(self, **extra: str) -> dict[str, str]:
        """The query string that designates this land again (links to the note, the map, the draft)."""
        out = {"land": ";".join(self.land.refs)} if self.land.refs else {
            "lon": repr(self.land.point[0]), "lat": repr(self.land.point[1])} if self.land.point else {}
        if self.day:
            out["date"] = self.day.isoformat()
        if self.projet:
            out["projet"] = "1"
        return {**out, **extra}


def _point(args: dict[str, str]) -> tuple[float, float]:
    try:
        lon, lat = float(args["lon"]), float(args["lat"])
    except ValueError:
        raise PanelError("panel.error.bad_point") from None
    if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lon) > 180 or abs(lat) > 90:
        raise PanelError("panel.error.bad_point")
    return lon, lat


def parse_query(args: dict[str, str]) -> PanelQuery:
    """Read `land` or `lon`/`lat`, `date` and `projet`; a PanelError says what is wrong."""
    day = None
    if args.get("date"):
        try:
            day = read_day(args["date"])
        except InputError:
            raise PanelError("panel.error.bad_date", text=args["date"][:40]) from None
    projet = args.get("projet", "") in ("1", "oui", "true")
    if args.get("land", "").strip():
        refs = tuple(r.strip() for r in args["land"].split(";") if r.strip())
        return PanelQuery(LandRequest(refs=refs), day, projet)
    if args.get("lon") and args.get("lat"):
        return PanelQuery(LandRequest(point=_point(args)), day, projet)
    raise PanelError("panel.error.no_land")


def as_panel_error(exc: UrbasigError, query: PanelQuery | None) -> PanelError:
    """The panel's message for an error of the instruction (its French text kept as the detail)."""
    if isinstance(exc, PanelError):
        return exc
    by_point = query is not None and query.land.point is not None
    if isinstance(exc, NotFound):
        if by_point:
            return PanelError("panel.error.no_parcel", 404, exc.message)
        return PanelError("panel.error.unknown_title", 404, exc.message,
                          refs=exc.message.split(":", 1)[-1].strip())
    if isinstance(exc, LandRefError):
        return PanelError("panel.error.bad_title", 400, exc.message, text=(request.args.get("land") or "")[:80])
    if isinstance(exc, CRSError):
        return PanelError("panel.error.outside", 400, exc.message)
    if isinstance(exc, PayloadTooLarge):
        return PanelError("panel.error.too_many", 413, exc.message)
    if isinstance(exc, LandTooLarge):  # the envelope's own limits (the 3D view): the figures, as the notes write them
        from notes.envelope import over_text

        return PanelError("panel.error.envelope_too_large", 400, exc.message,
                          figures=over_text(exc.detail if isinstance(exc.detail, dict) else {}, current_lang()))
    if isinstance(exc, InputError) and "non immatriculé" in exc.message:
        return PanelError("panel.error.untitled", 400, exc.message)
    if isinstance(exc, InputError) and ("date antérieure" in exc.message or "date trop ancienne" in exc.message):
        return PanelError("panel.error.early_date", 400, exc.message)
    if isinstance(exc, InputError) and "km²" in exc.message:
        return PanelError("panel.error.too_large", 400, exc.message)
    key = "panel.error.busy" if exc.status in (429, 503) else "panel.error.other"
    error = PanelError(key, exc.status, exc.message)
    error.retry_after_s = exc.retry_after_s
    return error


def land_results(conn, query: PanelQuery, options: Options) -> tuple[dict, dict | None]:
    """The instruction result, and, when a plan in public inquiry touches the land, the same with it toggled."""
    chosen = replace(options, apply_plans_in_inquiry=query.projet, with_geometry=False)
    with interruptible():  # the instruction's geometry (its statements are never interrupted)
        result = instruct(conn, query.land, query.day, chosen)
        toggled = query.projet or bool(result["inquiry"])
        other = (instruct(conn, query.land, query.day, replace(chosen, apply_plans_in_inquiry=not query.projet))
                 if toggled else None)
    return result, other


def _links(query: PanelQuery, view: dict, lang: str) -> dict[str, str]:
    """The panel's buttons: the indicative note (PDF, page), the official request, the map, the draft toggled."""
    land = {"land": view["land_attr"]} if view["land_attr"] else query.params()
    land = {k: v for k, v in land.items() if k != "projet"}
    note = {**land, "date": view["date"], "lang": lang}
    toggled = {**land, **({"date": query.day.isoformat()} if query.day else {}), "projet": "" if query.projet else "1",
               "lang": lang}
    return {"pdf": "/notes/indicative?" + urlencode({**note, "format": "pdf"}),
            "envelope": "/carte/enveloppe?" + urlencode({**land, **({"date": query.day.isoformat()} if query.day else {}),
                                                        **({"projet": "1"} if query.projet else {}), "lang": lang}),
            "html": "/notes/indicative?" + urlencode({**note, "format": "html"}),
            "official": official_link(view["land_attr"]),
            "map": "/?" + urlencode({**land, **({"date": query.day.isoformat()} if query.day else {}),
                                     **({"projet": "1"} if query.projet else {})}),
            "toggle": "/carte/terrain?" + urlencode({k: v for k, v in toggled.items() if v})}


def wants_fragment() -> bool:
    """Whether the map's script asked (X-Requested-With: fetch, or ?fragment=1) rather than a person's browser."""
    return request.headers.get("X-Requested-With") == "fetch" or request.args.get("fragment") == "1"


@panel.get("/terrain")
def land_panel():
    """The panel of one land (fragment for the map's script, page for a person), or its error in FR/AR."""
    lang = current_lang()
    fragment = wants_fragment()
    headers = {"Vary": "X-Requested-With, Accept-Language, Cookie", "Cache-Control": "no-store"}
    query = None
    try:
        query = parse_query(request.args.to_dict())
        result, other = land_results(get_db(), query, Options.from_settings(current_app.config["URBASIG"]))
        impact = land_impact(get_db(), result["land"]["refs"], query.land.point)  # published plan impact runs
    except UrbasigError as exc:
        error = as_panel_error(exc, query)
        message = translate(error.key, lang, **error.values)
        generic = error.key in ("panel.error.other", "panel.error.busy")
        detail = error.french if error.french and (lang != "fr" or generic) else None
        if error.retry_after_s is not None:
            headers["Retry-After"] = str(error.retry_after_s)
        page = render_template("map/panel_error.html" if fragment else "map/panel_page.html", inner="map/panel_error.html",
                               fragment=fragment, message=message, detail=detail, request_id=request_id(),
                               status=error.status, page_title=translate("panel.error.title", lang),
                               lang_link=_lang_link(lang))
        return page, error.status, headers
    view = land_view(result, other, lang)
    title = (translate("panel.title_one", lang, refs=" + ".join(view["refs"])) if view["refs"]
             else translate("panel.title_geometry", lang))
    page = render_template("map/panel.html" if fragment else "map/panel_page.html", inner="map/panel.html", v=view,
                           fragment=fragment, links=_links(query, view, lang), page_title=title,
                           lang_link=_lang_link(lang), impact=impact_lines(impact, lang))
    return page, 200, headers


def _lang_link(lang: str) -> str:
    """This page in the other language."""
    args = {k: v for k, v in request.args.items() if k != "lang"}
    return "/carte/terrain?" + urlencode({**args, "lang": "fr" if lang == "ar" else "ar"})


@panel.get("/enveloppe")
def land_envelope():
    """The land's buildable envelope for the map's 3D view (JSON, CRS84), with the panel's query and errors."""
    from flask import jsonify

    from api.envelope_view import envelope_view
    from instruction.envelope import envelope, envelope_output

    lang = current_lang()
    settings = current_app.config["URBASIG"]
    headers = {"Vary": "Accept-Language, Cookie", "Cache-Control": "no-store"}
    query = None
    try:
        query = parse_query(request.args.to_dict())
        options = replace(Options.from_settings(settings), apply_plans_in_inquiry=query.projet)
        with interruptible():  # the instruction's and the envelope's geometry
            result = envelope_output(envelope(get_db(), query.land, query.day, options), "OGC:CRS84")
    except UrbasigError as exc:
        error = as_panel_error(exc, query)
        body = {"code": error.key, "message": translate(error.key, lang, **error.values), "detail": error.french,
                "request_id": request_id()}
        return jsonify(body), error.status, headers
    return jsonify(envelope_view(result, lang, settings.envelope_storey_height_m)), 200, headers


@panel.get("/note-officielle")
def official_steps():
    """The former page of the steps (links kept in bookmarks and old mails): now the request form itself."""
    refs = ";".join(r.strip() for r in request.args.get("land", "").split(";") if r.strip())
    return redirect(official_link(refs), code=301)


def register_panel(app: Flask) -> None:
    """Attach the panel's route."""
    app.register_blueprint(panel)
