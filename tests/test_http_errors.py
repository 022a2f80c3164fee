"""The one HTTP error boundary, against the real app and a real PostGIS: 404, 405, 413, our errors and an
unexpected exception, in each form chosen by content negotiation — OGC exception JSON under /ogc, JSON
elsewhere, the French HTML page to a browser (on any route) — each with its request id in the header, the
body and the log line; never a driver's text."""

from __future__ import annotations

import html
import logging
import re

import pytest

from api.db import get_db
from app import create_app
from settings import Settings
from tests.helpers import app_settings

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
SECRET = "texte-interne-qui-ne-doit-pas-sortir"
DRIVER_WORDS = ("psycopg", "relation", "does not exist", "syntax error", "Traceback", "connection failed",
                "Connection refused", SECRET)
BIG = b"x" * (6 * 1024 * 1024)  # above MAX_CONTENT_LENGTH (5 MB)


def _boom():
    raise RuntimeError(SECRET)


def _bad_sql():
    get_db().execute("SELECT * FROM table_qui_n_existe_pas")
    return "jamais"


@pytest.fixture
def client(db_url):
    app = create_app(app_settings(db_url, pool_min=1, pool_max=2))
    # test-only routes, one per form: an OGC path, a JSON API path, a page
    for prefix in ("/ogc/_test", "/notes/requests/_test", "/_test"):
        app.add_url_rule(f"{prefix}/boom", f"boom{prefix}", _boom)
        app.add_url_rule(f"{prefix}/sql", f"sql{prefix}", _bad_sql)
    return app.test_client()


def _no_leak(response) -> str:
    text = response.get_data(as_text=True)
    for word in DRIVER_WORDS:
        assert word not in text, (word, text)
    return text


def _request_id(response) -> str:
    rid = response.headers.get("X-Request-Id", "")
    assert re.fullmatch(r"[A-Za-z0-9._-]{8,64}", rid), response.headers
    return rid


def _ogc(response, status: int, code: str) -> dict:
    assert response.status_code == status and response.mimetype == "application/json"
    _request_id(response)
    body = response.get_json()
    assert body["code"] == code and body["description"], body
    _no_leak(response)
    return body


def _json(response, status: int, code: str) -> dict:
    assert response.status_code == status and response.mimetype == "application/json"
    body = response.get_json()
    assert body["code"] == code and body["message"] and body["request_id"] == _request_id(response), body
    _no_leak(response)
    return body


def _html(response, status: int, title: str) -> str:
    assert response.status_code == status and response.mimetype == "text/html"
    text = html.unescape(_no_leak(response))  # the page's text as read (autoescaped apostrophes and all)
    assert 'lang="fr"' in text and title in text and _request_id(response) in text, text
    return text


def test_404_in_each_form(client):
    _ogc(client.get("/ogc/nulle-part"), 404, "NotFound")
    _ogc(client.get("/ogc/nulle-part?f=json", headers=BROWSER), 404, "NotFound")  # f=json wins over Accept
    _html(client.get("/ogc/nulle-part", headers=BROWSER), 404, "Page introuvable")  # a person gets the page
    _json(client.get("/notes/session/nulle-part"), 404, "introuvable")
    _json(client.get("/notes/session/nulle-part", headers={"Accept": "application/json"}), 404, "introuvable")
    _html(client.get("/notes/session/nulle-part", headers=BROWSER), 404, "Page introuvable")
    page = _html(client.get("/nulle-part", headers=BROWSER), 404, "Page introuvable")
    assert "/nulle-part" in page and "Retour à l'accueil" in page
    _json(client.get("/nulle-part"), 404, "introuvable")  # a script asking for no HTML gets JSON


def test_405_in_each_form_with_allow(client):
    r = client.post("/ogc/conformance")
    _ogc(r, 405, "MethodNotAllowed")
    assert "GET" in r.headers["Allow"]
    r = client.put("/notes/session")
    assert "POST" in _json(r, 405, "methode-non-permise")["message"] and "DELETE" in r.headers["Allow"]
    _html(client.post("/", headers=BROWSER), 405, "Méthode non permise")


def test_413_in_each_form(client):
    body = _ogc(client.post("/ogc/processes/instruction/execution", data=BIG, content_type="application/json"),
                413, "PayloadTooLarge")
    assert "5 Mo" in body["description"]
    assert "5 Mo" in _json(client.post("/notes/accounts", data=BIG, content_type="application/json"), 413,
                           "trop-volumineux")["message"]
    page = client.post("/verify", data={"pdf": (__import__("io").BytesIO(BIG), "note.pdf")}, headers=BROWSER)
    assert "5 Mo" in _html(page, 413, "Envoi trop volumineux")


