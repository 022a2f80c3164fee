"""Long-term signatures of the official notes (issue 18): every version of a signed note's PDF.

- note_pdf_versions: one row per version of an issued note's PDF, the first at signing and one per archive
  timestamp added by `urbasig notes refresh-ltv` (each an incremental update of the one before). Its SHA-256
  finds the note from any copy an applicant was sent (public verification by upload); `level` is the PAdES
  profile (B-B, B-T, B-LT, B-LTA) and `refresh_by` the end of its last archive timestamp's certificate:
  the command refreshes the notes whose latest version is due. Notes signed before this revision have no row
  until their first refresh (their level is read from the PDF then). No personal data.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03
"""

from alembic import op

from layers.roles import grants_sql

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

APP_GRANTS = {
    # the signatory's request records the first version; verification reads them; refresh-ltv (the CLI, as the
    # owner) adds the later ones
    "note_pdf_versions": "SELECT, INSERT",
}


def upgrade() -> None:
    """note_pdf_versions and its grants."""
    op.execute("""
        CREATE TABLE note_pdf_versions (
            id bigserial PRIMARY KEY,
            number text NOT NULL REFERENCES note_requests (number),
            sha256 text NOT NULL UNIQUE CHECK (sha256 ~ '^[0-9a-f]{64}$'),
            level text NOT NULL CHECK (level IN ('B-B', 'B-T', 'B-LT', 'B-LTA')),
            refresh_by timestamptz,
            added_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX note_pdf_versions_number ON note_pdf_versions (number, id);
    """)
    op.execute(grants_sql(APP_GRANTS))


def downgrade() -> None:
    """Back to 0020."""
    op.execute("DROP TABLE IF EXISTS note_pdf_versions")
