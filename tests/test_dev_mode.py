"""Runs out of the box (issue 14, point 6): development mode with nothing configured goes through the whole payment
on the test gateway the app mounts, keeps the mail in the outbox, and `make run` serves with the outbox delivery
beside gunicorn; a real gateway or production never mounts it. (Production's refusals: tests/test_settings.py.)"""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest
import requests

from api.dev import development_settings, kept_secret
from app import create_app
from notes.mail import NO_SMTP
from notes.payment import Order
from settings import Settings
from tests import instruction_world as world
from tests.helpers import app_settings, app_url, fire_at_once, free_port, serve

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "mot de passe solide"
EMAIL = "amina@example.ma"


def _order(base: str) -> Order:
    back = f"{base}/notes/payments/return/CMD-1"
    return Order("CMD-1", "450.00", f"{base}/notes/payments/callback", back, back)


# ------------------------------------------------------------------------------- the app, without HTTP
def test_development_mounts_the_test_gateway_with_a_secret_kept_in_var(db_url, tmp_path):
    public = "http://127.0.0.1:5000"
    app = create_app(app_settings(db_url, pool_min=1, pool_max=2, var_dir=tmp_path))
    settings = app.config["URBASIG"]
    assert settings.payment_gateway_url == f"{public}/dev/passerelle/pay"
    secret = (tmp_path / "payment_secret").read_text().strip()
    assert settings.payment_secret == secret and len(secret) >= 40
    assert stat.S_IMODE((tmp_path / "payment_secret").stat().st_mode) == 0o600
    # a second worker (or a restart) signs and verifies with the same secret
    assert development_settings(app_settings(db_url, var_dir=tmp_path)).payment_secret == secret
    client = app.test_client()
    order = _order(public).fields(secret)
    page = client.post("/dev/passerelle/pay", data=order)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "TEST — AUCUN PAIEMENT RÉEL" in text and "Aucun argent ne circule" in text
    assert 'action="/dev/passerelle/pay/confirm"' in text and 'name="HASH"' in text and "450,00 MAD" in text
    assert '<link rel="stylesheet" href="/static/css/spaces-devmode.css">' in text and "<script" not in text
    assert "form-action 'self';" in page.headers["Content-Security-Policy"]  # the gateway is the app itself
    arabic = client.post("/dev/passerelle/pay?lang=ar", data=order).get_data(as_text=True)
    assert 'dir="rtl"' in arabic and "اختبار — لا أداء حقيقي" in arabic
    forged = client.post("/dev/passerelle/pay", data={**order, "amount": "1.00"})
    assert forged.status_code == 400 and "ordre de paiement invalide" in forged.get_data(as_text=True)


def test_a_configured_gateway_or_production_never_mounts_the_test_gateway(db_url, tmp_path):
    bank = create_app(app_settings(db_url, pool_min=1, pool_max=2, var_dir=tmp_path,
                                   payment_gateway_url="https://paiement.banque.example/pay"))
    assert "test_gateway" not in bank.blueprints
    r = bank.test_client().post("/dev/passerelle/pay", data=_order("http://127.0.0.1:5000").fields("x"))
    assert r.status_code == 404
    assert "form-action 'self' https://paiement.banque.example:443;" in r.headers["Content-Security-Policy"]
    for name in ("key", "cert", "ca"):
        (tmp_path / f"{name}.pem").write_text("PEM")
    production = create_app(app_settings(
        db_url, pool_min=1, pool_max=2, var_dir=tmp_path / "prod", env="production", secret_key="k" * 40,
        payment_secret="secret de la banque", payment_gateway_url="https://paiement.banque.example/pay",
        smtp_host="smtp.auc.ma", public_url="https://urba.auc.ma", allowed_hosts="localhost",
        signing_key=str(tmp_path / "key.pem"), signing_cert=str(tmp_path / "cert.pem"),
        signing_ca=str(tmp_path / "ca.pem"), tsa_url="https://horodatage.example.ma/tsa"))
    assert "test_gateway" not in production.blueprints and production.config["SECRET_KEY"] == "k" * 40
    # the development TSA and CRL exist only beside the development CA, never with real signing material
    assert "dev_pki" not in production.blueprints and "dev_pki" in bank.blueprints
    assert not (tmp_path / "prod").exists()  # nothing generated: no session key, no payment secret


def test_production_with_an_empty_payment_secret_stops_create_app(db_url, tmp_path, monkeypatch):
    from gis.errors import ConfigError

    with pytest.raises(ConfigError, match="URBASIG_PAYMENT_SECRET est vide"):
        create_app(app_settings(db_url, env="production", var_dir=tmp_path))
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.delenv("URBASIG_PAYMENT_SECRET", raising=False)
    monkeypatch.setenv("URBASIG_ENV", "production")
    with pytest.raises(ConfigError, match="URBASIG_PAYMENT_SECRET est vide"):
        create_app()  # Settings.from_env
    monkeypatch.setenv("URBASIG_ENV", "development")
    with pytest.raises(ConfigError, match="URBASIG_PAYMENT_SECRET est vide"):
        create_app({"env": "production"})  # from the environment, then changed: validated all the same
    assert not list(tmp_path.iterdir())  # refused before anything is written


