"""Digest subscribers and their deliveries in SQLite, so both survive restarts and parallel senders."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from sqlite3 import Row
from typing import Protocol

from bot.i18n import N_
from corpus.db import Database
from corpus.errors import InputError
from corpus.settings import Settings
from corpus.storage import Storage

_SCHEMA = """
CREATE TABLE IF NOT EXISTS subscribers (
    chat_id INTEGER PRIMARY KEY,
    send_time TEXT NOT NULL,
    timezone TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    updated_at TEXT NOT NULL,
    language TEXT
);
CREATE TABLE IF NOT EXISTS deliveries (
    chat_id INTEGER NOT NULL,
    digest_date TEXT NOT NULL,
    status TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    PRIMARY KEY (chat_id, digest_date)
);
"""
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
USAGE = N_(
    "Usage: /subscribe [HH:MM] [Area/City] [language], e.g. /subscribe 07:30 Europe/Istanbul tr"
)
UNKNOWN_ARGUMENT = N_(
    "I don't know the time, time zone or language {argument}; try 07:30, Europe/Berlin and en."
)


@dataclass(frozen=True)
class Subscription:
    """One chat's digest subscription."""

    chat_id: int
    time: str
    timezone: str
    active: bool
    # The language whose stories come first in the digest (also its headings' when the bot speaks it).
    language: str | None = None


@dataclass(frozen=True)
class SubscribeArgs:
    """What `/subscribe [HH:MM] [Area/City] [language]` asked for; language None when not given."""

    time: str
    timezone: str
    language: str | None = None


class SubscribeArgsError(InputError):
    """Arguments /subscribe cannot use; the message is a catalog template, so the bot can translate it."""

    def __init__(self, template: str, values: Mapping[str, str] | None = None) -> None:
        self.template = template
        self.values = dict(values or {})
        super().__init__(template.format(**self.values))


def parse_subscribe_args(
    args: Sequence[str], default_time: str, default_tz: str, languages: Collection[str] = ()
) -> SubscribeArgs:
    """`/subscribe [HH:MM] [Area/City] [language]` in any order, defaults filled in; languages are the known codes."""
    time_, tz, language = default_time, default_tz, None
    if len(args) > 3:
        raise SubscribeArgsError(USAGE)
    for arg in args:
        match = _TIME.match(arg)
        if match:
            time_ = f"{int(match.group(1)):02d}:{match.group(2)}"
        elif arg.lower() in languages:
            language = arg.lower()
        # Compared against the known names only, so user text never becomes a file path lookup.
        elif arg in zoneinfo.available_timezones():
            tz = arg
        else:
            raise SubscribeArgsError(UNKNOWN_ARGUMENT, {"argument": repr(arg[:40])})
    return SubscribeArgs(time_, tz, language)


class Subscriptions(Protocol):
    """Subscribers and their digest deliveries (SQLite here, PostgreSQL in pgsubscriptions.py)."""

    def subscribe(
        self, chat_id: int, time: str, timezone: str, language: str | None = None
    ) -> Subscription: ...
    def unsubscribe(self, chat_id: int) -> bool: ...
    def set_active(self, chat_id: int, active: bool) -> bool: ...
    def get(self, chat_id: int) -> Subscription | None: ...
    def active(self) -> list[Subscription]: ...
    def languages(self) -> dict[int, str]: ...
    def slots(self) -> set[tuple[str, str]]: ...
    def pending(self, digest_date: date, slot: tuple[str, str] | None = None) -> list[int]: ...
    def claim(self, chat_id: int, digest_date: date) -> bool: ...
    def mark_sent(self, chat_id: int, digest_date: date) -> None: ...
    def release(self, chat_id: int, digest_date: date) -> None: ...
    def counts(self) -> tuple[int, int]: ...
    def close(self) -> None: ...


def open_subscriptions(settings: Settings) -> Subscriptions:
    """The subscription store the settings name: data_dir/bot.db, or the shared PostgreSQL database."""
    storage = Storage.from_settings(settings)
    if storage.postgres:
        from bot.pgsubscriptions import PgSubscriptionStore

        return PgSubscriptionStore(storage.url, storage.password)
    return SubscriptionStore(settings.data_dir / "bot.db")


