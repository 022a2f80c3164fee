"""Partner API keys (hashed), which unlock restricted collections and fields.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create api_keys."""
    op.execute("""
    CREATE TABLE api_keys (
        id serial PRIMARY KEY,
        name text NOT NULL UNIQUE,
        key_hash text NOT NULL UNIQUE,
        scopes text[] NOT NULL DEFAULT '{partner}',
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
    );
    COMMENT ON TABLE api_keys IS 'Partner keys: only the SHA-256 of each key is stored';
    """)


def downgrade() -> None:
    """Drop api_keys."""
    op.execute("DROP TABLE IF EXISTS api_keys")
