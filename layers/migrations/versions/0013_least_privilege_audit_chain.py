"""Least privilege for the web server (role urbasig_app) and an audit trail chained by hash.

The server's role owns nothing and gets, table by table, only what the HTTP API needs (APP_GRANTS below;
every later migration declares its own tables the same way, see layers/migrations/README.md). The audit log
becomes tamper-evident: a BEFORE INSERT trigger, run as the owner, chains each line to the previous one
(SHA-256 over a canonical serialisation of the line and the previous hash) under a row lock on audit_head,
the anchor of the chain that only the owner can write.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from alembic import op

from layers.roles import APP_ROLE, CREATE_ROLE_SQL, grants_sql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# What the web server may do on every table that exists at this revision ("" = nothing, deliberately).
APP_GRANTS = {
    # the layers and their metadata: read only
    "communes": "SELECT", "parcels": "SELECT", "plans": "SELECT", "plan_statuses": "SELECT", "zones": "SELECT",
    "prescriptions": "SELECT", "sdau_zones": "SELECT", "roads": "SELECT", "establishments": "SELECT",
    "layer_versions": "SELECT", "meta": "SELECT", "imports": "SELECT", "rule_sets": "SELECT",
    # personal data no HTTP answer reads, and the owner's bookkeeping
    "parcel_owners": "", "alembic_version": "", "audit_head": "",
    # partner keys are checked, never written, by the server (the CLI creates and revokes them)
    "api_keys": "SELECT",
    # what HTTP requests write
    "check_results": "SELECT, INSERT",
    "tile_cache": "SELECT, INSERT, UPDATE",
    "rate_limits": "SELECT, INSERT, UPDATE, DELETE",
    "payments": "SELECT, INSERT, UPDATE",
    "accounts": "SELECT, INSERT, UPDATE",
    "note_requests": "SELECT, INSERT, UPDATE",
    "note_documents": "SELECT, INSERT",
    "outbox": "SELECT, INSERT, UPDATE",
    # insert-only for the server (SELECT for a note's trail); the chain columns are set by the trigger
    "audit_log": "SELECT, INSERT",
}

GENESIS = "0" * 64
# The canonical serialisation of a line: a JSON array (jsonb's text form is deterministic), the time in UTC
# with microseconds whatever the session's TimeZone. layers/audit.py recomputes the same expression inline.
ROW_HASH = """encode(sha256(convert_to(jsonb_build_array({prev}, {id}::text,
    to_char({at} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), {actor}, {action}, {entity}, {entity_id},
    {before}, {after})::text, 'UTF8')), 'hex')"""


def _hash_of(prefix: str, prev: str) -> str:
    return ROW_HASH.format(prev=prev, **{c: f"{prefix}{c}" for c in
                                         ("id", "at", "actor", "action", "entity", "entity_id", "before", "after")})


CHAIN = f"""
ALTER TABLE audit_log ADD COLUMN prev_hash text, ADD COLUMN hash text;
CREATE TABLE audit_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_id bigint,
    last_hash text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE audit_head IS 'Anchor of the audit chain: the last line''s id and hash (only the owner writes it)';
INSERT INTO audit_head (last_id, last_hash) VALUES (NULL, '{GENESIS}');

-- existing lines chained in id order
ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change;
DO $$ DECLARE r record; prev text := '{GENESIS}'; h text; BEGIN
    FOR r IN SELECT * FROM audit_log ORDER BY id LOOP
        h := {_hash_of("r.", "prev")};
        UPDATE audit_log SET prev_hash = prev, hash = h WHERE id = r.id;
        prev := h;
    END LOOP;
    UPDATE audit_head SET last_id = (SELECT max(id) FROM audit_log), last_hash = prev, updated_at = now();
END $$;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change;
ALTER TABLE audit_log ALTER COLUMN prev_hash SET NOT NULL, ALTER COLUMN hash SET NOT NULL;

-- SECURITY DEFINER: runs as the owner, so the server may append without any right on audit_head; the id and
-- time are taken under the head's row lock, so id order is chain order even with concurrent writers.
CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public AS $$
DECLARE prev text;
BEGIN
    SELECT last_hash INTO prev FROM public.audit_head WHERE singleton FOR UPDATE;
    NEW.id := nextval('public.audit_log_id_seq');
    NEW.at := clock_timestamp();
    NEW.prev_hash := prev;
    NEW.hash := {_hash_of("NEW.", "prev")};
    UPDATE public.audit_head SET last_id = NEW.id, last_hash = NEW.hash, updated_at = NEW.at WHERE singleton;
    RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION audit_log_chain() FROM PUBLIC;
CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_chain();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
"""

SCHEMA = """
DO $$ BEGIN
    -- PostgreSQL 15 gives PUBLIC no CREATE on the public schema; a database upgraded from an older one may
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'CREATE on schema public not revoked from PUBLIC (not the schema''s owner)';
END $$;
"""


def upgrade() -> None:
    """Create the server's role, grant it table by table, chain the audit log."""
    op.execute(CREATE_ROLE_SQL)
    op.execute(SCHEMA)
    op.execute(CHAIN)
    op.execute(grants_sql(APP_GRANTS))


def downgrade() -> None:
    """Unchain the audit log and take every grant back (the cluster-wide role stays for other databases)."""
    op.execute(f"""
    DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log;
    DROP TRIGGER IF EXISTS audit_log_chain ON audit_log;
    DROP FUNCTION IF EXISTS audit_log_chain();
    DROP TABLE IF EXISTS audit_head;
    ALTER TABLE audit_log DROP COLUMN IF EXISTS prev_hash, DROP COLUMN IF EXISTS hash;
    DO $$ BEGIN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
            REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE};
            REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {APP_ROLE};
            REVOKE ALL ON SCHEMA public FROM {APP_ROLE};
        END IF;
    END $$;
    """)