class SubscriptionStore(Database):
    """Subscribers and (chat, digest date) deliveries in data_dir/bot.db."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Bring a bot.db of an older newsbot up to date: subscriptions gained a language."""
        with self.transaction() as conn:  # the write lock: two processes cannot both add the column
            columns = {str(r["name"]) for r in conn.execute("PRAGMA table_info(subscribers)")}
            if "language" not in columns:
                conn.execute("ALTER TABLE subscribers ADD COLUMN language TEXT")

    def subscribe(self, chat_id: int, time: str, timezone: str, language: str | None = None) -> Subscription:
        """Create or change a subscription and make it active."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO subscribers (chat_id, send_time, timezone, active, updated_at, language)"
                " VALUES (?, ?, ?, 1, ?, ?)"
                " ON CONFLICT(chat_id) DO UPDATE SET send_time = excluded.send_time,"
                " timezone = excluded.timezone, active = 1, updated_at = excluded.updated_at,"
                " language = excluded.language",
                (chat_id, time, timezone, _now(), language),
            )
        return Subscription(chat_id, time, timezone, True, language)

    def unsubscribe(self, chat_id: int) -> bool:
        """Remove a subscription; False when there was none."""
        with self.transaction() as conn:
            return conn.execute("DELETE FROM subscribers WHERE chat_id = ?", (chat_id,)).rowcount > 0

    def set_active(self, chat_id: int, active: bool) -> bool:
        """Mark a subscriber (in)active after a block or unblock; False when not subscribed."""
        with self.transaction() as conn:
            return (
                conn.execute(
                    "UPDATE subscribers SET active = ?, updated_at = ? WHERE chat_id = ?",
                    (int(active), _now(), chat_id),
                ).rowcount
                > 0
            )

    def get(self, chat_id: int) -> Subscription | None:
        """One chat's subscription."""
        with self._lock:
            row = self._conn.execute("SELECT * FROM subscribers WHERE chat_id = ?", (chat_id,)).fetchone()
        return _row(row) if row else None

    def active(self) -> list[Subscription]:
        """Every active subscription."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM subscribers WHERE active = 1 ORDER BY chat_id"
            ).fetchall()
        return [_row(r) for r in rows]

    def languages(self) -> dict[int, str]:
        """The digest language of every active subscriber who has one."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT chat_id, language FROM subscribers WHERE active = 1 AND language IS NOT NULL"
            ).fetchall()
        return {int(r[0]): str(r[1]) for r in rows}

    def slots(self) -> set[tuple[str, str]]:
        """The distinct (time, timezone) pairs active subscribers want their digest at."""
        return {(s.time, s.timezone) for s in self.active()}

    def pending(self, digest_date: date, slot: tuple[str, str] | None = None) -> list[int]:
        """Active subscribers (of one slot, or all) without a delivery for that digest date."""
        time_, tz = slot or (None, None)
        with self._lock:
            rows = self._conn.execute(
                "SELECT chat_id FROM subscribers s WHERE active = 1"
                " AND (? IS NULL OR (send_time = ? AND timezone = ?))"
                " AND NOT EXISTS (SELECT 1 FROM deliveries d"
                " WHERE d.chat_id = s.chat_id AND d.digest_date = ?)"
                " ORDER BY chat_id",
                (time_, time_, tz, digest_date.isoformat()),
            ).fetchall()
        return [int(r[0]) for r in rows]

    def claim(self, chat_id: int, digest_date: date) -> bool:
        """Reserve this chat's digest of that date; only one caller, in any process, ever gets True."""
        with self.transaction() as conn:
            return (
                conn.execute(
                    "INSERT OR IGNORE INTO deliveries (chat_id, digest_date, status, claimed_at)"
                    " VALUES (?, ?, 'claimed', ?)",
                    (chat_id, digest_date.isoformat(), _now()),
                ).rowcount
                == 1
            )

    def mark_sent(self, chat_id: int, digest_date: date) -> None:
        """Record that a claimed digest went out."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE deliveries SET status = 'sent' WHERE chat_id = ? AND digest_date = ?",
                (chat_id, digest_date.isoformat()),
            )

    def release(self, chat_id: int, digest_date: date) -> None:
        """Give a claim back after a send that failed for good, so a later run may try again."""
        with self.transaction() as conn:
            conn.execute(
                "DELETE FROM deliveries WHERE chat_id = ? AND digest_date = ? AND status = 'claimed'",
                (chat_id, digest_date.isoformat()),
            )

    def counts(self) -> tuple[int, int]:
        """(active, all) subscribers."""
        with self._lock:
            row = self._conn.execute("SELECT COALESCE(SUM(active), 0), COUNT(*) FROM subscribers").fetchone()
        return int(row[0]), int(row[1])


def _row(row: Row) -> Subscription:
    language = row["language"]
    return Subscription(
        int(row["chat_id"]),
        str(row["send_time"]),
        str(row["timezone"]),
        bool(row["active"]),
        str(language) if language is not None else None,
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
