"""The instructor's and the signatory's spaces over real HTTP (issue 14, points 2 and 3).

One database with the hand-built territory (tests/instruction_world.py) and one served app for the module; each
test makes its own requests (paid and instructed through the back end's own functions), then drives the pages
as a person does: GET the page, read its form token, POST the form, follow the 303 to the message.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import requests
from aiosmtpd.controller import Controller

from app import create_app
from instruction.engine import Options
from layers import note_requests
from layers.accounts import create_account
from layers.payments import apply_callback
from notes.mail import SmtpSettings, deliver_due
from notes.official import create_request, on_payment, review
from notes.signing import ensure_dev_ca
from tests import instruction_world as world
from tests.helpers import Inbox, add_commune, app_settings, box, free_port, serve

PASSWORD = "mot de passe solide"
DOC = b"%PDF-1.4 certificat de propriete"
PNG = b"\x89PNG\r\n\x1a\n plan de situation"


@pytest.fixture(scope="module")
def site(server_url, template_name, tmp_path_factory):
    """(base URL, owner connection, applicant account) over one database for the module."""
    from layers.db import drop_database, ensure_database, with_dbname

    name = f"urbasig_staff_{os.getpid()}"
    ensure_database(server_url, name, template=template_name)
    url = with_dbname(server_url, name)
    conn = psycopg.connect(url)
    world.build(conn)
    add_commune(conn, "MAARIF", box(3000, -500, 1000, 1000), name="Maârif")
    conn.execute("INSERT INTO parcels (ref_kind, ref_number, ref_suffix, ref_text, legal_area_m2, commune_code, geom) "
                 "VALUES ('TF', 12, 'T', 'TF 12/T', 2000, 'MAARIF', ST_Multi(ST_GeomFromText(%s, 26191)))",
                 (box(3100, 100, 40, 50).wkt,))
    for mail, role in (("instructeur@auc.ma", "instructor"), ("instructrice@auc.ma", "instructor"),
                       ("signataire@auc.ma", "signatory")):
        create_account(conn, mail, role.title(), PASSWORD, role=role, verified=True)
    applicant_id, _ = create_account(conn, "amina@example.ma", "Amina Alaoui", PASSWORD, verified=True)
    conn.commit()
    port, var = free_port(), tmp_path_factory.mktemp("var")
    ensure_dev_ca(var / "signing")  # the development CA the app signs with (api/official.py), made once
    # signing takes about a second a note: the spaces' pages have the notes' budget (api/budget.py, 20 s by
    # default); the cut-off of a batch before the budget ends is tested below
    app = create_app(app_settings(url, pool_min=1, pool_max=4, var_dir=var, public_url=f"http://127.0.0.1:{port}"))
    server, base = serve(app, port)
    yield base, conn, {"id": applicant_id, "email": "amina@example.ma", "role": "applicant"}
    server.shutdown()
    conn.close()
    app.extensions["urbasig.pool"].close()
    drop_database(server_url, name)


def _session(base: str, mail: str) -> requests.Session:
    s = requests.Session()
    s.headers["Origin"] = base
    s.headers["Accept"] = "text/html"
    r = s.post(f"{base}/notes/session", json={"email": mail, "password": PASSWORD}, timeout=30)
    assert r.status_code == 200, r.text
    return s


def _token(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def _post(s: requests.Session, page_url: str, action: str, data: dict | list) -> requests.Response:
    """Submit a form of a page as a browser does: its token from the page, the POST, the 303 followed."""
    page = s.get(page_url, timeout=30)
    assert page.status_code == 200, page.text
    fields = [("csrf", _token(page.text))] + (list(data.items()) if isinstance(data, dict) else data)
    return s.post(action, data=fields, timeout=60)


def _paid(conn, applicant, refs=("TF 7/T", "TF 8/T"), docs=(("titre.pdf", DOC),)) -> str:
    """A request paid (its callback applied) and instructed at once, as the gateway's callback does it."""
    number, order_id = create_request(conn, applicant, list(refs), "mandataire", list(docs), "450.00")
    apply_callback(conn, order_id, f"tx-{order_id}", True, "450.00", "504", "00")
    on_payment(conn, order_id, Options())
    conn.commit()
    return number


