"""The signatory's space (/signature/): accepted requests, a preview of the note, signing, delivery state.

Signing goes through notes/official.py `sign_and_send`, one request at a time, each in its own savepoint: one
that fails (signed meanwhile by someone else, a rendering error) is named on the page and leaves the others
signed. The delivery state of a note is its e-mail's row in the outbox (layers/note_requests.py `signed_notes`).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request

from api.accounts import current_account
from api.db import get_db
from api.i18n import t
from api.security import public_link
from api.spaces import page_for
from gis.errors import UrbasigError
from layers import note_requests
from layers.db import current_deadline
from notes.official import Delivery, preview_pdf, sign_and_send
from notes.signing import signing_material

log = logging.getLogger(__name__)
bp = Blueprint("signature", __name__, url_prefix="/signature")
MAX_BATCH = 50  # notes signed by one form (each one renders and signs a PDF)
RESERVE_S = 2.0  # a note is started only with this much of the request's time budget left (one takes < 1 s)


@bp.get("/")
@page_for("signatory")
def home() -> str:
    """The accepted requests waiting for a signature, and the notes signed with the state of their e-mail."""
    conn = get_db()
    return render_template("spaces/signature/home.html", rows=note_requests.staff_queue(conn, "acceptee"),
                           signed=note_requests.signed_notes(conn), max_batch=MAX_BATCH)


@bp.get("/demandes/<number>/apercu.pdf")
@page_for("signatory")
def preview(number: str) -> Response:
    """The note as it will be signed, unsigned and stamped « aperçu »."""
    document = preview_pdf(get_db(), number, public_link(""))
    return Response(document, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="apercu-{number}.pdf"',
                             "Cache-Control": "private, no-store"})


@bp.post("/signer")
@page_for("signatory")
def sign() -> Response:
    """Sign and send each request ticked; say which were signed and which not, and why."""
    numbers = list(dict.fromkeys(n.strip() for n in request.form.getlist("number") if n.strip()))
    if not numbers:
        flash(t("staff.sign.none"), "ko")
        return redirect("/signature/", code=303)
    if len(numbers) > MAX_BATCH:
        flash(t("staff.sign.too_many", n=MAX_BATCH), "ko")
        return redirect("/signature/", code=303)
    conn, account = get_db(), current_account()
    delivery = Delivery(public_link(""), *signing_material(current_app.config["URBASIG"]))
    done, failed, deadline = [], [], current_deadline.get()
    for i, number in enumerate(numbers):
        if deadline is not None and deadline.remaining_s() < RESERVE_S:  # stop in time, keep what is signed
            failed.append(t("staff.sign.later", numbers=", ".join(numbers[i:])))
            break
        try:
            sign_and_send(conn, number, account, delivery)  # its own savepoint: a failure undoes only this one
        except UrbasigError as exc:
            failed.append(t("staff.sign.failed_one", number=number, reason=exc.message))
        except Exception:  # a rendering or signing error: logged, named, and the others stay signed
            log.exception("signature de %s impossible", number)
            failed.append(t("staff.sign.failed_one", number=number, reason=t("staff.sign.unexpected")))
        else:
            done.append(number)
    if done:
        flash(t("staff.sign.done", n=len(done), numbers=", ".join(done)), "ok")
    for message in failed:
        flash(message, "ko")
    return redirect("/signature/", code=303)
