"""The instructor's space (/instruction/): the queue, a request with its land, documents and decision.

Thin views over layers/note_requests.py (the queue, a request, its documents, its timeline) and notes/official.py
(`review`, `reinstruct`): a refusal from those (a reason missing, a request decided meanwhile by someone else)
is shown on the request's page with its status (400, 409…), never as JSON.
"""

from __future__ import annotations

import io
import re
from datetime import date

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, send_file

from api.accounts import current_account
from api.db import get_db, keep_writes
from api.i18n import catalogue, current_lang, t
from api.spaces import page_for
from gis.errors import InputError, NotFound, UrbasigError
from instruction.summary import plan_citation, plan_line, summary_lines
from layers import note_requests
from layers.catalog import OTHER_FAMILY, ZONE_FAMILIES
from notes.official import reinstruct, review

bp = Blueprint("instruction", __name__, url_prefix="/instruction")
DEFAULT_STATUS = "instruite"
MAX_TEXT = 5000


def _day(name: str) -> date | None:
    """A day of the filters (AAAA-MM-JJ), None when empty; a clear 400 otherwise."""
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(t("staff.queue.bad_day", field=t(f"staff.queue.{name}"), value=value)) from None


def _filters() -> dict:
    """The queue's filters from the query (status, commune, du, au), checked."""
    status = request.args.get("status", DEFAULT_STATUS) or DEFAULT_STATUS
    if status not in note_requests.STATUSES:
        raise InputError(t("staff.queue.bad_status", value=status))
    since, until = _day("du"), _day("au")
    if since and until and since > until:
        raise InputError(t("staff.queue.bad_range"))
    return {"status": status, "commune": request.args.get("commune", "").strip() or None, "since": since,
            "until": until}


@bp.get("/")
@page_for("instructor")
def home() -> tuple[str, int]:
    """The queue of requests to review, with its filters (status, commune, date of request), oldest first."""
    conn = get_db()
    communes = note_requests.commune_choices(conn)
    try:
        filters = _filters()
    except InputError as exc:
        return render_template("spaces/instruction/home.html", rows=None, error=exc.message, communes=communes,
                               statuses=note_requests.STATUSES, args=request.args), exc.status
    rows = note_requests.staff_queue(conn, **filters)
    return render_template("spaces/instruction/home.html", rows=rows, error=None, communes=communes,
                           statuses=note_requests.STATUSES, args={**request.args, "status": filters["status"]}), 200


def _request_page(number: str, error: str | None = None, status: int = 200, text: str = "") -> tuple[str, int]:
    """The request's page, with the error of a refused action (and the text typed) when there is one."""
    conn = get_db()
    req = note_requests.staff_detail(conn, number)
    lang = current_lang()
    result = req["instruction"]
    steps = note_requests.timeline(conn, number)
    for step in steps:
        step["label"] = _step_label(step)
    failure = next((s["after"].get("message") for s in reversed(steps) if s["action"] == "note.instruction_echec"),
                   None) if req["status"] == "payee" else None
    return render_template(
        "spaces/instruction/request.html", req=req, result=result, steps=steps, failure=failure, error=error,
        text=text, summary=_summary(result, lang),
        cite=lambda plan: plan_citation(plan, lang), day=date.fromisoformat(result["date"]) if result else None,
        families=[f.id for f in ZONE_FAMILIES] + [OTHER_FAMILY], today=date.today().isoformat()), status


def _summary(result: dict | None, lang: str) -> list[str]:
    """The note's text of the stored instruction, as the note has it, less the lines the page shows above it."""
    if not result:
        return []
    cited = {plan_line(p, lang) for p in result["plans"]["applied"]}  # in the page's plan list already
    return [line for line in summary_lines(result, lang)[2:] if line not in cited]


def _step_label(step: dict) -> str:
    """What a step of the timeline did, in the page's language: the status it led to, else its action."""
    if step["status"]:
        return t(f"staff.status.{step['status']}")
    key = f"staff.action.{step['action']}"
    return t(key) if key in catalogue()[current_lang()] else t("staff.action.other", action=step["action"])


@bp.get("/demandes/<number>")
@page_for("instructor")
def request_page(number: str) -> tuple[str, int]:
    """A request: its land on the map, the stored instruction, the documents, the timeline, the decision."""
    return _request_page(number)


@bp.get("/demandes/<number>/documents/<document_id>")
@page_for("instructor")
def request_document(number: str, document_id: str) -> Response:
    """One supporting document, as an attachment with its stored type."""
    if not re.fullmatch(r"[0-9]{1,18}", document_id):  # a string rule: the guard answers first (access test)
        raise NotFound(f"pièce « {document_id} » introuvable pour la demande « {number} »")
    name, kind, data = note_requests.document(get_db(), number, int(document_id))
    response = send_file(io.BytesIO(data), mimetype=kind, as_attachment=True, download_name=name, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/demandes/<number>/decision")
@page_for("instructor")
def decide(number: str) -> Response | tuple[str, int]:
    """Accept with remarks or return with a reason (required); a refusal is said on the request's page."""
    decision = request.form.get("decision", "")
    text = request.form.get("text", "").strip()
    try:
        if decision not in ("accept", "return"):
            raise InputError(t("staff.decision.choose"))
        if len(text) > MAX_TEXT:
            raise InputError(t("staff.decision.too_long", n=MAX_TEXT))
        if decision == "return" and not text:
            raise InputError(t("staff.decision.reason_required"))
        status = review(get_db(), number, current_account(), decision == "accept", text or None)
    except UrbasigError as exc:
        if exc.status >= 500 or exc.status == 404:
            raise
        return _request_page(number, error=exc.message, status=exc.status, text=text)
    flash(t(f"staff.decision.done_{status}", number=number), "ok")
    return redirect("/instruction/", code=303)


@bp.post("/demandes/<number>/instruire")
@page_for("instructor")
def instruct_again(number: str) -> Response | tuple[str, int]:
    """Run the automatic instruction again on a paid request whose instruction failed."""
    from instruction.engine import Options

    conn = get_db()
    if note_requests.status_of(conn, number) is None:
        raise NotFound(note_requests.UNKNOWN.format(number=number))
    try:
        reinstruct(conn, number, current_account(), Options.from_settings(current_app.config["URBASIG"]), keep_writes)
    except UrbasigError as exc:  # a title missing (404), the data locked (409), the budget spent (503)…
        # the failure's audit line is kept already (keep_writes): the page's timeline shows it
        return _request_page(number, error=t("staff.reinstruct.failed", reason=exc.message), status=exc.status)
    flash(t("staff.reinstruct.done", number=number), "ok")
    return redirect(f"/instruction/demandes/{number}", code=303)