def _rows(page: str, table: str) -> list[str]:
    """The data-number of each row of a table, in order."""
    body = page[page.index(f'id="{table}"'):]
    body = body[:body.index("</table>")]
    return re.findall(r'<tr data-number="([^"]+)"', body)


def _age(conn, number: str, days: int) -> None:
    conn.execute("UPDATE note_requests SET created_at = now() - %s, updated_at = now() - %s WHERE number = %s",
                 (timedelta(days=days, hours=1), timedelta(days=days, hours=1), number))
    conn.commit()


# ------------------------------------------------------------------ the instructor
def test_queue_filters_order_and_days_waiting(site):
    base, conn, applicant = site
    newer, older = _paid(conn, applicant), _paid(conn, applicant, refs=("TF 1/T",))
    elsewhere = _paid(conn, applicant, refs=("TF 12/T",))  # in Maârif (outside the PA: SDAU only)
    _age(conn, older, 9)
    _age(conn, newer, 2)
    conn.execute("UPDATE note_requests SET updated_at = now() - interval '5 days 1 hour', "
                 "created_at = now() - interval '30 days' WHERE number = %s", (elsewhere,))
    conn.commit()
    instructor = _session(base, "instructeur@auc.ma")
    page = instructor.get(f"{base}/instruction/", timeout=30).text  # default: instruite
    mine = [n for n in _rows(page, "queue") if n in (newer, older, elsewhere)]
    assert mine == [older, elsewhere, newer]  # longest waiting first
    days = dict(re.findall(r'<tr data-number="([^"]+)">.*?<td class="waiting num"[^>]*data-days="(\d+)"', page, re.S))
    assert (days[older], days[elsewhere], days[newer]) == ("9", "5", "2")
    assert 'id="filters"' in page and 'name="commune"' in page and "Maârif" in page
    maarif = instructor.get(f"{base}/instruction/", params={"commune": "MAARIF"}, timeout=30).text
    assert _rows(maarif, "queue") == [elsewhere]
    anfa = _rows(instructor.get(f"{base}/instruction/", params={"commune": "ANFA"}, timeout=30).text, "queue")
    assert elsewhere not in anfa and {older, newer} <= set(anfa)
    today = datetime.now(UTC).date()
    recent = instructor.get(f"{base}/instruction/", params={"du": (today - timedelta(days=10)).isoformat(),
                                                            "au": today.isoformat()}, timeout=30).text
    assert elsewhere not in _rows(recent, "queue") and {older, newer} <= set(_rows(recent, "queue"))
    early = instructor.get(f"{base}/instruction/", params={"au": (today - timedelta(days=20)).isoformat()}, timeout=30)
    assert _rows(early.text, "queue") == [elsewhere]
    accepted = instructor.get(f"{base}/instruction/", params={"status": "acceptee"}, timeout=30).text
    assert not {older, newer, elsewhere} & set(_rows(accepted, "queue"))
    bad = instructor.get(f"{base}/instruction/", params={"du": "03/12/2026"}, timeout=30)
    assert bad.status_code == 400 and "pas une date" in bad.text and 'id="filters"' in bad.text
    for number in (newer, older, elsewhere):  # out of the other tests' queues
        conn.execute("UPDATE note_requests SET status = 'annulee' WHERE number = %s", (number,))
    conn.commit()


