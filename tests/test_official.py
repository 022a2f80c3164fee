"""The official note end to end on loopback: register, request two titles, pay through the local gateway,
automatic instruction, review, signature, e-mail to a real SMTP server, pyHanko validation, /verify."""

from __future__ import annotations

import io
import re
import shutil
import socket
import subprocess
import time

import pytest
import requests
from aiosmtpd.controller import Controller

from app import create_app
from devtools.gateway import create_gateway
from layers.accounts import create_account
from notes.mail import SmtpSettings, deliver_due
from notes.payment import CALLBACK, signed
from notes.signing import ensure_dev_ca, verify_pdf
from tests import instruction_world as world
from tests.helpers import Inbox, app_settings, fire_at_once, free_port, serve

SECRET = "secret-passerelle"
PASSWORD = "mot de passe solide"





def _serve(db_url, conn, tmp_path, **changes):
    world.build(conn)
    gateway, gateway_url = serve(create_gateway(SECRET))
    port = free_port()
    ours, base = serve(create_app(app_settings(db_url, pool_min=1, pool_max=8, payment_secret=SECRET,
                                            payment_gateway_url=f"{gateway_url}/pay", var_dir=tmp_path,
                                            public_url=f"http://localhost:{port}", **changes)), port)
    # requests go to 127.0.0.1 (an allowed host); every link must still name the public URL, localhost
    for mail, role in (("instructeur@auc.ma", "instructor"), ("signataire@auc.ma", "signatory")):
        create_account(conn, mail, role.title(), PASSWORD, role=role, verified=True)
    conn.commit()
    yield base, gateway_url, tmp_path
    ours.shutdown()
    gateway.shutdown()


@pytest.fixture
def env(db_url, conn, tmp_path):
    yield from _serve(db_url, conn, tmp_path)