def test_our_errors_in_each_form(client):
    _ogc(client.get("/ogc/collections/batiments"), 404, "NotFound")
    _json(client.get("/notes/requests"), 401, "non-authentifie")
    page = _html(client.get("/notes/indicative?land=TF%201/C&format=doc", headers=BROWSER), 400, "Demande incorrecte")
    assert "pdf ou html" in page
    assert "pdf ou html" in _json(client.get("/notes/indicative?format=doc"), 400, "entree-invalide")["message"]


def test_unexpected_exception_in_each_form_is_logged_with_its_request_id(client, caplog):
    caplog.set_level(logging.INFO, logger="urbasig.http")
    for path in ("/ogc/_test/boom", "/notes/requests/_test/boom", "/_test/boom"):
        accept = BROWSER if path == "/_test/boom" else {"Accept": "*/*"}  # a page, and two API clients
        r = client.get(path, headers={**accept, "X-Request-Id": f"lb-{path.count('/')}-0123456789"})
        rid = _request_id(r)
        assert rid == f"lb-{path.count('/')}-0123456789"  # the proxy's id is kept
        if path.startswith("/ogc"):
            assert rid in _ogc(r, 500, "ServerError")["description"]
        elif path.startswith("/notes"):
            assert rid in _json(r, 500, "erreur-interne")["message"]
        else:
            _html(r, 500, "Erreur interne")
        lines = [rec for rec in caplog.records if rid in rec.getMessage()]
        assert lines and lines[0].levelno == logging.ERROR and path in lines[0].getMessage()
        assert lines[0].exc_info and SECRET in str(lines[0].exc_info[1])  # the cause is in the log, not the answer


def test_a_database_error_never_leaks_its_text(client, caplog):
    caplog.set_level(logging.INFO, logger="urbasig.http")
    _ogc(client.get("/ogc/_test/sql"), 500, "ServerError")
    _json(client.get("/notes/requests/_test/sql"), 500, "erreur-interne")
    _html(client.get("/_test/sql", headers=BROWSER), 500, "Erreur interne")
    assert any("table_qui_n_existe_pas" in str(rec.exc_info[1]) for rec in caplog.records if rec.exc_info)


def test_an_unreachable_database_is_503_without_driver_text(caplog):
    client = create_app(Settings(app_database_url="postgresql://nobody:x@127.0.0.1:1/none", pool_min=1,
                                 pool_max=1, pool_timeout_s=0.5)).test_client()
    caplog.set_level(logging.INFO, logger="urbasig.http")
    _ogc(client.get("/ogc/collections"), 503, "ServiceUnavailable")
    _json(client.post("/notes/session", json={"email": "a@b.ma", "password": "x" * 10}), 503, "base-indisponible")
    _html(client.get("/verify/ABCD1234", headers=BROWSER), 503, "Service momentanément indisponible")


def test_every_response_has_a_request_id(client):
    ids = {_request_id(client.get(path)) for path in ("/", "/health", "/ogc/", "/ogc/conformance", "/verify")}
    assert len(ids) == 5  # a new one each time
    for forged in ("<script>alert(1)</script>", "id avec espaces et ; point-virgule", "x" * 65):
        assert _request_id(client.get("/", headers={"X-Request-Id": forged})) != forged  # replaced, never echoed


def test_a_driver_error_in_an_ogc_query_is_a_400_without_its_text(live):
    """PROJ cannot transform lon 1000: the error is translated in layers/features.py, its text stays out."""
    import requests

    r = requests.get(f"{live}/collections/zones/items", params={"filter": "S_INTERSECTS(geometry, POINT(1000 1000))"},
                     timeout=30)
    assert r.status_code == 400 and r.json()["code"] == "InvalidParameterValue"
    assert r.json()["description"].startswith("requête inapplicable : une valeur du filtre") and r.headers["X-Request-Id"]
    for word in ("transform:", "PROJ", "latitude", "exceeded", "XX000", "psycopg"):
        assert word not in r.text


def _driver_encoding():
    get_db().execute("SELECT %s::text", ("\ud800",))  # a lone surrogate that slipped past every reader
    return "jamais"


def _our_encoding():
    return "\ud800".encode()  # a bug of ours: not the driver's


def test_a_text_the_driver_cannot_encode_is_a_400_and_other_encoding_errors_stay_500(db_url, caplog):
    """The safety net of the boundary: psycopg encoding a parameter means the caller sent it; anything else is a bug."""
    app = create_app(app_settings(db_url, pool_min=1, pool_max=2))
    app.add_url_rule("/ogc/_test/driver-encoding", "driver_encoding", _driver_encoding)
    app.add_url_rule("/_test/our-encoding", "our_encoding", _our_encoding)
    client = app.test_client()
    caplog.set_level(logging.INFO, logger="urbasig.http")
    assert "caractère invalide" in _ogc(client.get("/ogc/_test/driver-encoding"), 400, "InvalidParameterValue")[
        "description"]
    _json(client.get("/_test/our-encoding"), 500, "erreur-interne")
    assert any(rec.levelno == logging.WARNING and rec.exc_info for rec in caplog.records)  # the 400 keeps its trace