def test_request_page_map_instruction_documents(site):
    base, conn, applicant = site
    number = _paid(conn, applicant, docs=(("titre foncier.pdf", DOC), ("plan.png", PNG)))
    instructor = _session(base, "instructeur@auc.ma")
    r = instructor.get(f"{base}/instruction/demandes/{number}", timeout=30)
    assert r.status_code == 200
    page = r.text
    land = re.search(r'<div id="land-map"[^>]*>', page).group(0)
    bounds = [float(v) for v in re.search(r'data-bounds="\[([^\]]+)\]"', land).group(1).split(",")]
    assert -8 < bounds[0] < bounds[2] < -7 and 33 < bounds[1] < bounds[3] < 34  # Casablanca, lon/lat
    assert "TF 7/T" in land and "spaces-land-map.js" in page and "/vendor/maplibre-gl/dist/maplibre-gl-csp.js" in page
    assert "mandataire" in page and "Amina Alaoui" in page
    stored = conn.execute("SELECT instruction FROM note_requests WHERE number = %s", (number,)).fetchone()[0]
    for rule in stored["rules"]:  # the stored instruction's zones on the page
        assert f'data-zone="{rule["zone"]["code"]}"' in page
    assert "Réservé : école" in page or "École" in page  # the prescription of the land, from summary_lines
    assert 'id="timeline"' in page and 'data-status="instruite"' in page and 'data-status="payee"' in page
    assert 'id="decision"' in page and 'value="accept"' in page and 'value="return"' in page
    links = re.findall(rf'href="(/instruction/demandes/{number}/documents/\d+)"', page)
    assert len(links) == 2
    first = instructor.get(base + links[0], timeout=30)
    assert first.content == DOC and first.headers["Content-Type"] == "application/pdf"
    assert first.headers["Content-Disposition"].startswith("attachment")
    second = instructor.get(base + links[1], timeout=30)
    assert second.content == PNG and second.headers["Content-Type"] == "image/png"
    other = _paid(conn, applicant)
    wrong = re.sub(r"/demandes/[^/]+/", f"/demandes/{other}/", links[0])
    assert instructor.get(base + wrong, timeout=30).status_code == 404  # a document of another request
    assert _session(base, "signataire@auc.ma").get(base + links[0], timeout=30).status_code == 403
    for n in (number, other):
        conn.execute("UPDATE note_requests SET status = 'annulee' WHERE number = %s", (n,))
    conn.commit()


def test_return_needs_a_reason_the_applicant_sees_then_accept_and_double_decision(site):
    base, conn, applicant = site
    number = _paid(conn, applicant)
    page_url = f"{base}/instruction/demandes/{number}"
    action = f"{page_url}/decision"
    first, second = _session(base, "instructeur@auc.ma"), _session(base, "instructrice@auc.ma")
    r = _post(first, page_url, action, {"decision": "return", "text": "  "})
    assert r.status_code == 400 and "motif du retour" in r.text and 'id="decision"' in r.text
    assert note_requests.status_of(conn, number) == "instruite"
    r = _post(first, page_url, action, {"decision": "return", "text": "Joindre le certificat de propriété"})
    assert r.status_code == 200 and r.url == f"{base}/instruction/" and f"Demande {number} retournée" in r.text
    applicant_s = _session(base, "amina@example.ma")
    status = applicant_s.get(f"{base}/notes/requests/{number}", headers={"Accept": "application/json"}, timeout=30)
    assert status.json()["status"] == "retournee"
    assert status.json()["return_reason"] == "Joindre le certificat de propriété"
    # resubmitted, instructed again: two instructors open it, one accepts, the other's decision is a 409 on the page
    applicant_s.post(f"{base}/notes/requests/{number}/resubmit", files={"documents": ("certificat.pdf", DOC)},
                     headers={"Accept": "application/json"}, timeout=60).raise_for_status()
    stale = second.get(page_url, timeout=30).text
    r = _post(first, page_url, action, {"decision": "accept", "text": "Conforme"})
    assert r.status_code == 200 and f"Demande {number} acceptée" in r.text
    late = second.post(action, data={"csrf": _token(stale), "decision": "return", "text": "Plan illisible"}, timeout=30)
    assert late.status_code == 409
    assert "acceptée, en attente de signature" in late.text and 'role="alert"' in late.text
    assert "text/html" in late.headers["Content-Type"]
    assert note_requests.status_of(conn, number) == "acceptee"
    assert "Conforme" in first.get(page_url, timeout=30).text  # the remarks, on the page and in the timeline
    conn.execute("UPDATE note_requests SET status = 'annulee' WHERE number = %s", (number,))
    conn.commit()


