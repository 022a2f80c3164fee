"""One definition of "this plan version applies on this day": plan_in_force(plan, day).

A plan version applies on day D when, on D, its recorded status is *homologué* **and** D lies in its
validity range [valid_from, valid_to). Homologation (the approval act's date) and entry into force
(valid_from, e.g. the day the decree is published in the Bulletin officiel) may differ: between the two
the plan is approved but does not yet apply.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create plan_in_force(plan_id, day)."""
    op.execute("""
    CREATE FUNCTION plan_in_force(p_plan integer, p_day date) RETURNS boolean
    LANGUAGE sql STABLE AS $$
        SELECT coalesce((
            SELECT p.valid_from IS NOT NULL AND p.valid_from <= p_day
                   AND (p.valid_to IS NULL OR p_day < p.valid_to)
                   AND plan_status_on(p.id, p_day) = 'homologue'
            FROM plans p WHERE p.id = p_plan), false)
    $$;
    COMMENT ON FUNCTION plan_in_force(integer, date) IS
        'Whether a plan version applies on a day: status homologue that day and the day within [valid_from, valid_to)';
    GRANT EXECUTE ON FUNCTION plan_in_force(integer, date) TO PUBLIC;
    """)


def downgrade() -> None:
    """Drop plan_in_force."""
    op.execute("DROP FUNCTION IF EXISTS plan_in_force(integer, date);")
