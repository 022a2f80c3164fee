"""Jobs and plan impact, after the security review of issue 15: who a job belongs to, and narrower grants.

- jobs.submitter: who submitted, as the per-client bound counts (a keyed hash of the partner key, of the staff
  account, or of the address for an anonymous caller). `client` becomes the identity whose list `GET /ogc/jobs`
  shows: for an anonymous caller, a keyed hash of its own job-owner token (no longer of its address, which every
  client behind one NAT shares). Existing jobs keep their client as submitter.
- impact_parcels: the web server inserts and reads its rows, never deletes them: a purged run's rows go with it
  through the SECURITY DEFINER trigger of migration 0020 (impact_parcels_cascade), so DELETE is revoked.
  impact_runs keeps DELETE: the runner's retention purge (layers/jobs.py purge) deletes unpublished runs.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04
"""

from alembic import op

from layers.roles import grants_sql

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

APP_GRANTS = {"impact_parcels": "SELECT, INSERT"}
BEFORE = {"impact_parcels": "SELECT, INSERT, DELETE"}  # migration 0020's


def upgrade() -> None:
    """jobs.submitter (filled from client) with its index; impact_parcels without DELETE."""
    op.execute("ALTER TABLE jobs ADD COLUMN submitter text; UPDATE jobs SET submitter = client; "
               "CREATE INDEX jobs_submitter_idx ON jobs (submitter) WHERE status IN ('accepted', 'running'); "
               "COMMENT ON COLUMN jobs.submitter IS 'Who submitted (keyed hash of key, account or address): "
               "bounds the accepted or running jobs per client; never shown'; "
               "COMMENT ON COLUMN jobs.client IS 'Whose list shows the job (keyed hash of key, account or "
               "anonymous job-owner token); never shown'")
    op.execute(grants_sql(APP_GRANTS))


def downgrade() -> None:
    """Back to 0021."""
    op.execute("DROP INDEX IF EXISTS jobs_submitter_idx; ALTER TABLE jobs DROP COLUMN IF EXISTS submitter; "
               "COMMENT ON COLUMN jobs.client IS NULL")
    op.execute(grants_sql(BEFORE))
