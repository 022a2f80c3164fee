"""Pages for people: every error and page a person opens is an HTML page in French (Arabic with ?lang=ar),
with what happened, what to do and when to retry; a program asking for JSON (curl, requests, fetch, API
clients) gets JSON from the same addresses (content negotiation, api/negotiation.py)."""

from __future__ import annotations

import html
import re

import pytest

from api.pages import delay_text
from app import create_app
from settings import Settings
from tests import instruction_world as world
from tests.helpers import app_settings

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
CLIENTS = ({"Accept": "*/*"}, {"Accept": "application/json"}, {})  # curl / requests, an API client, no header
PASSWORD = "mot de passe solide"


def _boom():
    raise RuntimeError("interne")


@pytest.fixture
def app(db_url, conn):
    world.build(conn)  # plans and parcels: a land reference is read, then looked up
    app = create_app(app_settings(db_url, pool_min=1, pool_max=2, indicative_per_minute=1000,
                                  public_url="http://localhost"))
    app.add_url_rule("/_test/boom", "boom", _boom)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def page(response, status: int, lang: str = "fr") -> str:
    """The text of an HTML page answered with `status` in `lang` (unescaped)."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == "text/html"
    text = html.unescape(response.get_data(as_text=True))
    assert f'<html lang="{lang}" dir="{"rtl" if lang == "ar" else "ltr"}">' in text
    assert "{" not in re.sub(r"<script.*?</script>", "", text, flags=re.S)  # no placeholder left unfilled
    return text


def json_answer(response, status: int, code: str) -> dict:
    assert response.status_code == status and response.mimetype == "application/json", response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == code and body["message"], body
    return body


CASES = [  # (what a person does, address, status, the error's code, words the French page must hold)
    ("a bad title", "/notes/indicative?land=n%27importe%20quoi&format=html", 400, "reference-fonciere",
     ("Demande incorrecte", "TF 3875/C")),
    ("an unknown land", "/notes/indicative?land=TF%20999999/Z&format=html", 404, "introuvable",
     ("Page introuvable", "cherchez le terrain")),
    ("a wrong link", "/nulle/part", 404, "introuvable", ("Page introuvable", "/nulle/part")),
    ("an API address opened", "/notes/session", 405, "methode-non-permise", ("Méthode non permise", "POST")),
    ("a staff page opened", "/notes/requests", 401, "non-authentifie", ("Connexion nécessaire", "Connectez-vous")),
    ("an unknown payment", "/notes/payments/return/CMD-inconnue", 404, "introuvable", ("commande inconnue",)),
    ("an unknown QR code", "/verify/NOPE1234", 404, "introuvable", ("Vérifier une note", "inconnu")),
    ("a bug", "/_test/boom", 500, "erreur-interne", ("Erreur interne", "Réessayez dans quelques minutes")),
]


@pytest.mark.parametrize(("what", "path", "status", "code", "words"), CASES, ids=[c[0] for c in CASES])
def test_a_browser_gets_a_french_page_and_a_program_json(client, what, path, status, code, words):
    text = page(client.get(path, headers=BROWSER), status)
    for word in words:
        assert word in text, (what, word)
    assert 'href="/"' in text and "référence de la demande" in text or "/verify" in path
    for headers in CLIENTS:
        json_answer(client.get(path, headers=headers), status, code)


@pytest.mark.parametrize(("what", "path", "status", "code", "words"), CASES, ids=[c[0] for c in CASES])
def test_the_same_pages_in_arabic(client, what, path, status, code, words):
    sep = "&" if "?" in path else "?"
    text = page(client.get(f"{path}{sep}lang=ar", headers=BROWSER), status, "ar")
    assert re.search("[\u0600-\u06ff]{4}", re.sub(r"<[^>]+>", "", text)), what
    assert "Français" in text  # the way back to French


def test_the_429_page_says_when_to_retry(db_url, conn):
    world.build(conn)
    client = create_app(app_settings(db_url, pool_min=1, pool_max=2, indicative_per_minute=1)).test_client()
    url = "/notes/indicative?land=TF%20999999/Z&format=html"
    for _ in range(3):  # one allowed a minute (an unknown land counts all the same); three cross any minute's end
        r = client.get(url, headers=BROWSER)
        if r.status_code == 429:
            break
    wait = int(r.headers["Retry-After"])
    assert 1 <= wait <= 60
    text = page(r, 429)
    assert "Trop de demandes" in text and f"Réessayez dans {delay_text(wait, 'fr')}." in text
    assert re.search(r"Réessayez dans (\d+ secondes?|une minute)\.", text)
    arabic = page(client.get(url + "&lang=ar", headers=BROWSER), 429, "ar")
    assert "أعد المحاولة بعد" in arabic and "طلبات كثيرة جدا" in arabic
    api = client.get(url.replace("&format=html", "&format=pdf"))
    json_answer(api, 429, "trop-de-requetes")
    assert 1 <= int(api.headers["Retry-After"]) <= 60  # the API client is told too, in the header


def test_an_hour_window_is_said_in_minutes_or_an_hour(db_url):
    client = create_app(app_settings(db_url, pool_min=1, pool_max=2, registrations_per_address_hour=0)).test_client()
    r = client.post("/notes/accounts", json={"email": "a@b.ma", "full_name": "A", "password": PASSWORD},
                    headers={"Accept": "text/html"})
    wait = int(r.headers["Retry-After"])
    assert 1 <= wait <= 3600
    assert f"Réessayez dans {delay_text(wait, 'fr')}." in page(r, 429)


def test_503_page_says_when_to_come_back():
    client = create_app(Settings(app_database_url="postgresql://nobody:x@127.0.0.1:1/none", pool_min=1,
                                 pool_max=1, pool_timeout_s=0.5)).test_client()
    r = client.get("/verify/ABCD1234", headers=BROWSER)
    text = page(r, 503)
    assert "Service momentanément indisponible" in text
    assert f"Réessayez dans {delay_text(int(r.headers['Retry-After']), 'fr')}." in text
    json_answer(client.get("/verify/ABCD1234"), 503, "base-indisponible")


def _token(client, conn, email="amina@example.ma"):
    r = client.post("/notes/accounts", json={"email": email, "full_name": "Amina Alaoui", "password": PASSWORD})
    assert r.status_code == 201
    body = conn.execute("SELECT body FROM outbox WHERE recipient = %s", (email,)).fetchone()[0]
    link = re.search(r"(http\S+/notes/accounts/verify\?token=\S+)", body).group(1)
    assert link.startswith("http://localhost/")  # built from the public URL
    return link.removeprefix("http://localhost")


def test_the_emailed_link_opens_a_page_saying_it_worked_or_why_not(client, conn):
    path = _token(client, conn)
    text = page(client.get(path, headers=BROWSER), 200)
    assert "Adresse vérifiée" in text and "vous pouvez vous connecter" in text
    assert conn.execute("SELECT verified_at IS NOT NULL FROM accounts WHERE email = 'amina@example.ma'").fetchone()[0]
    again = page(client.get(path, headers=BROWSER), 404)  # used once
    assert "Lien de vérification non valable" in again and "déjà servi" in again and "code à six chiffres" in again
    arabic = page(client.get(path + "&lang=ar", headers=BROWSER), 404, "ar")
    assert "رابط التحقق غير صالح" in arabic
    json_answer(client.get(path), 404, "introuvable")  # a program following the link still gets JSON


def test_the_emailed_link_in_arabic_and_for_a_program(client, conn):
    path = _token(client, conn, "karim@example.ma")
    assert "تم التحقق من العنوان" in page(client.get(path + "&lang=ar", headers=BROWSER), 200, "ar")
    path = _token(client, conn, "sara@example.ma")
    r = client.get(path)  # requests / curl
    assert r.status_code == 200 and r.get_json()["message"].startswith("adresse vérifiée")


def test_the_verify_page_reached_by_a_qr_code_keeps_its_form(client):
    text = page(client.get("/verify/NOPE1234", headers=BROWSER), 404)
    assert 'action="/verify"' in text and 'name="code"' in text and "Vérifier une note de renseignements" in text
    text = page(client.post("/verify", data={"f": "html"}, headers=BROWSER), 400)
    assert "envoyez le PDF ou saisissez le code" in text and 'name="pdf"' in text


def test_the_error_page_is_one_page_of_the_site(client):
    text = page(client.get("/nulle/part", headers=BROWSER), 404)
    assert "/static/css/pages.css" in text and "/vendor/@fontsource/noto-sans/latin-400.css" in text
    assert client.get("/static/css/pages.css").status_code == 200
    assert 'href="/nulle/part?lang=ar"' in text  # the language switch keeps the address


def test_delay_text_in_both_languages():
    assert delay_text(1, "fr") == "1 seconde" and delay_text(40, "fr") == "40 secondes"
    assert delay_text(60, "fr") == "une minute" and delay_text(61, "fr") == "2 minutes"
    assert delay_text(3600, "fr") == "une heure" and delay_text(5400, "fr") == "2 heures"
    assert delay_text(40, "ar") == "40 ثانية" and delay_text(5, "ar") == "5 ثوان" and delay_text(2, "ar") == "ثانيتين"
    assert delay_text(180, "ar") == "3 دقائق" and delay_text(3600, "ar") == "ساعة واحدة"