@pytest.fixture
def tight_env(db_url, conn, tmp_path):
    """The same, with a 1 s budget for the notes' requests (the callback's among them)."""
    yield from _serve(db_url, conn, tmp_path, budget_notes_s=1)


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
    # the QR code opened in a browser: the same outcome as a page, in French or Arabic
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    qr = requests.get(f"{base}/verify/{code}", headers=browser, timeout=60)
    assert qr.status_code == 200 and qr.headers["Content-Type"].startswith("text/html")
    assert "Signature valide, document non modifié" in qr.text and number in qr.text and "TF 7/T, TF 8/T" in qr.text
    assert all(z["code"] in qr.text for z in by_code["zones"]) and by_code["plans"][0] in qr.text
    qr_ar = requests.get(f"{base}/verify/{code}?lang=ar", headers=browser, timeout=60).text
    assert 'dir="rtl"' in qr_ar and "التوقيع صحيح والوثيقة غير معدلة" in qr_ar
    by_upload = requests.post(f"{base}/verify", files={"pdf": ("n.pdf", signed)}, timeout=60).json()
    assert by_upload["signature_valid"] and by_upload["number"] == number
    # long-term: trusted time, revocation data embedded, an archive timestamp (PAdES B-LTA), to refresh later
    assert by_code["pades_level"] == "B-LTA" and by_code["signed_at_source"] == "horodatage"
    assert by_code["signer_valid_then"] and by_code["revocation_embedded"] and len(by_code["archive_timestamps"]) == 1
    assert "prouvée par un horodatage" in qr.text and "PAdES B-LTA" in qr.text
    from datetime import UTC, datetime, timedelta

    from notes.official import refresh_notes
    from notes.signing import dev_ltv

    files = ensure_dev_ca(var / "signing")
    assert refresh_notes(conn, files, dev_ltv(files), datetime.now(UTC), "test", [number]).done == [number]
    conn.commit()
    refreshed = applicant.get(f"{base}/notes/requests/{number}/pdf", timeout=30).content
    assert refreshed.startswith(signed) and len(verify_pdf(refreshed, [files.ca]).archive) == 2
    again = requests.post(f"{base}/verify", files={"pdf": ("n.pdf", signed)}, timeout=60).json()
    assert again["number"] == number  # the copy first sent is still recognised
    assert again["signature_valid"] and again["unverified_additions"] is None
    # anyone's archive timestamp appended to a delivered copy: the delivered version is what is checked
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    from notes.tsa import LocalTimeStamper, TsaKey

    rogue = ensure_dev_ca(var / "rogue")
    stamper = LocalTimeStamper(TsaKey.load(rogue.dev.tsa_key, rogue.dev.tsa_cert, (rogue.ca,)))
    added = signers.PdfTimeStamper(stamper).timestamp_pdf(IncrementalPdfFileWriter(io.BytesIO(refreshed)), "sha256",
                                                          timestamper=stamper).getvalue()
    extended = requests.post(f"{base}/verify", files={"pdf": ("n.pdf", added)}, timeout=60).json()
    assert extended["number"] == number and extended["signature_valid"] and not extended["document_unchanged"]
    assert extended["unverified_additions"] == "ajouts non vérifiables après la version délivrée"
    assert len(extended["archive_timestamps"]) == 2  # the delivered version's, not the added one
    # refresh-ltv: an unknown number is reported, never stops the batch; a refused note is skipped for a while
    from layers import note_requests

    far = datetime.now(UTC) + timedelta(days=20 * 365)
    assert refresh_notes(conn, files, dev_ltv(files), far, "test", ["2099-99999"]).refused[0][0] == "2099-99999"
    assert number in note_requests.due_for_refresh(conn, far)
    note_requests.refresh_refused(conn, number, "essai")
    conn.commit()
    assert number not in note_requests.due_for_refresh(conn, far)
    skipped = refresh_notes(conn, files, dev_ltv(files), far, "test")
    assert number not in skipped.done and skipped.skipped >= 1
    conn.execute("UPDATE note_requests SET ltv_refused_at = NULL WHERE number = %s", (number,))
    conn.commit()
    assert [r[0] for r in conn.execute("SELECT level FROM note_pdf_versions WHERE number = %s ORDER BY id",
                                       (number,))] == ["B-LTA", "B-LTA"]
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
    assert actions[:1] == ["note.demandee"] and actions[-5:] == ["note.acceptee", "note.signee", "note.envoyee",
                                                                  "courriel.envoye", "note.horodatage_archive"]
    # each staff action under its author's name, each payment event under the gateway's
    actors = dict(conn.execute("SELECT action, actor FROM audit_log WHERE entity_id = %s", (number,)).fetchall())
    assert actors["note.acceptee"] == "instructeur@auc.ma"
    assert actors["note.signee"] == actors["note.envoyee"] == "signataire@auc.ma"
    assert actors["note.payee"] == "passerelle" and actors["note.instruite"] == "instruction-automatique"
    assert [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE entity_id = %s ORDER BY id",
                                       (req["order_id"],))] == ["paiement.initie", "paiement.payee"]


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


def _sessions(base, mail, n):
    """n HTTP sessions holding one sign-in's cookie (one connection each, for concurrent calls)."""
    signed_in = _session(base, mail)
    out = []
    for _ in range(n):
        s = requests.Session()
        s.cookies.update(signed_in.cookies)
        s.headers["Origin"] = signed_in.headers["Origin"]
        out.append(s)
    return out


def _paid_request(env, conn):
    base, gateway_url, _ = env
    applicant = _applicant(base, conn)
    req = _request(base, applicant)
    _pay(gateway_url, req["payment"])
    return applicant, req


def _count(conn, action, entity_id):
    return conn.execute("SELECT count(*) FROM audit_log WHERE action = %s AND entity_id = %s",
                        (action, entity_id)).fetchone()[0]


