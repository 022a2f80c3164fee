"""French descriptions of the constraints an import can meet (read by layers/constraints.py).

Single-column constraints (a list of values, a bound) are described from their definition; the ones that
tie several columns together, or whose definition says little to a planner, carry a comment here.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# (table, a fragment of the constraint's definition, what it means for the person importing a file)
COMMENTS = (
    ("zones", "cos_value IS NULL", "un COS doit avoir son sens : cos_meaning « emprise » ou « plancher »"),
    ("zones", "cus_value IS NULL", "un CUS doit avoir son sens : cus_meaning « emprise » ou « plancher »"),
    ("zones", "jsonb_typeof", "les règles conditionnelles doivent être une liste JSON ([{…}, …])"),
    ("parcels", "ref_number IS NOT NULL", "un titre ou une réquisition doit avoir un numéro"),
    ("plans", "valid_to > valid_from", "la fin de validité doit suivre l'entrée en vigueur"),
    ("plans", "replaces_id <> id", "une version ne peut se remplacer elle-même"),
    ("accounts", "lower(email)", "l'adresse électronique s'enregistre en minuscules"),
)


def _comment_each(clear: bool = False) -> None:
    """Set (or clear) the comment of each constraint of COMMENTS, found by its definition."""
    for table, fragment, text in COMMENTS:
        literal = "NULL" if clear else "%L"
        op.execute(f"""
        DO $$
        DECLARE r record;
        BEGIN
            FOR r IN SELECT conname FROM pg_constraint
                     WHERE conrelid = '{table}'::regclass AND contype = 'c'
                       AND pg_get_constraintdef(oid) LIKE '%{fragment}%'
            LOOP
                EXECUTE format('COMMENT ON CONSTRAINT %I ON {table} IS {literal}', r.conname,
                               '{text.replace("'", "''")}');
            END LOOP;
        END $$;
        """)


def upgrade() -> None:
    """Comment the constraints."""
    _comment_each()


def downgrade() -> None:
    """Remove the comments."""
    _comment_each(clear=True)
