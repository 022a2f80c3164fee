"""Web hardening (issue 12, points 5, 8, 9): public links and Host check, CSRF, database sessions, sign-in
throttling shared by the workers, timing, passwords, verification codes, no enumeration, headers."""

from __future__ import annotations

import re
import statistics
import time

import pytest

from app import create_app
from gis.errors import ConfigError
from layers.accounts import common_passwords, create_account
from settings import Settings
from tests import instruction_world as world
from tests.helpers import app_settings, count

PUBLIC = "http://127.0.0.1:5000"  # the default public URL
# form-action: 'self' covers the test gateway mounted in development (a real gateway's origin: tests/test_dev_mode.py)
PASSWORD = "un mot de passe long"
CSP = ("default-src 'self'; img-src 'self' data: blob:; worker-src 'self' blob:; style-src 'self'; "
       "script-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
       "object-src 'none'")


def _app(db_url, tmp_path, **changes):
    if not changes.get("public_url", "http://127.0.0.1").startswith(("http://127.0.0.1", "http://localhost")):
        # development mounts its test gateway only on a local address (api/dev.py): a public one names the bank's
        changes.setdefault("payment_gateway_url", "https://paiement.banque.example.ma/pay")
    return create_app(app_settings(db_url, pool_min=1, pool_max=2, var_dir=tmp_path, **changes))


def _client(app, origin=PUBLIC):
    client = app.test_client()
    if origin:
        client.environ_base["HTTP_ORIGIN"] = origin
    return client


@pytest.fixture
def app(db_url, tmp_path):
    return _app(db_url, tmp_path)


def _staff(conn, email="instructeur@auc.ma", role="instructor"):
    account_id, _ = create_account(conn, email, "Instructeur", PASSWORD, role=role, verified=True)
    conn.commit()
    return account_id


def _sign_in(client, email="instructeur@auc.ma", password=PASSWORD):
    return client.post("/notes/session", json={"email": email, "password": password})


def _mail(conn, email):
    return conn.execute("SELECT body FROM outbox WHERE recipient = %s ORDER BY id DESC", (email,)).fetchone()[0]


def _register(client, conn, email="amina@example.ma", password=PASSWORD):
    r = client.post("/notes/accounts", json={"email": email, "full_name": "Amina Alaoui", "password": password})
    assert r.status_code == 201, r.get_json()
    body = _mail(conn, email)
    return re.search(r"token=(\S+)", body).group(1), re.search(r"code de vérification : (\d{6})", body).group(1)


# ------------------------------------------------------------------------------ point 5: links and Host
@pytest.mark.parametrize("url", ["https://urba.auc.ma/notes", "ftp://urba.auc.ma", "urba.auc.ma", "https://",
                                 "https://u:p@urba.auc.ma", "https://urba.auc.ma/?x=1", "https://urba.auc.ma:port"])
def test_public_url_must_be_a_scheme_and_a_host(url):
    with pytest.raises(ConfigError, match="URBASIG_PUBLIC_URL"):
        Settings(public_url=url).validate()
    assert Settings.from_env({"URBASIG_PUBLIC_URL": "https://urba.auc.ma/"}, dotenv=None).public_base == \
        "https://urba.auc.ma"


def test_an_unknown_host_is_refused_in_french(app):
    client = app.test_client()
    for path, form in (("/", "html"), ("/health", "json"), ("/ogc/collections", "ogc"), ("/verify/ABC", "json")):
        r = client.get(path, headers={"Host": "evil.example", "Accept": "text/html" if form == "html" else "*/*"})
        assert r.status_code == 400, (path, r.status_code)
        text = r.get_data(as_text=True)
        assert "hôte inconnu « evil.example »" in text and "URBASIG_ALLOWED_HOSTS" in text, text
        assert r.headers["Content-Security-Policy"] == CSP  # the refusal has the headers too
    r = client.post("/notes/session", json={"email": "a@b.ma", "password": "x" * 12}, headers={"Host": "evil.example"})
    assert r.status_code == 400 and "hôte inconnu" in r.get_json()["message"]
    for host in ("localhost", "127.0.0.1:5000", "127.0.0.1:8123", "LOCALHOST:80"):
        assert client.get("/", headers={"Host": host}).status_code == 200, host


