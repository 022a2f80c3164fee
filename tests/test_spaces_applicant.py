"""The applicant's space through its pages, on loopback (issue 14, point 1): register with the mailed link, verify,
sign in and out, forgotten password, request two titles with a document, pay through the local test gateway,
follow the timeline, answer a return and resubmit, cancel, download the signed note; errors on the forms.

Every form is submitted as a browser does: GET the page, read its hidden `csrf`, POST it back with the Origin of
the public URL. One app, gateway and database for the module; each test has its own applicant.
"""

from __future__ import annotations

import os
import re
from html import unescape
from html.parser import HTMLParser

import psycopg
import pytest
import requests
from aiosmtpd.controller import Controller

from api.i18n import translate
from app import create_app
from devtools.gateway import create_gateway
from layers.accounts import create_account
from notes.mail import SmtpSettings, deliver_due
from tests import instruction_world as world
from tests.helpers import Inbox, app_settings, free_port, serve

SECRET = "secret-passerelle"
PASSWORD = "mot de passe solide"
PDF = ("titre.pdf", b"%PDF-1.4 certificat de propriete", "application/pdf")
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture(scope="module")
def site(server_url, template_name, tmp_path_factory):
    """(base URL, gateway URL, owner connection): one app over the hand-built territory, staff accounts made."""
    from layers.db import drop_database, ensure_database, with_dbname

    name = f"urbasig_applicant_{os.getpid()}"
    ensure_database(server_url, name, template=template_name)
    url = with_dbname(server_url, name)
    conn = psycopg.connect(url, autocommit=True)
    world.build(conn)
    for mail, role in (("instructeur@auc.ma", "instructor"), ("signataire@auc.ma", "signatory")):
        create_account(conn, mail, role.title(), PASSWORD, role=role, verified=True)
    gateway, gateway_url = serve(create_gateway(SECRET))
    port = free_port()
    app = create_app(app_settings(url, pool_min=1, pool_max=8, payment_secret=SECRET, var_dir=tmp_path_factory.mktemp("var"),
                                  registrations_per_address_hour=100, signin_per_address_hour=200,
                                  payment_gateway_url=f"{gateway_url}/pay", public_url=f"http://localhost:{port}"))
    server, base = serve(app, port)
    yield base, gateway_url, conn
    server.shutdown()
    gateway.shutdown()
    conn.close()
    app.extensions["urbasig.pool"].close()
    drop_database(server_url, name)


