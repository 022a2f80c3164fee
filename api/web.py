"""Home page and /health."""

from __future__ import annotations

import os

from flask import Blueprint, Flask, current_app, jsonify, render_template, request

from gis.errors import DatabaseUnavailable, UrbasigError
from layers.db import health, pool_stats, pooled

web = Blueprint("web", __name__)


@web.get("/health")
def health_view():
    """Say whether the database answers, with the PostgreSQL and PostGIS versions (`?details`: the pool's counters)."""
    pool = current_app.extensions["urbasig.pool"]
    details = {"pool": pool_stats(pool), "pid": os.getpid()} if "details" in request.args else {}
    try:
        with pooled(pool, timeout=1, statement_timeout_s=2) as conn:
            versions = health(conn)
    except UrbasigError as exc:
        body = {"status": "indisponible", "database": "injoignable", "message": exc.message, **details}
        return jsonify(body), 503, {"Retry-After": str(exc.retry_after_s or DatabaseUnavailable.retry_after_s)}
    return jsonify({"status": "ok", "database": "joignable", **versions, **details})


@web.get("/")
def home():
    """Placeholder home page (the web map has its own issue)."""
    return render_template("home.html")


def register_web(app: Flask) -> None:
    """Attach the routes."""
    app.register_blueprint(web)