def test_reinstruct_after_a_failed_instruction(site):
    base, conn, applicant = site
    # the title vanishes from the cadastre between the request and its payment: the instruction fails
    number, order_id = create_request(conn, applicant, ["TF 9/T"], "proprietaire", [("t.pdf", DOC)], "450.00")
    conn.execute("UPDATE parcels SET ref_number = 90009 WHERE ref_text = 'TF 9/T'")
    apply_callback(conn, order_id, f"tx-{order_id}", True, "450.00", "504", "00")
    on_payment(conn, order_id, Options())
    conn.commit()
    assert note_requests.status_of(conn, number) == "payee"
    instructor = _session(base, "instructeur@auc.ma")
    page_url = f"{base}/instruction/demandes/{number}"
    page = instructor.get(page_url, timeout=30).text
    assert 'id="reinstruct"' in page and 'id="decision"' not in page and "Dernière erreur" in page
    r = _post(instructor, page_url, f"{page_url}/instruire", {})
    assert r.status_code == 404  # the title still missing: failed again, said on the request's page
    assert "a de nouveau échoué" in r.text and 'id="reinstruct"' in r.text
    conn.execute("UPDATE parcels SET ref_number = 9 WHERE ref_number = 90009")
    conn.commit()
    r = _post(instructor, page_url, f"{page_url}/instruire", {})
    assert r.status_code == 200 and r.url == page_url and f"Demande {number} instruite" in r.text
    assert note_requests.status_of(conn, number) == "instruite" and 'id="decision"' in r.text
    conn.execute("UPDATE note_requests SET status = 'annulee' WHERE number = %s", (number,))
    conn.commit()


# ------------------------------------------------------------------ the signatory
def _accepted(conn, applicant, refs=("TF 7/T", "TF 8/T")) -> str:
    number = _paid(conn, applicant, refs)
    review(conn, number, {"email": "instructeur@auc.ma"}, True, "RAS")
    conn.commit()
    return number


