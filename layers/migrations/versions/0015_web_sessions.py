"""Web sessions kept in the database (sign-out ends them), and the short verification code of an account.

The cookie holds a random session id; the table holds only its hash, so a copied cookie stops working
once the session is ended, and a stolen table gives no usable cookie. The e-mailed link keeps its long
token; the short code typed by hand beside it allows a few guesses, then it is void.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from alembic import op

from layers.roles import grants_sql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# What the web server may do (layers/migrations/README.md): open, read and end sessions.
APP_GRANTS = {"web_sessions": "SELECT, INSERT, DELETE"}


def upgrade() -> None:
    """Create web_sessions; give accounts a verification code, its failed guesses and an expiry."""
    op.execute("""
    CREATE TABLE web_sessions (
        id_hash text PRIMARY KEY,
        account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL
    );
    CREATE INDEX web_sessions_account ON web_sessions (account_id);
    CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
    REVOKE ALL ON web_sessions FROM PUBLIC;
    ALTER TABLE accounts
        ADD COLUMN verify_code_hash text,
        ADD COLUMN verify_code_failures integer NOT NULL DEFAULT 0,
        ADD COLUMN verify_expires_at timestamptz;
    """)
    op.execute(grants_sql(APP_GRANTS))


def downgrade() -> None:
    """Drop web_sessions and the verification code columns."""
    op.execute("""
    DROP TABLE IF EXISTS web_sessions;
    ALTER TABLE accounts DROP COLUMN IF EXISTS verify_code_hash, DROP COLUMN IF EXISTS verify_code_failures,
        DROP COLUMN IF EXISTS verify_expires_at;
    """)
