"""The audit chain is built at commit time, and the web server's grants are narrowed to what HTTP does.

Migration 0013 chained each line in a BEFORE INSERT trigger under a row lock on audit_head held until the
transaction ended: every auditing transaction waited for the longest one (a signature renders its PDF after
auditing) and lock-order deadlocks appeared. Now the insert only stamps the line (id, time, no hash); a
deferred constraint trigger, run at commit, takes the anchor's lock, gives the line its `seq` (chain order =
commit order) and its hashes. Both run as the owner, so the server still cannot set the chain's columns, and
the line cannot be changed afterwards (only its own chaining fills the three empty columns once).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from alembic import op

from layers.roles import grants_sql

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# What the web server may do (layers/migrations/README.md), narrowed to what its code does:
APP_GRANTS = {
    # appended to by the trigger-checked INSERT only; no HTTP path reads the trail (`urbasig audit verify` does)
    "audit_log": "INSERT",
    # documents are written with their request and read only by staff commands
    "note_documents": "INSERT",
    # mails are queued by HTTP (INSERT … RETURNING id) and sent, i.e. updated, by `urbasig mail-deliver`
    "outbox": "SELECT, INSERT",
    # layers/accounts.py updates only the verification columns
    "accounts": "SELECT, INSERT, UPDATE (verified_at, verify_token_hash, verify_code_hash, verify_code_failures)",
}
PREVIOUS_GRANTS = {"audit_log": "SELECT, INSERT", "note_documents": "SELECT, INSERT",
                   "outbox": "SELECT, INSERT, UPDATE", "accounts": "SELECT, INSERT, UPDATE"}

# The canonical serialisation of migration 0013, unchanged (layers/audit.py recomputes it inline).
ROW_HASH = """encode(sha256(convert_to(jsonb_build_array({prev}, {p}id::text,
    to_char({p}at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), {p}actor, {p}action, {p}entity,
    {p}entity_id, {p}before, {p}after)::text, 'UTF8')), 'hex')"""

UPGRADE = f"""
ALTER TABLE audit_log ADD COLUMN seq bigint;
CREATE SEQUENCE audit_log_seq_seq;
-- existing lines keep their hashes; their place is their id order, the order 0013 chained them in
ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change;
DO $$ DECLARE r record; BEGIN
    FOR r IN SELECT id FROM audit_log ORDER BY id LOOP
        UPDATE audit_log SET seq = nextval('audit_log_seq_seq') WHERE id = r.id;
    END LOOP;
END $$;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_seq_key UNIQUE (seq),
    ALTER COLUMN prev_hash DROP NOT NULL, ALTER COLUMN hash DROP NOT NULL;
COMMENT ON COLUMN audit_log.seq IS 'Place in the hash chain, given at commit (chain order = commit order)';

-- At insert: stamp the line, leave the chain's columns empty (no lock taken).
CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public AS $$
BEGIN
    NEW.id := nextval('public.audit_log_id_seq');
    NEW.at := clock_timestamp();
    NEW.seq := NULL;
    NEW.prev_hash := NULL;
    NEW.hash := NULL;
    RETURN NEW;
END $$;

-- At commit: under the anchor's lock (held only while the transaction commits), the next place and the hashes.
CREATE FUNCTION audit_log_chain_at_commit() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public AS $$
DECLARE prev text; line public.audit_log;
BEGIN
    SELECT last_hash INTO prev FROM public.audit_head WHERE singleton FOR UPDATE;
    SELECT * INTO line FROM public.audit_log WHERE id = NEW.id;
    line.seq := nextval('public.audit_log_seq_seq');
    line.prev_hash := prev;
    line.hash := {ROW_HASH.format(prev="prev", p="line.")};
    UPDATE public.audit_log SET seq = line.seq, prev_hash = line.prev_hash, hash = line.hash WHERE id = NEW.id;
    UPDATE public.audit_head SET last_id = NEW.id, last_hash = line.hash, updated_at = clock_timestamp()
        WHERE singleton;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION audit_log_chain_at_commit() FROM PUBLIC;
CREATE CONSTRAINT TRIGGER audit_log_chain_at_commit AFTER INSERT ON audit_log DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION audit_log_chain_at_commit();

-- A line never changes, except its own chaining filling the three empty columns once.
CREATE FUNCTION audit_log_unchanged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.hash IS NULL AND OLD.seq IS NULL AND NEW.hash IS NOT NULL
       AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL
       AND (NEW.id, NEW.at, NEW.actor, NEW.action, NEW.entity, NEW.entity_id, NEW.before, NEW.after)
           IS NOT DISTINCT FROM (OLD.id, OLD.at, OLD.actor, OLD.action, OLD.entity, OLD.entity_id, OLD.before,
                                 OLD.after) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
DROP TRIGGER audit_log_no_change ON audit_log;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_unchanged();
"""

DOWNGRADE = f"""
DROP TRIGGER audit_log_chain_at_commit ON audit_log;
DROP FUNCTION audit_log_chain_at_commit();
DROP TRIGGER audit_log_no_change ON audit_log;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
DROP FUNCTION audit_log_unchanged();
-- 0013's trigger: chained at insert under the anchor's lock (lines were chained in seq order, kept as is)
CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public AS $$
DECLARE prev text;
BEGIN
    SELECT last_hash INTO prev FROM public.audit_head WHERE singleton FOR UPDATE;
    NEW.id := nextval('public.audit_log_id_seq');
    NEW.at := clock_timestamp();
    NEW.prev_hash := prev;
    NEW.hash := {ROW_HASH.format(prev="prev", p="NEW.")};
    UPDATE public.audit_head SET last_id = NEW.id, last_hash = NEW.hash, updated_at = NEW.at WHERE singleton;
    RETURN NEW;
END $$;
ALTER TABLE audit_log DROP COLUMN seq, ALTER COLUMN prev_hash SET NOT NULL, ALTER COLUMN hash SET NOT NULL;
DROP SEQUENCE audit_log_seq_seq;
"""


def upgrade() -> None:
    """Chain the audit log at commit time; narrow the server's grants."""
    op.execute(UPGRADE)
    op.execute(grants_sql(APP_GRANTS))


def downgrade() -> None:
    """Back to 0013's chaining at insert and to the earlier grants."""
    op.execute(DOWNGRADE)
    op.execute(grants_sql(PREVIOUS_GRANTS))
