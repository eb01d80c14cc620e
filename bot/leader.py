"""Polling with several replicas: a PostgreSQL advisory lock elects the one that may call getUpdates."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import psycopg

from corpus.errors import StoreError
from corpus.pgdb import Row, open_connection

log = logging.getLogger(__name__)

# High 32 bits "nbpl" (newsbot polling leader), low 32 bits the bot id: one lock per bot, not per database.
_LOCK_BASE = 0x6E62706C << 32


def leader_key(bot_id: int) -> int:
    """The advisory lock key of one bot's polling leader (a signed 64-bit integer)."""
    key = _LOCK_BASE | (bot_id & 0xFFFFFFFF)
    return key - (1 << 64) if key >= 1 << 63 else key


class PollingLeader:
    """Holds the bot's advisory lock on a connection of its own; the lock ends with the session.

    Telegram serves getUpdates to one consumer at a time (a second gets 409 Conflict), so only the holder
    polls. A replica that dies, or whose connection drops, loses the lock at once and a standby takes over.
    """

    def __init__(self, conninfo: str, password: str | None, bot_id: int) -> None:
        self.key = leader_key(bot_id)
        self._conn: psycopg.Connection[Row] = open_connection(conninfo, password)
        self._lock = threading.Lock()
        self.leading = False

    def try_lead(self) -> bool:
        """Take the lock if no other replica holds it; True once this replica leads."""
        with self._lock:
            if not self.leading:
                try:
                    row = self._conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (self.key,)).fetchone()
                except psycopg.Error as exc:
                    raise StoreError(f"PostgreSQL: leader election failed: {exc}") from exc
                self.leading = bool(row and row["ok"])
            return self.leading

    def still_leading(self) -> bool:
        """Whether the session that holds the lock is alive (a dropped connection has lost it)."""
        with self._lock:
            if not self.leading:
                return False
            try:
                self._conn.execute("SELECT 1")
            except psycopg.Error:
                self.leading = False
            return self.leading

    def wait_to_lead(self, retry_seconds: float, stop: threading.Event) -> bool:
        """Block until this replica leads (True) or `stop` is set (False), trying every `retry_seconds`."""
        if self.try_lead():
            return True
        log.info("standby: another replica polls for updates; retrying every %.1f s", retry_seconds)
        while not stop.wait(retry_seconds):
            if self.try_lead():
                log.info("took over polling: this replica is the leader now")
                return True
        return False

    def close(self) -> None:
        """Give up leadership (closing the session releases the lock)."""
        with self._lock:
            self.leading = False
            self._conn.close()


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """In the main thread, SIGINT and SIGTERM set `stop` while a standby waits (then the old handlers return)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
