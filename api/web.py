"""Home page and /health."""

from __future__ import annotations

import os
from datetime import date

from flask import Blueprint, Flask, current_app, jsonify, render_template, request, session

from gis.errors import DatabaseUnavailable, UrbasigError
from layers.db import health, pool_stats, pooled

web = Blueprint("web", __name__)

LOOPBACK = frozenset({"127.0.0.1", "::1"})
STAFF_ROLES = frozenset({"instructor", "signatory", "admin"})


def _may_see_details() -> bool:
    """Whether the caller may see the pool and process state: the machine itself (loopback) or a staff account."""
    if request.remote_addr in LOOPBACK:
        return True
    if not isinstance(session.get("sid"), str):
        return False  # anonymous: no database round trip
    from api.accounts import current_account

    try:
        account = current_account()
    except UrbasigError:  # the database is down: the plain answer
        return False
    return bool(account) and account["role"] in STAFF_ROLES


@web.get("/health")
def health_view():
    """Say whether the database answers, with the PostgreSQL and PostGIS versions.

    `?details` adds the pool's counters, the process id and each read replica's state and lag, for the machine
    itself (loopback) and staff only; anyone else gets the plain answer.
    """
    pool = current_app.extensions["urbasig.pool"]
    details = {"pool": pool_stats(pool), "pid": os.getpid()} if "details" in request.args and _may_see_details() else {}
    replicas = current_app.extensions.get("urbasig.replicas")
    if details and replicas is not None:
        replicas.usable()  # measured once at least
        details["replicas"] = replicas.report()
    try:
        with pooled(pool, timeout=1, statement_timeout_s=2) as conn:
            versions = health(conn)
    except UrbasigError as exc:
        body = {"status": "indisponible", "database": "injoignable", "message": exc.message, **details}
        return jsonify(body), 503, {"Retry-After": str(exc.retry_after_s or DatabaseUnavailable.retry_after_s)}
    return jsonify({"status": "ok", "database": "joignable", **versions, **details})


def _map_overview() -> dict:
    """The data's extent and the communes' label points, read once per process (kept once the data is there)."""
    from api.db import get_db
    from layers.tiles import map_overview

    cached = current_app.extensions.get("urbasig.map_overview")
    if cached is None:
        cached = map_overview(get_db())
        if cached["extent"] is not None:
            current_app.extensions["urbasig.map_overview"] = cached
    return cached


@web.get("/")
def home():
    """The public map."""
    from api.i18n import catalogue, current_lang
    from layers.catalog import OTHER_FAMILY, ZONE_FAMILIES

    partners = _partner_layers()
    config = {**_map_overview(), "families": [f.id for f in ZONE_FAMILIES] + [OTHER_FAMILY],
              "today": date.today().isoformat(), "impact": _impact_runs(), "partners": partners}
    page_messages = {key: text for key, text in catalogue()[current_lang()].items()
                     if key.startswith(("site.", "map.", "panel.", "planner."))}  # the search's texts come in its answers
    page = render_template("map.html", config_json=_script_json(config), messages_json=_script_json(page_messages),
                           families=config["families"], impact=_impact_legend(config["impact"], current_lang()),
                           partners=partners)
    if any(layer["audience"] != "public" for layer in partners):  # layers of the account's audience: kept by no one
        return page, 200, {"Cache-Control": "private, no-store", "Vary": "Cookie"}
    return page


def _partner_layers() -> list[dict]:
    """The partner layers the caller sees (public ones for the public, its audience's for a signed-in account)."""
    from api.accounts import current_account
    from api.db import get_db
    from layers.partner_features import map_layers, viewer_of

    return map_layers(get_db(), viewer_of(current_account()))


def _impact_runs() -> list[dict]:
    """The published plan impact runs of the plans in public inquiry today (the map's « Impact du projet »)."""
    from api.db import get_db
    from layers.impact_map import published_for_inquiry

    return [{"run_id": r["run_id"], "from_plan": r["from_plan"], "to_plan": r["to_plan"], "area": r["area"],
             "computed_on": r["computed_on"]} for r in published_for_inquiry(get_db(), date.today())]


def _impact_legend(runs: list[dict], lang: str) -> dict | None:
    """What the switcher says of those runs (None: no toggle): the draft plans and the day of the latest run."""
    from gis import l10n

    if not runs:
        return None
    latest = max(date.fromisoformat(r["computed_on"]) for r in runs)
    return {"plans": ", ".join(sorted({r["to_plan"] for r in runs})), "date": l10n.long_date(latest, lang)}


def _script_json(value: object) -> str:
    """JSON for a <script type="application/json"> block: « < » escaped, so no text can close the block."""
    import json

    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def register_web(app: Flask) -> None:
    """Attach the routes: the site's pages, and under /donnees the open-data catalogue for people and its downloads
    (api/open_data.py) and for machines (DCAT, ISO 19139: api/catalogue_meta.py)."""
    from api.catalogue_meta import catalogue_meta
    from api.open_data import bp as open_data

    app.register_blueprint(web)
    app.register_blueprint(catalogue_meta)
    app.register_blueprint(open_data)
