"""Alembic's entry point: runs the migrations on the connection corpus/migrate.py hands in (online only)."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
with context.begin_transaction():
    context.run_migrations()
connection.commit()
