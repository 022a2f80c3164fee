"""Long-term signatures (issue 18, review): refresh-ltv remembers the notes it could not refresh.

- note_requests.ltv_refused_at, ltv_refused_reason: the last refusal of `urbasig notes refresh-ltv` (a note
  that no longer verifies, a revoked signer): the command skips it for a while instead of retrying it first
  on every run (a thousand refused notes starved the others). Cleared when the note is refreshed.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03
"""

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """The two columns."""
    op.execute("ALTER TABLE note_requests ADD COLUMN ltv_refused_at timestamptz, ADD COLUMN ltv_refused_reason text")


def downgrade() -> None:
    """Back to 0023."""
    op.execute("ALTER TABLE note_requests DROP COLUMN IF EXISTS ltv_refused_at, DROP COLUMN IF EXISTS ltv_refused_reason")
