"""The one search box: GET /api/recherche (JSON suggestions, called as a person types) and GET /recherche (the
same results as a French or Arabic page, for a browser without JavaScript and the search form's submit).

The text is read by gis/search_text.py, looked up by layers/search.py; here it is only checked, and each hit
given its label, detail, centre and box in the request's language. No rate limit writes to the database per
call: a suggestion is an indexed read of a few rows under the reads' time budget (api/budget.py), and a
counter would double its cost and serialise a client's keystrokes on one row.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template, request
from werkzeug.datastructures import MultiDict

from api.db import get_db
from api.i18n import current_lang, translate
from gis import l10n
from gis.errors import InputError
from gis.search_text import MAX_CHARS, Understood, understand
from layers.search import find

search = Blueprint("search", __name__)

DEFAULT_LIMIT, MAX_LIMIT = 8, 20
DECIMALS = 6  # WGS 84 degrees in answers: ~0.1 m, finer than the 7 m of the Merchich datum shift


class SearchInputError(InputError):
    """A bad q or limit: the French message for the API, the message key for the page in the person's language."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(translate(key, "fr", **values))
        self.key, self.values = key, values


def read_args(args: MultiDict) -> tuple[str, int]:
    """The query text and the limit, checked: q not empty and at most 200 characters, limit 1 to 20."""
    text = " ".join((args.get("q") or "").split())
    if not text:
        raise SearchInputError("search.error.empty")
    if len(args.get("q", "")) > MAX_CHARS:
        raise SearchInputError("search.error.long", max=MAX_CHARS, got=len(args["q"]))
    raw_limit = args.get("limit", str(DEFAULT_LIMIT))
    if not raw_limit.isascii() or not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise SearchInputError("search.error.limit", max=MAX_LIMIT, got=raw_limit[:20])
    return text, int(raw_limit)


def run(text: str, limit: int, lang: str) -> dict:
    """The answer of the contract: {"q", "understood": {"kind", "text"}, "results": [...], "hint"}."""
    understood = understand(text)
    hits, notes = find(get_db(), understood, limit)
    results = [_result(hit, understood, lang) for hit in hits[:limit]]
    return {"q": text, "understood": {"kind": understood.kind, "text": understood_text(understood, notes, lang)},
            "results": results, "hint": None if results else hint(understood, lang)}


@search.get("/api/recherche")
def suggestions() -> Response:
    """Suggestions for a search text, as JSON (the map's search box)."""
    lang = request.args.get("lang")
    if lang is not None and lang not in l10n.LANGS:
        raise InputError(f"lang : fr ou ar (reçu « {lang[:20]} »)")
    text, limit = read_args(request.args)
    response = jsonify(run(text, limit, lang or current_lang()))
    response.headers["Cache-Control"] = "public, max-age=60"  # the same text asked again while typing
    response.headers["Vary"] = "Cookie, Accept-Language"  # the language when ?lang= is not given
    return response


@search.get("/recherche")
def page() -> tuple[str, int]:
    """The search results as a page: each result a link that opens the map on it."""
    lang = current_lang()
    if "q" not in request.args:  # the page itself: the form, nothing asked yet
        return render_template("search/results.html", q="", answer=None, error=None), 200
    try:
        text, limit = read_args(request.args)
    except SearchInputError as exc:
        return render_template("search/results.html", q=request.args.get("q", "")[:MAX_CHARS], answer=None,
                               error=translate(exc.key, lang, **exc.values)), 400
    answer = run(text, limit, lang)
    for result in answer["results"]:
        result["href"] = map_link(result)
    return render_template("search/results.html", q=text, answer=answer, error=None), 200


def map_link(result: dict) -> str:
    """The map's address for a result: /?land=… for a land, else /?lon=…&lat=… (the map restores either)."""
    from urllib.parse import urlencode

    if result.get("land"):
        return "/?" + urlencode({"land": result["land"]})
    lon, lat = result["center"]
    return "/?" + urlencode({"lon": f"{lon:.{DECIMALS}f}", "lat": f"{lat:.{DECIMALS}f}"})


# ------------------------------------------------------------------------------------------- texts
def _coord(value: float, decimals: int, lang: str) -> str:
    return l10n.number(value, lang, decimals)


def _typed(value: str, lang: str) -> str:
    """A text the person typed (Latin) inside an Arabic sentence, isolated (FSI … PDI) so it keeps its own
    direction and the guillemets around it stay in place."""
    return f"\u2068{value}\u2069" if lang == "ar" else value