def test_concurrent_reviews_one_applies(env, conn):
    base, _, _ = env
    _, req = _paid_request(env, conn)
    number, n = req["number"], 6
    sessions = _sessions(base, "instructeur@auc.ma", n)
    answers = fire_at_once(n, lambda i: sessions[i].post(f"{base}/notes/requests/{number}/review",
                                                          json={"accept": i % 2 == 0, "text": f"motif {i}"}, timeout=60))
    assert sorted(a.status_code for a in answers) == [200] + [409] * (n - 1)
    assert all("ne peut plus passer" in a.json()["message"] for a in answers if a.status_code == 409)
    won = next(a.json()["status"] for a in answers if a.status_code == 200)
    assert conn.execute("SELECT status FROM note_requests WHERE number = %s", (number,)).fetchone()[0] == won
    assert _count(conn, "note.acceptee", number) + _count(conn, "note.retournee", number) == 1


def test_concurrent_signatures_sign_once_and_queue_one_mail(env, conn):
    base, _, _ = env
    _, req = _paid_request(env, conn)
    number, n = req["number"], 6
    assert _session(base, "instructeur@auc.ma").post(f"{base}/notes/requests/{number}/review", json={"accept": True},
                                                     timeout=30).status_code == 200
    sessions = _sessions(base, "signataire@auc.ma", n)
    answers = fire_at_once(n, lambda i: sessions[i].post(f"{base}/notes/requests/{number}/sign", timeout=120))
    assert sorted(a.status_code for a in answers) == [200] + [409] * (n - 1), [a.text for a in answers]
    assert all("« envoyée »" in a.json()["message"] for a in answers if a.status_code == 409)
    mails = conn.execute("SELECT count(*) FROM outbox WHERE entity = 'note_request' AND entity_id = %s",
                         (number,)).fetchone()[0]
    assert mails == 1
    assert _count(conn, "note.signee", number) == 1 and _count(conn, "note.envoyee", number) == 1
    row = conn.execute("SELECT status, signed_pdf IS NOT NULL FROM note_requests WHERE number = %s", (number,)).fetchone()
    assert row == ("envoyee", True)


def _callback(req, transaction_id, approved=True):
    """The gateway's signed callback for a request's order."""
    return signed({"clientid": "AUC-URBASIG", "oid": req["order_id"], "amount": req["amount_mad"], "currency": "504",
                   "Response": "Approved" if approved else "Declined",
                   "ProcReturnCode": "00" if approved else "05", "TransId": transaction_id}, SECRET, CALLBACK)


def test_concurrent_payment_callbacks_instruct_once(env, conn):
    base, _, _ = env
    applicant = _applicant(base, conn)
    req = _request(base, applicant)
    number, order_id, n = req["number"], req["order_id"], 6

    def callback(transaction_id, approved=True):
        return _callback(req, transaction_id, approved)

    url = f"{base}/notes/payments/callback"
    # a declined attempt first: the request keeps waiting for its payment
    assert requests.post(url, data=callback("T-REFUS", approved=False), timeout=30).status_code == 200
    assert applicant.get(f"{base}/notes/requests/{number}", timeout=30).json()["status"] == "attente_paiement"
    # then the same approval n times at once, and n other approvals at once
    same = callback("T-PAYE")
    answers = fire_at_once(n, lambda i: requests.post(url, data=same, timeout=120))
    answers += fire_at_once(n, lambda i: requests.post(url, data=callback(f"T-AUTRE-{i}"), timeout=120))
    assert [a.status_code for a in answers] == [200] * (2 * n)
    assert sum(a.text.startswith("ACTION=POSTAUTH") for a in answers) == 1
    assert applicant.get(f"{base}/notes/requests/{number}", timeout=30).json()["status"] == "instruite"
    assert _count(conn, "note.payee", number) == 1 and _count(conn, "note.instruite", number) == 1
    assert _count(conn, "paiement.payee", order_id) == 1 and _count(conn, "paiement.refusee", order_id) == 1
    assert _count(conn, "paiement.rappel_rejoue", order_id) == n - 1
    assert _count(conn, "paiement.tentative_apres_paiement", order_id) == n


