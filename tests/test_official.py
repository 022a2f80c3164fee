"""The official note end to end on loopback: register, request two titles, pay through the local gateway,
automatic instruction, review, signature, e-mail to a real SMTP server, pyHanko validation, /verify."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess

import pytest
import requests
from aiosmtpd.controller import Controller

from app import create_app
from devtools.gateway import create_gateway
from layers.accounts import create_account
from notes.mail import SmtpSettings, deliver_due
from notes.signing import ensure_dev_ca, verify_pdf
from settings import Settings
from tests import instruction_world as world
from tests.helpers import Inbox, free_port, serve

SECRET = "secret-passerelle"
PASSWORD = "mot de passe solide"





@pytest.fixture
def env(db_url, conn, tmp_path):
    world.build(conn)
    gateway, gateway_url = serve(create_gateway(SECRET))
    port = free_port()
    ours, base = serve(create_app(Settings(database_url=db_url, pool_min=1, pool_max=3, payment_secret=SECRET,
                                            payment_gateway_url=f"{gateway_url}/pay", var_dir=tmp_path,
                                            public_url=f"http://localhost:{port}")), port)
    # requests go to 127.0.0.1 (an allowed host); every link must still name the public URL, localhost
    for mail, role in (("instructeur@auc.ma", "instructor"), ("signataire@auc.ma", "signatory")):
        create_account(conn, mail, role.title(), PASSWORD, role=role, verified=True)
    conn.commit()
    yield base, gateway_url, tmp_path
    ours.shutdown()
    gateway.shutdown()


def _session(base, mail):
    s = requests.Session()
    s.headers["Origin"] = base.replace("127.0.0.1", "localhost")  # a browser on the public URL's pages (CSRF)
    r = s.post(f"{base}/notes/session", json={"email": mail, "password": PASSWORD}, timeout=30)
    assert r.status_code == 200, r.text
    return s


def _applicant(base, conn):
    r = requests.post(f"{base}/notes/accounts", json={"email": "amina@example.ma", "full_name": "Amina Alaoui",
                                                      "password": PASSWORD}, timeout=30)
    assert r.status_code == 201
    body = conn.execute("SELECT body FROM outbox WHERE recipient = 'amina@example.ma'").fetchone()[0]
    requests.get(re.search(r"(http\S+verify\S+)", body).group(1), timeout=30)
    return _session(base, "amina@example.ma")


def _request(base, applicant):
    r = applicant.post(f"{base}/notes/requests", data={"refs": "TF 7/T; T.8/T", "standing": "proprietaire"},
                       files={"documents": ("titre.pdf", b"%PDF-1.4 certificat de propriete", "application/pdf")},
                       timeout=30)
    assert r.status_code == 201, r.text
    return r.json()


def _pay(gateway_url, payment):
    r = requests.post(f"{gateway_url}/pay/confirm", data={**payment["fields"], "decision": "approve"},
                      allow_redirects=False, timeout=60)
    assert r.status_code == 303


def test_official_note_end_to_end(env, conn):
    base, gateway_url, var = env
    applicant = _applicant(base, conn)
    req = _request(base, applicant)
    number = req["number"]
    assert applicant.get(f"{base}/notes/requests/{number}", timeout=30).json()["status"] == "attente_paiement"
    _pay(gateway_url, req["payment"])
    assert applicant.get(f"{base}/notes/requests/{number}", timeout=30).json()["status"] == "instruite"
    # a wrong role is refused on the server
    assert applicant.post(f"{base}/notes/requests/{number}/review", json={"accept": True}, timeout=30).status_code == 403
    assert applicant.post(f"{base}/notes/requests/{number}/sign", timeout=30).status_code == 403
    instructor = _session(base, "instructeur@auc.ma")
    queue = instructor.get(f"{base}/notes/requests", timeout=30).json()
    assert [q["number"] for q in queue] == [number]  # waiting for review
    assert applicant.get(f"{base}/notes/requests", timeout=30).status_code == 403
    assert instructor.post(f"{base}/notes/requests/{number}/sign", timeout=30).status_code == 403
    assert instructor.post(f"{base}/notes/requests/{number}/review", json={"accept": True, "text": "RAS"},
                           timeout=30).status_code == 200
    signatory = _session(base, "signataire@auc.ma")
    assert signatory.post(f"{base}/notes/requests/{number}/sign", timeout=60).status_code == 200
    # the mail goes out to a real SMTP server with the signed PDF
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        sent, failed = deliver_due(conn, SmtpSettings(port=port))
    finally:
        controller.stop()
    assert failed == 0, conn.execute("SELECT recipient, status, last_error FROM outbox").fetchall()
    assert sent >= 2, conn.execute("SELECT recipient, subject, status FROM outbox").fetchall()
    note_mail = next(m for m in inbox.messages if number in m["Subject"])
    signed = next(p for p in note_mail.walk() if p.get_filename() == f"{number}.pdf").get_payload(decode=True)
    check = verify_pdf(signed, [ensure_dev_ca(var / "signing").ca])
    assert check.valid, check
    assert applicant.get(f"{base}/notes/requests/{number}/pdf", timeout=30).content == signed
    # the PDF's text holds the zones, shares and plan citation of the stored instruction
    stored = conn.execute("SELECT instruction FROM note_requests WHERE number = %s", (number,)).fetchone()[0]
    path = var / "note.pdf"
    path.write_bytes(signed)
    text = subprocess.run([shutil.which("pdftotext"), "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert number in text and "Amina Alaoui" in text
    code = conn.execute("SELECT short_code FROM note_requests WHERE number = %s", (number,)).fetchone()[0]
    public = base.replace("127.0.0.1", "localhost")  # the public URL, not the Host the requests came through
    assert f"{public}/verify/{code}" in text and f"{public}/verify/{code}" in next(
        p for p in note_mail.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    assert req["payment"]["fields"]["callbackUrl"] == f"{public}/notes/payments/callback"
    for rule in stored["rules"]:
        assert rule["zone"]["code"] in text and f"{rule['share_pct']:.2f}".replace(".", ",") in text
    assert stored["plans"]["applied"][0]["code"] in text and "TF 7/T, TF 8/T" in text
    # public verification by code and by upload; a tampered copy is reported
    code = conn.execute("SELECT short_code FROM note_requests WHERE number = %s", (number,)).fetchone()[0]
    by_code = requests.get(f"{base}/verify/{code}", timeout=60).json()
    assert by_code["signature_valid"] and by_code["number"] == number and by_code["plans_changed_since"] is False
    assert by_code["land"] == ["TF 7/T", "TF 8/T"] and by_code["zones"]
    by_upload = requests.post(f"{base}/verify", files={"pdf": ("n.pdf", signed)}, timeout=60).json()
    assert by_upload["signature_valid"] and by_upload["number"] == number
    page = requests.post(f"{base}/verify", data={"code": code, "f": "html"}, timeout=60)
    assert page.status_code == 200 and "Signature valide" in page.text and "TF 7/T" in page.text
    assert "Vérifier" in requests.get(f"{base}/verify", timeout=30).text
    tampered = bytearray(signed)
    j = tampered.index(b"stream") + 20  # a byte inside the first (signed) stream; the length is unchanged
    tampered[j] ^= 0x01
    bad = requests.post(f"{base}/verify", files={"pdf": ("n.pdf", bytes(tampered))}, timeout=60).json()
    assert not bad["signature_valid"]
    # the audit trail has every step, in order
    actions = [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE entity_id = %s ORDER BY id", (number,))]
    assert actions[:1] == ["note.demandee"] and actions[-4:] == ["note.acceptee", "note.signee",
                                                                  "note.envoyee", "courriel.envoye"]


def test_returned_request_shows_its_reason(env, conn):
    base, gateway_url, _ = env
    applicant = _applicant(base, conn)
    req = _request(base, applicant)
    _pay(gateway_url, req["payment"])
    instructor = _session(base, "instructeur@auc.ma")
    assert instructor.post(f"{base}/notes/requests/{req['number']}/review", json={"accept": False},
                           timeout=30).status_code == 400  # a return needs its reason
    instructor.post(f"{base}/notes/requests/{req['number']}/review",
                    json={"accept": False, "text": "Pièce d'identité illisible"}, timeout=30)
    status = applicant.get(f"{base}/notes/requests/{req['number']}", timeout=30).json()
    assert status["status"] == "retournee" and status["return_reason"] == "Pièce d'identité illisible"
    assert status["status_label"] == "retournée au demandeur"
    again = instructor.post(f"{base}/notes/requests/{req['number']}/review", json={"accept": True}, timeout=30)
    assert again.status_code == 409 and "retournée au demandeur" in again.json()["message"]  # reviewed once only
    assert instructor.get(f"{base}/notes/requests?status=perdue", timeout=30).status_code == 400


def test_request_errors(env, conn):
    base, _, _ = env
    applicant = _applicant(base, conn)
    bad_doc = applicant.post(f"{base}/notes/requests", data={"refs": "TF 7/T", "standing": "proprietaire"},
                             files={"documents": ("x.exe", b"MZ\x90\x00", "application/octet-stream")}, timeout=30)
    assert bad_doc.status_code == 400 and "PDF" in bad_doc.json()["message"]
    unknown = applicant.post(f"{base}/notes/requests", data={"refs": "TF 999/T", "standing": "proprietaire"},
                             files={"documents": ("t.pdf", b"%PDF-1.4", "application/pdf")}, timeout=30)
    assert unknown.status_code == 404
    assert requests.post(f"{base}/notes/requests", data={"refs": "TF 7/T"}, timeout=30).status_code == 401
    assert requests.get(f"{base}/verify/NOPE1234", timeout=30).status_code == 404
