"""Parcels keep a Web Mercator copy of their geometry for vector tiles (no per-request ST_Transform).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add parcels.geom_3857 (generated from geom, so never out of step) and its GiST index."""
    op.execute("ALTER TABLE parcels ADD COLUMN geom_3857 geometry(MultiPolygon, 3857) "
               "GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED")
    op.execute("CREATE INDEX parcels_geom_3857_gist ON parcels USING gist (geom_3857)")
    op.execute("COMMENT ON COLUMN parcels.geom_3857 IS 'Display copy for vector tiles; legal maths use geom (26191)'")


def downgrade() -> None:
    """Drop the display copy."""
    op.execute("ALTER TABLE parcels DROP COLUMN geom_3857")
