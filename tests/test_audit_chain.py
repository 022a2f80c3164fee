"""The tamper-evident audit trail (issue 12, point 4): lines chained by hash in the database, `urbasig audit
verify` finds an edited, deleted or truncated line, and the command line's staff actions are in the trail."""

from __future__ import annotations

import threading
from datetime import date

import psycopg
import pytest
from click.testing import CliRunner

from app import cli
from layers import migrate
from layers.audit import GENESIS, audit, verify_chain
from tests.helpers import app_url

N = 10


def _lines(conn, n: int = N) -> list[int]:
    for i in range(n):
        audit(conn, f"agent-{i}", "essai", "note_request", f"NR-{i}", {"i": i}, {"i": i + 1, "texte": "é\u00e9"})
    conn.commit()
    return [r[0] for r in conn.execute("SELECT id FROM audit_log ORDER BY id")]


def _as_owner(conn, statement: str, params=()) -> None:
    """Tamper as the owner would: with the append-only trigger disabled."""
    conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")
    conn.execute(statement, params)
    conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change")
    conn.commit()


def _verify(args=()):
    return CliRunner().invoke(cli, ["audit", "verify", *args])


@pytest.fixture
def owner_env(db_url, monkeypatch):
    monkeypatch.setenv("URBASIG_DATABASE_URL", db_url)


def test_an_intact_chain_verifies_and_each_line_holds_the_previous_hash(conn, owner_env):
    ids = _lines(conn)
    rows = conn.execute("SELECT prev_hash, hash FROM audit_log ORDER BY id").fetchall()
    assert rows[0][0] == GENESIS and all(rows[i][0] == rows[i - 1][1] for i in range(1, N))
    report = verify_chain(conn)
    assert report.ok and report.lines == N and report.head_id == ids[-1] and report.head_hash == rows[-1][1]
    result = _verify()
    assert result.exit_code == 0 and f"{N} ligne(s)" in result.output and rows[-1][1] in result.output


def test_an_edited_line_is_found_by_its_id(conn, owner_env):
    ids = _lines(conn)
    _as_owner(conn, "UPDATE audit_log SET after = '{\"i\": 99}' WHERE id = %s", (ids[4],))
    report = verify_chain(conn)
    assert [pid for pid, _ in report.problems] == [ids[4]]
    result = _verify()
    assert result.exit_code == 1 and f"ligne {ids[4]} modifiée" in result.output


def test_an_edit_with_its_hash_recomputed_breaks_the_next_link(conn):
    ids = _lines(conn)
    # the forger recomputes the edited line's own hash; the next line still points at the old one
    _as_owner(conn, "UPDATE audit_log SET actor = 'autre', hash = encode(sha256(convert_to(jsonb_build_array("
                    "prev_hash, id::text, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
                    "'autre', action, entity, entity_id, before, after)::text, 'UTF8')), 'hex') WHERE id = %s",
              (ids[3],))
    assert [pid for pid, _ in verify_chain(conn).problems] == [ids[4]]


def test_a_line_deleted_in_the_middle_is_found(conn, owner_env):
    ids = _lines(conn)
    _as_owner(conn, "DELETE FROM audit_log WHERE id = %s", (ids[5],))
    report = verify_chain(conn)
    assert [pid for pid, _ in report.problems] == [ids[6]]
    assert f"après la ligne {ids[4]}" in report.problems[0][1]
    result = _verify()
    assert result.exit_code == 1 and f"avant la ligne {ids[6]}" in result.output


def test_a_truncated_tail_is_found_by_the_anchor(conn, owner_env):
    ids = _lines(conn)
    _as_owner(conn, "DELETE FROM audit_log WHERE id >= %s", (ids[7],))
    report = verify_chain(conn)
    assert [pid for pid, _ in report.problems] == [ids[-1]] and "tronquée" in report.problems[0][1]
    assert _verify().exit_code == 1


def test_a_tail_truncated_with_the_anchor_rewritten_is_found_by_a_witness(conn, owner_env, tmp_path):
    ids = _lines(conn)
    witness = tmp_path / "tetes.txt"
    assert _verify(["--witness", str(witness)]).exit_code == 0
    recorded = witness.read_text().split()
    assert recorded[0] == str(ids[-1])  # the head, kept outside the database
    _as_owner(conn, "DELETE FROM audit_log WHERE id >= %s", (ids[7],))
    conn.execute("UPDATE audit_head SET last_id = id, last_hash = hash FROM audit_log WHERE audit_log.id = %s",
                 (ids[6],))
    conn.commit()
    assert verify_chain(conn).ok  # the database alone cannot tell
    result = _verify(["--witness", str(witness)])
    assert result.exit_code == 1 and f"ligne {ids[-1]}" in result.output
    witness.write_text("pas une tête\n")
    assert _verify(["--witness", str(witness)]).exit_code == 2


