"""The PostgreSQL base every shared-state store uses: one psycopg connection behind a lock, schema check."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
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


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class PgDatabase:
    """One connection shared by threads behind a lock, with atomic write transactions."""

    def __init__(self, conninfo: str, password: str | None = None, check_schema: bool = True) -> None:
        self._lock = threading.RLock()
        self._conn = open_connection(conninfo, password)
        if check_schema:
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

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Row]]:
        """One write transaction: all of it lands or none of it does."""
        with self._lock:
            try:
                with self._conn.transaction():
                    yield self._conn
            except psycopg.Error as exc:
                raise StoreError(f"PostgreSQL: {_first_line(exc)}") from exc

    def execute(self, sql: str, params: Sequence[object] | Mapping[str, object] = ()) -> list[Row]:
        """Run one read query and return all rows."""
        args = params if isinstance(params, Mapping) else tuple(params)
        with self._lock:
            try:
                return self._conn.execute(sql, args).fetchall()
            except psycopg.Error as exc:
                raise StoreError(f"PostgreSQL: {_first_line(exc)}") from exc

    def run(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run one statement on its own (autocommit); returns the rows it touched."""
        with self._lock:
            try:
                return self._conn.execute(sql, tuple(params)).rowcount
            except psycopg.Error as exc:
                raise StoreError(f"PostgreSQL: {_first_line(exc)}") from exc
