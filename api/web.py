"""Home page and /health."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify, render_template

from gis.errors import UrbasigError
from layers.db import health, pooled

web = Blueprint("web", __name__)


@web.get("/health")
def health_view():
    """Say whether the database answers, with the PostgreSQL and PostGIS versions."""
    try:
        with pooled(current_app.extensions["urbasig.pool"], timeout=5) as conn:
            versions = health(conn)
    except UrbasigError as exc:
        return jsonify({"status": "indisponible", "database": "injoignable", "message": exc.message}), 503
    return jsonify({"status": "ok", "database": "joignable", **versions})


@web.get("/")
def home():
    """Placeholder home page (the web map has its own issue)."""
    return render_template("home.html")


def register_web(app: Flask) -> None:
    """Attach the routes."""
    app.register_blueprint(web)
