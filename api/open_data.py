"""The open-data catalogue over HTTP (issue 16): the list of datasets, one dataset, its downloads.

- `/donnees/`: every dataset the viewer sees (anonymous: the public ones; a partner's or an administrator's
  session: more), filtered by `type` (couche, plan, partenaire), `theme` and a text `q`; a page in French or
  Arabic for a person, JSON for a program (api/negotiation.py).
- `/donnees/<id>`: every fact of the catalogue, a small map of the data, the OGC API links and the downloads.
- `/donnees/<id>/telecharger?format=gpkg|geojson|csv|shp&crs=26191|4326[&part=<collection>]`: the file, built
  from the database once per version of the data and then sent from the cache (layers/open_data.py), with its
  ETag and Last-Modified (a 304 for a client that has it).

An unknown dataset and one the viewer may not see are the same French 404.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, render_template, request, send_file

from api import dataset_links
from api.db import get_db
from api.i18n import catalogue, current_lang
from api.negotiation import prefers_html
from api.ogc.html import preview_json, tiles_template
from gis.errors import InputError
from gis.search_text import fold
from layers.datasets import Dataset, Part, Viewer, as_dict, get_dataset, list_datasets
from layers.open_data import download

bp = Blueprint("open_data", __name__, url_prefix="/donnees")

KINDS = {"couche": "layer", "plan": "plan", "partenaire": "partner"}  # ?type= → Dataset.kind
PUBLIC_MAX_AGE_S = 300
PREVIEW_ITEMS = 1000  # features drawn on a dataset's map when its part has no vector tiles


def current_viewer() -> Viewer:
    """Who reads: the same answer as /ogc and the DCAT catalogue (a partner key's organisation, else the signed-in
    account, else the public)."""
    from api.ogc.routes import viewer

    return viewer()


def select(datasets: list[Dataset], kind: str, theme: str, text: str) -> list[Dataset]:
    """The datasets of `kind` (couche, plan, partenaire) and `theme` whose texts hold every word of `text`."""
    if kind and kind not in KINDS:
        raise InputError(f"type de jeu de données inconnu « {kind[:20]} » : type=couche, plan ou partenaire")
    words = fold(text.lower()).split()

    def matches(d: Dataset) -> bool:
        haystack = fold(" ".join([*d.title.values(), *d.description.values(), *d.keywords, d.id]).lower())
        return all(w in haystack for w in words)

    return [d for d in datasets if (not kind or d.kind == KINDS[kind]) and (not theme or d.theme == theme)
            and matches(d)]


def ogc_links(part: Part) -> dict[str, str | None]:
    """The OGC API addresses of a part: its collection, its items (with the part's filter) and its tiles."""
    base = f"/ogc/collections/{part.collection}"
    query = {}
    if part.cql:
        query.update({"filter": part.cql, "filter-lang": "cql2-text"})
    if part.datetime:
        query["datetime"] = part.datetime
    items = f"{base}/items" + (f"?{urlencode(query)}" if query else "")
    tiles = f"{base}/tiles" if tiles_template(part.collection) and not part.cql else None
    return {"collection": base, "items": items, "tiles": tiles}


def download_links(dataset: Dataset) -> list[dict[str, str]]:
    """The address of every download of a dataset (api/dataset_links.py, as Records and DCAT list them)."""
    return [{"format": f.code, "crs": f"EPSG:{code}", "href": href}
            for f, code, _, href in dataset_links.downloads("", dataset)]


def _described(dataset: Dataset) -> dict:
    return {**as_dict(dataset), "href": f"/donnees/{dataset.id}", "downloads": download_links(dataset),
            "metadata": dataset_links.iso_url("", dataset.id),
            "ogc": [{"collection": p.collection, **ogc_links(p)} for p in dataset.parts]}


def _theme_labels(datasets: list[Dataset], lang: str) -> dict[str, str]:
    known = catalogue()[lang]
    return {d.theme: known.get(f"data.theme.{d.theme}", d.theme) for d in datasets}


def _vary(response: Response) -> Response:
    for header in ("Accept", "Cookie", "X-API-Key"):
        response.vary.add(header)
    return response


@bp.get("/")
def catalogue_page() -> Response | tuple[str, int]:
    """The list of the datasets the viewer sees, filtered."""
    datasets = list_datasets(get_db(), current_viewer())
    kind, theme = request.args.get("type", "").strip(), request.args.get("theme", "").strip()
    text = request.args.get("q", "").strip()[:200]
    shown = select(datasets, kind, theme, text)
    if not prefers_html():
        return _vary(jsonify({"datasets": [_described(d) for d in shown], "numberMatched": len(shown),
                              "numberTotal": len(datasets)}))
    lang = current_lang()
    return render_template("open_data/list.html", datasets=shown, total=len(datasets), kind=kind, theme=theme,
                           q=text, themes=_theme_labels(datasets, lang)), 200


@bp.get("/<dataset_id>")
def dataset_page(dataset_id: str) -> Response | str:
    """One dataset: its facts, a map of its data, the OGC API links and the downloads."""
    dataset = get_dataset(get_db(), dataset_id, current_viewer())
    if not prefers_html():
        return _vary(jsonify(_described(dataset)))
    return render_template("open_data/dataset.html", d=dataset, downloads=download_links(dataset),
                           ogc=[(p, ogc_links(p)) for p in dataset.parts],
                           themes=_theme_labels([dataset], current_lang()), preview_json=_preview(dataset))


def _preview(dataset: Dataset) -> str:
    """The map's data: the extent, the part's vector tiles (a whole layer), or its features (a plan version's)."""
    whole_layer = len(dataset.parts) == 1 and not dataset.parts[0].cql
    tiles = tiles_template(dataset.parts[0].collection) if whole_layer else None
    items = [] if tiles else [f"{ogc_links(p)['items']}{'&' if p.cql or p.datetime else '?'}limit={PREVIEW_ITEMS}"
                              for p in dataset.parts]
    return preview_json(bbox=dataset.extent, tiles=tiles, items=items)


@bp.get("/<dataset_id>/telecharger")
def download_file(dataset_id: str) -> Response:
    """The dataset as a file (format, crs, part), from the cache once built; ETag and Last-Modified."""
    dataset = get_dataset(get_db(), dataset_id, current_viewer())
    settings = current_app.config["URBASIG"]
    found = download(get_db(), dataset, settings.download_cache, request.args.get("format"), request.args.get("crs"),
                     request.args.get("part"))
    response = send_file(found.path, mimetype=found.media_type, as_attachment=True, download_name=found.filename,
                         conditional=True, etag=found.etag, max_age=PUBLIC_MAX_AGE_S)
    # send_file's max_age says « public »: a dataset of a partner's or its organisation's audience is private only
    response.cache_control.public = dataset.public
    response.cache_control.private = not dataset.public
    return _vary(response)