def test_truncate_is_refused_even_to_the_owner_while_the_triggers_are_on(conn):
    _lines(conn, 2)
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        conn.execute("TRUNCATE audit_log")


def test_concurrent_writers_chain_in_commit_order(db_url, conn):
    def write(k: int) -> None:
        with psycopg.connect(app_url(db_url)) as mine:
            for i in range(15):
                audit(mine, f"w{k}", "essai", "x", str(i), None, None)
                mine.commit()

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = verify_chain(conn)
    assert report.ok and report.lines == 60, report.problems


def test_existing_lines_are_chained_by_the_migration(empty_db_url):
    migrate.upgrade(empty_db_url, "0012")
    with psycopg.connect(empty_db_url) as c:
        for i in range(3):
            c.execute("INSERT INTO audit_log (actor, action, entity, entity_id) VALUES ('avant', 'x', 'e', %s)",
                      (str(i),))
    migrate.upgrade(empty_db_url)
    with psycopg.connect(empty_db_url) as c:
        report = verify_chain(c)
        assert report.ok and report.lines == 3
        audit(c, "après", "x", "e", "4", None, None)
        c.commit()
        assert verify_chain(c).ok and verify_chain(c).lines == 4


def test_an_open_auditing_transaction_does_not_block_another_writer(db_url, conn):
    with psycopg.connect(app_url(db_url)) as long_one, psycopg.connect(app_url(db_url)) as other:
        audit(long_one, "signataire", "note.signee", "note_request", "NR-1", None, None)  # then renders a PDF…
        other.execute("SET lock_timeout = '1s'")
        audit(other, "rappel", "paiement.recu", "payment", "P-1", None, None)
        other.commit()  # neither the insert nor the commit waits for the open transaction
        long_one.commit()
    rows = conn.execute("SELECT actor, id, seq FROM audit_log ORDER BY seq").fetchall()
    assert [r[0] for r in rows] == ["rappel", "signataire"]  # chain order is commit order, not id order
    assert rows[0][1] > rows[1][1]
    report = verify_chain(conn)
    assert report.ok and report.lines == 2, report.problems


def test_writers_holding_their_transactions_open_still_chain(db_url, conn):
    import random
    import time

    def write(k: int) -> None:
        pace = random.Random(k)
        with psycopg.connect(app_url(db_url)) as mine:
            for i in range(8):
                audit(mine, f"w{k}", "essai", "x", str(i), None, None)
                audit(mine, f"w{k}", "essai", "x", f"{i}b", None, None)
                time.sleep(pace.random() / 100)
                mine.commit()

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = verify_chain(conn)
    assert report.ok and report.lines == 64, report.problems
    assert conn.execute("SELECT count(*) FROM audit_log WHERE seq IS NULL OR hash IS NULL").fetchone()[0] == 0


def test_a_line_appended_while_verifying_is_no_cut_tail(db_url, conn):
    _lines(conn, 3)

    def append() -> None:
        with psycopg.connect(app_url(db_url)) as other:
            audit(other, "pendant", "essai", "x", "1", None, None)
            other.commit()

    class Appending(psycopg.ServerCursor):
        def execute(self, *args, **kwargs):
            append()  # between the anchor and the walk
            return super().execute(*args, **kwargs)

    reading = psycopg.connect(db_url)
    reading.server_cursor_factory = Appending
    plain_execute = reading.execute

    def execute(query, *args, **kwargs):
        if "audit_head" in str(query):
            append()  # between the walk and the anchor, whichever comes first
        return plain_execute(query, *args, **kwargs)

    reading.execute = execute  # type: ignore[method-assign]
    try:
        report = verify_chain(reading)
    finally:
        reading.close()
    assert report.ok, report.problems
    assert verify_chain(conn).ok and verify_chain(conn).lines == 5


def test_lines_committed_without_their_chain_are_reported(conn):
    _lines(conn, 2)
    conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_chain_at_commit")
    audit(conn, "hors", "essai", "x", "1", None, None)
    conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_chain_at_commit")
    conn.commit()
    line = conn.execute("SELECT id FROM audit_log WHERE actor = 'hors'").fetchone()[0]
    assert [pid for pid, _ in verify_chain(conn).problems] == [line]