def test_workers_starting_together_keep_one_secret(tmp_path):
    secrets = fire_at_once(8, lambda _: kept_secret(tmp_path, "payment_secret"))
    assert len(set(secrets)) == 1 and len(secrets[0]) >= 40
    assert [p.name for p in tmp_path.iterdir()] == ["payment_secret"]  # no draft left behind


# --------------------------------------------------------------------------- paying on the mounted gateway
def _applicant(base: str, conn) -> requests.Session:
    """Register (the verification mail is queued), follow the mail's link, sign in: a browser on the public URL."""
    r = requests.post(f"{base}/notes/accounts", json={"email": EMAIL, "full_name": "Amina Alaoui",
                                                      "password": PASSWORD}, timeout=30)
    assert r.status_code == 201, r.text
    body = conn.execute("SELECT body FROM outbox WHERE recipient = %s", (EMAIL,)).fetchone()[0]
    assert requests.get(re.search(r"(http\S+verify\S+)", body).group(1), timeout=30).status_code == 200
    session = requests.Session()
    session.headers["Origin"] = base
    assert session.post(f"{base}/notes/session", json={"email": EMAIL, "password": PASSWORD},
                        timeout=30).status_code == 200
    return session


def _pay_through_the_mounted_gateway(base: str, conn) -> str:
    """Request a note, be declined once, then pay: the gateway inside the app calls the app back. The number."""
    applicant = _applicant(base, conn)
    r = applicant.post(f"{base}/notes/requests", data={"refs": "TF 7/T; T.8/T", "standing": "proprietaire"},
                       files={"documents": ("titre.pdf", b"%PDF-1.4 certificat", "application/pdf")}, timeout=30)
    assert r.status_code == 201, r.text
    number, payment = r.json()["number"], r.json()["payment"]
    assert payment["url"] == f"{base}/dev/passerelle/pay"
    page = applicant.post(payment["url"], data=payment["fields"], timeout=30)  # the applicant's browser
    assert page.status_code == 200 and "TEST — AUCUN PAIEMENT RÉEL" in page.text
    confirm = f"{base}/dev/passerelle/pay/confirm"
    declined = applicant.post(confirm, data={**payment["fields"], "decision": "decline"}, allow_redirects=False,
                              timeout=60)
    assert declined.status_code == 303 and declined.headers["Location"] == payment["fields"]["failUrl"]
    assert applicant.get(f"{base}/notes/requests/{number}", timeout=30).json()["status"] == "attente_paiement"
    paid = applicant.post(confirm, data={**payment["fields"], "decision": "approve"}, allow_redirects=False,
                          timeout=60)
    assert paid.status_code == 303 and paid.headers["Location"] == payment["fields"]["okUrl"]
    back = applicant.get(paid.headers["Location"], timeout=30)
    assert back.status_code == 200 and number in back.text
    assert applicant.get(f"{base}/notes/requests/{number}", timeout=30).json()["status"] == "instruite"
    events = [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE action LIKE 'paiement.%' ORDER BY id")]
    assert events == ["paiement.initie", "paiement.refusee", "paiement.payee"], events
    return number


def test_the_flask_test_server_pays_through_its_own_gateway(db_url, conn, tmp_path):
    world.build(conn)
    port = free_port()
    server, base = serve(create_app(app_settings(db_url, pool_min=1, pool_max=4, var_dir=tmp_path,
                                                 public_url=f"http://127.0.0.1:{port}")), port)
    try:
        _pay_through_the_mounted_gateway(base, conn)
    finally:
        server.shutdown()


# ------------------------------------------------------------------------------ make run, for real
def _wait_for(base: str, make: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{base}/health", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert make.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"le serveur ne répond pas\n{log.read_text()}"
        time.sleep(0.2)


def _group_gone(pgid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_make_serve_runs_gunicorn_and_the_outbox_delivery_then_ctrl_c_stops_both(db_url, conn, tmp_path):
    """The recipe `make run` ends with, as it is: development defaults, no gateway nor SMTP configured."""
    world.build(conn)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("URBASIG_", "MAKE", "MFLAGS"))}
    env.update(URBASIG_DATABASE_URL=db_url, URBASIG_APP_DATABASE_URL=app_url(db_url), URBASIG_PUBLIC_URL=base,
               URBASIG_NODE_MODULES=str(ROOT / "node_modules"), URBASIG_LOG_LEVEL="WARNING",
               PYTHONPATH=str(ROOT))  # devtools/ as from the checkout's root, where `make run` runs
    work = tmp_path / "site"  # no .env here: the defaults, and var/ of this test only
    work.mkdir()
    log = tmp_path / "make.log"
    with open(log, "w") as out:
        make = subprocess.Popen(["make", "-f", str(ROOT / "Makefile"), f"BIN={ROOT / '.venv' / 'bin'}", f"PORT={port}",
                                 "serve"], cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        _wait_for(base, make, log)
        _pay_through_the_mounted_gateway(base, conn)  # two workers: any one's order verifies in the other's callback
        assert (work / "var" / "payment_secret").is_file() and (work / "var" / "secret_key").is_file()
        outbox = conn.execute("SELECT status, attempts FROM outbox").fetchall()
        assert outbox and set(outbox) == {("en_attente", 0)}, outbox  # kept for /admin/courriels, never tried
        text = log.read_text()
        assert text.count(NO_SMTP) == 1 and "échec" not in text, text
    finally:
        os.killpg(make.pid, signal.SIGINT)  # Ctrl-C in the terminal: the whole foreground group
        started = time.monotonic()
        try:
            make.wait(timeout=40)
        finally:
            stopped = _group_gone(make.pid, 20)
            gunicorn = subprocess.run(["pgrep", "-f", f"gunicorn --bind 127.0.0.1:{port} "], capture_output=True,
                                      text=True).stdout.split()  # its own session: not in make's group
            for pid in gunicorn:
                os.kill(int(pid), signal.SIGKILL)
            if not stopped:
                os.killpg(make.pid, signal.SIGKILL)
    assert stopped and not gunicorn, f"gunicorn ou mail-deliver tourne encore\n{log.read_text()}"
    assert time.monotonic() - started < 10  # a graceful stop, not gunicorn's 30 s before it kills a stuck worker
    assert "Handling signal: term" in log.read_text()


def test_settings_defaults_are_development_without_gateway_nor_smtp():
    s = Settings()
    assert (s.env, s.payment_gateway_url, s.smtp_host, s.payment_secret) == ("development", "", "", "")
    assert s.development and s.test_gateway
    assert not s.with_(payment_gateway_url="https://paiement.banque.example/pay").test_gateway


# ------------------------------------------------------------------------------------ mail-deliver
def test_mail_deliver_without_smtp_says_so_once_and_leaves_the_mail_queued(conn, db_url, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from app import cli
    from layers.outbox import queue_mail

    monkeypatch.chdir(tmp_path)  # no .env
    for name in [k for k in os.environ if k.startswith("URBASIG_SMTP")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("URBASIG_DATABASE_URL", db_url)
    queue_mail(conn, "demandeur@example.ma", "Votre note", "Veuillez trouver la note.")
    conn.commit()
    done = CliRunner().invoke(cli, ["mail-deliver"])
    assert done.exit_code == 0 and done.stdout.strip() == NO_SMTP and done.stderr == "", done.output
    assert conn.execute("SELECT status, attempts, last_error FROM outbox").fetchall() == [("en_attente", 0, None)]
    monkeypatch.setenv("URBASIG_ENV", "production")  # production does not start so
    refused = CliRunner().invoke(cli, ["mail-deliver"])
    assert refused.exit_code == 1 and "URBASIG_SMTP_HOST est vide" in refused.stderr


def test_the_delivery_loop_waits_out_a_database_outage(conn, db_url):
    import threading

    from gis.errors import DatabaseUnavailable
    from layers.db import connect
    from layers.outbox import queue_mail
    from notes.mail import SmtpSettings, deliver_every

    queue_mail(conn, "demandeur@example.ma", "Votre note", "Veuillez trouver la note.")
    conn.commit()
    stop, said, rounds = threading.Event(), [], []

    def flaky():
        rounds.append(1)
        if len(rounds) in (1, 2):
            raise DatabaseUnavailable("base de données injoignable")
        if len(rounds) == 4:
            stop.set()
        return connect(db_url)

    deliver_every(flaky, SmtpSettings(port=free_port(), timeout_s=1), 0.01, stop, said.append)
    assert said[0].startswith("base de données injoignable") and said[1] == "base de données de nouveau joignable"
    assert said[2:] == ["0 courriel(s) envoyé(s), 1 échec(s)"], said  # only the rounds that did something
    assert len(rounds) == 4


def test_development_with_its_test_gateway_refuses_a_public_address(db_url, tmp_path):
    from gis.errors import ConfigError

    # a forgotten URBASIG_ENV=production on a public server would let anyone « pay » with the test gateway
    with pytest.raises(ConfigError, match="mode développement refusé sur http://urba.auc.ma"):
        create_app(app_settings(db_url, pool_min=1, pool_max=2, var_dir=tmp_path, public_url="http://urba.auc.ma"))
    # with a gateway served apart (a demonstration on a network), development runs there
    app = create_app(app_settings(db_url, pool_min=1, pool_max=2, var_dir=tmp_path, public_url="http://urba.auc.ma",
                                  payment_gateway_url="http://demo.auc.ma:5055/pay"))
    # no test gateway, nor the development PKI's TSA and CRL: an open signing service on a network (the signer
    # still timestamps in process; notes/pki.py)
    assert {r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/dev/")} == set()
