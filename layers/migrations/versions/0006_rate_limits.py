"""Request counters per client and minute, shared by every server process (indicative notes).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create rate_limits (unlogged: counters may be lost in a crash)."""
    op.execute("""
    CREATE UNLOGGED TABLE rate_limits (
        scope text NOT NULL,
        client text NOT NULL,
        window_start timestamptz NOT NULL,
        hits integer NOT NULL DEFAULT 1,
        PRIMARY KEY (scope, client, window_start)
    );
    """)


def downgrade() -> None:
    """Drop rate_limits."""
    op.execute("DROP TABLE IF EXISTS rate_limits")
