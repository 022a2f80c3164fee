"""The admin's space (/admin/): dashboard, accounts and roles, partner keys, plan statuses, journal, mail."""

from __future__ import annotations

from flask import Blueprint, render_template

from api.spaces import page_for

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@page_for("admin")
def home() -> str:
    """The dashboard of the agency's indicators."""
    return render_template("spaces/admin/home.html")