def test_allowed_hosts_are_configurable(db_url, tmp_path):
    client = _app(db_url, tmp_path, public_url="https://urba.auc.ma", allowed_hosts="interne.auc").test_client()
    assert client.get("/", headers={"Host": "urba.auc.ma"}).status_code == 200
    assert client.get("/", headers={"Host": "interne.auc:8080"}).status_code == 200
    assert client.get("/", headers={"Host": "localhost"}).status_code == 400  # the list replaces the default


def test_mail_link_payment_urls_and_ogc_links_come_from_the_public_url(db_url, conn, tmp_path):
    world.build(conn)
    public = "https://urba.auc.ma"
    client = _client(_app(db_url, tmp_path, public_url=public), origin=public)
    client.environ_base["wsgi.url_scheme"] = "https"  # through https://localhost (Secure cookies), not the public host
    token, _ = _register(client, conn)
    link = re.search(r"(\S+/notes/accounts/verify\?token=\S+)", _mail(conn, "amina@example.ma")).group(1)
    assert link == f"{public}/notes/accounts/verify?token={token}"
    assert len(token) >= 43  # 256 random bits in the link (≥ 128 asked)
    assert client.get(f"/notes/accounts/verify?token={token}").status_code == 200
    assert _sign_in(client, "amina@example.ma").status_code == 200
    r = client.post("/notes/requests", data={"refs": "TF 7/T", "standing": "proprietaire",
                                             "documents": [(__import__("io").BytesIO(b"%PDF-1.4 x"), "t.pdf")]})
    assert r.status_code == 201, r.get_json()
    fields = r.get_json()["payment"]["fields"]
    assert fields["callbackUrl"] == f"{public}/notes/payments/callback"
    assert fields["okUrl"] == fields["failUrl"] == f"{public}/notes/payments/return/{fields['oid']}"
    links = client.get("/ogc/collections", headers={"Host": "localhost:9999"}).get_json()["links"]
    assert links and all(link["href"].startswith(f"{public}/ogc") for link in links)


# ------------------------------------------------------------------------------ point 8: CSRF
def test_a_cross_origin_request_with_a_session_cookie_is_refused(app, conn):
    _staff(conn)
    client = _client(app)
    assert _sign_in(client).status_code == 200
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"}, {"Origin": "http://127.0.0.1:5001"},
                    {"Origin": "http://127.0.0.1:5000.evil.example"}, {"Origin": "", "Referer": "https://evil.example/x"}):
        r = client.delete("/notes/session", headers=headers)
        assert r.status_code == 403, headers
        assert "doit venir des pages de http://127.0.0.1:5000" in r.get_json()["message"]
    client.environ_base.pop("HTTP_ORIGIN")
    r = client.delete("/notes/session")  # neither Origin nor Referer: refused too (strict)
    assert r.status_code == 403
    assert client.get("/notes/payments").status_code == 200  # still signed in: nothing was done
    assert client.delete("/notes/session", headers={"Referer": f"{PUBLIC}/espace"}).status_code == 200
    assert client.get("/notes/payments").status_code == 401


def test_a_cross_origin_post_writes_nothing(db_url, conn, tmp_path):
    world.build(conn)
    app = _app(db_url, tmp_path)
    client = _client(app)
    token, _ = _register(client, conn)
    client.get(f"/notes/accounts/verify?token={token}")
    assert _sign_in(client, "amina@example.ma").status_code == 200

    def post(origin):
        return client.post("/notes/requests", headers={"Origin": origin},
                           data={"refs": "TF 7/T", "standing": "proprietaire",
                                 "documents": [(__import__("io").BytesIO(b"%PDF-1.4 x"), "t.pdf")]})

    assert post("https://evil.example").status_code == 403
    assert count(conn, "note_requests") == 0
    assert post(PUBLIC).status_code == 201  # same origin: accepted
    assert count(conn, "note_requests") == 1


