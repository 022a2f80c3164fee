"""E-mail outbox: a mail server that is down loses nothing; every attempt is kept.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create outbox."""
    op.execute("""
    CREATE TABLE outbox (
        id bigserial PRIMARY KEY,
        recipient text NOT NULL,
        subject text NOT NULL,
        body text NOT NULL,
        attachment_name text,
        attachment bytea,
        entity text,
        entity_id text,
        status text NOT NULL DEFAULT 'en_attente' CHECK (status IN ('en_attente', 'envoye', 'abandonne')),
        attempts integer NOT NULL DEFAULT 0,
        last_error text,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        created_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz
    );
    CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE status = 'en_attente';
    """)


def downgrade() -> None:
    """Drop outbox."""
    op.execute("DROP TABLE IF EXISTS outbox")
