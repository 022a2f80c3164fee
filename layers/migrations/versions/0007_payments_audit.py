"""Payments of official notes (hosted payment with signed callbacks) and the append-only audit trail.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create payments and audit_log (updates and deletes of the audit trail are refused by a trigger)."""
    op.execute("""
    CREATE TABLE payments (
        id bigserial PRIMARY KEY,
        order_id text NOT NULL UNIQUE,
        request_ref text NOT NULL,
        amount_mad numeric(10, 2) NOT NULL CHECK (amount_mad > 0),
        currency text NOT NULL DEFAULT 'MAD',
        status text NOT NULL DEFAULT 'initiee' CHECK (status IN ('initiee', 'payee', 'refusee')),
        provider_ref text,
        callbacks integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        paid_at timestamptz
    );
    CREATE TABLE audit_log (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT clock_timestamp(),
        actor text NOT NULL,
        action text NOT NULL,
        entity text NOT NULL,
        entity_id text NOT NULL,
        before jsonb,
        after jsonb
    );
    CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id, at);
    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_log is append-only';
    END $$;
    CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
    """)


def downgrade() -> None:
    """Drop payments and the audit trail."""
    op.execute("DROP TABLE IF EXISTS audit_log, payments; DROP FUNCTION IF EXISTS audit_log_append_only()")
