"""The partner's layers (/partenaire/couches, issue 16): « Mes couches », create a layer, upload a version,
describe and publish it. Thin: parse the form, call layers/partner_edits.py, render or redirect.

A partner account sees and changes its organisation's layers; an administrator every layer. A refused change
(a bad file, a bad value) is shown on the page with its French reason and its 4xx status, and the request's
transaction is rolled back: nothing of it is written.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request

from api.accounts import current_account
from api.db import get_db, keep_writes
from api.i18n import t
from api.spaces import page_for
from gis.errors import FileFormatError, PayloadTooLarge, UrbasigError
from layers import partner_edits, partner_layers
from layers.imports import SUFFIXES

bp = Blueprint("partner_layers", __name__, url_prefix="/partenaire/couches")


@bp.url_value_preprocessor
def _upload_limit(endpoint: str | None, values: dict | None) -> None:
    """An upload may be larger than the app's 5 MiB, up to URBASIG_PARTNER_UPLOAD_MAX_MB: set before any hook reads
    the form (Flask runs the URL value preprocessors before every `before_request`, as api/spaces/applicant.py)."""
    if endpoint == "partner_layers.upload" and request.method == "POST":
        request.max_content_length = current_app.config["URBASIG"].partner_upload_max_mb * 1024 * 1024


def _form() -> dict[str, str]:
    """The posted fields; a checkbox after its hidden « 0 » counts by its last value."""
    form = request.form.to_dict()
    for name in request.form:
        form[name] = request.form.getlist(name)[-1]
    return form


def _editor() -> partner_edits.Editor:
    account = current_account() or {}
    return partner_edits.Editor(account.get("id"), account.get("email", ""), account.get("organisation"),
                                admin=account.get("role") == "admin")


def _list_page(status: int = 200, error: str | None = None, form: dict | None = None) -> tuple[str, int]:
    return render_template("spaces/partner/layers.html", layers=partner_edits.layers_of(get_db(), _editor()),
                           licences=partner_layers.LICENCES, kinds=partner_layers.GEOMETRY_KINDS, error=error,
                           form=form or {}, editor=_editor()), status


def _layer_page(slug: str, status: int = 200, error: str | None = None) -> tuple[str, int]:
    found = [(layer, versions) for layer, versions in partner_edits.layers_of(get_db(), _editor())
             if layer.slug == slug]
    if not found:
        partner_edits.check_editable(get_db(), slug, _editor())  # the 403 or 404 of someone who may not change it
    layer, versions = found[0]
    return render_template("spaces/partner/layer.html", layer=layer, versions=versions,
                           licences=partner_layers.LICENCES, audiences=partner_layers.AUDIENCES,
                           types=partner_layers.ATTRIBUTE_TYPES, error=error), status


@bp.get("")
@page_for("partner", "admin")
def layers() -> tuple[str, int]:
    """« Mes couches »: the organisation's layers, every version, and the form to create one."""
    return _list_page()


@bp.post("")
@page_for("partner", "admin")
def create() -> Response | tuple[str, int]:
    """Create a layer (no version yet, audience « owner »)."""
    try:
        layer = partner_edits.create_layer(get_db(), _editor(), request.form.to_dict())
    except UrbasigError as exc:
        if exc.status >= 500:
            raise
        return _list_page(exc.status, exc.message, request.form.to_dict())
    flash(t("partner.layers.created", title=layer.title_fr), "ok")
    return redirect(f"/partenaire/couches/{layer.slug}", code=303)


@bp.get("/<slug>")
@page_for("partner", "admin")
def layer(slug: str) -> tuple[str, int]:
    """One layer: its versions, the upload form, its description and its publication."""
    return _layer_page(slug)


def _saved(folder: Path) -> tuple[Path, str]:
    """The uploaded file written into `folder` under a safe name keeping its suffix."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise FileFormatError(t("partner.layers.no_file"))
    filename = Path(upload.filename.replace("\\", "/")).name
    suffix = Path(filename).suffix.lower()
    if suffix not in SUFFIXES or suffix == ".dxf":
        raise FileFormatError(f"format non pris en charge : « {suffix or filename[:40]} » ; déposez un GeoPackage "
                              "(.gpkg), un Shapefile zippé (.zip) ou un GeoJSON (.geojson)")
    path = folder / (re.sub(r"[^A-Za-z0-9._-]", "_", Path(filename).stem)[:80] + suffix)
    upload.save(path)
    if path.stat().st_size == 0:
        raise FileFormatError(f"fichier vide : {filename[:80]} ne contient rien")
    return path, filename


@bp.post("/<slug>/versions")
@page_for("partner", "admin")
def upload(slug: str) -> Response | tuple[str, int]:
    """Upload a file as the layer's next version, through the import pipeline (all or nothing)."""
    settings = current_app.config["URBASIG"]
    filename = ""
    try:
        sent = request.files.get("file")
        filename = Path(((sent.filename or "") if sent else "").replace("\\", "/")).name  # for a refusal's audit
        with tempfile.TemporaryDirectory(prefix="urbasig-partenaire-") as tmp:
            path, filename = _saved(Path(tmp))
            if path.stat().st_size > settings.partner_upload_max_mb * 1024 * 1024:
                raise PayloadTooLarge(f"fichier de {path.stat().st_size / 1e6:.1f} Mo : au plus "
                                      f"{settings.partner_upload_max_mb} Mo (URBASIG_PARTNER_UPLOAD_MAX_MB)")
            done = partner_edits.upload_version(
                get_db(), slug, _editor(), path, filename, repair=request.form.get("repair") == "1",
                declared=partner_edits.parse_declarations(request.form.get("declarations", "")),
                max_features=settings.partner_max_features)
    except UrbasigError as exc:
        if exc.status >= 500 or exc.status in (403, 404):
            raise
        partner_edits.record_refusal(get_db(), slug, _editor(), filename or "(sans fichier)", exc.message)
        keep_writes()  # the refusal's audit line stays; the upload itself wrote nothing
        return _layer_page(slug, exc.status, exc.message)
    flash(t("partner.layers.uploaded", version=done.version, n=done.count, crs=done.source_crs), "ok")
    return redirect(f"/partenaire/couches/{slug}", code=303)


@bp.post("/<slug>")
@page_for("partner", "admin")
def edit(slug: str) -> Response | tuple[str, int]:
    """Change the description, licence, labels, audience or information layer (only the fields sent)."""
    try:
        partner_edits.edit_layer(get_db(), slug, _editor(), _form())
    except UrbasigError as exc:
        if exc.status >= 500 or exc.status in (403, 404):
            raise
        return _layer_page(slug, exc.status, exc.message)
    flash(t("partner.layers.saved"), "ok")
    return redirect(f"/partenaire/couches/{slug}", code=303)
