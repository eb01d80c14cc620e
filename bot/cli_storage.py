"""`newsbot migrate`: the storage commands of the CLI, registered by bot/cli.py."""

from __future__ import annotations

import click

from corpus.storage import Storage


@click.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Create or update the PostgreSQL schema of [storage] url (idempotent); SQLite needs nothing."""
    storage = Storage.from_settings(ctx.obj)
    before, after = storage.migrate()
    if not storage.postgres:
        click.echo(f"storage is {storage.describe()}: SQLite creates its schema when opened, nothing to migrate")
    elif before == after:
        click.echo(f"{storage.describe()}: schema already at revision {after}")
    else:
        click.echo(f"{storage.describe()}: schema {before or 'empty'} -> revision {after}")