class _Forms(HTMLParser):
    """Every form of a page: id → {"action", "fields"} (hidden and text inputs, textareas, selected options)."""

    def __init__(self):
        super().__init__()
        self.forms, self._form, self._textarea, self._select = {}, None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {"action": a.get("action"), "fields": {}, "method": a.get("method")}
            self.forms[a.get("id") or f"form{len(self.forms)}"] = self._form
        elif self._form is not None and tag == "input" and a.get("name") and a.get("type") != "file":
            self._form["fields"][a["name"]] = a.get("value") or ""
        elif self._form is not None and tag == "textarea":
            self._textarea = a["name"]
            self._form["fields"][a["name"]] = ""
        elif self._form is not None and tag == "select":
            self._select = a["name"]
        elif self._select and tag == "option" and "selected" in a:
            self._form["fields"][self._select] = a.get("value") or ""

    def handle_data(self, data):
        if self._textarea:
            self._form["fields"][self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


def forms(html: str) -> dict:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


class Browser:
    """A requests session that behaves as a person's browser on the public URL's pages."""

    def __init__(self, base):
        self.base = base
        self.s = requests.Session()
        self.s.headers.update({"Origin": base.replace("127.0.0.1", "localhost"), **HTML})

    def get(self, path, **kw):
        return self.s.get(path if path.startswith("http") else self.base + path, timeout=30, **kw)

    def submit(self, page, form_id, data=None, files=None, headers=None):
        """Open `page`, fill its form `form_id` with `data` over its own fields, post it (no redirect followed)."""
        r = self.get(page)
        assert r.status_code == 200, (page, r.status_code, r.text[:500])
        form = forms(r.text)[form_id]
        fields = {**form["fields"], **(data or {})}
        action = form["action"] if form["action"].startswith("http") else self.base + form["action"]
        return self.s.post(action, data=fields, files=files, headers=headers, allow_redirects=False, timeout=60)


def _last_mail(conn, recipient):
    return conn.execute("SELECT subject, body FROM outbox WHERE recipient = %s ORDER BY id DESC LIMIT 1",
                        (recipient,)).fetchone()


def _text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def _register(base, conn, email, name="Amina Alaoui") -> Browser:
    """Register through the page, follow the link of the outbox's mail, sign in through the page."""
    b = Browser(base)
    r = b.submit("/espace/inscription", "register", {"full_name": name, "email": email, "password": PASSWORD,
                                                     "password2": PASSWORD})
    assert r.status_code == 303, r.text
    link = re.search(r"(http\S+/notes/accounts/verify\?token=\S+)", _last_mail(conn, email)[1]).group(1)
    assert b.get(link).status_code == 200
    _sign_in(b, email)
    return b


def _sign_in(b, email, password=PASSWORD, after=""):
    r = b.submit("/espace/connexion" + (f"?suivant={after}" if after else ""), "sign-in",
                 {"email": email, "password": password})
    return r


def _new_request(b, refs="TF 7/T\nT.8/T", files=(PDF,)):
    return b.submit("/espace/demandes/nouvelle", "new-request", {"refs": refs, "standing": "proprietaire"},
                    files=[("documents", f) for f in files])


def _pay(b, gateway_url, number):
    page = b.get(f"/espace/demandes/{number}")
    pay = forms(page.text)["pay"]
    assert pay["action"] == f"{gateway_url}/pay"
    r = requests.post(f"{gateway_url}/pay/confirm", data={**pay["fields"], "decision": "approve"},
                      allow_redirects=False, timeout=60)
    assert r.status_code == 303
    return r.headers["Location"]


def _staff(base, email):
    s = requests.Session()
    s.headers["Origin"] = base.replace("127.0.0.1", "localhost")
    assert s.post(f"{base}/notes/session", json={"email": email, "password": PASSWORD}, timeout=30).status_code == 200
    return s


def test_register_with_the_mailed_link_then_sign_in_and_out(site):
    base, _, conn = site
    b = Browser(base)
    r = b.submit("/espace/inscription", "register", {"full_name": "Karim Bennani", "email": "karim@example.ma",
                                                     "password": PASSWORD, "password2": PASSWORD})
    assert r.status_code == 303 and r.headers["Location"].startswith("/espace/verification?adresse=karim")
    page = b.get(r.headers["Location"])
    assert "Un courriel de vérification a été envoyé à karim@example.ma" in unescape(page.text)
    assert "code" in forms(page.text)["verify"]["fields"]
    # the mail reaches a real SMTP server on loopback; its link verifies the address and leads to the sign-in page
    port = free_port()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        deliver_due(conn, SmtpSettings(port=port))
    finally:
        controller.stop()
    mail = next(m for m in inbox.messages if m["To"] == "karim@example.ma")
    body = mail.get_payload(decode=True).decode()
    link = re.search(r"(http\S+/notes/accounts/verify\?token=\S+)", body).group(1)
    assert link.startswith(base.replace("127.0.0.1", "localhost"))  # the public URL
    assert _sign_in(b, "karim@example.ma").status_code == 403  # not verified yet: said on the form
    verified = b.get(link.replace("localhost", "127.0.0.1"))
    assert verified.status_code == 200 and 'href="/espace/connexion"' in verified.text
    r = _sign_in(b, "karim@example.ma")
    assert r.status_code == 303 and r.headers["Location"] == "/espace/"
    home = b.get("/espace/")
    assert home.status_code == 200 and "Vous êtes connecté(e), Karim Bennani" in unescape(home.text)
    assert "Vous n'avez encore demandé aucune note officielle" in unescape(home.text)
    # signing out ends the session in the database: the old cookie no longer opens the space
    cookie = b.s.cookies.get("session")
    r = b.submit("/espace/", "form0")  # the sign-out form of the header
    assert r.status_code == 303 and r.headers["Location"] == "/espace/connexion"
    replay = requests.get(f"{base}/espace/", cookies={"session": cookie}, headers=HTML, allow_redirects=False, timeout=30)
    assert replay.status_code == 303 and replay.headers["Location"].startswith("/espace/connexion?suivant=")


def test_sign_in_errors_and_where_it_leads(site):
    base, _, conn = site
    create_account(conn, "instr2@auc.ma", "Instructrice", PASSWORD, role="instructor", verified=True)
    b = Browser(base)
    r = _sign_in(b, "instr2@auc.ma", "mauvais mot de passe")
    assert r.status_code == 401 and "adresse ou mot de passe incorrect" in unescape(r.text)
    assert 'value="instr2@auc.ma"' in r.text  # the typed address is kept
    assert _sign_in(b, "instr2@auc.ma", after="//evil.example/x").headers["Location"] == "/instruction/"  # not off-site
    b = Browser(base)
    r = _sign_in(b, "instr2@auc.ma", after="/instruction/%3Fstatus%3Dinstruite")
    assert r.status_code == 303 and r.headers["Location"] == "/instruction/?status=instruite"
    # an anonymous visit to a page of the space comes back to it after signing in
    gate = Browser(base).get("/espace/demandes/nouvelle?refs=TF%207%2FT", allow_redirects=False)
    assert gate.headers["Location"] == "/espace/connexion?suivant=/espace/demandes/nouvelle%3Frefs%3DTF%25207%252FT"


def test_verify_by_typed_code_and_back_to_the_panel_s_form(site):
    base, _, conn = site
    b = Browser(base)
    # from the panel's button: the sign-in page, then registration, the code and the sign-in lead back to the form
    form = "/espace/demandes/nouvelle?refs=TF%207%2FT"
    sign_in = b.get(f"/espace/connexion?suivant={form.replace('?', '%3F').replace('=', '%3D').replace('%2', '%252')}")
    register = unescape(re.search(r'href="(/espace/inscription\?[^"]+)"', sign_in.text).group(1))
    r = b.submit(register, "register", {"full_name": "Sara Idrissi", "email": "sara@example.ma",
                                        "password": PASSWORD, "password2": PASSWORD})
    assert r.status_code == 303, _text(r.text)
    verify = r.headers["Location"]
    code = re.search(r"code de vérification : (\d{6})", _last_mail(conn, "sara@example.ma")[1]).group(1)
    wrong = b.submit(verify, "verify", {"code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 400 and "code de vérification incorrect" in unescape(wrong.text)
    r = b.submit(verify, "verify", {"code": code})
    assert r.status_code == 303 and r.headers["Location"].startswith("/espace/connexion?adresse=sara%40example.ma")
    page = b.get(r.headers["Location"])
    assert forms(page.text)["sign-in"]["fields"]["email"] == "sara@example.ma"
    r = b.submit(r.headers["Location"], "sign-in", {"password": PASSWORD})
    assert r.status_code == 303 and r.headers["Location"] == form
    assert forms(b.get(form).text)["new-request"]["fields"]["refs"] == "TF 7/T"


def test_register_errors_keep_the_typed_values(site):
    base, _, conn = site
    b = Browser(base)
    before = conn.execute("SELECT count(*) FROM accounts").fetchone()[0]
    r = b.submit("/espace/inscription", "register", {"full_name": "Nadia", "email": "nadia@example.ma",
                                                     "password": PASSWORD, "password2": PASSWORD + "x"})
    assert r.status_code == 400 and "les deux mots de passe saisis diffèrent" in unescape(r.text)
    assert forms(r.text)["register"]["fields"]["full_name"] == "Nadia"
    r = b.submit("/espace/inscription", "register", {"full_name": "Nadia", "email": "nadia@example.ma",
                                                     "password": "azertyuiop", "password2": "azertyuiop"})
    assert r.status_code == 400 and "mot de passe trop répandu" in unescape(r.text)
    assert conn.execute("SELECT count(*) FROM accounts").fetchone()[0] == before
    ar = b.get("/espace/inscription?lang=ar")
    assert 'dir="rtl"' in ar.text and "إنشاء حساب طالب" in ar.text


def test_request_pay_return_resubmit_and_download(site):
    base, gateway_url, conn = site
    b = _register(base, conn, "amina@example.ma")
    new = b.get("/espace/demandes/nouvelle?refs=TF%207%2FT;T.8%2FT")  # the panel's button
    assert forms(new.text)["new-request"]["fields"]["refs"] == "TF 7/T\nT.8/T"
    r = _new_request(b)
    assert r.status_code == 303, _text(r.text)
    number = re.fullmatch(r"/espace/demandes/(NRU-\d{4}-\d{6})", r.headers["Location"]).group(1)
    page = b.get(r.headers["Location"])
    assert f"Demande {number} enregistrée" in unescape(page.text) and "TF 7/T, TF 8/T" in page.text
    assert {"pay", "cancel"} <= set(forms(page.text)) and 'data-status="attente_paiement"' in page.text
    home = b.get("/espace/")
    assert f'<tr data-number="{number}" data-status="attente_paiement">' in home.text
    # pay through the test gateway; its return page leads back to the request
    back = _pay(b, gateway_url, number)
    returned = b.get(back)
    assert f'id="to-request" href="/espace/demandes/{number}"' in returned.text
    page = b.get(f"/espace/demandes/{number}")
    assert "pay" not in forms(page.text) and 'data-status="instruite"' in page.text
    steps = re.findall(r'<li data-status="([a-z_]*)" data-step="([a-z_.]+)"', page.text)
    assert [s for s, _ in steps] == ["attente_paiement", "payee", "instruite"]
    # an instructor returns it (JSON API): the applicant reads the reason and resubmits with one more document
    instructor = _staff(base, "instructeur@auc.ma")
    assert instructor.post(f"{base}/notes/requests/{number}/review",
                           json={"accept": False, "text": "Joignez la procuration signée"}, timeout=30).ok
    page = b.get(f"/espace/demandes/{number}")
    reason = re.search(r'<blockquote class="return-reason">([^<]*)</blockquote>', page.text).group(1)
    assert unescape(reason) == "Joignez la procuration signée" and "resubmit" in forms(page.text)
    assert "instructeur@auc.ma" not in page.text  # the steps, never who did them
    r = b.submit(f"/espace/demandes/{number}", "resubmit",
                 files=[("documents", ("procuration.pdf", b"%PDF-1.4 procuration", "application/pdf"))])
    assert r.status_code == 303 and r.headers["Location"] == f"/espace/demandes/{number}"
    page = b.get(r.headers["Location"])
    assert "Demande renvoyée" in unescape(page.text) and 'data-status="instruite"' in page.text
    assert "procuration.pdf" in page.text and 'data-step="note.renvoyee"' in page.text
    assert conn.execute("SELECT count(*) FROM note_documents d JOIN note_requests r ON r.id = d.request_id "
                        "WHERE r.number = %s", (number,)).fetchone()[0] == 2
    # accepted and signed by the staff: the applicant downloads the signed note from the page
    assert instructor.post(f"{base}/notes/requests/{number}/review", json={"accept": True, "text": "RAS"}, timeout=30).ok
    assert _staff(base, "signataire@auc.ma").post(f"{base}/notes/requests/{number}/sign", timeout=60).ok
    page = b.get(f"/espace/demandes/{number}")
    href = re.search(r'<a id="download-note" class="button" href="([^"]+)"', page.text).group(1)
    pdf = b.get(href)
    signed = conn.execute("SELECT signed_pdf FROM note_requests WHERE number = %s", (number,)).fetchone()[0]
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf" and pdf.content == bytes(signed)
    assert 'data-status="envoyee"' in b.get("/espace/").text
    ar = b.get(f"/espace/demandes/{number}?lang=ar").text  # every step in Arabic too, the page mirrored
    assert 'dir="rtl"' in ar and all(translate(f"applicant.step.{step}", "ar") in ar
                                     for step in ("demandee", "payee", "retournee", "renvoyee", "acceptee", "envoyee"))
    # another applicant: every page and action of this request is missing, as one that does not exist
    other = _register(base, conn, "intrus@example.ma", "Intrus")
    for path in (f"/espace/demandes/{number}", href, "/espace/demandes/NRU-2000-000001"):
        r = other.get(path)
        assert r.status_code == 404 and "text/html" in r.headers["Content-Type"], path
    token = re.search(r'name="csrf" value="([^"]+)"', other.get("/espace/").text).group(1)
    for action in ("renvoi", "annulation"):
        r = other.s.post(f"{base}/espace/demandes/{number}/{action}", data={"csrf": token}, allow_redirects=False,
                         timeout=30)
        assert r.status_code == 404, action
    assert conn.execute("SELECT status FROM note_requests WHERE number = %s", (number,)).fetchone()[0] == "envoyee"


def test_request_errors_are_shown_on_the_form(site):
    base, _, conn = site
    b = _register(base, conn, "youssef@example.ma", "Youssef")
    before = [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("note_requests", "payments")]
    r = _new_request(b, refs="TF 7/T\nTF 99999/T")
    assert r.status_code == 404 and "titre(s) inconnu(s) : TF 99999/T" in unescape(r.text)
    assert forms(r.text)["new-request"]["fields"]["refs"] == "TF 7/T\nTF 99999/T"  # typed values kept
    assert forms(r.text)["new-request"]["fields"]["standing"] == "proprietaire"
    r = _new_request(b, refs="TF 7/T", files=[("lettre.txt", b"bonjour", "text/plain")])
    assert r.status_code == 400 and "« lettre.txt » n'est ni un PDF ni une image PNG ou JPEG" in unescape(r.text)
    big = ("plan.pdf", b"%PDF" + b"0" * (5 * 1024 * 1024), "application/pdf")
    r = _new_request(b, refs="TF 7/T", files=[big])
    assert r.status_code == 400 and "« plan.pdf » dépasse 5 Mo" in unescape(r.text)
    r = _new_request(b, refs="TF 7/T", files=[])
    assert r.status_code == 400 and "joignez au moins une pièce justificative" in unescape(r.text)
    assert [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("note_requests", "payments")] == before


def test_upload_script_gets_the_page_to_go_to(site):
    base, _, conn = site
    b = _register(base, conn, "hind@example.ma", "Hind")
    page = b.get("/espace/demandes/nouvelle")
    assert "js/spaces-upload.js" in page.text and "<progress" in page.text
    token = forms(page.text)["new-request"]["fields"]["csrf"]
    xhr = {"X-CSRF-Token": token, "X-Requested-With": "XMLHttpRequest"}
    r = b.s.post(f"{base}/espace/demandes/nouvelle", data={"refs": "TF 9/T", "standing": "mandataire"},
                 files=[("documents", PDF)], headers=xhr, allow_redirects=False, timeout=30)
    assert r.status_code == 201 and re.fullmatch(r"/espace/demandes/NRU-\d{4}-\d{6}", r.headers["Location"])
    assert "enregistrée" in unescape(b.get(r.headers["Location"]).text)  # the flash waits for the page
    bad = b.s.post(f"{base}/espace/demandes/nouvelle", data={"refs": "TF 9/T", "standing": "voisin"},
                   files=[("documents", PDF)], headers=xhr, allow_redirects=False, timeout=30)
    assert bad.status_code == 400 and 'id="form-error"' in bad.text and "qualité du demandeur" in unescape(bad.text)


def test_cancel_before_payment(site):
    base, _, conn = site
    b = _register(base, conn, "omar@example.ma", "Omar")
    number = _new_request(b).headers["Location"].rsplit("/", 1)[1]
    r = b.submit(f"/espace/demandes/{number}", "cancel")
    assert r.status_code == 303
    page = b.get(r.headers["Location"])
    assert f"Demande {number} annulée" in unescape(page.text) and 'data-step="note.annulee"' in page.text
    assert not {"pay", "cancel"} & set(forms(page.text))
    token = forms(page.text)["form0"]["fields"]["csrf"]
    again = b.s.post(f"{base}/espace/demandes/{number}/annulation", data={"csrf": token}, allow_redirects=False,
                     timeout=30)
    assert again.status_code == 409 and "« annulée »" in unescape(again.text)  # said on the request's page
    assert conn.execute("SELECT status FROM note_requests WHERE number = %s", (number,)).fetchone()[0] == "annulee"


def test_forgotten_password_end_to_end(site):
    base, _, conn = site
    b = _register(base, conn, "leila@example.ma", "Leila")
    anonymous = Browser(base)
    for email in ("leila@example.ma", "personne@example.ma"):  # the same answer with or without an account
        r = anonymous.submit("/espace/mot-de-passe-oublie", "forgot", {"email": email})
        assert r.status_code == 303 and r.headers["Location"] == "/espace/connexion"
        assert f"Si un compte existe pour {email}" in unescape(anonymous.get(r.headers["Location"]).text)
    assert _last_mail(conn, "personne@example.ma") is None
    subject, body = _last_mail(conn, "leila@example.ma")
    link = re.search(r"(http\S+/espace/mot-de-passe/nouveau\?token=\S+)", body).group(1)
    path = link.split("localhost", 1)[1].split("/", 1)[1]
    stored = conn.execute("SELECT reset_token_hash FROM accounts WHERE email = 'leila@example.ma'").fetchone()[0]
    assert stored and link.rsplit("=", 1)[1] not in stored  # only a hash
    r = anonymous.submit("/" + path, "reset", {"password": "court", "password2": "court"})
    assert r.status_code == 400 and "mot de passe trop court" in unescape(r.text)  # the link still works after
    new = "une autre phrase secrète"
    r = anonymous.submit("/" + path, "reset", {"password": new, "password2": new})
    assert r.status_code == 303
    assert b.get("/espace/", allow_redirects=False).status_code == 303  # the open session was ended
    assert _sign_in(Browser(base), "leila@example.ma", PASSWORD).status_code == 401  # the old password is refused
    assert _sign_in(Browser(base), "leila@example.ma", new).status_code == 303
    used = anonymous.get("/" + path)
    assert used.status_code == 404 and "a déjà servi" in unescape(used.text) and "reset" not in forms(used.text)
    token = forms(anonymous.get("/espace/mot-de-passe-oublie").text)["forgot"]["fields"]["csrf"]
    replay = anonymous.s.post(f"{base}/espace/mot-de-passe/nouveau", allow_redirects=False, timeout=30,
                              data={"csrf": token, "token": link.rsplit("=", 1)[1], "password": new + "!",
                                    "password2": new + "!"})
    assert replay.status_code == 404  # single use
    actions = [a for (a,) in conn.execute("SELECT action FROM audit_log WHERE entity = 'account' AND entity_id = "
                                          "(SELECT id::text FROM accounts WHERE email = 'leila@example.ma') ORDER BY id")]
    assert "compte.reinitialisation_demandee" in actions and actions.count("compte.mot_de_passe_reinitialise") == 1