def test_resubmit_a_returned_request_then_cancel(env, conn):
    base, gateway_url, _ = env
    applicant, req = _paid_request(env, conn)
    number = req["number"]
    instructor = _session(base, "instructeur@auc.ma")
    instructor.post(f"{base}/notes/requests/{number}/review", json={"accept": False, "text": "Plan illisible"},
                    timeout=30)
    bad = applicant.post(f"{base}/notes/requests/{number}/resubmit",
                         files={"documents": ("x.exe", b"MZ\x90\x00", "application/octet-stream")}, timeout=30)
    assert bad.status_code == 400 and applicant.get(f"{base}/notes/requests/{number}", timeout=30).json()[
        "status"] == "retournee"
    again = applicant.post(f"{base}/notes/requests/{number}/resubmit",
                           files={"documents": ("plan.pdf", b"%PDF-1.4 plan lisible", "application/pdf")}, timeout=60)
    assert again.status_code == 200 and again.json()["status"] == "instruite"
    assert applicant.get(f"{base}/notes/requests/{number}", timeout=30).json()["return_reason"] is None
    documents = conn.execute("SELECT count(*) FROM note_documents d JOIN note_requests r ON r.id = d.request_id "
                             "WHERE r.number = %s", (number,)).fetchone()[0]
    assert documents == 2
    twice = applicant.post(f"{base}/notes/requests/{number}/resubmit", timeout=30)
    assert twice.status_code == 409 and "instruite" in twice.json()["message"]
    assert applicant.post(f"{base}/notes/requests/{number}/cancel", timeout=30).status_code == 409  # instructed
    actions = [r[0] for r in conn.execute("SELECT action, actor FROM audit_log WHERE entity_id = %s ORDER BY id",
                                          (number,))]
    assert actions[-3:] == ["note.retournee", "note.payee", "note.instruite"]
    # a request cancelled while its payment is pending: the late payment stands, audited for a refund
    other = _request(base, applicant)
    assert instructor.post(f"{base}/notes/requests/{other['number']}/cancel", timeout=30).status_code == 403
    cancelled = applicant.post(f"{base}/notes/requests/{other['number']}/cancel", timeout=30)
    assert cancelled.status_code == 200 and cancelled.json()["status_label"] == "annulée"
    _pay(gateway_url, other["payment"])
    assert applicant.get(f"{base}/notes/requests/{other['number']}", timeout=30).json()["status"] == "annulee"
    assert conn.execute("SELECT status FROM payments WHERE order_id = %s", (other["order_id"],)).fetchone()[0] == "payee"
    assert _count(conn, "note.paiement_a_rembourser", other["number"]) == 1


def _slow_instruction(monkeypatch, where, seconds=3.0):
    """Make the automatic instruction spend `seconds` first, in Python or in one statement (the live server runs
    in a thread of this process)."""
    import notes.official

    real = notes.official.instruct

    def slow(conn, *args, **kwargs):
        if where == "database":  # cancelled when the budget ends: DatabaseTimeout
            conn.execute("SELECT pg_sleep(%s)", (seconds,))
        end = time.monotonic() + seconds
        while time.monotonic() < end:  # short sleeps: the budget's RequestTimeout is raised between two of them
            time.sleep(0.01)
        return real(conn, *args, **kwargs)

    monkeypatch.setattr(notes.official, "instruct", slow)


