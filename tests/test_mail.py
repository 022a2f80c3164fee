"""The outbox: delivered to a real SMTP server on loopback (aiosmtpd), kept and retried while it is down."""

from __future__ import annotations

import socket

import pytest
from aiosmtpd.controller import Controller

from layers.outbox import queue_mail
from notes.mail import SmtpSettings, deliver_due
from tests.helpers import Inbox


def _port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_port():
    return _port()


def _queue(conn):
    mail_id = queue_mail(conn, "demandeur@example.ma", "Votre note de renseignements NRU-1", "Veuillez trouver la note.",
                         b"%PDF-1.7 note signee", "NRU-1.pdf", "note", "NRU-1")
    conn.commit()
    return mail_id


def test_mail_with_pdf_reaches_the_smtp_server(conn, smtp_port):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        _queue(conn)
        assert deliver_due(conn, SmtpSettings(port=smtp_port)) == (1, 0)
    finally:
        controller.stop()
    (msg,) = inbox.messages
    assert msg["To"] == "demandeur@example.ma" and "NRU-1" in msg["Subject"]
    parts = [p for p in msg.walk() if p.get_filename()]
    assert parts[0].get_filename() == "NRU-1.pdf" and parts[0].get_payload(decode=True) == b"%PDF-1.7 note signee"
    assert conn.execute("SELECT status, attempts FROM outbox").fetchone() == ("envoye", 1)


def test_server_down_then_back_delivers_once(conn, smtp_port):
    _queue(conn)
    settings = SmtpSettings(port=smtp_port, timeout_s=2)
    assert deliver_due(conn, settings) == (0, 1)  # nothing listens yet
    status, attempts, error = conn.execute("SELECT status, attempts, last_error FROM outbox").fetchone()
    assert (status, attempts) == ("en_attente", 1) and "Refused" in error
    conn.execute("UPDATE outbox SET next_attempt_at = now()")  # skip the back-off wait
    conn.commit()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        assert deliver_due(conn, settings) == (1, 0)
        assert deliver_due(conn, settings) == (0, 0)  # nothing left: sent once
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    actions = [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE entity_id = 'NRU-1' ORDER BY id")]
    assert actions == ["courriel.echec", "courriel.envoye"]