def test_calls_without_a_session_cookie_are_not_concerned(app, conn):
    from layers.apikeys import create_key

    key = create_key(conn, "partenaire")
    conn.commit()
    client = app.test_client()
    r = client.post("/ogc/processes/instruction/execution", json={}, headers={"X-API-Key": key,
                                                                              "Origin": "https://carte.example"})
    assert r.status_code == 400 and "doit venir" not in r.get_data(as_text=True)  # the body is checked, not the origin
    r = client.post("/verify", data={"code": "NOPE1234"}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 404  # anonymous public form: no session to abuse


# ------------------------------------------------------------------------------ point 8: sessions
def test_a_copied_cookie_stops_working_after_sign_out(app, conn):
    _staff(conn)
    client, thief = _client(app), _client(app)
    r = _sign_in(client)
    cookie = client.get_cookie("session")
    assert cookie and "HttpOnly" in r.headers["Set-Cookie"] and "SameSite=Lax" in r.headers["Set-Cookie"]
    assert "Secure" not in r.headers["Set-Cookie"]  # http public URL
    thief.set_cookie("session", cookie.value)
    assert thief.get("/notes/payments").status_code == 200  # a copy works while the session lives …
    assert client.delete("/notes/session").status_code == 200
    r = thief.get("/notes/payments")
    assert r.status_code == 401 and "session terminée" in r.get_json()["message"]  # … and not after sign-out
    assert client.get("/notes/payments").status_code == 401
    assert count(conn, "web_sessions") == 0
    stored = conn.execute("SELECT count(*) FROM web_sessions WHERE id_hash LIKE %s", (f"%{cookie.value}%",))
    assert stored.fetchone()[0] == 0


def test_sessions_expire_and_follow_the_account(app, conn):
    account_id = _staff(conn)
    client = _client(app)
    _sign_in(client)
    conn.execute("UPDATE accounts SET role = 'applicant' WHERE id = %s", (account_id,))
    conn.commit()
    assert client.get("/notes/payments").status_code == 403  # the role is read from the database, not the cookie
    conn.execute("UPDATE web_sessions SET expires_at = now() - interval '1 second'")
    conn.commit()
    assert client.get("/notes/payments").status_code == 401


def test_secure_cookie_and_hsts_under_https(db_url, conn, tmp_path):
    _staff(conn)
    client = _client(_app(db_url, tmp_path, public_url="https://urba.auc.ma"), origin="https://urba.auc.ma")
    r = _sign_in(client)
    assert r.status_code == 200 and "Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
    assert r.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Strict-Transport-Security" not in _client(_app(db_url, tmp_path)).get("/").headers


# ------------------------------------------------------------------------------ point 8: throttling
def test_sign_in_throttling_per_account_is_shared_by_two_workers(db_url, conn, tmp_path):
    _staff(conn)
    limits = dict(signin_per_account_hour=3, signin_per_address_hour=100)
    one, two = _client(_app(db_url, tmp_path, **limits)), _client(_app(db_url, tmp_path, **limits))
    assert _sign_in(one, password="mauvais mot de passe").status_code == 401
    assert _sign_in(two, password="mauvais mot de passe").status_code == 401
    assert _sign_in(one).status_code == 200  # third attempt of the hour: still allowed
    r = _sign_in(two)  # the fourth, on the other worker, even with the right password
    assert r.status_code == 429 and "trop d'essais de connexion pour ce compte" in r.get_json()["message"]
    assert _sign_in(one, "INSTRUCTEUR@auc.ma ").status_code == 429  # the same account however it is typed
    assert _sign_in(one, "autre@auc.ma", "mauvais mot de passe").status_code == 401  # other accounts go on


def test_two_long_addresses_sharing_their_first_100_characters_have_their_own_lockout(db_url, conn, tmp_path):
    shared = "prenom.nom." + "a" * 50 + "@" + "service-des-autorisations-" + "b" * 20  # 108 characters in common
    victim, attacker = f"{shared}.casablanca.ma", f"{shared}.rabat.ma"
    _staff(conn, victim)
    client = _client(_app(db_url, tmp_path, signin_per_account_hour=3, signin_per_address_hour=100))
    for _ in range(3):
        assert _sign_in(client, attacker, "mauvais mot de passe").status_code == 401
    assert _sign_in(client, attacker, "mauvais mot de passe").status_code == 429
    assert _sign_in(client, victim).status_code == 200  # not locked out by the other address's failures
    keys = [r[0] for r in conn.execute("SELECT client FROM rate_limits WHERE scope = 'connexion-compte'")]
    assert sorted(len(k) for k in keys) == [71, 71] and all(k.startswith("sha256:") for k in keys)


def test_sign_in_throttling_per_address(db_url, conn, tmp_path):
    _staff(conn)
    client = _client(_app(db_url, tmp_path, signin_per_account_hour=100, signin_per_address_hour=4))
    for i in range(4):
        assert _sign_in(client, f"inconnu{i}@example.ma").status_code == 401
    r = _sign_in(client)
    assert r.status_code == 429 and "depuis cette adresse" in r.get_json()["message"]
    other = _client(_app(db_url, tmp_path, signin_per_account_hour=100, signin_per_address_hour=4))
    r = other.post("/notes/session", json={"email": "instructeur@auc.ma", "password": PASSWORD},
                   environ_base={"REMOTE_ADDR": "10.0.0.7", "HTTP_ORIGIN": PUBLIC})
    assert r.status_code == 200  # another address is not blocked


def test_unknown_and_known_addresses_answer_in_the_same_time(db_url, conn, tmp_path):
    _staff(conn)
    client = _client(_app(db_url, tmp_path, signin_per_account_hour=100, signin_per_address_hour=100))
    _sign_in(client, "personne@example.ma", "mauvais mot de passe")  # warm up (the dummy hash is made once)
    known, unknown = [], []
    for i in range(7):  # interleaved, medians: robust to a busy machine
        for email, times in (("instructeur@auc.ma", known), (f"personne{i}@example.ma", unknown)):
            start = time.perf_counter()
            r = _sign_in(client, email, "mauvais mot de passe")
            times.append(time.perf_counter() - start)
            assert r.status_code == 401 and r.get_json()["message"] == "adresse ou mot de passe incorrect"
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.5 < ratio < 2, (known, unknown)  # without the dummy scrypt: 16 ms against 207 ms (ratio 0.08)


def test_registrations_are_limited_per_address(db_url, conn, tmp_path):
    client = _client(_app(db_url, tmp_path, registrations_per_address_hour=3))
    _register(client, conn, "a1@example.ma")
    again = client.post("/notes/accounts", json={"email": "a1@example.ma", "full_name": "A", "password": PASSWORD})
    assert again.status_code == 409
    _register(client, conn, "a2@example.ma")  # the refused one counted: this is the third of the hour
    r = client.post("/notes/accounts", json={"email": "a3@example.ma", "full_name": "A", "password": PASSWORD})
    assert r.status_code == 429 and "trop d'inscriptions" in r.get_json()["message"]
    assert count(conn, "accounts") == 2


# ------------------------------------------------------------------------------ point 8: passwords and codes
@pytest.mark.parametrize("password,message", [
    ("password123", "trop répandu"), ("azertyuiop", "trop répandu"), ("1234567890", "trop répandu"),
    ("MotDePasse", "trop répandu"), ("court", "trop court"),
    ("amina.alaoui@example.ma", "adresse électronique"), ("xx-amina.alaoui-2026", "adresse électronique"),
])
def test_weak_passwords_are_refused(app, conn, password, message):
    r = _client(app).post("/notes/accounts", json={"email": "amina.alaoui@example.ma", "full_name": "Amina Alaoui",
                                                   "password": password})
    assert r.status_code == 400 and message in r.get_json()["message"], r.get_json()
    assert count(conn, "accounts") == 0


@pytest.mark.parametrize("path,payload", [
    ("/notes/session", {"email": 5, "password": PASSWORD}), ("/notes/session", {"email": "a@b.ma", "password": ["x"]}),
    ("/notes/session", {"email": "a\x00@b.ma", "password": PASSWORD}),
    ("/notes/accounts", {"email": "a@b.ma", "full_name": {"x": 1}, "password": PASSWORD}),
    ("/notes/accounts", {"email": "a@b.ma", "full_name": "A", "password": "x" * 2000}),
    ("/notes/accounts/verify", {"email": "a@b.ma", "code": 123456}),
    ("/notes/accounts/verify", {"email": "a@b.ma", "code": "12\x003456"}),
])
def test_fields_of_the_wrong_type_are_a_400(app, conn, path, payload):
    r = _client(app).post(path, json=payload)
    message = r.get_json()["message"]
    assert r.status_code == 400, message
    assert any(w in message for w in ("du texte attendu", "caractère nul", "caractères au plus")), message
    assert count(conn, "accounts") == 0


def test_the_common_password_list_is_shipped():
    common = common_passwords()
    assert len(common) == 10_000 and "123456" in common and "motdepasse" in common
    assert not any(p.startswith("# ") for p in common)


def test_verification_by_short_code(app, conn):
    client = _client(app)
    _, code = _register(client, conn)
    r = client.post("/notes/accounts/verify", json={"email": "Amina@example.ma", "code": code})
    assert r.status_code == 200, r.get_json()
    assert _sign_in(client, "amina@example.ma").status_code == 200


def test_code_guesses_are_limited_then_the_code_is_void(db_url, conn, tmp_path):
    client = _client(_app(db_url, tmp_path, verify_code_attempts=3))
    token, code = _register(client, conn)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    refusals = [client.post("/notes/accounts/verify", json={"email": "amina@example.ma", "code": wrong})
                for _ in range(3)]
    assert all(r.status_code == 400 for r in refusals)
    r = client.post("/notes/accounts/verify", json={"email": "amina@example.ma", "code": code})
    assert r.status_code == 400 and "annulé (après 3 essais)" in r.get_json()["message"]  # the right code, too late
    unknown = client.post("/notes/accounts/verify", json={"email": "personne@example.ma", "code": code})
    assert unknown.get_json()["message"] == r.get_json()["message"]  # no telling which addresses have an account
    assert conn.execute("SELECT verified_at, verify_code_failures FROM accounts").fetchone() == (None, 3)
    assert client.get(f"/notes/accounts/verify?token={token}").status_code == 200  # the long link still works


# ------------------------------------------------------------------------------ point 8: no enumeration
def test_another_applicants_request_answers_like_a_missing_one(db_url, conn, tmp_path):
    from notes.official import create_request

    world.build(conn)
    owner_id, _ = create_account(conn, "amina@example.ma", "Amina", PASSWORD, verified=True)
    create_account(conn, "karim@example.ma", "Karim", PASSWORD, verified=True)
    number, _ = create_request(conn, {"id": owner_id, "email": "amina@example.ma"}, ["TF 7/T"], "proprietaire",
                               [("t.pdf", b"%PDF-1.4 x")], "450.00")
    conn.commit()
    app = _app(db_url, tmp_path)
    owner, other = _client(app), _client(app)
    _sign_in(owner, "amina@example.ma")
    _sign_in(other, "karim@example.ma")
    assert owner.get(f"/notes/requests/{number}").status_code == 200
    for suffix in ("", "/pdf"):
        theirs = other.get(f"/notes/requests/{number}{suffix}")
        missing = other.get(f"/notes/requests/ABSENTE{suffix}")
        assert theirs.status_code == missing.status_code == 404
        body, absent = theirs.get_json(), missing.get_json()
        body.pop("request_id"), absent.pop("request_id")
        assert body == {**absent, "message": absent["message"].replace("ABSENTE", number)}, (body, absent)


# ------------------------------------------------------------------------------ point 3: sign-ins in the audit trail
def test_sign_ins_and_sign_outs_are_audited(app, conn):
    account_id = _staff(conn)
    client = _client(app)
    assert _sign_in(client, password="mauvais mot de passe").status_code == 401
    assert _sign_in(client, "personne@example.ma").status_code == 401
    assert _sign_in(client).status_code == 200
    client.delete("/notes/session")
    rows = conn.execute("SELECT actor, action, entity_id, after->>'motif' FROM audit_log "
                        "WHERE action LIKE 'session.%' ORDER BY id").fetchall()
    assert rows == [("instructeur@auc.ma", "session.echec", str(account_id), "non-authentifie"),
                    ("personne@example.ma", "session.echec", "", "non-authentifie"),
                    ("instructeur@auc.ma", "session.ouverte", str(account_id), None),
                    ("instructeur@auc.ma", "session.fermee", str(account_id), None)]


# ------------------------------------------------------------------------------ point 9: headers
def test_security_headers_on_every_kind_of_answer(db_url, conn, tmp_path):
    world.build(conn)
    client = _app(db_url, tmp_path).test_client()
    html = {"Accept": "text/html"}
    answers = {
        "page": client.get("/", headers=html), "json": client.get("/health"),
        "ogc json": client.get("/ogc/collections"), "ogc html": client.get("/ogc/collections?f=html"),
        "ogc error": client.get("/ogc/collections/nulle-part"), "json error": client.get("/notes/payments"),
        "html error": client.get("/nulle-part", headers=html), "405": client.put("/health"),
        "static": client.get("/static/css/site.css"), "pdf": client.get("/notes/indicative?land=TF%201/T"),
        "note page": client.get("/notes/indicative?land=TF%201/T&format=html"), "verify page": client.get("/verify"),
        "verify link": client.get("/notes/accounts/verify?token=x"),
    }
    for kind, r in answers.items():
        assert r.status_code != 500, kind
        assert r.headers.get("Content-Security-Policy") == CSP, kind
        assert r.headers.get("X-Content-Type-Options") == "nosniff", kind
        assert r.headers.get("X-Frame-Options") == "DENY", kind
        expected = "no-referrer" if kind.startswith("verify") else "strict-origin-when-cross-origin"
        assert r.headers.get("Referrer-Policy") == expected, kind
        r.close()
    assert answers["static"].status_code == 200 and answers["static"].mimetype == "text/css"


def test_pages_hold_no_inline_style_or_script(db_url, conn, tmp_path):
    world.build(conn)
    client = _app(db_url, tmp_path).test_client()
    html = {"Accept": "text/html"}
    for path in ("/", "/verify", "/ogc/?f=html", "/ogc/collections?f=html", "/ogc/conformance?f=html",
                 "/nulle-part", "/notes/indicative?land=TF%202/T&format=html"):
        body = client.get(path, headers=html).get_data(as_text=True)
        assert "<style" not in body and "style=" not in body, path
        for tag, content in re.findall(r"(<script[^>]*>)(.*?)</script>", body, re.S):
            # a script from a file, or a data block the browser never runs (type="application/json")
            assert ("src=" in tag and not content.strip()) or 'type="application/json"' in tag, (path, tag)
        assert not re.search(r"<[^>]+\son[a-z]+=", body), path  # no inline event handler
        for sheet in re.findall(r'<link rel="stylesheet" href="([^"]+)"', body):
            assert client.get(sheet).status_code == 200, sheet
        assert '<link rel="stylesheet"' in body, path
