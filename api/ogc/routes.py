"""The /ogc blueprint: thin Flask adapters over the handlers.

Every document a person may open has an HTML page (`?f=html` or a browser's Accept, api/negotiation.py),
rendered from the same JSON document by templates/ogc/ with the readable values of api/ogc/html.py; the JSON
answers are unchanged.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, g, render_template, request

from api.db import get_db
from api.i18n import current_lang
from api.inputs import json_body
from api.negotiation import prefers_html
from api.ogc import features, html, jobs, processes, records, tiles
from api.ogc.meta import collection_doc, collections_doc, conformance_doc, landing_doc
from gis.errors import Forbidden, InputError, Unauthorized
from layers.datasets import PUBLIC, Viewer
from layers.db import interruptible
from layers.partner_layers import COLLECTION_PREFIX

ogc = Blueprint("ogc", __name__, url_prefix="/ogc")


# The processes whose every call is stored with its result (layers/checks.py store_check).
STORED_CHECKS = frozenset({"permit-check", "lot-check", "licence-check", "envelope"})


def _base() -> str:
    return current_app.config["URBASIG"].public_base + "/ogc"  # never the request's Host (api/security.py)


def _partner_key() -> str | None:
    """The valid partner key the caller sent, if any (looked up once per request); a key that is sent but unknown
    or revoked is a 401."""
    key = request.headers.get("X-API-Key") or request.args.get("api_key")
    if not key:
        return None
    if g.get("partner_key") != key:
        from layers.apikeys import key_holder

        holder = key_holder(get_db(), key)
        if holder is None:
            raise Unauthorized("clé d'API (X-API-Key) inconnue ou révoquée : vérifiez la clé reçue de l'agence, "
                               "ou retirez l'en-tête pour un accès public")
        g.partner_key, g.key_organisation = key, holder.organisation
    return key


def _site() -> str:
    return current_app.config["URBASIG"].public_base


def _partner() -> bool:
    """Whether the caller sent a valid partner key (401 for one unknown or revoked)."""
    return _partner_key() is not None


def viewer() -> Viewer:
    """Who reads (the partner layers, the catalogue, its records and downloads): the partner key's organisation,
    else the signed-in account, else the public (no database round trip for a caller with neither key nor session
    cookie). One answer for /ogc, /donnees and the map."""
    from api.accounts import current_account
    from layers.partner_features import viewer_of

    if _partner():
        return viewer_of(None, g.get("key_organisation"), key=True)
    return viewer_of(current_account())


def _staff_id() -> int | None:
    """The account id of a signed-in agency account (staff or partner, made by an admin), else None."""
    from api.accounts import current_account
    from layers.accounts import STAFF_ROLES

    account = current_account()
    return int(account["id"]) if account and account["role"] in STAFF_ROLES else None


KEY_OR_STAFF = ("réservé aux partenaires et aux agents de l'agence : envoyez votre clé d'API dans l'en-tête "
                "X-API-Key, ou connectez-vous avec un compte de l'agence (/espace/connexion). Pour obtenir une clé, "
                "adressez-vous à l'Agence urbaine de Casablanca : son administrateur la crée dans l'espace "
                "d'administration (/admin/cles)")


def _require_key_or_staff(pid: str) -> None:
    """A process too costly to offer anonymously: 401 without a key or an agency account, 403 for an applicant."""
    if _partner() or _staff_id() is not None:
        return
    from api.accounts import current_account

    what = f"le processus « {pid} » ({processes.PROCESSES[pid]['title'].lower()}) est {KEY_OR_STAFF}"
    if current_account():
        raise Forbidden(f"{what} ; un compte de demandeur ne le permet pas")
    raise Unauthorized(what)


def _wants_html() -> bool:
    return prefers_html()


def _json(doc: object, status: int = 200, mimetype: str = "application/json") -> Response:
    return Response(json.dumps(doc, ensure_ascii=False), status=status, mimetype=mimetype)


def _page(template: str, doc: object, **context: object) -> Response:
    """An HTML page of the API: the document, its readable values, a link to its JSON."""
    page = render_template(f"ogc/{template}", doc=doc, json_href=html.with_format(request.full_path, "json"),
                           html_href=html.html_href, **context)
    return Response(page, mimetype="text/html")


def _args() -> dict[str, str]:
    """The request's parameters for a handler; `lang` (the page's language) is the HTML page's, not the query's."""
    args = request.args.to_dict()
    if _wants_html():
        args.pop("lang", None)
    return args


@ogc.get("/")
def landing() -> Response:
    """Landing page."""
    doc = landing_doc(_base())
    return _page("landing.html", doc) if _wants_html() else _json(doc)


@ogc.get("/conformance")
def conformance() -> Response:
    """Conformance classes proven by the tests."""
    doc = conformance_doc()
    return _page("conformance.html", doc) if _wants_html() else _json(doc)


@ogc.get("/openapi")
def openapi() -> Response:
    """The OpenAPI document (built once at start-up)."""
    return Response(current_app.extensions["urbasig.openapi"], mimetype="application/vnd.oai.openapi+json;version=3.0")


@ogc.get("/collections")
def collections() -> Response:
    """The collections."""
    from layers.partner_features import has_tiles

    reader = viewer()
    doc = collections_doc(get_db(), _base(), _partner(), reader)
    doc["collections"].append(records.describe(get_db(), _base(), _site(), viewer()))
    tiled = {c["id"] for c in doc["collections"] if has_tiles(c["id"])}
    response = _page("collections.html", doc, tiled=tiled) if _wants_html() else _json(doc)
    if reader.kind != "public":  # the list names layers of the caller's audience: no shared cache keeps it
        response.headers.update({"Cache-Control": "private, no-store", "Vary": "Accept, X-API-Key, Cookie"})
    return response


@ogc.get("/collections/<collection_id>")
def collection(collection_id: str) -> Response:
    """One collection (the catalogue's records too)."""
    if collection_id == records.CATALOGUE_ID:
        doc = records.describe(get_db(), _base(), _site(), viewer())
    else:
        doc = collection_doc(get_db(), _base(), collection_id, _partner(), viewer())
    if not _wants_html():
        return _json(doc)
    bbox = doc["extent"]["spatial"]["bbox"][0]
    tiles_url = html.tiles_template(collection_id)
    return _page("collection.html", doc, tiled=tiles_url is not None,
                 bbox_text=", ".join(f"{v:.5f}" for v in bbox), preview_json=html.preview_json(bbox, tiles_url))


@ogc.get("/collections/<collection_id>/queryables")
def queryables(collection_id: str) -> Response:
    """Properties usable in filters (the catalogue's: what its query parameters search)."""
    if collection_id == records.CATALOGUE_ID:
        doc = records.queryables(_base())
    else:
        doc = features.queryables(get_db(), _base(), collection_id, _partner(), viewer())
    if _wants_html():
        return _page("queryables.html", doc, collection_id=collection_id,
                     rows=html.queryable_rows(doc, collection_id, current_lang()))
    return _json(doc, mimetype="application/schema+json")


def _representation() -> str:
    """What besides the query tells two answers apart in their ETag: JSON, or the page in its language."""
    return f"html:{current_lang()}" if _wants_html() else "json"


def _labels(collection_id: str) -> dict[str, str] | None:
    """A partner layer's title ("") and attribute labels for its pages (None: the catalogue's own labels)."""
    from layers.partner_features import find_collection

    if not collection_id.startswith(COLLECTION_PREFIX):
        return None
    c = find_collection(get_db(), collection_id, viewer())
    return {"": c.title, **{p.name: p.title for p in c.props}} if c else None


def _cached(headers: dict, status: int, body: str, page: str, **context: object) -> Response:
    """The handler's answer as JSON or as a page (with the handler's ETag, Cache-Control and Vary); a 304 as is."""
    if status == 304:
        return Response(status=304, headers=headers)
    if not _wants_html():
        return Response(body, status=status, headers=headers)
    doc = json.loads(body)
    view = html.items_view if page == "items.html" else html.item_view
    collection_id = str(context["collection_id"])
    response = _page(page, doc, **context, **view(doc, collection_id, current_lang(), _labels(collection_id)))
    response.headers.update({k: headers[k] for k in ("ETag", "Cache-Control", "Vary")})
    return response


def _records(headers: dict, status: int, body: str) -> Response:
    """Records as GeoJSON, or their page (the list, with its paging links, or one record with its links)."""
    if not _wants_html():
        return Response(body, status=status, headers=headers)
    doc = json.loads(body)
    rows = records.html_rows(doc, current_lang())
    if doc.get("type") == "FeatureCollection":
        page = _page("records.html", doc, rows=rows, pager=html.pager(doc["links"], current_lang()))
    else:
        page = _page("record.html", doc, r=rows[0])
    page.headers.update({k: headers[k] for k in ("Cache-Control", "Vary") if k in headers})  # private as the JSON
    return page


@ogc.get("/collections/<collection_id>/items")
def items(collection_id: str) -> Response:
    """Features of a collection (GeoJSON built in PostGIS; ETag, 304); the catalogue's records."""
    if collection_id == records.CATALOGUE_ID:
        return _records(*records.items(get_db(), _base(), _site(), _args(), viewer()))
    partner = _partner()
    return _cached(*features.items(get_db(), _base(), collection_id, _args(), partner,
                                   current_app.config["URBASIG"].max_filter_depth,
                                   request.headers.get("If-None-Match"), _representation(), viewer()),
                   "items.html", collection_id=collection_id)


@ogc.get("/collections/<collection_id>/items/<item_id>")
def item(collection_id: str, item_id: str) -> Response:
    """One feature (ETag, 304); one record of the catalogue."""
    if collection_id == records.CATALOGUE_ID:
        return _records(*records.item(get_db(), _base(), _site(), item_id, _args(), viewer()))
    partner = _partner()
    return _cached(*features.item(get_db(), _base(), collection_id, item_id, _args(), partner,
                                  request.headers.get("If-None-Match"), _representation(), viewer()),
                   "item.html", collection_id=collection_id)


@ogc.get("/tileMatrixSets")
def tile_matrix_sets() -> Response:
    """The tile matrix sets served."""
    doc = tiles.tile_matrix_sets(_base())
    return _page("tile_matrix_sets.html", doc) if _wants_html() else _json(doc)


@ogc.get("/tileMatrixSets/<tms>")
def tile_matrix_set(tms: str) -> Response:
    """The standard definition of WebMercatorQuad or WorldCRS84Quad."""
    doc = tiles.tile_matrix_set(tms)
    return _page("tile_matrix_set.html", doc) if _wants_html() else _json(doc)


@ogc.get("/collections/<collection_id>/tiles")
def collection_tilesets(collection_id: str) -> Response:
    """Tilesets of a collection."""
    doc = tiles.tilesets(get_db(), _base(), collection_id, viewer())
    return _page("tilesets.html", doc, collection_id=collection_id) if _wants_html() else _json(doc)


@ogc.get("/collections/<collection_id>/tiles/<tms>")
def collection_tileset(collection_id: str, tms: str) -> Response:
    """Tileset metadata."""
    doc = tiles.tileset(get_db(), _base(), collection_id, tms, viewer())
    if not _wants_html():
        return _json(doc)
    template = next((link["href"] for link in doc["links"] if link["rel"] == "item"), "")
    return _page("tileset.html", doc, collection_id=collection_id, tms=tms, tile_url=template)


@ogc.get("/collections/<collection_id>/tiles/<tms>/tilejson")
def collection_tilejson(collection_id: str, tms: str) -> Response:
    """TileJSON for web maps."""
    return _json(tiles.tilejson(get_db(), _base(), collection_id, tms, viewer()))


@ogc.get("/collections/<collection_id>/tiles/<tms>/<z>/<y>/<x>")
def collection_tile(collection_id: str, tms: str, z: str, y: str, x: str) -> Response:
    """One vector tile (cached in this process and in the database, ETag, Cache-Control)."""
    from layers.tiles import CacheCap

    tiles.check_tms(tms)
    settings = current_app.config["URBASIG"]
    cap = CacheCap(settings.tile_cache_max_rows, settings.tile_cache_max_mb * 1024 * 1024)
    headers, status, body = tiles.tile(get_db, collection_id, z, y, x, request.args.to_dict(),
                                       request.headers.get("If-None-Match"), settings.tile_cache, tms, cap,
                                       current_app.extensions.get("urbasig.tile_memory"),
                                       viewer() if collection_id.startswith(COLLECTION_PREFIX) else PUBLIC)
    return Response(body, status=status, headers=headers)


@ogc.get("/processes")
def process_list() -> Response:
    """Processes offered."""
    doc = processes.process_list(_base())
    return _page("processes.html", doc) if _wants_html() else _json(doc)


@ogc.get("/processes/<pid>")
def process_description(pid: str) -> Response:
    """A process and its inputs."""
    doc = processes.process_description(_base(), pid)
    if not _wants_html():
        return _json(doc)
    return _page("process.html", doc, inputs=html.process_inputs(doc, current_lang()),
                 execute_href=f"/ogc/processes/{pid}/execution")


@ogc.post("/processes/<pid>/execution")
def process_execution(pid: str) -> Response:
    """Execute a process: synchronously (JSON in, JSON out), or as a job (`Prefer: respond-async`, 201)."""
    from instruction.engine import Options

    body = json_body()
    settings = current_app.config["URBASIG"]
    options = Options.from_settings(settings)
    conn = get_db()  # outside the region: the connection is always given back
    if pid in processes.KEY_OR_STAFF:
        _require_key_or_staff(pid)
    if pid in STORED_CHECKS and not _partner():  # each check is kept (check_results): bound the anonymous ones
        from layers.ratelimit import hit

        hit(conn, "verification", request.remote_addr or "inconnu", settings.checks_per_minute,
            what="vérifications anonymes")
    prefer = request.headers.get("Prefer")
    if jobs.runs_async(pid, prefer):
        from layers.jobs import Limits

        token, made = _owner_token(), False
        if token is None and _anonymous():
            token, made = jobs.new_owner_token(current_app.config["SECRET_KEY"]), True  # its list is its own from now on
        headers, doc = jobs.submit(conn, _base(), pid, body, options, _caller(token),
                                   Limits(settings.jobs_per_client, settings.jobs_queue_max), token)
        if jobs.prefers_async(prefer):
            headers["Preference-Applied"] = "respond-async"
        response = _json(doc, 201)
        response.headers.update(headers)
        if made:  # a browser keeps it for /ogc/jobs; a program reads the header
            response.set_cookie(OWNER_COOKIE, token, max_age=int(86_400 * (settings.jobs_retention_days + 1)),
                                path="/ogc", secure=settings.https, httponly=True, samesite="Lax")
        return response
    with interruptible():  # the checks' geometry and rules (their statements are never interrupted)
        result = processes.execute(conn, pid, body, options)
    from instruction.findings import canonical_json

    return Response(canonical_json(result), mimetype="application/json")


OWNER_COOKIE = "urbasig_jobs"


def _anonymous() -> bool:
    """Neither a partner key nor an agency account: the caller's jobs are those of its job-owner token."""
    return _partner_key() is None and _staff_id() is None


def _owner_token() -> str | None:
    """An anonymous caller's job-owner token: the header (one this service did not give is a 400), else the
    cookie (one it did not give, e.g. from before a key change, is ignored: the next job makes a new one). Never
    read from the URL (URLs are logged). A partner key or an account has no token: its jobs are its own."""
    if not _anonymous():
        return None
    secret = current_app.config["SECRET_KEY"]
    sent = request.headers.get("X-Jobs-Owner")
    if sent:
        return jobs.checked_owner_token(secret, sent)
    cookie = request.cookies.get(OWNER_COOKIE)
    try:
        return jobs.checked_owner_token(secret, cookie) if cookie else None
    except InputError:
        return None


def _caller(owner_token: str | None) -> jobs.Caller:
    """Who calls, as the jobs table keeps it: the partner key, else the agency account, else the job-owner token
    (the bound then counts the address)."""
    key = _partner_key()
    account = None if key else _staff_id()
    return jobs.caller_of(current_app.config["SECRET_KEY"], request.remote_addr or "inconnue", key, account,
                          owner_token)


@ogc.get("/jobs")
def job_list() -> Response:
    """The caller's own jobs."""
    return _json(jobs.job_list(get_db(), _base(), _caller(_owner_token())))


@ogc.get("/jobs/<job_id>")
def job_status(job_id: str) -> Response:
    """A job's status (a page that refreshes itself for a person)."""
    doc = jobs.job_status(get_db(), _base(), job_id)
    if _wants_html():
        return _page("job.html", doc, running=doc["status"] in ("accepted", "running"))
    return _json(doc)


@ogc.get("/jobs/<job_id>/results")
def job_results(job_id: str) -> Response:
    """A successful job's result (404 result-not-ready before)."""
    from instruction.findings import canonical_json

    output = jobs.with_downloads(_base(), job_id, jobs.job_results(get_db(), job_id))
    return Response(canonical_json(output), mimetype="application/json")  # type: ignore[arg-type]


@ogc.get("/jobs/<job_id>/results/parcels")
def job_parcels(job_id: str) -> Response:
    """A plan-impact job's parcels as a file: ?f=json (GeoJSON), csv or gpkg, &crs= optional."""
    fmt = request.args.get("f", "json")
    crs = request.args.get("crs") or None
    if crs is not None and len(crs) > 200:
        raise InputError("crs : 200 caractères au plus (ex. EPSG:26191)")
    data, mime, name = jobs.job_parcels(get_db(), job_id, fmt, crs)
    return Response(data, mimetype=mime, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@ogc.delete("/jobs/<job_id>")
def job_dismiss(job_id: str) -> Response:
    """Dismiss a job: never run if accepted, stopped if running, its result dropped."""
    return _json(jobs.dismiss(get_db(), _base(), job_id))


@ogc.after_request
def cors(response: Response) -> Response:
    """CORS headers when origins are configured (URBASIG_CORS_ORIGINS)."""
    origins = current_app.config["URBASIG"].cors_origins
    origin = request.headers.get("Origin")
    if origins and origin and (origins == "*" or origin in origins.split(",")):
        response.headers["Access-Control-Allow-Origin"] = "*" if origins == "*" else origin
        response.headers["Access-Control-Allow-Headers"] = "X-API-Key, X-Jobs-Owner, Content-Type, Prefer"
        response.headers["Access-Control-Expose-Headers"] = ("Content-Crs, ETag, Location, Preference-Applied, "
                                                             "X-Jobs-Owner")
        response.vary.add("Origin")  # beside the Vary of a cacheable answer (Accept, X-API-Key)
    return response
