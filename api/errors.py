"""The one HTTP error boundary: our errors, Werkzeug's (404, 405, 413…) and any unexpected exception.

Each becomes one of ours (gis/errors.py) and is answered in the form its reader calls for, by content
negotiation (api/negotiation.py: `?f=`, else the Accept header), the same on every route:

- a person's browser (Accept prefers text/html, or `?f=html`): the page `error.html`, in French or Arabic
  (api/i18n.py), with what happened, what to do, the wait of a Retry-After and the request id;
- any other client under `/ogc`: an OGC API exception document `{"code", "description"}`;
- any other client elsewhere (curl and requests send `*/*`, scripts `application/json`):
  `{"code", "message", "request_id"}`.

Every response carries `X-Request-Id` (the one a proxy sent when well-formed, else a new one) and every error
is logged with it: 4xx on one line, 5xx with the traceback and the chained driver error. An answer never
holds an exception's own text: only our French messages, and for the unexpected a reference to the log.
"""

from __future__ import annotations

import json
import logging
import re
import uuid

from flask import Flask, Response, current_app, g, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from api.i18n import current_lang
from api.negotiation import prefers_html
from api.pages import error_context, status_text
from gis.errors import InputError, MethodNotAllowed, NotFound, PayloadTooLarge, UrbasigError

log = logging.getLogger("urbasig.http")

OGC_CODES = {400: "InvalidParameterValue", 401: "Unauthorized", 404: "NotFound", 405: "MethodNotAllowed",
             413: "PayloadTooLarge", 500: "ServerError", 503: "ServiceUnavailable"}
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def request_id() -> str:
    """This request's id: the X-Request-Id sent by a proxy when well-formed, otherwise a new one."""
    if "request_id" not in g:
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    return g.request_id


def _from_http(exc: HTTPException) -> UrbasigError:
    """One of ours for an HTTP error raised by Flask or Werkzeug (their English descriptions are never sent)."""
    if exc.code == 404:
        return NotFound(f"adresse inconnue : « {request.path} » (vérifiez le lien)")
    if exc.code == 405:
        allowed = ", ".join(sorted(getattr(exc, "valid_methods", None) or []))
        return MethodNotAllowed(f"méthode {request.method} non permise sur cette adresse (permises : {allowed})")
    if exc.code == 413:
        limit_mb = (request.max_content_length or current_app.config.get("MAX_CONTENT_LENGTH") or 0) / (1024 * 1024)
        return PayloadTooLarge(f"envoi trop volumineux : {limit_mb:g} Mo au plus")
    if exc.code == 400:
        return InputError("demande illisible : vérifiez le corps et les paramètres envoyés")
    error = UrbasigError(f"demande refusée ({status_text('title', exc.code or 500, 'fr')})")
    error.status, error.code = exc.code or 500, f"http-{exc.code}"
    return error


def as_ours(exc: BaseException) -> UrbasigError:
    """The error of our hierarchy that answers `exc`; the unexpected become a 500 that points to the log."""
    if isinstance(exc, InternalServerError) and exc.original_exception is not None:
        exc = exc.original_exception  # an exception Flask caught outside the view (e.g. in after_request)
    if isinstance(exc, UrbasigError):
        return exc
    if isinstance(exc, HTTPException):
        return _from_http(exc)
    if isinstance(exc, UnicodeEncodeError) and _raised_by_driver(exc):
        return InputError("caractère invalide dans la demande (caractère Unicode isolé, non codable en UTF-8)")
    return UrbasigError(f"erreur interne : l'incident est enregistré sous la référence {request_id()}, "
                        "réessayez plus tard ou signalez-la")


def _raised_by_driver(exc: BaseException) -> bool:
    """Whether `exc` was raised inside psycopg: encoding a text parameter for the database (the safety net).

    Our readers refuse such texts first (gis/jsontext.py); one that slips through is the caller's, not a bug of
    ours, but any other UnicodeEncodeError (writing a file, a log) stays a 500.
    """
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    module = tb.tb_frame.f_globals.get("__name__", "") if tb is not None else ""
    return module.split(".", 1)[0] in ("psycopg", "psycopg_binary", "psycopg_c")


def _form() -> str:
    """`html`, `ogc` or `json`: the form of the error answer for this request (content negotiation)."""
    if prefers_html():
        return "html"
    path = request.path
    return "ogc" if path == "/ogc" or path.startswith("/ogc/") else "json"


def _log(exc: BaseException, error: UrbasigError) -> None:
    line = "request_id=%s %s %s -> %d %s : %s"
    args = (request_id(), request.method, request.path, error.status, error.code, error.message)
    if error.status >= 500:
        original = exc.original_exception if isinstance(exc, InternalServerError) and exc.original_exception else exc
        log.error(line, *args, exc_info=(type(original), original, original.__traceback__))
    elif isinstance(exc, UnicodeEncodeError):  # the safety net: a reader let this text through, say where
        log.warning(line, *args, exc_info=(type(exc), exc, exc.__traceback__))
    else:
        log.info(line, *args)


def handle_error(exc: Exception) -> Response:
    """Answer any exception raised while handling a request, in the form its route calls for."""
    error = as_ours(exc)
    _log(exc, error)
    form = _form()
    if form == "ogc":
        body = {"code": OGC_CODES.get(error.status, error.code), "description": error.message}
        if getattr(error, "ogc_type", None):  # an exception type of the standard (e.g. processes' result-not-ready)
            body |= {"type": error.ogc_type, "status": error.status}  # type: ignore[attr-defined]
        response = Response(json.dumps(body, ensure_ascii=False), error.status, mimetype="application/json")
    elif form == "html":
        page = render_template("error.html", error=error, request_id=request_id(),
                               **error_context(error, current_lang()))
        response = Response(page, error.status, mimetype="text/html")
    else:
        body = {**error.to_dict(), "request_id": request_id()}
        response = Response(json.dumps(body, ensure_ascii=False, default=str), error.status,
                            mimetype="application/json")
    if error.status == 401 and request.path.startswith("/ogc"):  # a partner key refused (RFC 9110: say how to authenticate)
        response.headers["WWW-Authenticate"] = 'X-API-Key realm="urbasig"'
    if error.retry_after_s is not None:  # 429: the rate limit's window; 503: the database or the time budget
        response.headers["Retry-After"] = str(error.retry_after_s)
    if isinstance(exc, HTTPException) and exc.code == 405:
        response.headers["Allow"] = ", ".join(sorted(getattr(exc, "valid_methods", None) or []))
    return response


def stamp_request_id(response: Response) -> Response:
    """Give every response its X-Request-Id."""
    response.headers["X-Request-Id"] = request_id()
    return response


def register_errors(app: Flask) -> None:
    """Install the boundary: one handler for every exception, the request id on every response."""
    app.register_error_handler(Exception, handle_error)
    app.after_request(stamp_request_id)
