"""The PostgreSQL base every shared-state store uses: one psycopg connection behind a lock, schema check."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from corpus.errors import StoreError

Row = dict[str, Any]


def open_connection(conninfo: str, password: str | None = None, autocommit: bool = True) -> psycopg.Connection[Row]:
    """A connection in UTC, so timestamps come back as aware UTC datetimes like SQLite's ISO text."""
    extra: dict[str, Any] = {"password": password} if password else {}
    try:
        conn = psycopg.connect(conninfo, autocommit=autocommit, row_factory=dict_row, **extra)
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to PostgreSQL: {_first_line(exc)}") from exc
    conn.execute("SET TIME ZONE 'UTC'")
    return conn


def aware(value: datetime | None) -> datetime | None:
    """A datetime as stored: a naive one is UTC (as corpus.db.to_iso reads it), cut to whole seconds."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.replace(microsecond=0)


def from_db(value: datetime | None) -> datetime | None:
    """A stored datetime in UTC, with the second resolution of the SQLite stores' ISO text."""
    return value.astimezone(UTC).replace(microsecond=0) if value is not None else None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class PgDatabase:
    """One connection shared by threads behind a lock, with atomic write transactions."""

    def __init__(self, conninfo: str, password: str | None = None, check_schema: bool = True) -> None:
        self._lock = threading.RLock()
        self._conninfo = conninfo
        self._password = password
        self._conn = open_connection(conninfo, password)
        if check_schema:
            # Imported here: corpus.migrate builds on this module's open_connection.
            from corpus.migrate import require_current_schema

            try:
                require_current_schema(self._conn)
            except BaseException:
                self._conn.close()
                raise

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    def _live(self) -> psycopg.Connection[Row]:
        """The connection, opened again when the server dropped it (a restart, a failover, an idle timeout)."""
        if self._conn.broken:
            self._conn = open_connection(self._conninfo, self._password)
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Row]]:
        """One write transaction: all of it lands or none of it does."""
        with self._lock:
            conn = self._live()
            try:
                with conn.transaction():
                    yield conn
            except psycopg.Error as exc:
                raise StoreError(f"PostgreSQL: {_first_line(exc)}") from exc

    def execute(self, sql: str, params: Sequence[object] | Mapping[str, object] = ()) -> list[Row]:
        """Run one read query and return all rows."""
        args = params if isinstance(params, Mapping) else tuple(params)
        with self._lock:
            try:
                return self._live().execute(sql, args).fetchall()
            except psycopg.OperationalError as exc:
                if not self._conn.broken:
                    raise StoreError(f"PostgreSQL: {_first_line(exc)}") from exc
            except psycopg.Error as exc:
                raise StoreError(f"PostgreSQL: {_first_line(exc)}") from exc
            # A read is safe to repeat once on a new connection; a write is not (it may have landed).
            try:
                return self._live().execute(sql, args).fetchall()
            except psycopg.Error as exc:
                raise StoreError(f"PostgreSQL: {_first_line(exc)}") from exc

    def run(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run one statement on its own (autocommit); returns the rows it touched."""
        with self._lock:
            try:
                return self._live().execute(sql, tuple(params)).rowcount
            except psycopg.Error as exc:
                raise StoreError(f"PostgreSQL: {_first_line(exc)}") from exc
