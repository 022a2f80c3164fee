"""Official note requests, their documents, their stored instruction and signed PDF.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create note_requests and note_documents."""
    op.execute("""
    CREATE SEQUENCE note_number_seq;
    CREATE TABLE note_requests (
        id bigserial PRIMARY KEY,
        number text NOT NULL UNIQUE,
        short_code text NOT NULL UNIQUE,
        applicant_id bigint NOT NULL REFERENCES accounts(id),
        refs text[] NOT NULL,
        standing text NOT NULL CHECK (standing IN ('proprietaire', 'mandataire', 'autre')),
        status text NOT NULL DEFAULT 'attente_paiement' CHECK (status IN ('attente_paiement', 'payee', 'instruite',
            'retournee', 'acceptee', 'signee', 'envoyee')),
        fee_mad numeric(10, 2) NOT NULL,
        order_id text UNIQUE,
        instruction jsonb,
        remarks text,
        return_reason text,
        signed_pdf bytea,
        pdf_sha256 text,
        signed_by bigint REFERENCES accounts(id),
        signed_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE note_documents (
        id bigserial PRIMARY KEY,
        request_id bigint NOT NULL REFERENCES note_requests(id) ON DELETE CASCADE,
        filename text NOT NULL,
        content_type text NOT NULL,
        size integer NOT NULL,
        data bytea NOT NULL
    );
    REVOKE ALL ON note_requests, note_documents FROM PUBLIC;
    """)


def downgrade() -> None:
    """Drop the requests."""
    op.execute("DROP TABLE IF EXISTS note_documents, note_requests; DROP SEQUENCE IF EXISTS note_number_seq")
