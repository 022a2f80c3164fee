"""The partner's space (/partenaire/): issued notes found by title or number, viewed and downloaded (audited)."""

from __future__ import annotations

from flask import Blueprint, render_template

from api.spaces import page_for

bp = Blueprint("partner", __name__, url_prefix="/partenaire")


@bp.get("/")
@page_for("partner")
def home() -> str:
    """Search the issued notes."""
    return render_template("spaces/partner/home.html")
