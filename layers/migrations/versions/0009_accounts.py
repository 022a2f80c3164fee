"""Accounts of applicants and agency staff, with their role (personal data: never public).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create accounts."""
    op.execute("""
    CREATE TABLE accounts (
        id bigserial PRIMARY KEY,
        email text NOT NULL UNIQUE CHECK (email = lower(email)),
        full_name text NOT NULL,
        password_hash text NOT NULL,
        role text NOT NULL DEFAULT 'applicant' CHECK (role IN ('applicant', 'instructor', 'signatory', 'admin')),
        verify_token_hash text,
        verified_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    REVOKE ALL ON accounts FROM PUBLIC;
    """)


def downgrade() -> None:
    """Drop accounts."""
    op.execute("DROP TABLE IF EXISTS accounts")