@pytest.mark.parametrize(("where", "code"), [("python", "temps-depasse"), ("database", "delai-depasse")])
def test_a_paid_callback_whose_instruction_overruns_the_budget_keeps_the_payment(tight_env, conn, monkeypatch, where,
                                                                                 code):
    base, _, _ = tight_env
    applicant = _applicant(base, conn)
    req = _request(base, applicant)
    number, order_id = req["number"], req["order_id"]
    _slow_instruction(monkeypatch, where)
    url, paid = f"{base}/notes/payments/callback", _callback(req, "T-LENT")
    r = requests.post(url, data=paid, timeout=60)
    assert r.status_code == 200 and r.text.startswith("ACTION=POSTAUTH"), r.text  # applied: no retry wanted
    assert conn.execute("SELECT status FROM payments WHERE order_id = %s", (order_id,)).fetchone()[0] == "payee"
    assert conn.execute("SELECT count(*) FROM payment_attempts WHERE order_id = %s", (order_id,)).fetchone()[0] == 1
    assert applicant.get(f"{base}/notes/requests/{number}", timeout=30).json()["status"] == "payee"
    failure = conn.execute("SELECT after FROM audit_log WHERE action = 'note.instruction_echec' AND entity_id = %s",
                           (number,)).fetchone()[0]
    assert failure["code"] == code
    assert _count(conn, "note.payee", number) == 1 and _count(conn, "paiement.payee", order_id) == 1
    again = requests.post(url, data=paid, timeout=60)  # the gateway's retry: already applied, nothing new
    assert again.status_code == 200 and again.text.startswith("ACTION=NONE;DEJA_TRAITE")
    assert _count(conn, "note.payee", number) == 1 and _count(conn, "note.instruction_echec", number) == 1


def _failing_instruction(monkeypatch):
    """Make the automatic instruction fail as it does when no plan applies (until monkeypatch.undo())."""
    import notes.official
    from gis.errors import Conflict

    def failing(*args, **kwargs):
        raise Conflict("aucun plan d'aménagement n'est enregistré ici")

    monkeypatch.setattr(notes.official, "instruct", failing)


def test_a_request_stuck_paid_is_instructed_again_by_staff(env, conn, monkeypatch):
    base, _, _ = env
    applicant = _applicant(base, conn)
    req = _request(base, applicant)
    number = req["number"]
    _failing_instruction(monkeypatch)
    paid = requests.post(f"{base}/notes/payments/callback", data=_callback(req, "T-1"), timeout=60)
    assert paid.status_code == 200 and paid.text.startswith("ACTION=POSTAUTH")
    assert applicant.get(f"{base}/notes/requests/{number}", timeout=30).json()["status"] == "payee"
    url = f"{base}/notes/requests/{number}/instruct"
    assert applicant.post(url, timeout=30).status_code == 403  # staff only
    instructor = _session(base, "instructeur@auc.ma")
    failed = instructor.post(url, timeout=60)  # still failing: its reason, audited, still « payée »
    assert failed.status_code == 409 and "aucun plan" in failed.json()["message"]
    assert _count(conn, "note.instruction_echec", number) == 2
    monkeypatch.undo()
    done = instructor.post(url, timeout=60)
    assert done.status_code == 200 and done.json()["status"] == "instruite"
    again = instructor.post(url, timeout=60)
    assert again.status_code == 409 and "instruite" in again.json()["message"]
    assert requests.post(f"{base}/notes/requests/NRU-2000-999999/instruct", timeout=30,
                         cookies=instructor.cookies, headers=instructor.headers).status_code == 404
    rows = conn.execute("SELECT action, actor FROM audit_log WHERE entity_id = %s ORDER BY id", (number,)).fetchall()
    assert [a for a, _ in rows][-4:] == ["note.instruction_relancee", "note.instruction_echec",
                                         "note.instruction_relancee", "note.instruite"]
    assert {actor for action, actor in rows if action == "note.instruction_relancee"} == {"instructeur@auc.ma"}


