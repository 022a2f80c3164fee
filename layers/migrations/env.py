"""Alembic environment: migrations are hand-written SQL, run in one transaction each."""

from alembic import context
from sqlalchemy import create_engine, pool

config = context.config
engine = create_engine(config.attributes["url"], poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
