"""Workflow statuses declared once and checked against the database; transitions applied atomically."""

from __future__ import annotations

import re
import threading
from decimal import Decimal

import psycopg
import pytest

from gis.errors import Conflict, NotFound
from layers import note_requests, outbox, payments
from layers.accounts import create_account


def _check_values(conn, table: str, column: str) -> set[str]:
    """The values a CHECK (column IN (…)) constraint of the migrated database allows."""
    defs = [r[0] for r in conn.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'c' "
                                       "AND conrelid = %s::regclass", (table,))]
    found = [d for d in defs if re.search(rf"\b{column}\b", d)]
    assert len(found) == 1, defs
    return set(re.findall(r"'([^']+)'::text", found[0]))


@pytest.mark.parametrize("table,column,declared", [
    ("note_requests", "status", note_requests.STATUSES),
    ("note_requests", "standing", note_requests.STANDINGS),
    ("outbox", "status", outbox.STATUSES),
    ("payments", "status", payments.STATUSES),
])
def test_python_tables_match_the_database_checks(conn, table, column, declared):
    assert _check_values(conn, table, column) == set(declared)


def test_transitions_cover_every_status_and_reach_the_end():
    assert set(note_requests.TRANSITIONS) == set(note_requests.STATUSES)
    assert set().union(*note_requests.TRANSITIONS.values()) <= set(note_requests.STATUSES)
    reached, todo = set(), ["attente_paiement"]
    while todo:
        status = todo.pop()
        reached.add(status)
        todo += sorted(note_requests.TRANSITIONS[status] - reached)
    assert reached == set(note_requests.STATUSES)
    assert all(note_requests.label(s)[0].islower() for s in note_requests.STATUSES)  # French words, not codes


@pytest.fixture
def instructed(conn):
    """One request in status « instruite »."""
    applicant, _ = create_account(conn, "amina@example.ma", "Amina Alaoui", "mot de passe solide", verified=True)
    _, number = note_requests.create(conn, applicant, ["TF 7/T"], "proprietaire", Decimal("450.00"),
                                     [("titre.pdf", "application/pdf", b"%PDF-1.4")], "ABCD1234")
    note_requests.transition(conn, number, "payee", "passerelle")
    note_requests.transition(conn, number, "instruite", "instruction-automatique", instruction={"rules": []})
    conn.commit()
    return number


def test_a_transition_from_the_wrong_status_is_a_conflict(conn, instructed):
    assert note_requests.transition(conn, instructed, "acceptee", "instructeur@auc.ma", remarks="RAS") == "instruite"
    with pytest.raises(Conflict, match="acceptée"):
        note_requests.transition(conn, instructed, "retournee", "instructeur@auc.ma", return_reason="x")
    with pytest.raises(Conflict, match="« acceptée, en attente de signature » : elle ne peut plus passer à « annulée »"):
        note_requests.transition(conn, instructed, "annulee", "amina@example.ma")
    with pytest.raises(NotFound):
        note_requests.transition(conn, "NRU-0000-000000", "acceptee", "instructeur@auc.ma")
    with pytest.raises(ValueError, match="transition non prévue"):
        note_requests.transition(conn, instructed, "envoyee", "signataire@auc.ma", only_from=frozenset({"acceptee"}))
    with pytest.raises(ValueError, match="transition non prévue"):
        note_requests.transition(conn, instructed, "attente_paiement", "x")
    actions = [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE entity_id = %s ORDER BY id", (instructed,))]
    assert actions == ["note.payee", "note.instruite", "note.acceptee"]


def test_two_reviews_at_once_one_wins_the_other_is_refused(db_url, instructed):
    """The UPDATE … WHERE status = 'instruite' of the second waits for the first, then matches nothing."""
    first = psycopg.connect(db_url)
    note_requests.transition(first, instructed, "acceptee", "a@auc.ma", remarks="RAS")  # row locked
    outcome = {}

    def second():
        with psycopg.connect(db_url) as conn:
            try:
                note_requests.transition(conn, instructed, "retournee", "b@auc.ma", return_reason="non")
                outcome["second"] = "applied"
            except Conflict as exc:
                outcome["second"] = exc.message

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(timeout=1)
    assert thread.is_alive()  # blocked on the first one's row lock, not deciding on a stale read
    first.commit()
    first.close()
    thread.join(timeout=30)
    assert "acceptée" in outcome["second"]
    with psycopg.connect(db_url) as conn:
        assert note_requests.status_of(conn, instructed) == "acceptee"


def test_a_failed_automatic_instruction_keeps_the_payment_and_the_request_paid(conn):
    """No plan is recorded in this database: the instruction fails, the payment and the « payée » status stay."""
    from instruction.engine import Options
    from notes.official import on_payment

    applicant, _ = create_account(conn, "amina@example.ma", "Amina Alaoui", "mot de passe solide", verified=True)
    _, number = note_requests.create(conn, applicant, ["TF 7/T"], "proprietaire", Decimal("450.00"),
                                     [("titre.pdf", "application/pdf", b"%PDF-1.4")], "EFGH5678")
    order_id = payments.create_order(conn, number, Decimal("450.00"), "amina@example.ma")
    note_requests.attach_order(conn, number, order_id)
    conn.execute("UPDATE payments SET status = 'payee' WHERE order_id = %s", (order_id,))
    assert on_payment(conn, order_id, Options()) == number
    assert note_requests.status_of(conn, number) == "payee"
    assert conn.execute("SELECT status FROM payments WHERE order_id = %s", (order_id,)).fetchone()[0] == "payee"
    actions = [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE entity_id = %s ORDER BY id", (number,))]
    assert actions == ["note.payee", "note.instruction_echec"]


def test_only_transition_writes_a_status():
    """Every status change goes through `transition` (one guarded UPDATE): no other SQL sets a request's status."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    writers = []
    for path in [*root.glob("layers/*.py"), *root.glob("notes/*.py"), *root.glob("api/*.py")]:
        text = path.read_text(encoding="utf-8")
        for statement in re.findall(r"UPDATE note_requests[^\"]*(?:\"\s*\"[^\"]*)*", text):
            if re.search(r"\bstatus\s*=", statement):
                writers.append(path.name)
    assert writers == ["note_requests.py"]
    source = (root / "layers" / "note_requests.py").read_text(encoding="utf-8")
    assert source.count("UPDATE note_requests r SET status") == 1 and "status = ANY(%(from)s)" in source


def test_cancel_before_payment_or_after_a_return_only(conn, instructed):
    note_requests.transition(conn, instructed, "retournee", "instructeur@auc.ma", return_reason="pièce illisible")
    assert note_requests.transition(conn, instructed, "annulee", "amina@example.ma") == "retournee"
    with pytest.raises(Conflict, match="annulée"):
        note_requests.transition(conn, instructed, "payee", "amina@example.ma")  # no resubmission once cancelled
    actions = [r[0] for r in conn.execute("SELECT action FROM audit_log WHERE entity_id = %s ORDER BY id", (instructed,))]
    assert actions[-2:] == ["note.retournee", "note.annulee"]
