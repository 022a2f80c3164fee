"""What every request and answer goes through for safety: the Host check, CSRF, the security headers, links.

- Absolute links (e-mails, the payment order, the QR code of a signed note, OGC links) come from
  URBASIG_PUBLIC_URL, never from the request's Host; a Host that is neither the public URL's nor one of
  URBASIG_ALLOWED_HOSTS is refused (400), before any view runs.
- A state-changing request that carries a signed-in session cookie must come from a page of the public URL:
  its Origin (or, without one, its Referer) is compared strictly with the public URL's origin (403 otherwise).
  Requests without a session (anonymous calls, partner API keys, the payment gateway) are not cookie-based
  and are not concerned.
- Every answer (pages, JSON, OGC, errors, static files) carries the Content-Security-Policy and the other
  headers below; HSTS and Secure cookies when the public URL is https.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request, session

from gis.errors import Forbidden, InputError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Pages whose address holds a secret (the e-mailed token) or that a person reaches from a note: send no Referer.
NO_REFERRER = ("/notes/accounts/verify", "/verify", "/espace/mot-de-passe")
HSTS = "max-age=31536000; includeSubDomains"


def origin_of(url: str | None) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL or an Origin header, default ports filled in; None when unreadable."""
    if not url or url == "null":
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or (443 if parts.scheme == "https" else 80)


def public_link(path: str) -> str:
    """An absolute link to `path` ("/notes/…") on the public URL."""
    return current_app.config["URBASIG"].public_base + path


def content_security_policy(gateway_url: str, public_url: str = "") -> str:
    """Only the app's own assets; forms may also post to the payment gateway (the applicant pays there).

    The test gateway mounted in development is on the public URL itself: 'self' covers it.
    """
    gateway = origin_of(gateway_url)
    form_action = "'self'"
    if gateway and gateway != origin_of(public_url):
        scheme, host, port = gateway
        form_action += f" {scheme}://{host}:{port}"
    return ("default-src 'self'; img-src 'self' data: blob:; worker-src 'self' blob:; style-src 'self'; "
            f"script-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action {form_action}; object-src 'none'")


def check_host() -> None:
    """Refuse a Host header that is neither the public URL's host nor an allowed one."""
    settings = current_app.config["URBASIG"]
    try:
        host = urlsplit("//" + request.host).hostname or ""
    except ValueError:
        host = ""
    if host.lower() not in settings.host_names:
        shown = request.host[:100]
        raise InputError(f"hôte inconnu « {shown} » : ce service répond à l'adresse {settings.public_base} "
                         "(ou ajoutez cet hôte à URBASIG_ALLOWED_HOSTS)")


def check_origin() -> None:
    """Refuse a state-changing request made with a session cookie from anywhere but the public URL's pages."""
    if request.method in SAFE_METHODS or not session.get("sid"):
        return
    settings = current_app.config["URBASIG"]
    sent = request.headers.get("Origin")
    origin = origin_of(sent) if sent is not None else origin_of(request.headers.get("Referer"))
    if origin is None or origin != origin_of(settings.public_url):
        raise Forbidden(f"demande refusée : une action faite avec votre session doit venir des pages de "
                        f"{settings.public_base} (en-tête Origin ou Referer absent ou différent)")


def add_headers(response: Response) -> Response:
    """Put the security headers on every answer."""
    settings = current_app.config["URBASIG"]
    headers = response.headers
    headers["Content-Security-Policy"] = current_app.extensions["urbasig.csp"]
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    no_referrer = any(request.path == p or request.path.startswith(p + "/") for p in NO_REFERRER)
    headers["Referrer-Policy"] = "no-referrer" if no_referrer else "strict-origin-when-cross-origin"
    if settings.https:
        headers["Strict-Transport-Security"] = HSTS
    if request.path.startswith(("/ogc", "/donnees")):
        response.vary.add("X-API-Key")  # a key may see more (a partner's layers, restricted fields)
    if "Cache-Control" not in headers and _credentials():
        headers["Cache-Control"] = "private"  # said for itself: what a key or a session saw stays out of shared caches
    return response


def _credentials() -> bool:
    """Whether the request names someone: a partner key, or a session cookie."""
    return bool(request.headers.get("X-API-Key") or request.args.get("api_key")
                or request.cookies.get(current_app.config.get("SESSION_COOKIE_NAME") or "session"))


def register_security(app: Flask) -> None:
    """Install the Host and CSRF checks, the headers, and the cookie flags that follow the public URL."""
    settings = app.config["URBASIG"]
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=settings.https)
    app.extensions["urbasig.csp"] = content_security_policy(settings.payment_gateway_url, settings.public_url)
    app.before_request(check_host)
    app.before_request(check_origin)
    app.after_request(add_headers)
