"""The SQLite base every store shares: one WAL connection per file behind a lock, atomic transactions."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from corpus.errors import StoreError

# How long opening a database waits for another process's lock, and how often it looks again.
_BUSY_SECONDS = 30.0
_BUSY_PAUSE = 0.05


def to_iso(value: datetime | None) -> str | None:
    """Store datetimes as UTC ISO 8601 so that text order is time order."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds")


def from_iso(value: str | None) -> datetime | None:
    """Parse a stored ISO 8601 datetime back."""
    return datetime.fromisoformat(value) if value else None


def connect(path: Path) -> sqlite3.Connection:
    """Open a SQLite database in WAL mode, shared safely across threads (callers hold the lock)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, timeout=_BUSY_SECONDS, isolation_level=None)
        _enter_wal(conn)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"cannot open database {path}: {exc}") from exc
    conn.row_factory = sqlite3.Row
    return conn


def _enter_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL, waiting while another process does the same to a new file (replicas starting together)."""
    # SQLite refuses that switch at once, without its busy wait, while another connection holds the file: four
    # processes opening one new file together failed in 11 of 40 tries, and a webhook replica failed its start.
    deadline = time.monotonic() + _BUSY_SECONDS
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(_BUSY_PAUSE)


class Database:
    """One SQLite connection shared by threads behind a lock, with atomic write transactions."""

    def __init__(self, path: Path, schema: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn = connect(path)
        with self._lock:
            self._conn.executescript(schema)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it lands or none of it does."""
        # BEGIN IMMEDIATE takes SQLite's write lock up front, so a write is atomic across processes too.
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def execute(self, sql: str, params: Iterable[object] = ()) -> list[sqlite3.Row]:
        """Run one read query and return all rows."""
        with self._lock:
            return list(self._conn.execute(sql, tuple(params)))
