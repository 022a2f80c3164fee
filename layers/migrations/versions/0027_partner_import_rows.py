"""The web server writes only its partners' import rows (review of issue 16).

0026 let the server's role insert and close rows of `imports` for partner uploads; by column grants alone it could
also have inserted a row for an agency layer, or changed the counts of any import of the agency's history. Row
security narrows it: the server reads every row, inserts only a partner layer's import (« partenaire-… », no plan,
not finished) and closes only such a row that is still open. The owner (migrations, the command line) is not
subject to row security and imports as before.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04
"""

from alembic import op

from layers.roles import APP_ROLE

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

PARTNER_ROW = "layer LIKE 'partenaire-%' AND plan_id IS NULL"


def upgrade() -> None:
    """Row security on imports for the server's role."""
    op.execute(f"""
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        ALTER TABLE imports ENABLE ROW LEVEL SECURITY;
        CREATE POLICY imports_server_reads ON imports FOR SELECT TO {APP_ROLE} USING (true);
        CREATE POLICY imports_server_records_partner_uploads ON imports FOR INSERT TO {APP_ROLE}
            WITH CHECK ({PARTNER_ROW} AND finished_at IS NULL);
        CREATE POLICY imports_server_closes_partner_uploads ON imports FOR UPDATE TO {APP_ROLE}
            USING ({PARTNER_ROW} AND finished_at IS NULL) WITH CHECK ({PARTNER_ROW});
    END IF;
END $$;
""")


def downgrade() -> None:
    """Back to 0026: column grants only."""
    op.execute("""
DROP POLICY IF EXISTS imports_server_closes_partner_uploads ON imports;
DROP POLICY IF EXISTS imports_server_records_partner_uploads ON imports;
DROP POLICY IF EXISTS imports_server_reads ON imports;
ALTER TABLE imports DISABLE ROW LEVEL SECURITY;
""")
