"""Accounts: register, verify by e-mail link, sign in, roles checked on the server."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from app import create_app
from layers.accounts import check_password, create_account, hash_password
from tests.helpers import app_settings

PASSWORD = "un mot de passe long"


@pytest.fixture
def client(db_url, tmp_path):
    app = create_app(app_settings(db_url, pool_min=1, pool_max=2, var_dir=tmp_path))
    client = app.test_client()
    client.environ_base["HTTP_ORIGIN"] = "http://127.0.0.1:5000"  # the public URL's pages (CSRF check)
    return client


def _register(client, conn, email="amina@example.ma"):
    r = client.post("/notes/accounts", json={"email": email, "full_name": "Amina Alaoui", "password": PASSWORD})
    assert r.status_code == 201, r.get_json()
    body = conn.execute("SELECT body FROM outbox WHERE recipient = %s", (email,)).fetchone()[0]
    return re.search(r"token=(\S+)", body).group(1)


def test_register_verify_sign_in(client, conn):
    token = _register(client, conn)
    denied = client.post("/notes/session", json={"email": "amina@example.ma", "password": PASSWORD})
    assert denied.status_code == 403 and "non vérifiée" in denied.get_json()["message"]
    assert client.get(f"/notes/accounts/verify?token={token}").status_code == 200
    assert client.get(f"/notes/accounts/verify?token={token}").status_code == 404  # used once
    ok = client.post("/notes/session", json={"email": "AMINA@example.ma", "password": PASSWORD})
    assert ok.status_code == 200 and ok.get_json()["role"] == "applicant"
    stored = conn.execute("SELECT password_hash FROM accounts").fetchone()[0]
    assert PASSWORD not in stored and stored.startswith("scrypt$")


def test_roles_are_checked_on_the_server(client, conn):
    assert client.get("/notes/payments").status_code == 401
    token = _register(client, conn)
    client.get(f"/notes/accounts/verify?token={token}")
    client.post("/notes/session", json={"email": "amina@example.ma", "password": PASSWORD})
    assert client.get("/notes/payments").status_code == 403  # an applicant is not staff
    create_account(conn, "instructeur@auc.ma", "Instructeur", PASSWORD, role="instructor", verified=True)
    conn.commit()
    client.delete("/notes/session")
    client.post("/notes/session", json={"email": "instructeur@auc.ma", "password": PASSWORD})
    r = client.get("/notes/payments")
    assert r.status_code == 200 and r.get_json() == []


@pytest.mark.parametrize("payload,status,message", [
    ({"email": "pas-une-adresse", "full_name": "X", "password": PASSWORD}, 400, "adresse"),
    ({"email": "a@b.ma", "full_name": "X", "password": "court"}, 400, "court"),
    ({"email": "a@b.ma", "full_name": "", "password": PASSWORD}, 400, "nom"),
])
def test_bad_registrations(client, payload, status, message):
    r = client.post("/notes/accounts", json=payload)
    assert r.status_code == status and message in r.get_json()["message"]


def test_duplicate_and_wrong_password(client, conn):
    _register(client, conn)
    again = client.post("/notes/accounts", json={"email": "amina@example.ma", "full_name": "A", "password": PASSWORD})
    assert again.status_code == 409
    wrong = client.post("/notes/session", json={"email": "amina@example.ma", "password": "mauvais mot de passe"})
    assert wrong.status_code == 401


def test_password_hash():
    stored = hash_password(PASSWORD)
    assert check_password(PASSWORD, stored) and not check_password(PASSWORD + "x", stored)
    assert hash_password(PASSWORD) != stored  # salted


def test_staff_account_command(db_url, conn, monkeypatch):
    from app import cli

    monkeypatch.setenv("URBASIG_DATABASE_URL", db_url)
    r = CliRunner().invoke(cli, ["staff-account", "signataire@auc.ma", "signatory", "--name", "S. Bennani",
                                 "--password", PASSWORD])
    assert r.exit_code == 0, r.output
    assert conn.execute("SELECT role, verified_at IS NOT NULL FROM accounts").fetchone() == ("signatory", True)
