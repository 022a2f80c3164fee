"""The partner's space (/partenaire/): issued notes found by title or number, viewed and downloaded (audited).

A partner administration (a commune, the land registry, a utility) reads what the signed note itself says;
every view and download is written to the audit trail (`partenaire.consultation`, `partenaire.telechargement`,
entity note_request) with the partner's account and organisation. A GET reads in autocommit (api/db.py), so
the audit line is stored before the page or the PDF leaves.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from api.accounts import current_account
from api.db import get_db
from api.i18n import current_lang
from api.security import public_link
from api.spaces import page_for
from gis import l10n
from gis.errors import InputError
from instruction.summary import plan_citation
from layers import issued_notes
from layers.audit import audit

bp = Blueprint("partner", __name__, url_prefix="/partenaire")


def _audit(action: str, number: str) -> None:
    account = current_account()
    audit(get_db(), account["email"], action, "note_request", number, None,
          {"organisation": account.get("organisation")})


@bp.get("/")
@page_for("partner")
def home() -> tuple[str, int]:
    """Search the issued notes by title or note number."""
    q = request.args.get("q", "").strip()
    notes, error = None, None
    if q:
        try:
            notes = issued_notes.search(get_db(), q)
        except InputError as exc:
            error = exc.message
    lang = current_lang()
    return render_template("spaces/partner/home.html", q=q, notes=notes, error=error,
                           embed=lambda v: l10n.embed(v, lang)), 400 if error else 200


@bp.get("/notes/<number>")
@page_for("partner")
def note(number: str) -> str:
    """An issued note: number, titles, dates, the plans it cites, its verification code and link (audited)."""
    found = issued_notes.issued_note(get_db(), number)
    _audit("partenaire.consultation", number)
    lang = current_lang()
    return render_template("spaces/partner/note.html", note=found,
                           citations=[plan_citation(p, lang) for p in found["plans"]],
                           verify_url=public_link(f"/verify/{found['short_code']}"))


@bp.get("/notes/<number>.pdf")
@page_for("partner")
def note_pdf(number: str) -> Response:
    """The signed PDF of an issued note (audited)."""
    signed = issued_notes.issued_pdf(get_db(), number)
    _audit("partenaire.telechargement", number)
    return Response(signed, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{number}.pdf"',
                             "Cache-Control": "private, no-store"})
