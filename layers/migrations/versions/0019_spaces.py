"""The spaces (issue 14): partner accounts, disabled accounts, password reset, daily counts, staff pages' grants.

- accounts: role `partner` (communes, land registry, utilities) with its `organisation`; `disabled_at` (an admin
  switches an account off: no sign-in, its sessions end); a password-reset token (only its hash) and its expiry.
- usage_daily: one counter per day and kind (« indicative » for the free notes), so the admin dashboard draws
  indicative notes per day without storing who asked (no personal data, no growth beyond a row a day).
- The web server's grants widen to what the pages do: staff read the audit trail (a note's timeline, the admin
  journal, the dashboard) and the documents; the admin page creates and revokes partner keys, changes account
  roles and states, and records plan statuses (layers/plans.set_status: plans' status and validity columns,
  plan_statuses, meta's layer stamps).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

from alembic import op

from layers.roles import grants_sql

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

ACCOUNT_COLUMNS = ("verified_at, verify_token_hash, verify_code_hash, verify_code_failures, role, organisation, "
                   "disabled_at, password_hash, reset_token_hash, reset_expires_at")
APP_GRANTS = {
    # a note's timeline for its applicant and its staff, the admin's journal and dashboard read the trail
    "audit_log": "SELECT, INSERT",
    # the instructor opens the supporting documents
    "note_documents": "SELECT, INSERT",
    # the admin page creates and revokes partner keys (only the hash is stored)
    "api_keys": "SELECT, INSERT, UPDATE (name, revoked_at)",
    "accounts": f"SELECT, INSERT, UPDATE ({ACCOUNT_COLUMNS})",
    # the admin page records a plan's new status (layers/plans.set_status)
    "plans": "SELECT, UPDATE (status, status_date, valid_from, valid_to, approval_act, approval_date)",
    "plan_statuses": "SELECT, INSERT, UPDATE, DELETE",
    "meta": "SELECT, INSERT, UPDATE",
    # a plan's update bumps its layer's version (trigger bump_layer_version: tiles and ETags follow)
    "layer_versions": "SELECT, INSERT, UPDATE (version, changed_at)",
    # the admin's journal shows whether the chain verifies up to its anchor (layers/audit.verify_chain)
    "audit_head": "SELECT",
    "usage_daily": "SELECT, INSERT, UPDATE (n)",  # the upsert adds to n; a day is never moved
}
PREVIOUS_GRANTS = {
    "audit_log": "INSERT", "note_documents": "INSERT", "api_keys": "SELECT",
    "accounts": "SELECT, INSERT, UPDATE (verified_at, verify_token_hash, verify_code_hash, verify_code_failures)",
    "plans": "SELECT", "plan_statuses": "SELECT", "meta": "SELECT", "layer_versions": "SELECT", "audit_head": "",
}
ROLES_NOW = "('applicant', 'instructor', 'signatory', 'partner', 'admin')"
ROLES_BEFORE = "('applicant', 'instructor', 'signatory', 'admin')"


def upgrade() -> None:
    """Partner role, account states, reset tokens, usage_daily, the pages' grants."""
    op.execute(f"""
    ALTER TABLE accounts DROP CONSTRAINT accounts_role_check,
        ADD CONSTRAINT accounts_role_check CHECK (role IN {ROLES_NOW}),
        ADD COLUMN organisation text,
        ADD COLUMN disabled_at timestamptz,
        ADD COLUMN reset_token_hash text,
        ADD COLUMN reset_expires_at timestamptz,
        ADD CONSTRAINT accounts_partner_organisation CHECK (role <> 'partner' OR organisation IS NOT NULL);
    COMMENT ON COLUMN accounts.organisation IS 'The partner administration (commune, land registry, utility)';
    COMMENT ON COLUMN accounts.disabled_at IS 'Switched off by an admin: no sign-in, no session';
    CREATE UNIQUE INDEX accounts_reset_token_idx ON accounts (reset_token_hash) WHERE reset_token_hash IS NOT NULL;
    CREATE TABLE usage_daily (
        day date NOT NULL,
        kind text NOT NULL CHECK (kind ~ '^[a-z_]+$'),
        n bigint NOT NULL DEFAULT 0 CHECK (n >= 0),
        PRIMARY KEY (day, kind)
    );
    COMMENT ON TABLE usage_daily IS 'Counts per day (indicative notes): no personal data';
    REVOKE ALL ON usage_daily FROM PUBLIC;
    CREATE INDEX note_requests_created_idx ON note_requests (created_at);
    """)
    op.execute(grants_sql(APP_GRANTS))


def downgrade() -> None:
    """Back to 0018 (partner accounts become applicants)."""
    op.execute(grants_sql(PREVIOUS_GRANTS))
    op.execute(f"""
    DROP INDEX IF EXISTS note_requests_created_idx;
    DROP TABLE IF EXISTS usage_daily;
    UPDATE accounts SET role = 'applicant' WHERE role = 'partner';
    ALTER TABLE accounts DROP CONSTRAINT accounts_partner_organisation,
        DROP CONSTRAINT accounts_role_check, ADD CONSTRAINT accounts_role_check CHECK (role IN {ROLES_BEFORE}),
        DROP COLUMN organisation, DROP COLUMN disabled_at, DROP COLUMN reset_token_hash, DROP COLUMN reset_expires_at;
    """)
