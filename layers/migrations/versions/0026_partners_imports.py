"""Partner uploads go through the one import pipeline (issue 16): the web server records their imports.

A partner's upload from its space (/partenaire/couches) is an import like the agency's: its provenance row in
`imports` (layer « partenaire-<slug> », the file's name, CRS, options, code version), referenced by the layer's
new version (partner_layer_versions.import_id). The server role may insert that row and close it (counts, end
time); it never deletes one nor rewrites what it read.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04
"""

from alembic import op

from layers.roles import grants_sql

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

APP_GRANTS = {"imports": "SELECT, INSERT, UPDATE (feature_count, repaired_count, plan_id, finished_at)"}


def upgrade() -> None:
    """Let the server record (and close) the import of a partner's upload."""
    op.execute(grants_sql(APP_GRANTS))


def downgrade() -> None:
    """Back to 0025: the server reads imports only."""
    op.execute(grants_sql({"imports": "SELECT"}))
