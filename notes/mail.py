"""E-mail delivery through an outbox: queue in the transaction that decides to send, deliver later, retry.

`layers.outbox.queue_mail` writes the message (with its PDF) to `outbox`; `deliver_due` sends what is due over SMTP and,
when the server is down, records the error and schedules a retry (1, 2, 4 … minutes, at most an hour, up to
`max_attempts`). Each attempt, success or failure, is written to the audit trail. `deliver_every` is the loop of
`urbasig mail-deliver --loop N` (which `make run` starts beside the server). With no SMTP host (development's
default), nothing is attempted: the mail stays queued, for the administrator's page of outgoing mail.
"""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage

import psycopg

from gis.errors import DatabaseUnavailable
from layers import outbox
from layers.audit import audit
from layers.db import outage_as_ours

NO_SMTP = ("aucun serveur SMTP configuré (URBASIG_SMTP_HOST vide) : les courriels restent dans la boîte d'envoi, "
           "visibles par l'administrateur sur /admin/courriels ; définissez URBASIG_SMTP_HOST pour les envoyer")


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send."""

    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "notes@auc.example.ma"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, settings: object) -> SmtpSettings:
        """The URBASIG_SMTP_* settings (any object with the settings' attributes); host "" = none configured."""
        host, port, sender, username, password, starttls = (
            getattr(settings, f"smtp_{name}") for name in ("host", "port", "sender", "username", "password", "starttls"))
        return cls(host, port, sender, username or None, password or None, starttls)


@dataclass(frozen=True)
class DeliveryFailure:
    """A message that could not be sent this round, and why (in French, with the technical cause)."""

    message_id: int
    recipient: str
    attempt: int
    reason: str
    abandoned: bool

    def __str__(self) -> str:
        """The failure as one French line."""
        then = "abandonné après cette tentative" if self.abandoned else "nouvel essai plus tard"
        return f"courriel n° {self.message_id} à {self.recipient} (tentative {self.attempt}) : {self.reason} ; {then}"


_UNREACHABLE = "serveur SMTP {smtp.host}:{smtp.port} injoignable (URBASIG_SMTP_HOST, URBASIG_SMTP_PORT)"
_REASONS: tuple[tuple[type[BaseException], str], ...] = (  # first match wins: the SMTP errors are OSErrors too
    (smtplib.SMTPAuthenticationError, "identifiants SMTP refusés (URBASIG_SMTP_USERNAME, URBASIG_SMTP_PASSWORD)"),
    (smtplib.SMTPRecipientsRefused, "destinataire refusé par le serveur SMTP"),
    (smtplib.SMTPSenderRefused, "expéditeur « {smtp.sender} » refusé par le serveur SMTP (URBASIG_SMTP_SENDER)"),
    (smtplib.SMTPServerDisconnected, _UNREACHABLE),
    (smtplib.SMTPConnectError, _UNREACHABLE),
    (smtplib.SMTPException, "message refusé par le serveur SMTP"),
)


def failure_reason(exc: BaseException, smtp: SmtpSettings) -> str:
    """Say in French why sending failed, with the library's text as the technical cause."""
    what = next((text for kind, text in _REASONS if isinstance(exc, kind)), _UNREACHABLE)
    return f"{what.format(smtp=smtp)} — {type(exc).__name__}: {exc}"[:400]


def _message(row: dict, smtp: SmtpSettings) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = smtp.sender
    msg["To"] = row["recipient"]
    msg["Subject"] = row["subject"]
    msg.set_content(row["body"])
    if row["attachment"] is not None:
        msg.add_attachment(bytes(row["attachment"]), maintype="application", subtype="pdf",
                           filename=row["attachment_name"] or "note.pdf")
    return msg


def deliver_due(conn: psycopg.Connection, smtp: SmtpSettings, max_attempts: int = 10,
                on_failure: Callable[[DeliveryFailure], None] | None = None) -> tuple[int, int]:
    """Send every due message; returns (sent, failed this round) and tells `on_failure` about each failure."""
    sent = failed = 0
    while True:
        with conn.transaction():  # one message per transaction: a later failure keeps the earlier ones sent
            row = outbox.claim_due(conn)
            if row is None:
                return sent, failed
            attempt = row["attempts"] + 1
            entity, entity_id = row["entity"] or "outbox", row["entity_id"] or str(row["id"])
            try:
                _send(_message(row, smtp), smtp)
            except (OSError, smtplib.SMTPException) as exc:
                failed += 1
                status = outbox.mark_failed(conn, row["id"], attempt, f"{type(exc).__name__}: {exc}",
                                            attempt >= max_attempts, timedelta(minutes=min(60, 2 ** (attempt - 1))))
                audit(conn, "messagerie", "courriel.echec", entity, entity_id, None,
                      {"tentative": attempt, "erreur": type(exc).__name__, "statut": status})
                if on_failure:
                    on_failure(DeliveryFailure(row["id"], row["recipient"], attempt, failure_reason(exc, smtp),
                                               status == "abandonne"))
                if status == "en_attente":
                    return sent, failed  # the server is down: try the others at the next round
                continue
            outbox.mark_sent(conn, row["id"], attempt)
            audit(conn, "messagerie", "courriel.envoye", entity, entity_id, None,
                  {"tentative": attempt, "destinataire": row["recipient"]})
            sent += 1


def _send(message: EmailMessage, smtp: SmtpSettings) -> None:
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
        client.send_message(message)


def deliver_every(connect: Callable[[], psycopg.Connection], smtp: SmtpSettings, interval_s: float,
                  stop: threading.Event, say: Callable[[str], None],
                  on_failure: Callable[[DeliveryFailure], None] | None = None) -> None:
    """Deliver what is due every `interval_s` seconds until `stop` is set, each round on a new connection.

    Says only what happens (mail sent or failed, the database lost and back), not every empty round; a database
    outage is waited out, not fatal: the server keeps queueing meanwhile.
    """
    database_lost = False
    while not stop.is_set():
        try:
            with outage_as_ours(), connect() as conn:
                sent, failed = deliver_due(conn, smtp, on_failure=on_failure)
        except DatabaseUnavailable as exc:
            if not database_lost:
                say(f"base de données injoignable ({exc}) : nouvel essai toutes les {interval_s:g} s")
            database_lost = True
        else:
            if database_lost:
                say("base de données de nouveau joignable")
            database_lost = False
            if sent or failed:
                say(f"{sent} courriel(s) envoyé(s), {failed} échec(s)")
        stop.wait(interval_s)
