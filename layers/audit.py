"""The append-only audit trail: who did what, when, with the state before and after, chained by hash.

The chain is computed by the database (migration 0017's triggers, at commit), so the server cannot forge it; this module
walks it again to find an edited, deleted or truncated line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg.types.json import Jsonb


def audit(conn: psycopg.Connection, actor: str, action: str, entity: str, entity_id: str, before: dict | None,
          after: dict | None) -> None:
    """Append one line to the audit trail (who, when, what, before and after)."""
    conn.execute("INSERT INTO audit_log (actor, action, entity, entity_id, before, after) VALUES (%s, %s, %s, %s, %s, %s)",
                 (actor, action, entity, entity_id, Jsonb(before) if before is not None else None,
                  Jsonb(after) if after is not None else None))


GENESIS = "0" * 64
# The same canonical serialisation as the chaining trigger (migrations 0013, 0017), written here again on purpose:
# verification does not trust a function stored in the database, which its owner could replace.
_ROW_HASH = """encode(sha256(convert_to(jsonb_build_array(prev_hash, id::text,
    to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), actor, action, entity, entity_id,
    before, after)::text, 'UTF8')), 'hex')"""


@dataclass
class ChainReport:
    """What `verify_chain` found: lines read, the head reached, and every break (the id it is found at)."""

    lines: int = 0
    head_id: int | None = None
    head_hash: str = GENESIS
    problems: list[tuple[int | None, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the chain is whole."""
        return not self.problems

    def describe(self) -> str:
        """A French summary, one line per problem."""
        head = f"tête : ligne {self.head_id}, sha256 {self.head_hash}"
        if self.ok:
            return f"journal d'audit intègre : {self.lines} ligne(s), {head}"
        found = "\n".join(f"  - {message}" for _, message in self.problems)
        return f"journal d'audit ALTÉRÉ : {len(self.problems)} problème(s) sur {self.lines} ligne(s)\n{found}\n{head}"


def verify_chain(conn: psycopg.Connection, witnesses: list[tuple[int, str]] | None = None) -> ChainReport:
    """Walk the audit chain in chain order (seq, given at commit): an edited, deleted or truncated line is reported.

    `witnesses` are (id, hash) heads recorded earlier outside the database: each must still be in the chain,
    which catches a truncated tail even when the anchor table was rewritten too. The anchor and the lines are
    read in one REPEATABLE READ snapshot, so lines committed meanwhile are not mistaken for a cut tail; inside
    a transaction the caller already opened, the anchor is read first and lines after it are later appends.
    """
    report = ChainReport()
    expected_prev, previous_id = GENESIS, None
    seen: dict[int, str] = {}
    wanted = {wid for wid, _ in witnesses or []}
    one_snapshot = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    anchor_found = False
    with conn.transaction():
        if one_snapshot:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        anchor = conn.execute("SELECT last_id, last_hash FROM audit_head").fetchone()
        with conn.cursor(name="audit_chain") as cur:
            cur.itersize = 5000
            cur.execute(f"SELECT id, seq, prev_hash, hash, {_ROW_HASH} FROM audit_log ORDER BY seq NULLS LAST, id")
            for line_id, seq, prev_hash, stored, recomputed in cur:
                report.lines += 1
                if seq is None or stored is None:
                    report.problems.append((line_id, f"ligne {line_id} hors de la chaîne : validée sans empreinte"))
                    continue
                if prev_hash != expected_prev:
                    where = f"après la ligne {previous_id}" if previous_id is not None else "au début du journal"
                    report.problems.append((line_id, f"chaîne rompue avant la ligne {line_id} : ligne(s) "
                                                     f"supprimée(s) ou modifiée(s) {where}"))
                if stored != recomputed:
                    report.problems.append((line_id, f"ligne {line_id} modifiée : son contenu ne correspond plus à "
                                                     "son empreinte"))
                if line_id in wanted:
                    seen[line_id] = stored
                if anchor is not None and (line_id, stored) == (anchor[0], anchor[1]):
                    anchor_found = True
                expected_prev, previous_id = stored, line_id
    report.head_id, report.head_hash = previous_id, expected_prev
    if anchor is None:
        report.problems.append((None, "l'ancre du journal (audit_head) a disparu"))
    elif (anchor[0], anchor[1]) != (report.head_id, report.head_hash) and (
            one_snapshot or not (anchor_found or anchor[0] is None)):  # two snapshots: the tail may be newer
        report.problems.append((anchor[0], f"fin du journal tronquée ou réécrite : l'ancre attend la ligne {anchor[0]} "
                                           f"(sha256 {anchor[1][:16]}…), la dernière ligne présente est "
                                           f"{report.head_id}"))
    for wid, whash in witnesses or []:
        if seen.get(wid) != whash:
            report.problems.append((wid, f"la tête relevée (ligne {wid}, sha256 {whash[:16]}…) n'est plus dans le "
                                         "journal : fin tronquée ou réécrite"))
    return report