def understood_text(understood: Understood, notes: dict, lang: str) -> str:
    """One sentence in `lang`: what the text was read as."""
    kind, values = understood.kind, understood.values
    if kind == "titre":
        if values["ref"]:
            return translate("search.understood.title", lang, ref=_typed(values["ref"], lang))
        return translate("search.understood.title_start", lang, start=_typed(" / ".join(values["prefixes"]), lang))
    if kind == "lambert":
        x, y = (values["y"], values["x"]) if notes.get("swapped") else (values["x"], values["y"])
        key = "search.understood.lambert_swapped" if notes.get("swapped") or values.get("swapped") else \
            "search.understood.lambert"
        return translate(key, lang, x=_coord(x, 1, lang), y=_coord(y, 1, lang))
    if kind == "lonlat":
        text = translate("search.understood.lonlat_dms" if values.get("dms") else "search.understood.lonlat", lang,
                         lon=_coord(values["lon"], DECIMALS, lang), lat=_coord(values["lat"], DECIMALS, lang))
        if values.get("assumed_west"):
            text += " " + translate("search.understood.assumed_west", lang)
        return text
    if kind == "adresse":
        if values["number"] is None:
            return translate("search.understood.street", lang, street=_typed(values["street"], lang))
        return translate("search.understood.address", lang, number=values["number"],
                         street=_typed(values["street"], lang))
    if kind == "commune":
        return translate("search.understood.words", lang, words=_typed(values["words"], lang))
    return translate("search.understood.unknown", lang, text=_typed(understood.text, lang))


def hint(understood: Understood, lang: str) -> str:
    """When nothing was found: what was understood and what to try, in `lang`."""
    kind, values = understood.kind, understood.values
    if kind == "titre":
        return translate("search.hint.title", lang, start=_typed(" / ".join(values["prefixes"]), lang))
    if kind in ("lambert", "lonlat"):
        return translate("search.hint.point", lang)
    if kind == "adresse":
        return translate("search.hint.street" if values["number"] is None else "search.hint.address", lang)
    if kind == "commune":
        return translate("search.hint.words", lang, words=_typed(values["words"], lang))
    return translate("search.hint.unknown", lang)


def _round(values: tuple[float, ...]) -> list[float]:
    return [round(float(v), DECIMALS) for v in values]


def _box(hit: dict) -> list[float] | None:
    return None if hit.get("w") is None else _round((hit["w"], hit["s"], hit["e"], hit["n"]))


def _joined(*parts: str | None) -> str:
    return " · ".join(p for p in parts if p)


def _result(hit: dict, understood: Understood, lang: str) -> dict:
    """A hit of layers/search.py as the contract's result: kind, label, detail, land, center, bbox."""
    kind = hit["kind"]
    untitled = translate("search.result.untitled", lang)
    if kind == "parcel":
        label, detail, out_kind = hit["land_ref"], _joined(hit["address"], hit["commune"]), "parcel"
    elif kind == "address":
        label, detail, out_kind = hit["address"], _joined(hit["land_ref"] or untitled, hit["commune"]), "address"
    elif kind == "street":
        label, detail, out_kind = hit["street"], _joined(hit["commune"], translate("search.result.street", lang)), \
            "address"
    elif kind == "commune":
        label, detail, out_kind = hit["name"], _commune_detail(hit, lang), "commune"
    else:
        label, detail, out_kind = _point_label(hit, understood, lang), _point_detail(hit, lang), "point"
    return {"kind": out_kind, "label": label, "detail": detail, "land": hit.get("land_ref"),
            "center": _round((hit["lon"], hit["lat"])), "bbox": _box(hit)}


def _commune_detail(hit: dict, lang: str) -> str:
    kind = translate(f"search.result.{hit['commune_kind']}", lang)
    prefecture = translate(f"search.result.{'province' if hit['prefecture_kind'] == 'province' else 'prefecture'}",
                           lang, name=hit["prefecture"])
    return _joined(kind, prefecture)


def _point_label(hit: dict, understood: Understood, lang: str) -> str:
    if understood.kind == "lambert":
        return translate("search.result.lambert", lang, x=_coord(hit["x"], 1, lang), y=_coord(hit["y"], 1, lang))
    return translate("search.result.lonlat", lang, lon=_coord(abs(hit["lon"]), DECIMALS, lang),
                     lat=_coord(hit["lat"], DECIMALS, lang))


def _point_detail(hit: dict, lang: str) -> str:
    if hit["parcel_id"] is None:
        land = translate("search.result.no_parcel", lang)
    else:
        land = hit["land_ref"] or translate("search.result.untitled", lang)
    return _joined(land, hit["address"], hit["commune"])
