"""The signatory's space (/signature/): accepted requests, a preview of the note, signing, delivery state."""

from __future__ import annotations

from flask import Blueprint, render_template

from api.spaces import page_for

bp = Blueprint("signature", __name__, url_prefix="/signature")


@bp.get("/")
@page_for("signatory")
def home() -> str:
    """The accepted requests waiting for a signature."""
    return render_template("spaces/signature/home.html")
