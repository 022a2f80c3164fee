"""Payment attempts: each gateway transaction applied once; a cancelled status for note requests.

Every callback the gateway sends is one attempt identified by its transaction id (`TransId`): the unique key
makes a replayed callback a no-op whatever the order of arrival. A request may now be cancelled (annulée) by
its applicant before payment or after a return.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from alembic import op

from layers.roles import grants_sql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# What the web server may do (layers/migrations/README.md): the callback inserts an attempt and counts replays.
APP_GRANTS = {"payment_attempts": "SELECT, INSERT, UPDATE"}

STATUSES = ("attente_paiement", "payee", "instruite", "retournee", "acceptee", "signee", "envoyee")


def _status_check(statuses: tuple[str, ...]) -> str:
    values = ", ".join(f"'{s}'" for s in statuses)
    return (f"ALTER TABLE note_requests DROP CONSTRAINT note_requests_status_check, "
            f"ADD CONSTRAINT note_requests_status_check CHECK (status IN ({values}))")


def upgrade() -> None:
    """Create payment_attempts (unique transaction id) and allow the status « annulee »."""
    op.execute("""
    CREATE TABLE payment_attempts (
        id bigserial PRIMARY KEY,
        transaction_id text NOT NULL UNIQUE,
        order_id text NOT NULL REFERENCES payments(order_id),
        approved boolean NOT NULL,
        return_code text NOT NULL,
        amount_mad numeric(10, 2) NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        replays integer NOT NULL DEFAULT 0
    );
    CREATE INDEX payment_attempts_order_idx ON payment_attempts (order_id);
    REVOKE ALL ON payment_attempts FROM PUBLIC;
    """)
    op.execute(_status_check((*STATUSES, "annulee")))
    op.execute(grants_sql(APP_GRANTS))


def downgrade() -> None:
    """Drop payment_attempts; cancelled requests go back to « retournee »."""
    op.execute("UPDATE note_requests SET status = 'retournee' WHERE status = 'annulee'")
    op.execute(_status_check(STATUSES))
    op.execute("DROP TABLE IF EXISTS payment_attempts")
