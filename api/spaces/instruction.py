"""The instructor's space (/instruction/): the queue, a request with its land, documents and decision."""

from __future__ import annotations

from flask import Blueprint, render_template

from api.spaces import page_for

bp = Blueprint("instruction", __name__, url_prefix="/instruction")


@bp.get("/")
@page_for("instructor")
def home() -> str:
    """The queue of requests to review."""
    return render_template("spaces/instruction/home.html")
