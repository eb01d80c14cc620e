"""Schema migrations of the PostgreSQL state store (alembic, kept in corpus/migrations), run by `newsbot migrate`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from corpus.errors import StoreError
from corpus.pgdb import open_connection

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any fixed 64-bit key: two replicas migrating at once take turns instead of racing on CREATE TABLE.
MIGRATE_LOCK = 0x6E657773_6D696772


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    """The newest schema revision this newsbot knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise StoreError(f"no schema migrations found in {MIGRATIONS}")
    return head


def current_revision(conn: psycopg.Connection[Any]) -> str | None:
    """The schema revision a database is at (None when it was never migrated)."""
    row = conn.execute("SELECT to_regclass('alembic_version') IS NOT NULL AS present").fetchone()
    if not row or not (row["present"] if isinstance(row, dict) else row[0]):
        return None
    found = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    if found is None:
        return None
    return str(found["version_num"] if isinstance(found, dict) else found[0])


def require_current_schema(conn: psycopg.Connection[Any]) -> None:
    """Refuse a database whose schema is not the one this code was written for."""
    current, head = current_revision(conn), head_revision()
    if current != head:
        state = "has no newsbot schema" if current is None else f"is at schema {current}, this newsbot needs {head}"
        raise StoreError(f"the PostgreSQL database {state}: run `newsbot migrate`")


def migrate(conninfo: str, password: str | None = None) -> tuple[str | None, str]:
    """Bring the database to the newest schema (idempotent); returns (revision before, revision after)."""
    probe = open_connection(conninfo, password)
    try:
        before = current_revision(probe)
    finally:
        probe.close()
    extra: dict[str, Any] = {"password": password} if password else {}

    def connect() -> psycopg.Connection[Any]:
        return psycopg.connect(conninfo, **extra)

    engine = create_engine("postgresql+psycopg://", creator=connect, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATE_LOCK})
            conn.commit()
            try:
                cfg = _config()
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATE_LOCK})
                conn.commit()
    except Exception as exc:
        if isinstance(exc, StoreError):
            raise
        raise StoreError(f"migration failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    finally:
        engine.dispose()
    return before, head_revision()
