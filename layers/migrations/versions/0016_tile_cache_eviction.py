"""The web server may evict old tiles from the cache it fills (the cache is capped, see layers/tiles.py).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from alembic import op

from layers.roles import grants_sql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# What the web server may do (layers/migrations/README.md): the tile cache as before, plus DELETE to evict.
APP_GRANTS = {"tile_cache": "SELECT, INSERT, UPDATE, DELETE"}


def upgrade() -> None:
    """Let the server delete the oldest cached tiles."""
    op.execute(grants_sql(APP_GRANTS))


def downgrade() -> None:
    """Back to 0013's grants on the tile cache."""
    op.execute(grants_sql({"tile_cache": "SELECT, INSERT, UPDATE"}))