def _pdftext(data: bytes, tmp_path, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return subprocess.run([shutil.which("pdftotext"), "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def test_preview_is_the_note_unsigned_and_marked(site, tmp_path):
    base, conn, applicant = site
    number = _accepted(conn, applicant)
    signatory = _session(base, "signataire@auc.ma")
    page = signatory.get(f"{base}/signature/", timeout=30).text
    assert f'href="/signature/demandes/{number}/apercu.pdf"' in page and 'class="preview"' in page
    r = signatory.get(f"{base}/signature/demandes/{number}/apercu.pdf", timeout=60)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf" and r.content.startswith(b"%PDF")
    assert b"/ByteRange" not in r.content and b"/Sig" not in r.content  # no signature at all
    text = _pdftext(r.content, tmp_path, "apercu.pdf")
    assert "APERÇU" in text and "NON SIGNÉ" in text and number in text and "Amina Alaoui" in text
    assert note_requests.status_of(conn, number) == "acceptee"  # a preview changes nothing
    instructor = _session(base, "instructeur@auc.ma")
    assert instructor.get(f"{base}/signature/demandes/{number}/apercu.pdf", timeout=30).status_code == 403
    conn.execute("UPDATE note_requests SET status = 'annulee' WHERE number = %s", (number,))
    conn.commit()


def _free_closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nobody listens there once the socket is closed


def test_batch_sign_and_delivery_states(site):
    base, conn, applicant = site
    conn.execute("UPDATE outbox SET status = 'envoye'")  # earlier mails (none from these pages) out of the way
    conn.commit()
    one, two = _accepted(conn, applicant), _accepted(conn, applicant, refs=("TF 1/T",))
    gone = _accepted(conn, applicant, refs=("TF 2/T",))
    conn.execute("UPDATE note_requests SET status = 'signee' WHERE number = %s", (gone,))  # signed meanwhile
    conn.commit()
    signatory = _session(base, "signataire@auc.ma")
    page = signatory.get(f"{base}/signature/", timeout=30).text
    assert 'id="sign-batch"' in page and {one, two} <= set(_rows(page, "to-sign"))
    r = _post(signatory, f"{base}/signature/", f"{base}/signature/signer",
              [("number", one), ("number", gone), ("number", two)])
    assert r.status_code == 200 and r.url == f"{base}/signature/"
    assert f"2 note(s) signée(s) et envoyée(s) : {one}, {two}" in r.text
    assert f"{gone} non signée" in r.text  # the one that failed is named, the others stay signed
    for number in (one, two):
        assert note_requests.status_of(conn, number) == "envoyee"
        mails = conn.execute("SELECT count(*) FROM outbox WHERE entity = 'note_request' AND entity_id = %s",
                             (number,)).fetchone()[0]
        assert mails == 1
    assert note_requests.status_of(conn, gone) == "signee"
    state = lambda page, n: re.search(rf'<tr data-number="{n}">.*?data-state="(\w+)"', page, re.S).group(1)  # noqa: E731
    page = signatory.get(f"{base}/signature/", timeout=30).text
    assert state(page, one) == state(page, two) == "waiting" and "pas encore tenté" in page
    # the first mail goes to a real SMTP server; the second meets a closed port and is given up
    conn.execute("UPDATE outbox SET next_attempt_at = now() + interval '1 hour' WHERE entity_id = %s", (two,))
    conn.commit()
    port = _free_closed_port()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert deliver_due(conn, SmtpSettings(port=port)) == (1, 0)
    finally:
        controller.stop()
    assert any(one in m["Subject"] for m in inbox.messages)
    conn.execute("UPDATE outbox SET next_attempt_at = now() WHERE entity_id = %s", (two,))
    conn.commit()
    closed = _free_closed_port()
    assert deliver_due(conn, SmtpSettings(port=closed, timeout_s=2)) == (0, 1)  # retried later
    page = signatory.get(f"{base}/signature/", timeout=30).text
    assert state(page, one) == "sent" and state(page, two) == "waiting"
    assert "1 tentative(s), prochain essai le" in page and "Dernière erreur" in page
    conn.execute("UPDATE outbox SET next_attempt_at = now() WHERE entity_id = %s", (two,))
    conn.commit()
    assert deliver_due(conn, SmtpSettings(port=closed, timeout_s=2), max_attempts=2) == (0, 1)  # given up
    page = signatory.get(f"{base}/signature/", timeout=30).text
    assert state(page, two) == "failed" and "abandonné après 2 tentative(s)" in page
    assert "ConnectionRefusedError" in page
    assert re.search(rf'<tr data-number="{one}">.*?Envoyé à amina@example.ma le', page, re.S)
    conn.execute("UPDATE note_requests SET status = 'annulee' WHERE number = %s", (gone,))
    conn.commit()


def test_batch_stops_before_the_time_budget_ends(site, monkeypatch):
    from api.spaces import signature

    base, conn, applicant = site
    number = _accepted(conn, applicant, refs=("TF 3/T",))
    monkeypatch.setattr(signature, "RESERVE_S", 3600.0)  # as if the request's budget were spent already
    signatory = _session(base, "signataire@auc.ma")
    r = _post(signatory, f"{base}/signature/", f"{base}/signature/signer", [("number", number)])
    assert r.status_code == 200 and f"{number} non signée(s), rien" in r.text
    assert note_requests.status_of(conn, number) == "acceptee"
    conn.execute("UPDATE note_requests SET status = 'annulee' WHERE number = %s", (number,))
    conn.commit()