def test_lines_chained_at_insert_keep_their_hashes_and_get_their_place(empty_db_url):
    migrate.upgrade(empty_db_url, "0016")  # 0013's chaining at insert
    with psycopg.connect(empty_db_url) as c:
        for i in range(3):
            audit(c, "avant", "x", "e", str(i), None, {"i": i})
        c.commit()
        before = c.execute("SELECT id, prev_hash, hash FROM audit_log ORDER BY id").fetchall()
    migrate.upgrade(empty_db_url)
    with psycopg.connect(empty_db_url) as c:
        assert c.execute("SELECT id, prev_hash, hash FROM audit_log ORDER BY seq").fetchall() == before
        audit(c, "après", "x", "e", "4", None, None)
        c.commit()
        report = verify_chain(c)
        assert report.ok and report.lines == 4, report.problems


# ------------------------------------------------------------------- the command line's staff actions
def _trail(conn) -> list[tuple]:
    return conn.execute("SELECT actor, action, entity, entity_id, before, after FROM audit_log "
                        "WHERE actor LIKE 'cli:%' ORDER BY id").fetchall()


def test_staff_commands_are_in_the_trail(db_url, conn, monkeypatch, tmp_path):
    from tests import instruction_world as world
    from tests.helpers import box, write_layer

    world.build(conn)
    conn.commit()
    monkeypatch.setenv("URBASIG_DATABASE_URL", db_url)
    runner = CliRunner()
    done = runner.invoke(cli, ["staff-account", "instr@auc.ma", "instructor", "--name", "I. Idrissi",
                               "--password", "mot de passe solide"])
    assert done.exit_code == 0, done.output
    for args in (["apikey", "create", "agence-x", "--organisation", "Lydec"], ["apikey", "revoke", "agence-x"],
                 ["plan-status", "PA-T-2006", "abroge", "--date", "2030-01-02", "--act", "décret 2-30-1"]):
        done = runner.invoke(cli, args)
        assert done.exit_code == 0, done.output
    parcels = write_layer(tmp_path / "p.gpkg", [{"NUM_TF": "TF 9001/C"}], [box(0, 0, 20, 20)])
    mapping = tmp_path / "m.toml"
    mapping.write_text('layer = "parcels"\n[fields]\nland_ref = "NUM_TF"\n')
    done = runner.invoke(cli, ["import", str(parcels), "--layer", "parcels", "--mapping", str(mapping), "--dry-run"])
    assert done.exit_code == 0, done.output
    done = runner.invoke(cli, ["import", str(parcels), "--layer", "parcels", "--mapping", str(mapping)])
    assert done.exit_code == 0, done.output
    trail = _trail(conn)
    assert [(a, e) for _, a, e, _, _, _ in trail] == [
        ("compte_personnel.cree", "account"), ("cle_api.creee", "api_key"), ("cle_api.revoquee", "api_key"),
        ("plan.statut", "plan"), ("import.termine", "import")]  # a dry run writes nothing, so no line
    key, organisation = conn.execute("SELECT key_hash, organisation FROM api_keys").fetchone()
    assert all(key not in str(line) for line in trail)  # never the key
    assert organisation == "Lydec" and trail[1][5]["organisation"] == "Lydec"  # the partner layers it reads
    _, _, _, plan, before, after = trail[3]
    assert plan == "PA-T-2006" and before["status"] == "remplace" and after["status"] == "abroge"
    assert after["status_date"] == str(date(2030, 1, 2)) and after["act"] == "décret 2-30-1"
    assert trail[4][5]["features"] == 1 and trail[4][5]["layer"] == "parcels"
    assert verify_chain(conn).ok


def test_a_failed_staff_command_leaves_no_line(db_url, conn, monkeypatch):
    monkeypatch.setenv("URBASIG_DATABASE_URL", db_url)
    done = CliRunner().invoke(cli, ["plan-status", "INCONNU", "abroge", "--date", "2030-01-02"])
    assert done.exit_code != 0
    assert _trail(conn) == []


def test_loading_the_sample_territory_is_in_the_trail_once(db_url, conn, monkeypatch):
    monkeypatch.setenv("URBASIG_DATABASE_URL", db_url)
    for _ in range(2):  # the second run finds parcels and does nothing
        done = CliRunner().invoke(cli, ["sample-data", "--parcels", "100", "--if-empty"])
        assert done.exit_code == 0, done.output
    trail = _trail(conn)
    assert [(a, e, i) for _, a, e, i, _, _ in trail] == [("territoire_exemple.charge", "import", "sample")]
    assert trail[0][5]["parcels"] == conn.execute("SELECT count(*) FROM parcels").fetchone()[0]
