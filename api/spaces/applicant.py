"""The applicant's space (/espace/): sign in and up, password reset, requests for official notes, payment."""

from __future__ import annotations

from flask import Blueprint, render_template

from api.spaces import page_for

bp = Blueprint("applicant", __name__, url_prefix="/espace")


@bp.get("/")
@page_for("applicant")
def home() -> str:
    """The applicant's requests and notes."""
    return render_template("spaces/applicant/home.html")