def test_an_administrator_cancels_a_paid_request_and_the_refund_is_audited(env, conn, monkeypatch):
    base, _, _ = env
    create_account(conn, "admin@auc.ma", "Admin", PASSWORD, role="admin", verified=True)
    conn.commit()
    applicant = _applicant(base, conn)
    stuck = _request(base, applicant)
    _failing_instruction(monkeypatch)
    requests.post(f"{base}/notes/payments/callback", data=_callback(stuck, "T-STUCK"), timeout=60)
    monkeypatch.undo()
    cancel = f"{base}/notes/requests/{stuck['number']}/cancel"
    refused = applicant.post(cancel, timeout=30)  # paid and stuck: only an administrator
    assert refused.status_code == 409 and "payée" in refused.json()["message"]
    admin = _session(base, "admin@auc.ma")
    assert admin.post(cancel, timeout=30).status_code == 200
    assert applicant.get(f"{base}/notes/requests/{stuck['number']}", timeout=30).json()["status"] == "annulee"
    assert _count(conn, "note.paiement_a_rembourser", stuck["number"]) == 1
    # a returned request (paid) cancelled by its applicant: the refund is audited too
    returned = _request(base, applicant)
    paid = requests.post(f"{base}/notes/payments/callback", data=_callback(returned, "T-RET"), timeout=60)
    assert paid.status_code == 200
    _session(base, "instructeur@auc.ma").post(f"{base}/notes/requests/{returned['number']}/review",
                                              json={"accept": False, "text": "Plan illisible"}, timeout=30)
    assert applicant.post(f"{base}/notes/requests/{returned['number']}/cancel", timeout=30).status_code == 200
    assert _count(conn, "note.paiement_a_rembourser", returned["number"]) == 1
    # one waiting for its payment: nothing to refund
    waiting = _request(base, applicant)
    assert applicant.post(f"{base}/notes/requests/{waiting['number']}/cancel", timeout=30).status_code == 200
    assert _count(conn, "note.paiement_a_rembourser", waiting["number"]) == 0


def test_the_official_note_stores_its_envelope_and_renders_it_unchanged_after_the_plans_change(env, conn):
    """TF 7/T + TF 8/T today: 1 600 m² in zone B of PA-T-2020 (R+8, 30 m, 80 %, no setback) less the school
    reservation (400 m²): footprint min(1 200, 80 % × 1 600) = 1 200 m², floor area 1 200 × 9 levels = 10 800 m².
    The zone's rules then change in the database;
    the preview and the signed note still say what was instructed (the stored envelope), and it verifies."""
    from notes.official import preview_pdf

    base, gateway_url, var = env
    _, req = _paid_request(env, conn)
    number = req["number"]
    stored = conn.execute("SELECT instruction FROM note_requests WHERE number = %s", (number,)).fetchone()[0]
    envelope = stored["envelope"]
    assert envelope["buildable"] and envelope["totals"]["max_floor_area_m2"] == 10800.0
    assert envelope["parts"][0]["deductions"][0]["area_m2"] == 400.0 and envelope["parts"][0]["geometry"]
    conn.execute("UPDATE zones SET storeys_max = 3, height_max_m = 11.5 WHERE code = 'B'")  # a later change
    conn.commit()
    instructor = _session(base, "instructeur@auc.ma")
    assert instructor.post(f"{base}/notes/requests/{number}/review", json={"accept": True}, timeout=30).ok

    def text(document: bytes) -> str:
        path = var / "envelope.pdf"
        path.write_bytes(document)
        out = subprocess.run([shutil.which("pdftotext"), str(path), "-"], capture_output=True, text=True, check=True)
        return " ".join(out.stdout.replace("\u00a0", " ").split())

    line = ("Enveloppe indicative, zone B : emprise au sol max. 1 200 m² (limitée par les reculs et les prescriptions), "
            "R+8 (30 m), surface de plancher max. 10 800 m² (emprise × 9 niveaux limitant).")
    assert line in text(preview_pdf(conn, number, base))
    signatory = _session(base, "signataire@auc.ma")
    assert signatory.post(f"{base}/notes/requests/{number}/sign", timeout=60).status_code == 200
    signed = conn.execute("SELECT signed_pdf FROM note_requests WHERE number = %s", (number,)).fetchone()[0]
    assert line in text(bytes(signed)) and "R+3" not in text(bytes(signed))
    assert verify_pdf(bytes(signed), [ensure_dev_ca(var / "signing").ca]).valid
    code = conn.execute("SELECT short_code FROM note_requests WHERE number = %s", (number,)).fetchone()[0]
    assert requests.get(f"{base}/verify/{code}", timeout=60).json()["signature_valid"]
