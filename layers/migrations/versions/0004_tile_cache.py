"""Vector tile cache shared by every server process, keyed by the version of the layers it was built from.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create tile_cache (unlogged: a cache may be lost in a crash, never wrong)."""
    op.execute("""
    CREATE UNLOGGED TABLE tile_cache (
        collection text NOT NULL,
        z smallint NOT NULL,
        x integer NOT NULL,
        y integer NOT NULL,
        variant text NOT NULL DEFAULT '',
        version bigint NOT NULL,
        etag text NOT NULL,
        data bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (collection, z, x, y, variant)
    );
    """)


def downgrade() -> None:
    """Drop the cache."""
    op.execute("DROP TABLE IF EXISTS tile_cache")
